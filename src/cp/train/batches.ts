/**
 * Training windows and batches over compound-word clips.
 *
 * A sample is `seq + 1` words: x = words[:-1], y = words[1:] (targets shifted by one, as EMOPIA). Every
 * sample starts with the clip's first word, its Emotion word:
 * - a clip of at most seq + 1 words is one sample, padded at the end with the all-zero EOS word, with loss
 *   mask 1 at the real target positions and 0 on the padding (EMOPIA's layout);
 * - a longer clip (EMOPIA truncates these) gives k = ceil((n - 1) / seq) windows per epoch: the Emotion word
 *   followed by words[s .. s+seq-1]. The first window starts at 1 and the last ends at the clip's end; the
 *   overlaps between consecutive windows are drawn at random, so every word of the clip is seen in every
 *   epoch, at a different place in its window each time.
 *   When s > 1 the first target (words[s], which nothing before it in the window can predict) is masked out.
 *
 * Every epoch draws its windows and shuffles them with an Rng derived from (seed, epoch) only, so the
 * batch of any step can be rebuilt from (seed, step) alone: resuming needs no saved data cursor beyond the
 * step. Batches are the shuffled windows in groups of `batch`; the last group of an epoch may be smaller.
 * A batch is padded to its longest sample (not to seq): the padding is masked, and causal attention makes
 * real positions independent of it.
 *
 * Emotion dropout (`emotionDropout` p, default 0): after the shuffle, each window of the epoch is drawn neutral
 * with probability p, from the same epoch Rng (so the windows and their order are those of p = 0). A neutral
 * window reads the Emotion word 0 of pre-training instead of its clip's emotion, so the model also learns to play
 * without an emotion, which classifier-free guidance against the neutral word (`--contrast neutral`) needs.
 */
import { tf } from '../../backend.ts';
import { InputError } from '../../errors.ts';
import { Rng } from '../../random.ts';
import type { Clip } from '../../music/dataset.ts';
import { FAMILY_INDEX, N_FAMILIES } from '../../music/vocab.ts';
import type { EmotionInput } from '../config.ts';
import { conditionInputs } from '../emotion_input.ts';

export interface WindowOptions {
  /** Words per training sample after the shift (x and y length); EMOPIA uses 1024. */
  seq: number;
  /** Samples per batch. */
  batch: number;
  seed: number;
  /** Share of windows read without their emotion, 0 <= p < 1 (see the header; the CLI allows up to 0.9); 0 or absent: none. */
  emotionDropout?: number;
}

/** One sample: clip `clip`, the head word, then words [start, start + len) of the clip. */
export interface WindowRef {
  clip: number;
  /** First word after the head word: 1 for the clip's own beginning. */
  start: number;
  /** Read with the neutral Emotion word 0 instead of the clip's emotion (emotion dropout). */
  neutral?: true;
}

/** Number of words of a clip. */
export function clipLength(clip: Clip): number {
  return clip.words.length / N_FAMILIES;
}

/** Windows a clip gives per epoch. */
export function windowsPerClip(n: number, seq: number): number {
  return n <= seq + 1 ? 1 : Math.ceil((n - 1) / seq);
}

/** Checks that training can run on `clips` with `seq`; InputError otherwise. */
export function checkClips(clips: readonly Clip[], what: string): void {
  if (clips.length === 0) throw new InputError(what, 'expected at least one clip, got none');
  for (const c of clips) {
    if (c.words.length % N_FAMILIES !== 0) throw new InputError(`${what} clip '${c.name}'`, `expected a multiple of ${N_FAMILIES} integers, got ${c.words.length}`);
    if (clipLength(c) < 2) throw new InputError(`${what} clip '${c.name}'`, `expected at least 2 words, got ${clipLength(c)}`);
  }
}

/** The Rng of an epoch: a function of (seed, epoch) only. */
function epochRng(seed: number, epoch: number): Rng {
  const base = new Rng(seed);
  const mixed = (base.fork().state ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0;
  return new Rng(mixed);
}

/**
 * Starts of the k windows of a clip of n words (see the header). k windows of seq words hold
 * slack = k·seq - (n - 1) words more than the clip has after its head; the slack is split at random into the
 * overlaps of consecutive windows (a random composition: sorted uniform cut points), so the first window
 * starts at 1, the last ends at the clip's end, and the windows always cover words 1..n-1.
 */
export function windowStarts(n: number, seq: number, rng: Rng): number[] {
  const k = windowsPerClip(n, seq);
  if (k === 1) return [1];
  const slack = k * seq - (n - 1);
  const cuts = Array.from({ length: k - 2 }, () => rng.nextInt(slack + 1)).sort((x, y) => x - y);
  const bounds = [0, ...cuts, slack];
  const starts = [1];
  for (let j = 1; j < k; j++) {
    const overlap = (bounds[j] as number) - (bounds[j - 1] as number);
    starts.push((starts[j - 1] as number) + seq - overlap);
  }
  return starts;
}

/** The shuffled windows of one epoch. */
export function epochWindows(clips: readonly Clip[], opts: WindowOptions, epoch: number): WindowRef[] {
  const rng = epochRng(opts.seed, epoch);
  const refs: WindowRef[] = [];
  clips.forEach((c, i) => {
    for (const start of windowStarts(clipLength(c), opts.seq, rng)) refs.push({ clip: i, start });
  });
  const shuffled = rng.shuffle(refs);
  const p = opts.emotionDropout ?? 0;
  if (p > 0) for (const ref of shuffled) if (rng.next() < p) ref.neutral = true;
  return shuffled;
}

export function batchesPerEpoch(clips: readonly Clip[], opts: WindowOptions): number {
  const windows = clips.reduce((s, c) => s + windowsPerClip(clipLength(c), opts.seq), 0);
  return Math.ceil(windows / opts.batch);
}

/** The windows of global step `step` (0-based), with its epoch and index in the epoch. */
export function batchAt(clips: readonly Clip[], opts: WindowOptions, step: number): { epoch: number; index: number; refs: WindowRef[] } {
  const per = batchesPerEpoch(clips, opts);
  const epoch = Math.floor(step / per);
  const index = step % per;
  const refs = epochWindows(clips, opts, epoch).slice(index * opts.batch, (index + 1) * opts.batch);
  return { epoch, index, refs };
}

/**
 * Windows that score every target word of every clip exactly once, in order (validation: no randomness).
 * Consecutive windows overlap by one word: a window after the first has its first target masked (see the
 * header), and that word is the previous window's last target.
 */
export function coveringWindows(clips: readonly Clip[], seq: number): WindowRef[] {
  const refs: WindowRef[] = [];
  const stride = Math.max(1, seq - 1);
  clips.forEach((c, i) => {
    const n = clipLength(c);
    for (let start = 1; ; start += stride) {
      refs.push({ clip: i, start });
      if (start + seq >= n) break; // targets start .. start+seq-1 reach the clip's last word
    }
  });
  return refs;
}

/** A batch in host memory: x, y [B,T,8] and mask [B,T], row-major. */
export interface HostBatch {
  B: number;
  T: number;
  x: Int32Array;
  y: Int32Array;
  mask: Float32Array;
  /** Positions with mask 1 (the words the loss is taken over). */
  words: number;
}

/**
 * Builds the arrays of a batch: each sample is the head word then up to seq words from `start`. With
 * `emotionInput` 'every' the inputs x carry the head word's emotion in every word (emotion_input.ts). A `neutral`
 * window's head word carries emotion 0 instead (and so do its inputs under 'every').
 */
export function buildBatch(clips: readonly Clip[], refs: readonly WindowRef[], seq: number, emotionInput: EmotionInput = 'first'): HostBatch {
  const F = N_FAMILIES;
  const samples = refs.map(({ clip, start, neutral }) => {
    const c = clips[clip];
    if (!c) throw new Error(`buildBatch: no clip ${clip}`);
    const n = clipLength(c);
    const end = Math.min(n, start + seq); // words [start, end) follow the head word
    const w = new Int32Array((1 + end - start) * F);
    w.set(c.words.subarray(0, F), 0);
    if (neutral) w[FAMILY_INDEX.emotion] = 0;
    w.set(c.words.subarray(start * F, end * F), F);
    return { w, len: 1 + end - start, midSong: start > 1 };
  });
  const B = samples.length;
  const T = samples.reduce((m, s) => Math.max(m, s.len - 1), -Infinity);
  const x = new Int32Array(B * T * F); // zeros: the EOS word pads
  const y = new Int32Array(B * T * F);
  const mask = new Float32Array(B * T);
  let words = 0;
  samples.forEach((s, b) => {
    const L = s.len - 1;
    x.set(s.w.subarray(0, L * F), b * T * F);
    conditionInputs(emotionInput, x, s.w[FAMILY_INDEX.emotion] as number, b * T, b * T + L); // (T, 8) rows of sample b
    y.set(s.w.subarray(F, (L + 1) * F), b * T * F);
    for (let t = s.midSong ? 1 : 0; t < L; t++) {
      mask[b * T + t] = 1;
      words++;
    }
  });
  return { B, T, x, y, mask, words };
}

/** The tensors of a batch: x, y [B,T,8] int32, mask [B,T] float32, and nextType [B,T] int32 (y's type). */
export function batchTensors(hb: HostBatch): { x: tf.Tensor; y: tf.Tensor; mask: tf.Tensor; nextType: tf.Tensor } {
  const F = N_FAMILIES;
  const nt = new Int32Array(hb.B * hb.T);
  for (let i = 0; i < nt.length; i++) nt[i] = hb.y[i * F + FAMILY_INDEX.type] as number;
  return {
    x: tf.tensor3d(hb.x, [hb.B, hb.T, F], 'int32'), // (B, T, 8)
    y: tf.tensor3d(hb.y, [hb.B, hb.T, F], 'int32'), // (B, T, 8)
    mask: tf.tensor2d(hb.mask, [hb.B, hb.T], 'float32'), // (B, T)
    nextType: tf.tensor2d(nt, [hb.B, hb.T], 'int32'), // (B, T)
  };
}
