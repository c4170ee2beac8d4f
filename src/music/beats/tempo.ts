/**
 * Tempo induction: a histogram of the intervals between pairs of onset events (weighted by the product of their
 * strengths, 10 ms bins, up to 4 beats of the slowest tempo apart) read as an autocorrelation; each candidate beat
 * period is scored by its own bin plus those of its multiples (a beat's period recurs at the half bar and the bar)
 * (4/4 or 3/4 readings, the better one) and a log-normal tempo prior, and the best one wins.
 */
import { FPS } from './envelope.ts';
import type { OnsetEvent } from './onsets.ts';

export interface TempoOptions {
  /** Slowest and fastest tempos considered, BPM. */
  minBpm: number;
  maxBpm: number;
  /** Centre of the log-normal prior (BPM) and its width in octaves. */
  priorBpm: number;
  priorOctaves: number;
  /**
   * The prior's centre follows the piece's onset rate: priorBpm * (events per second / rateRef) ^ rateExponent
   * (busier pieces are faster, measured on POP909's dev songs).
   */
  rateRef: number;
  rateExponent: number;
  /**
   * Weights of the bins at half, 2, 3 and 4 periods (1 at one period). Fitted on POP909's dev songs: the bar
   * (4 periods) and the subdivision (half) support a period, 3 periods (a ternary reading) counts against it.
   */
  combHalf: number;
  comb2: number;
  comb3: number;
  comb4: number;
  /**
   * A ternary reading (bar = 3 periods) swaps the weights at 3 and 4 periods; its score counts this much
   * (below 1: 4/4 is preferred when both fit).
   */
  triple: number;
}

export const DEFAULT_TEMPO: TempoOptions = {
  minBpm: 40, maxBpm: 220, priorBpm: 70, priorOctaves: 0.8, rateRef: 3, rateExponent: 0.5, combHalf: 1, comb2: 0, comb3: -0.5, comb4: 1.5, triple: 0.8,
};

/** The interval histogram, bins of 1/FPS s, up to `maxLag` bins, smoothed over 3 bins. */
export function intervalHistogram(events: readonly OnsetEvent[], strengths: readonly number[], maxLag: number): Float64Array {
  const h = new Float64Array(maxLag + 2);
  const maxSec = maxLag / FPS;
  for (let i = 0; i < events.length; i++) {
    const ti = (events[i] as OnsetEvent).time;
    const si = strengths[i] as number;
    for (let j = i + 1; j < events.length; j++) {
      const d = (events[j] as OnsetEvent).time - ti;
      if (d > maxSec) break;
      const x = d * FPS;
      const b = Math.floor(x);
      const frac = x - b;
      const w = si * (strengths[j] as number);
      h[b] = (h[b] as number) + w * (1 - frac);
      h[b + 1] = (h[b + 1] as number) + w * frac;
    }
  }
  const s = new Float64Array(maxLag + 1);
  for (let b = 1; b < maxLag; b++) s[b] = 0.5 * (h[b] as number) + 0.25 * ((h[b - 1] as number) + (h[b + 1] as number));
  return s;
}

/** Linear interpolation of a histogram at fractional bin x (0 outside). */
function at(h: Float64Array, x: number): number {
  const b = Math.floor(x);
  if (b < 0 || b + 1 >= h.length) return 0;
  const f = x - b;
  return (h[b] as number) * (1 - f) + (h[b + 1] as number) * f;
}

export interface TempoEstimate {
  /** Beat period in frames (fractional). */
  period: number;
  /** The winning score over the sum of all candidates' scores (0..1): how clearly it won. */
  salience: number;
  /** The comb's duple (bar of 4 periods) and ternary (bar of 3) readings at the winning period, before the prior. */
  duple: number;
  triple: number;
  /** The interval histogram the estimate was read from (intervalHistogram), for scoring other periods. */
  histogram: Float64Array;
}

/** The comb's duple and ternary readings of the histogram at a lag (frames), before the prior and the 3/4 weight. */
export function combAt(h: Float64Array, lag: number, opts: TempoOptions = DEFAULT_TEMPO): { duple: number; triple: number } {
  const base = at(h, lag) + opts.combHalf * at(h, lag / 2) + opts.comb2 * at(h, 2 * lag);
  return { duple: base + opts.comb3 * at(h, 3 * lag) + opts.comb4 * at(h, 4 * lag), triple: base + opts.comb4 * at(h, 3 * lag) + opts.comb3 * at(h, 4 * lag) };
}

/** The beat period of the events, or null when they show no periodicity (fewer than two events). */
export function estimatePeriod(events: readonly OnsetEvent[], strengths: readonly number[], opts: TempoOptions = DEFAULT_TEMPO): TempoEstimate | null {
  const minLag = (60 / opts.maxBpm) * FPS;
  const maxLag = (60 / opts.minBpm) * FPS;
  const h = intervalHistogram(events, strengths, Math.ceil(4 * maxLag) + 2);
  const span = events.length > 1 ? (events[events.length - 1] as OnsetEvent).time - (events[0] as OnsetEvent).time : 0;
  const rate = span > 0 ? (events.length - 1) / span : opts.rateRef;
  const priorLag = (60 / (opts.priorBpm * (rate / opts.rateRef) ** opts.rateExponent)) * FPS;
  let best = -1;
  let bestLag = 0;
  let bestDuple = 0;
  let bestTriple = 0;
  let total = 0;
  // Candidates every quarter bin; the comb reads the histogram at the multiples.
  for (let lag = Math.ceil(minLag); lag <= maxLag; lag += 0.25) {
    const base = at(h, lag) + opts.combHalf * at(h, lag / 2) + opts.comb2 * at(h, 2 * lag);
    const duple = base + opts.comb3 * at(h, 3 * lag) + opts.comb4 * at(h, 4 * lag);
    const triple = opts.triple * (base + opts.comb4 * at(h, 3 * lag) + opts.comb3 * at(h, 4 * lag));
    const comb = Math.max(duple, triple);
    const oct = Math.log2(lag / priorLag) / opts.priorOctaves;
    const score = comb * Math.exp(-0.5 * oct * oct);
    if (score > 0) total += score;
    if (score > best) {
      best = score;
      bestLag = lag;
      bestDuple = duple;
      bestTriple = base + opts.comb4 * at(h, 3 * lag) + opts.comb3 * at(h, 4 * lag);
    }
  }
  if (!(best > 0)) return null;
  return { period: bestLag, salience: best / total, duple: bestDuple, triple: bestTriple, histogram: h };
}
