/**
 * Downbeats and meter from tracked beats. Each beat gets a downbeat score from what marks a bar's start in piano
 * music: a bass note struck on it, a change of harmony across it (pitch classes of the two beats after against
 * the two before), an accent (onset strength) and long notes struck on it. Each meter (3 or 4) and phase is
 * scored by the contrast between its downbeats' mean score and the other beats'; the best wins, with 4/4 preferred
 * unless 3/4 is clearly better.
 */
import type { OnsetEvent } from './onsets.ts';

export interface DownbeatWeights {
  bass: number;
  harmony: number;
  accent: number;
  length: number;
  /** 3/4 must beat 4/4's contrast by this much (in z-score units)... */
  tripleMargin: number;
  /**
   * ...plus this many standard errors of a 3/4 contrast (the scores' deviation times sqrt(1/downbeats + 1/others)),
   * so that a short piece, with few bars of evidence, needs a clearer triple pattern than a long one.
   */
  tripleErrors: number;
  /** The cost of a bar that is not `meter` beats long (a phase jump), in downbeat-score units. */
  jump: number;
}

export const DEFAULT_DOWNBEAT: DownbeatWeights = { bass: 1, harmony: 1, accent: 0.5, length: 0.5, tripleMargin: 0.15, tripleErrors: 2, jump: 8 };

export interface BeatFeatures {
  bass: number[];
  harmony: number[];
  harmony1: number[];
  harmony4: number[];
  size: number[];
  accent: number[];
  length: number[];
}

/** The cosine of two chroma vectors (their first 12 values), undefined when either is all zero. */
export function chromaCosine(a: ArrayLike<number>, b: ArrayLike<number>): number | undefined {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let k = 0; k < 12; k++) {
    ab += (a[k] as number) * (b[k] as number);
    aa += (a[k] as number) ** 2;
    bb += (b[k] as number) ** 2;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : undefined;
}

function cosineDistance(a: Float64Array, b: Float64Array): number {
  const c = chromaCosine(a, b);
  return c === undefined ? 0 : 1 - c;
}

/** Per-beat features; `events` sorted by time, `strengths` their onset strengths. */
export function beatFeatures(beats: readonly number[], events: readonly OnsetEvent[], strengths: readonly number[]): BeatFeatures {
  const n = beats.length;
  const f: BeatFeatures = { bass: new Array(n).fill(0), harmony: new Array(n).fill(0), harmony1: new Array(n).fill(0), harmony4: new Array(n).fill(0), size: new Array(n).fill(0), accent: new Array(n).fill(0), length: new Array(n).fill(0) };
  // Chroma of the notes struck in each beat span [b_i - w, b_{i+1} - w), w a tenth of the span (early notes count).
  const spans: Float64Array[] = [];
  let e = 0;
  for (let i = 0; i < n; i++) {
    const b = beats[i] as number;
    const ibi = i + 1 < n ? (beats[i + 1] as number) - b : i > 0 ? b - (beats[i - 1] as number) : 0.5;
    const w = 0.12 * ibi;
    while (e < events.length && (events[e] as OnsetEvent).time < b - w) e++;
    const chroma = new Float64Array(12);
    let low = 128;
    for (let k = e; k < events.length; k++) {
      const ev = events[k] as OnsetEvent;
      if (ev.time >= b + ibi - w) break;
      for (let c = 0; c < 12; c++) chroma[c] = (chroma[c] as number) + (ev.chroma[c] as number);
      if (ev.time <= b + w) {
        f.accent[i] = Math.max(f.accent[i] as number, strengths[k] as number);
        f.length[i] = Math.max(f.length[i] as number, Math.min(ev.longest, 2));
        low = Math.min(low, ev.low);
        f.size[i] = (f.size[i] as number) + ev.size;
      }
    }
    f.bass[i] = low < 128 ? Math.max(0, (64 - low) / 24) : 0;
    spans.push(chroma);
  }
  const change = (i: number, k: number): number => {
    const before = new Float64Array(12);
    const after = new Float64Array(12);
    for (let j = 1; j <= k; j++) {
      const s = spans[i - j];
      if (s) for (let c = 0; c < 12; c++) before[c] = (before[c] as number) + (s[c] as number);
    }
    for (let j = 0; j < k; j++) {
      const s = spans[i + j];
      if (s) for (let c = 0; c < 12; c++) after[c] = (after[c] as number) + (s[c] as number);
    }
    return cosineDistance(before, after);
  };
  for (let i = 0; i < n; i++) {
    f.harmony[i] = change(i, 2);
    f.harmony1[i] = change(i, 1);
    f.harmony4[i] = change(i, 4);
  }
  return f;
}

/** Values scaled to zero mean and unit deviation (all 0 when constant). */
function zscore(xs: readonly number[]): number[] {
  const n = xs.length || 1;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
  return xs.map((x) => (sd > 1e-12 ? (x - mean) / sd : 0));
}

/** The combined downbeat score of each beat. */
export function downbeatScores(f: BeatFeatures, w: DownbeatWeights = DEFAULT_DOWNBEAT): number[] {
  const b = zscore(f.bass);
  const h = zscore(f.harmony);
  const a = zscore(f.accent);
  const l = zscore(f.length);
  return b.map((_, i) => w.bass * (b[i] as number) + w.harmony * (h[i] as number) + w.accent * (a[i] as number) + w.length * (l[i] as number));
}

export interface MeterChoice {
  meter: 3 | 4;
  /** Index of the first downbeat among the beats (0 .. meter-1). */
  phase: number;
  /** The winning contrast (mean downbeat score minus the others'). */
  contrast: number;
  /** The best contrasts of 3 and 4 beats to the bar. */
  three: number;
  four: number;
}

/** The meter and phase whose downbeats stand out most from the other beats. */
export function chooseMeter(scores: readonly number[], w: DownbeatWeights = DEFAULT_DOWNBEAT): MeterChoice {
  const pick = (m: 3 | 4): { meter: 3 | 4; phase: number; contrast: number } => {
    let best = { meter: m, phase: 0, contrast: -Infinity };
    const total = scores.reduce((s, x) => s + x, 0);
    for (let p = 0; p < m; p++) {
      let on = 0;
      let count = 0;
      for (let i = p; i < scores.length; i += m) {
        on += scores[i] as number;
        count++;
      }
      const off = scores.length - count;
      const contrast = count > 0 && off > 0 ? on / count - (total - on) / off : 0;
      if (contrast > best.contrast) best = { meter: m, phase: p, contrast };
    }
    return best;
  };
  const four = pick(4);
  const three = pick(3);
  const both = { three: three.contrast, four: four.contrast };
  const n = scores.length;
  const mean = scores.reduce((s, x) => s + x, 0) / Math.max(1, n);
  const sd = Math.sqrt(scores.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, n));
  const stdError = n >= 3 ? sd * Math.sqrt(3 / n + 1.5 / n) : Infinity;
  return three.contrast > four.contrast + w.tripleMargin + w.tripleErrors * stdError ? { ...three, ...both } : { ...four, ...both };
}

/**
 * The downbeats as a Viterbi path over positions in the bar (0 = downbeat): each beat moves to the next position
 * for free, or jumps to any other position at cost `jump` (a short or long bar, a pickup); the path maximises the
 * sum of the (mean-removed) downbeat scores on its downbeats minus the jump costs. Returns the downbeat indices.
 */
export function decodeDownbeats(scores: readonly number[], meter: 3 | 4, jump: number): number[] {
  const n = scores.length;
  if (n === 0) return [];
  const mean = scores.reduce((a, b) => a + b, 0) / n;
  return barPath(n, meter, jump, (i, k) => (k === 0 ? (scores[i] as number) - mean : 0)).downbeats;
}

/**
 * The same Viterbi path with an emission for every position in the bar: `logp[i][k]` scores beat i at position k
 * (e.g. the log-probabilities of a tagger over positions 0..meter-1). Returns the downbeat indices.
 */
export function decodeBarPositions(logp: readonly (readonly number[])[], meter: 3 | 4, jump: number): number[] {
  return barPath(logp.length, meter, jump, (i, k) => (logp[i]?.[k] as number | undefined) ?? 0).downbeats;
}

/**
 * The Viterbi path over positions 0..bar-1 in a bar of `bar` beats (2..127): each of the `n` beats moves to the next
 * position for free or jumps to any other at cost `jump`; `emit(i, k)` scores beat i at position k. Returns the
 * downbeat indices (position 0) and the path's score.
 */
export function barPath(n: number, bar: number, jump: number, emit: (i: number, k: number) => number): { downbeats: number[]; score: number } {
  if (n === 0) return { downbeats: [], score: 0 };
  let v = Array.from({ length: bar }, (_, k) => emit(0, k));
  const back = new Int8Array(n * bar);
  for (let i = 1; i < n; i++) {
    const next: number[] = new Array(bar).fill(-Infinity);
    for (let j = 0; j < bar; j++) {
      for (let k = 0; k < bar; k++) {
        const c = (v[k] as number) - (j === (k + 1) % bar ? 0 : jump);
        if (c > (next[j] as number)) {
          next[j] = c;
          back[i * bar + j] = k;
        }
      }
      next[j] = (next[j] as number) + emit(i, j);
    }
    v = next;
  }
  let state = 0;
  for (let k = 1; k < bar; k++) if ((v[k] as number) > (v[state] as number)) state = k;
  const score = v[state] as number;
  const down: number[] = [];
  for (let i = n - 1; i >= 0; i--) {
    if (state === 0) down.push(i);
    state = back[i * bar + state] as number;
  }
  return { downbeats: down.reverse(), score };
}
