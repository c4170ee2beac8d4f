/**
 * The masks walkthrough that `emopia explain masks` prints and the web studio's masks tab draws: a padded batch,
 * its padding adjacency, scores before and after masking, the causal mask, the cross mask between two sequences
 * of different lengths and the positional-encoding table, all computed by this folder's own code (masks.ts,
 * positional.ts) and returned as plain arrays (masks as 0/1, rows = positions).
 */
import { tf } from '../backend.ts';
import { Rng, normalArray } from '../random.ts';
import { applyMask, causalMask, crossAttentionMask, maskToArray, paddingMask, selfAttentionMask } from './masks.ts';
import { sinusoidalTable } from './positional.ts';

export interface WalkthroughOptions {
  srcLengths: number[];
  tgtLengths: number[];
  dModel: number;
  seed: number;
}

/** Everything the walkthrough shows, as plain arrays (masks as 0/1, rows = positions). */
export interface MaskWalkthrough {
  src_lengths: number[];
  tgt_lengths: number[];
  src_tokens: number[][];
  tgt_tokens: number[][];
  padding: number[][];
  padding_mask: number[][][];
  scores: number[][][];
  masked_scores: number[][][];
  attention_weights: number[][][];
  causal_mask: number[][];
  causal_mask_offset: { offset: number; mask: number[][] };
  cross_mask: number[][][];
  positional_encoding: number[][];
}

/** float32 values rounded to 7 significant digits, so the JSON shows float32's precision, not float64 noise. */
function f32(values: number[][][]): number[][][] {
  return values.map((m) => m.map((r) => r.map((v) => Number(Math.fround(v).toPrecision(7)))));
}

/** Token ids 1..8 (a vocabulary of 8 words plus 0 = padding), padded with 0. */
function paddedTokens(lengths: number[], L: number, rng: Rng): number[][] {
  return lengths.map((n) => Array.from({ length: L }, (_, i) => (i < n ? 1 + rng.nextInt(8) : 0)));
}

export function maskWalkthrough(opts: WalkthroughOptions): MaskWalkthrough {
  const { srcLengths, tgtLengths, dModel } = opts;
  const rng = new Rng(opts.seed);
  const S = srcLengths.reduce((m, n) => Math.max(m, n), -Infinity);
  const T = tgtLengths.reduce((m, n) => Math.max(m, n), -Infinity);
  const B = srcLengths.length;
  const srcTokens = paddedTokens(srcLengths, S, rng);
  const tgtTokens = paddedTokens(tgtLengths, T, rng);
  const scoreData = normalArray(rng, B * S * S);
  const out = tf.tidy(() => {
    const pad = paddingMask(srcLengths, S); // (B, S)
    const adjacency = selfAttentionMask(pad); // (B, S, S)
    const scores = tf.tensor3d(scoreData, [B, S, S]); // (B, S, S)
    const masked = applyMask(scores, adjacency); // (B, S, S)
    return {
      padding: maskToArray(pad) as number[][],
      padding_mask: maskToArray(adjacency) as number[][][],
      scores: scores.arraySync() as number[][][],
      masked_scores: masked.arraySync() as number[][][],
      attention_weights: tf.softmax(masked, -1).arraySync() as number[][][],
      causal_mask: maskToArray(causalMask(T)) as number[][],
      cross_mask: maskToArray(crossAttentionMask(tgtLengths, srcLengths, { tgtLen: T, srcLen: S })) as number[][][],
    };
  });
  const offset = T - 1;
  const offsetMask = tf.tidy(() => maskToArray(causalMask(1, { offset })) as number[][]);
  const positions = Math.max(S, T);
  const pe = sinusoidalTable(positions, dModel);
  return {
    src_lengths: srcLengths,
    tgt_lengths: tgtLengths,
    src_tokens: srcTokens,
    tgt_tokens: tgtTokens,
    padding: out.padding,
    padding_mask: out.padding_mask,
    scores: f32(out.scores),
    masked_scores: f32(out.masked_scores),
    attention_weights: f32(out.attention_weights),
    causal_mask: out.causal_mask,
    causal_mask_offset: { offset, mask: offsetMask },
    cross_mask: out.cross_mask,
    positional_encoding: f32([Array.from({ length: positions }, (_, p) => Array.from(pe.subarray(p * dModel, (p + 1) * dModel)))])[0] as number[][],
  };
}
