/**
 * A learned downbeat tagger over the tracked beats (experimental): per-beat features (the chroma and bass chroma of
 * the beat's span, onset strength at four subdivisions, note count, the hand cues of downbeats.ts, chroma
 * similarity to the beats around) go through a small non-causal dilated convolutional network (residual blocks of
 * kernel 3, dilations 1..32: about 127 beats of context on each side) that gives each beat the log-odds of being an
 * annotated downbeat. Plain TypeScript (no tfjs), deterministic; the weights are fitted by scripts/beats_tagger.ts.
 */
import { beatFeatures, chooseMeter, chromaCosine, decodeDownbeats, downbeatScores, DEFAULT_DOWNBEAT, type BeatFeatures } from './downbeats.ts';
import { base64Bytes } from '../../io/base64.ts';
import { float16ToFloat32 } from '../../io/safetensors.ts';
import type { OnsetEvent } from './onsets.ts';
import { wasmTaggerOutputs, type PlacedNetwork } from './tagger_wasm.ts';

/** Chroma blocks (rotated together under transposition): the span's chroma, then the bass chroma. */
export const CHROMA_AT = 0;
export const BASS_CHROMA_AT = 12;
export const TAGGER_FEATURES = 53;

export interface TaggerWeights {
  /** Channels. */
  c: number;
  /** Dilations of the residual blocks. */
  dilations: readonly number[];
  /** Input projection, TAGGER_FEATURES x c (row-major), and its bias (c). */
  inW: ArrayLike<number>;
  inB: ArrayLike<number>;
  /** Each block: (3 c) x c weights (the taps at t - d, t, t + d stacked) and c biases. */
  blocks: readonly { w: ArrayLike<number>; b: ArrayLike<number> }[];
  /** Outputs per beat: 1 (the downbeat log-odds) or K (logits of the bar positions 0..K-1). */
  classes: number;
  /** Output: c x classes weights (row-major) and classes biases. */
  outW: ArrayLike<number>;
  outB: ArrayLike<number>;
}

function zscoreInPlace(rows: Float32Array[], k: number): void {
  const n = rows.length;
  if (n === 0) return;
  let mean = 0;
  for (const r of rows) mean += r[k] as number;
  mean /= n;
  let v = 0;
  for (const r of rows) v += ((r[k] as number) - mean) ** 2;
  const sd = Math.sqrt(v / n);
  for (const r of rows) r[k] = sd > 1e-9 ? ((r[k] as number) - mean) / sd : 0;
}

/**
 * The tagger's input features of each beat (TAGGER_FEATURES values); `events` sorted by time; `hand` the hand cues of
 * the same beats (downbeats.ts beatFeatures), when the caller has them already.
 */
export function taggerFeatures(
  beats: readonly number[],
  events: readonly OnsetEvent[],
  strengths: readonly number[],
  hand: BeatFeatures = beatFeatures(beats, events, strengths),
): Float32Array[] {
  const n = beats.length;
  const rows: Float32Array[] = [];
  const ibis: number[] = [];
  let e = 0;
  for (let i = 0; i < n; i++) {
    const b = beats[i] as number;
    const ibi = i + 1 < n ? (beats[i + 1] as number) - b : i > 0 ? b - (beats[i - 1] as number) : 0.5;
    ibis.push(ibi);
    const w = 0.12 * ibi;
    while (e < events.length && (events[e] as OnsetEvent).time < b - w) e++;
    const r = new Float32Array(TAGGER_FEATURES);
    const sub = [0, 0, 0, 0];
    let count = 0;
    let low = 128;
    let chromaSum = 0;
    let bassSum = 0;
    for (let k = e; k < events.length; k++) {
      const ev = events[k] as OnsetEvent;
      if (ev.time >= b + ibi - w) break;
      const s = strengths[k] as number;
      for (let c = 0; c < 12; c++) {
        r[CHROMA_AT + c] = (r[CHROMA_AT + c] as number) + (ev.chroma[c] as number);
        chromaSum += ev.chroma[c] as number;
      }
      const pc = ((ev.low % 12) + 12) % 12;
      const bw = s * Math.max(0.1, (72 - ev.low) / 24);
      r[BASS_CHROMA_AT + pc] = (r[BASS_CHROMA_AT + pc] as number) + bw;
      bassSum += bw;
      const q = Math.min(3, Math.max(0, Math.floor((ev.time - (b - ibi / 8)) / (ibi / 4))));
      sub[q] = (sub[q] as number) + s;
      count += ev.size;
      if (ev.time <= b + w) low = Math.min(low, ev.low);
    }
    if (chromaSum > 0) for (let c = 0; c < 12; c++) r[CHROMA_AT + c] = (r[CHROMA_AT + c] as number) / chromaSum;
    if (bassSum > 0) for (let c = 0; c < 12; c++) r[BASS_CHROMA_AT + c] = (r[BASS_CHROMA_AT + c] as number) / bassSum;
    for (let q = 0; q < 4; q++) r[24 + q] = Math.log1p(sub[q] as number);
    r[28] = Math.log1p(count);
    r[29] = hand.bass[i] as number;
    r[30] = hand.harmony[i] as number;
    r[31] = hand.harmony1[i] as number;
    r[32] = hand.harmony4[i] as number;
    r[33] = Math.log1p(hand.size[i] as number);
    r[34] = hand.accent[i] as number;
    r[35] = hand.length[i] as number;
    r[36] = low < 128 ? (low - 60) / 12 : 0;
    r[37] = low < 128 ? 1 : 0;
    rows.push(r);
  }
  const sortedIbi = [...ibis].sort((a, b) => a - b);
  const med = sortedIbi[sortedIbi.length >> 1] ?? 0.5;
  const cos = (i: number, j: number): number => {
    const a = rows[i];
    const b = rows[j];
    return a === undefined || b === undefined ? 0 : (chromaCosine(a.subarray(CHROMA_AT), b.subarray(CHROMA_AT)) ?? 0);
  };
  const lags = [-8, -4, -2, -1, 1, 2, 4, 8];
  for (let i = 0; i < n; i++) {
    const r = rows[i] as Float32Array;
    r[38] = Math.log(Math.max(1e-3, ibis[i] as number) / med);
    lags.forEach((l, k) => {
      r[39 + k] = cos(i, i + l);
    });
  }
  // 47: where in the piece the beat is (0 at the start, 1 at the end).
  for (let i = 0; i < n; i++) (rows[i] as Float32Array)[47] = n > 1 ? i / (n - 1) : 0;
  for (const k of [24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 38]) zscoreInPlace(rows, k);
  // 48: the hand score of downbeats.ts (its default weights over the z-scored cues).
  const hw = DEFAULT_DOWNBEAT;
  for (let i = 0; i < n; i++) {
    const r = rows[i] as Float32Array;
    r[48] = hw.bass * (r[29] as number) + hw.harmony * (r[30] as number) + hw.accent * (r[34] as number) + hw.length * (r[35] as number);
  }
  // 49-52: the hand reading's position in the bar (one-hot; the hand meter and Viterbi of downbeats.ts).
  const scores = downbeatScores(hand, DEFAULT_DOWNBEAT);
  const meter = chooseMeter(scores, DEFAULT_DOWNBEAT).meter;
  const down = new Set(decodeDownbeats(scores, meter, DEFAULT_DOWNBEAT.jump));
  let k = -1;
  for (let i = 0; i < n; i++) {
    k = down.has(i) ? 0 : k >= 0 ? k + 1 : -1;
    if (k >= 0 && k < 4) (rows[i] as Float32Array)[49 + k] = 1;
  }
  return rows;
}

/** `w` (rows x cols, row-major) transposed to cols x rows, as float32, cached per weight array. */
const transposed = new WeakMap<object, Float32Array>();
function transpose(w: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const key = w as object;
  let t = transposed.get(key);
  if (t === undefined) {
    t = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c] as number;
    transposed.set(key, t);
  }
  return t;
}

/**
 * One output channel's dot product over `len` values: `src[s..s+len) . w[o..o+len)`, summed in four interleaved
 * partial sums (so that the adds do not wait on one another).
 */
function dot(src: Float32Array, s: number, w: Float32Array, o: number, len: number): number {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  let k = 0;
  for (; k + 3 < len; k += 4) {
    a0 += (src[s + k] as number) * (w[o + k] as number);
    a1 += (src[s + k + 1] as number) * (w[o + k + 1] as number);
    a2 += (src[s + k + 2] as number) * (w[o + k + 2] as number);
    a3 += (src[s + k + 3] as number) * (w[o + k + 3] as number);
  }
  for (; k < len; k++) a0 += (src[s + k] as number) * (w[o + k] as number);
  return a0 + a1 + a2 + a3;
}

/** The network as the WebAssembly kernel takes it (tagger_wasm.ts), cached per weights. */
const networks = new WeakMap<TaggerWeights, PlacedNetwork>();
function network(w: TaggerWeights): PlacedNetwork {
  let p = networks.get(w);
  if (p === undefined) {
    const C = w.c;
    p = {
      c: C,
      dilations: w.dilations,
      classes: w.classes,
      inT: transpose(w.inW, TAGGER_FEATURES, C),
      inB: Float32Array.from(w.inB),
      blocks: w.blocks.map((b) => ({ wT: transpose(b.w, 3 * C, C), b: Float32Array.from(b.b) })),
      outT: transpose(w.outW, C, w.classes),
      outB: Float32Array.from(w.outB),
    };
    networks.set(w, p);
  }
  return p;
}

/**
 * The network's raw outputs for `x` (taggerFeatures rows): `classes` values per beat. On the WebAssembly kernel
 * where it runs (tagger_wasm.ts; the same numbers to the last bit), else in TypeScript (taggerOutputsTs).
 */
export function taggerOutputs(x: readonly Float32Array[], w: TaggerWeights): number[][] {
  const input = flatRows(x); // [n, F]
  return wasmTaggerOutputs(input, x.length, TAGGER_FEATURES, network(w)) ?? flatOutputs(input, x.length, w);
}

/** taggerOutputs in plain TypeScript. */
export function taggerOutputsTs(x: readonly Float32Array[], w: TaggerWeights): number[][] {
  return flatOutputs(flatRows(x), x.length, w);
}

/** The feature rows as one flat n x F array. */
function flatRows(x: readonly Float32Array[]): Float32Array {
  const F = TAGGER_FEATURES;
  const input = new Float32Array(x.length * F); // [n, F]
  x.forEach((row, t) => input.set(row.subarray(0, F), t * F));
  return input;
}

/** The network in TypeScript on the flat features `input` (n x F). */
function flatOutputs(input: Float32Array, n: number, w: TaggerWeights): number[][] {
  const C = w.c;
  const F = TAGGER_FEATURES;
  // Activations are flat n x C float32 arrays; each output is a dot product with a row of the transposed weights.
  const inT = transpose(w.inW, F, C); // [C, F]
  let h = new Float32Array(n * C); // [n, C]
  for (let t = 0; t < n; t++) for (let j = 0; j < C; j++) h[t * C + j] = (w.inB[j] as number) + dot(input, t * F, inT, j * F, F);
  w.dilations.forEach((d, bi) => {
    const blk = w.blocks[bi];
    if (blk === undefined) return;
    const wT = transpose(blk.w, 3 * C, C); // [C, 3C]: for output j, the taps t - d, t, t + d
    const o = new Float32Array(n * C); // [n, C]
    for (let t = 0; t < n; t++) {
      for (let j = 0; j < C; j++) {
        let s = blk.b[j] as number;
        for (let tap = 0; tap < 3; tap++) {
          const src = t + (tap - 1) * d;
          if (src >= 0 && src < n) s += dot(h, src * C, wT, j * 3 * C + tap * C, C);
        }
        o[t * C + j] = (h[t * C + j] as number) + Math.max(0, s); // residual
      }
    }
    h = o;
  });
  const K = w.classes;
  const outT = transpose(w.outW, C, K); // [K, C]
  const out: number[][] = [];
  for (let t = 0; t < n; t++) {
    const o = new Array<number>(K);
    for (let q = 0; q < K; q++) o[q] = (w.outB[q] as number) + dot(h, t * C, outT, q * C, C);
    out.push(o);
  }
  return out;
}

/** Per-beat log-probabilities of the bar positions 0..classes-1 (classes > 1), log-softmax of the outputs. */
export function taggerLogProbs(x: readonly Float32Array[], w: TaggerWeights): number[][] {
  return taggerOutputs(x, w).map((o) => {
    const m = Math.max(...o);
    const lse = m + Math.log(o.reduce((a, v) => a + Math.exp(v - m), 0));
    return o.map((v) => v - lse);
  });
}

/** The network's per-beat downbeat log-odds. */
export function taggerLogits(x: readonly Float32Array[], w: TaggerWeights): number[] {
  if (w.classes === 1) return taggerOutputs(x, w).map((o) => o[0] as number);
  return taggerLogProbs(x, w).map((lp) => {
    const p0 = Math.exp(lp[0] as number);
    return Math.log(Math.max(1e-9, p0)) - Math.log(Math.max(1e-9, 1 - p0));
  });
}

/** The tagger's weights as stored (tagger_weights.ts): every array as base64 of little-endian IEEE half floats. */
export interface PackedTagger {
  c: number;
  dilations: readonly number[];
  classes: number;
  inW: string;
  inB: string;
  blocks: readonly { w: string; b: string }[];
  outW: string;
  outB: string;
}

function halves(s: string): Float32Array {
  const b = base64Bytes(s);
  const bits = new Uint16Array(b.length >> 1);
  for (let i = 0; i < bits.length; i++) bits[i] = (b[2 * i] as number) | ((b[2 * i + 1] as number) << 8);
  return float16ToFloat32(bits);
}

export function unpackTagger(p: PackedTagger): TaggerWeights {
  return { c: p.c, dilations: p.dilations, classes: p.classes, inW: halves(p.inW), inB: halves(p.inB), blocks: p.blocks.map((b) => ({ w: halves(b.w), b: halves(b.b) })), outW: halves(p.outW), outB: halves(p.outB) };
}

/** The mean downbeat log-odds of an ensemble of taggers over the tracked `beats` (`hand`: as taggerFeatures). */
export function taggerDownbeatLogits(
  beats: readonly number[],
  events: readonly OnsetEvent[],
  strengths: readonly number[],
  models: readonly TaggerWeights[],
  hand?: BeatFeatures,
): number[] {
  const x = taggerFeatures(beats, events, strengths, hand);
  const out = new Array<number>(beats.length).fill(0);
  for (const w of models) taggerLogits(x, w).forEach((v, i) => (out[i] = (out[i] as number) + v / models.length));
  return out;
}
