/**
 * `emopia explain masks`: a step-by-step walkthrough of the three Transformer masks, computed by the library
 * (src/core/masks.ts, src/core/positional.ts) rather than written out by hand. As text it reads as a short
 * lesson with aligned matrices; with --json it prints one object of plain nested arrays.
 */
import type { Command } from 'commander';
import { tf, initBackend, type BackendName } from '../../backend.ts';
import { UsageError } from '../../errors.ts';
import { Rng, normalArray } from '../../random.ts';
import { applyMask, causalMask, crossAttentionMask, maskToArray, paddingMask, selfAttentionMask } from '../../core/masks.ts';
import { sinusoidalTable } from '../../core/positional.ts';
import { parseBackend, parseIntList, parseIntOption } from '../options.ts';

const MAX_LEN = 32;

interface ExplainOptions {
  srcLengths: number[];
  tgtLengths: number[];
  dModel: number;
  seed: number;
}

/** Everything the lesson shows, as plain arrays (masks as 0/1, rows = positions). */
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

export function maskWalkthrough(opts: ExplainOptions): MaskWalkthrough {
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

/** Right-aligned columns, one row per line, indented. */
function matrix(rows: Array<Array<number | string>>, fmt: (v: number) => string, indent = '    '): string {
  const cells = rows.map((r) => r.map((v) => (typeof v === 'number' ? fmt(v) : v)));
  const width = cells.flat().reduce((m, c) => Math.max(m, c.length), -Infinity);
  return cells.map((r) => indent + r.map((c) => c.padStart(width)).join('  ')).join('\n');
}

const bit = (v: number) => String(v);
const num = (v: number) => (v <= -1e8 ? '-1e9' : v.toFixed(4));

function batch(ms: number[][][], fmt: (v: number) => string, label: string): string {
  return ms.map((m, b) => `  ${label} ${b}:\n${matrix(m, fmt)}`).join('\n');
}

export function lessonText(w: MaskWalkthrough): string {
  const B = w.src_lengths.length;
  const S = w.src_tokens[0]?.length ?? 0;
  const T = w.tgt_tokens[0]?.length ?? 0;
  const d = w.positional_encoding[0]?.length ?? 0;
  const o = w.causal_mask_offset.offset;
  return [
    'Masks in a Transformer: 1 = may attend, 0 = blocked; masks combine with AND.',
    '',
    `1. A padded batch. ${B} source sentences of lengths ${w.src_lengths.join(', ')} are padded with 0 to ${S} tokens,`,
    `   and ${B} target sentences of lengths ${w.tgt_lengths.join(', ')} to ${T} tokens, so that each batch is one [B, L] array.`,
    '  source:',
    matrix(w.src_tokens, bit),
    '  target:',
    matrix(w.tgt_tokens, bit),
    '',
    `2. The padding mask [B, S] marks real tokens with 1:`,
    matrix(w.padding, bit),
    '',
    `3. The encoder's self-attention compares every pair of tokens, so the mask becomes an adjacency matrix`,
    `   [B, S, S] = [${B}, ${S}, ${S}]: entry (i, j) is 1 only when query i and key j are both real tokens.`,
    batch(w.padding_mask, bit, 'sentence'),
    '',
    '4. Attention scores q·k/sqrt(d) before masking (random numbers here, from a seeded generator):',
    batch(w.scores, num, 'sentence'),
    '   After masking, every blocked score is replaced by -1e9 (PyTorch uses -inf; finite keeps a fully blocked row from giving NaN):',
    batch(w.masked_scores, num, 'sentence'),
    '   After the softmax, blocked keys get weight 0. A row with no allowed key (a padded query) gets a uniform',
    '   distribution instead of NaN, because -1e9 is finite; its output is never used.',
    batch(w.attention_weights, num, 'sentence'),
    '',
    `5. The decoder's causal mask [T, T] = [${T}, ${T}]: query i may see keys 0..i only, never the future.`,
    matrix(w.causal_mask, bit),
    `   When decoding one token at a time with a cache, the query at position ${o} uses row ${o} alone`,
    `   (causalMask(1, {offset: ${o}})):`,
    matrix(w.causal_mask_offset.mask, bit),
    '',
    `6. The cross-attention mask [B, T, S] = [${B}, ${T}, ${S}] relates two sequences of different lengths:`,
    '   target query t may read source key s when both are real tokens.',
    batch(w.cross_mask, bit, 'pair'),
    '',
    `7. Attention ignores order, so a sinusoidal positional encoding is added to the embeddings:`,
    `   PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)), here ${w.positional_encoding.length} positions x d = ${d}:`,
    matrix(w.positional_encoding, (v) => v.toFixed(4)),
    '',
  ].join('\n');
}

function checkLengths(name: string, lengths: number[]): number[] {
  for (const n of lengths) {
    if (n < 1 || n > MAX_LEN) throw new UsageError(`--${name}`, `expected lengths between 1 and ${MAX_LEN}, got ${n}`);
  }
  return lengths;
}

export function register(program: Command): void {
  const explain = program.command('explain').description('explain a concept with numbers computed by the library');
  explain
    .command('masks')
    .description("a step-by-step walkthrough of the padding, causal and cross-attention masks and the positional table")
    .option('--src-lengths <list>', 'source sentence lengths, comma-separated', parseIntList('src-lengths', 1), [2, 4])
    .option('--tgt-lengths <list>', 'target sentence lengths, as many as source lengths', parseIntList('tgt-lengths', 1), [4, 3])
    .option('--d-model <n>', 'width of the positional table', parseIntOption('d-model', 1, 64), 6)
    .option('--seed <n>', 'seed of the random tokens and scores', parseIntOption('seed', 0), 1)
    .option('--backend <name>', 'tensor backend: wasm|cpu|tensorflow', parseBackend, 'wasm')
    .option('--json', 'print one JSON object instead of the lesson')
    .action(async (o: { srcLengths: number[]; tgtLengths: number[]; dModel: number; seed: number; backend: BackendName; json?: boolean }) => {
      const srcLengths = checkLengths('src-lengths', o.srcLengths);
      const tgtLengths = checkLengths('tgt-lengths', o.tgtLengths);
      if (srcLengths.length !== tgtLengths.length) {
        throw new UsageError('--tgt-lengths', `expected as many target lengths as source lengths (${srcLengths.length}), got ${tgtLengths.length}`);
      }
      await initBackend(o.backend);
      const w = maskWalkthrough({ srcLengths, tgtLengths, dModel: o.dModel, seed: o.seed });
      process.stdout.write(o.json ? `${JSON.stringify(w)}\n` : lessonText(w));
    });
}
