/**
 * Tempo candidates and their learned choice. The tempo comb's period is often a tempo octave off (half or double
 * the annotated tempo) or at 3/2 or 2/3 of it; each of those periods is decoded by the dynamic programme and
 * described by features a good beat level shows (how the onsets, the bass and the harmony line up with the beats,
 * how the period relates to the piece's onset rate and note lengths), and a linear score fitted on POP909's dev
 * songs (scripts/beats_fit.ts, a conditional logit: the softmax over one piece's candidates) picks one.
 */
import { beatFeatures, chooseMeter, chromaCosine, downbeatScores, DEFAULT_DOWNBEAT } from './downbeats.ts';
import { decodeBeats, DEFAULT_DP, type DpOptions } from './dp.ts';
import { FPS } from './envelope.ts';
import type { OnsetEvent } from './onsets.ts';
import { combAt, DEFAULT_TEMPO, type TempoOptions } from './tempo.ts';

/** The candidate periods as multiples of the comb's period (the first is the comb's own). */
export const PERIOD_MULTIPLES = [1, 2, 0.5, 1.5, 2 / 3] as const;

/** The names of the features, in the order of `Candidate.features` and of the fitted weights. */
export const CANDIDATE_FEATURES = [
  'logPeriod',
  'logPeriodSq',
  'logPeriodXRate',
  'logPeriodXLength',
  'logPeriodXBassRate',
  'comb',
  'onBeat',
  'midBeat',
  'quarterBeat',
  'harmony1',
  'harmony2',
  'bass',
  'meterContrast',
  'tripleComb',
  'altEnvelope',
  'altBass',
  'altHarmony',
  'midHarmony',
  'hist1_4',
  'hist1_3',
  'hist1_2',
  'hist2_3',
  'hist1',
  'hist3_2',
  'hist2',
  'hist3',
  'hist4',
  'ioi1_4',
  'ioi1_3',
  'ioi1_2',
  'ioi1',
  'ioi2',
  'isDouble',
  'isHalf',
  'isThreeHalves',
  'isTwoThirds',
] as const;

export interface Candidate {
  /** Beat period, frames. */
  period: number;
  /** The multiple of the comb's period it came from. */
  multiple: number;
  /** Decoded beats, seconds (snapped). */
  beats: number[];
  features: number[];
}

/** What the candidates are built from: the piece's onset events and their envelope. */
export interface PieceOnsets {
  events: readonly OnsetEvent[];
  strengths: readonly number[];
  env: Float64Array;
  histogram: Float64Array;
  /** The comb's period, frames. */
  period: number;
  /** First frame the beats may take. */
  from: number;
}

/** Moves each beat to the strongest event within `radius` seconds, keeping the beats in order. */
export function snapBeats(beats: number[], events: readonly OnsetEvent[], strengths: readonly number[], radius: number): number[] {
  if (radius <= 0) return beats;
  const out: number[] = [];
  let e = 0;
  for (const b of beats) {
    while (e < events.length && (events[e] as OnsetEvent).time < b - radius) e++;
    let best = b;
    let bestS = 0;
    for (let k = e; k < events.length && (events[k] as OnsetEvent).time <= b + radius; k++) {
      const s = strengths[k] as number;
      if (s > bestS) {
        bestS = s;
        best = (events[k] as OnsetEvent).time;
      }
    }
    if (out.length === 0 || best > (out[out.length - 1] as number)) out.push(best);
    else if (b > (out[out.length - 1] as number)) out.push(b);
  }
  return out;
}

/** The lag within +-5% of `lag` where the comb (its better reading) peaks, quarter-bin steps. */
function refineLag(h: Float64Array, lag: number, opts: TempoOptions): number {
  let best = lag;
  let bestV = -Infinity;
  for (let x = Math.ceil(lag * 0.95 * 4) / 4; x <= lag * 1.05; x += 0.25) {
    const c = combAt(h, x, opts);
    const v = Math.max(c.duple, c.triple);
    if (v > bestV) {
      bestV = v;
      best = x;
    }
  }
  return best;
}

/** Mean of the envelope's maximum within +-2 frames of each time (seconds). */
function envelopeAt(env: Float64Array, times: readonly number[]): number {
  if (times.length === 0) return 0;
  let s = 0;
  for (const t of times) {
    const f = Math.round(t * FPS);
    let m = 0;
    for (let g = f - 2; g <= f + 2; g++) if (g >= 0 && g < env.length) m = Math.max(m, env[g] as number);
    s += m;
  }
  return s / times.length;
}

/** The contrast between the even and the odd beats' mean (absolute), over the deviation of all: how strongly they alternate. */
function alternation(xs: readonly number[]): number {
  if (xs.length < 4) return 0;
  let even = 0;
  let odd = 0;
  xs.forEach((x, i) => (i % 2 === 0 ? (even += x) : (odd += x)));
  const m = mean(xs);
  const sd = Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
  const ne = Math.ceil(xs.length / 2);
  const no = xs.length - ne;
  return sd > 1e-12 ? Math.abs(even / ne - odd / no) / sd : 0;
}

/** Mean cosine distance between the chroma of the first and the second half of each beat (harmonic change at the half beat). */
function midHarmony(beats: readonly number[], events: readonly OnsetEvent[]): number {
  let sum = 0;
  let n = 0;
  let e = 0;
  for (let i = 0; i + 1 < beats.length; i++) {
    const a = beats[i] as number;
    const b = beats[i + 1] as number;
    const w = 0.12 * (b - a);
    const mid = (a + b) / 2;
    const x = new Float64Array(12);
    const y = new Float64Array(12);
    while (e < events.length && (events[e] as OnsetEvent).time < a - w) e++;
    for (let k = e; k < events.length && (events[k] as OnsetEvent).time < b - w; k++) {
      const ev = events[k] as OnsetEvent;
      const into = ev.time < mid - w ? x : y;
      for (let c = 0; c < 12; c++) into[c] = (into[c] as number) + (ev.chroma[c] as number);
    }
    const cos = chromaCosine(x, y);
    if (cos !== undefined) {
      sum += 1 - cos;
      n++;
    }
  }
  return n > 0 ? sum / n : 0;
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] as number;
}

/**
 * The candidates of a piece: each multiple of the comb's period within the tempo range (refined to the comb's
 * nearby peak), decoded, snapped and described.
 */
export function tempoCandidates(p: PieceOnsets, opts: { tempo?: TempoOptions; dp?: DpOptions; snap?: number } = {}): Candidate[] {
  const tempo = opts.tempo ?? DEFAULT_TEMPO;
  const dp = opts.dp ?? DEFAULT_DP;
  const snap = opts.snap ?? 0.04;
  const { events, strengths, env } = p;
  const minLag = (60 / tempo.maxBpm) * FPS;
  const maxLag = (60 / tempo.minBpm) * FPS;
  const first = (events[0] as OnsetEvent).time;
  const last = (events[events.length - 1] as OnsetEvent).time;
  const span = Math.max(1e-3, last - first);
  const logRate = Math.log2(Math.max(1e-3, (events.length - 1) / span));
  const logLength = Math.log2(Math.max(0.02, median(events.map((e) => e.longest))));
  const bassEvents = events.filter((e) => e.low < 55).length;
  const logBassRate = Math.log2(Math.max(0.05, bassEvents / span));
  let envMean = 0;
  for (const e of events) envMean += env[Math.min(env.length - 1, Math.round(e.time * FPS))] as number;
  envMean = envMean / events.length || 1;

  // The histogram at multiples of a candidate's period, over its highest bin (from a sixteenth of the fastest beat).
  let histMax = 0;
  for (let b = Math.floor(minLag / 4); b < p.histogram.length; b++) histMax = Math.max(histMax, p.histogram[b] as number);
  histMax = histMax || 1;
  const hist = (x: number): number => {
    const b = Math.floor(x);
    if (b < 0 || b + 1 >= p.histogram.length) return Math.log(0.05);
    const f = x - b;
    return Math.log(((p.histogram[b] as number) * (1 - f) + (p.histogram[b + 1] as number) * f) / histMax + 0.05);
  };
  const iois: number[] = [];
  for (let i = 1; i < events.length; i++) iois.push((events[i] as OnsetEvent).time - (events[i - 1] as OnsetEvent).time);
  /** Share of the consecutive inter-onset intervals within 12% of `sec` seconds. */
  const ioiShare = (sec: number): number => iois.filter((d) => Math.abs(Math.log(d / sec)) < 0.12).length / Math.max(1, iois.length);

  const periods: { lag: number; multiple: number }[] = [];
  for (const m of PERIOD_MULTIPLES) {
    const target = p.period * m;
    if (target < minLag * 0.97 || target > maxLag * 1.03) continue;
    periods.push({ lag: m === 1 ? p.period : refineLag(p.histogram, target, tempo), multiple: m });
  }
  const combs = periods.map(({ lag }) => combAt(p.histogram, lag, tempo));
  const combMax = Math.max(1e-9, ...combs.map((c) => Math.max(c.duple, c.triple)));

  return periods.map(({ lag, multiple }, k) => {
    const pf = new Float64Array(env.length).fill(lag);
    const frames = decodeBeats(env, pf, p.from, env.length - 1, dp);
    const beats = snapBeats(
      frames.map((f) => f / FPS),
      events,
      strengths,
      snap,
    );
    const mids: number[] = [];
    const quarters: number[] = [];
    for (let i = 0; i + 1 < beats.length; i++) {
      const a = beats[i] as number;
      const d = (beats[i + 1] as number) - a;
      mids.push(a + d / 2);
      quarters.push(a + d / 4, a + (3 * d) / 4);
    }
    const bf = beatFeatures(beats, events, strengths);
    const choice = chooseMeter(downbeatScores(bf, DEFAULT_DOWNBEAT), DEFAULT_DOWNBEAT);
    const c = combs[k] as { duple: number; triple: number };
    const L = Math.log2(lag / FPS);
    const features = [
      L,
      L * L,
      L * logRate,
      L * logLength,
      L * logBassRate,
      Math.log(Math.max(c.duple, c.triple) / combMax + 1e-3),
      envelopeAt(env, beats) / envMean,
      envelopeAt(env, mids) / envMean,
      envelopeAt(env, quarters) / envMean,
      mean(bf.harmony1),
      mean(bf.harmony),
      mean(bf.bass),
      Math.max(choice.three, choice.four),
      Math.max(-3, Math.min(3, Math.log((Math.max(c.triple, 0) + 1e-6) / (Math.max(c.duple, 0) + 1e-6)))),
      alternation(bf.accent),
      alternation(bf.bass),
      alternation(bf.harmony1),
      midHarmony(beats, events),
      hist(lag / 4),
      hist(lag / 3),
      hist(lag / 2),
      hist((2 * lag) / 3),
      hist(lag),
      hist(1.5 * lag),
      hist(2 * lag),
      hist(3 * lag),
      hist(4 * lag),
      ioiShare(lag / FPS / 4),
      ioiShare(lag / FPS / 3),
      ioiShare(lag / FPS / 2),
      ioiShare(lag / FPS),
      ioiShare((2 * lag) / FPS),
      multiple === 2 ? 1 : 0,
      multiple === 0.5 ? 1 : 0,
      multiple === 1.5 ? 1 : 0,
      Math.abs(multiple - 2 / 3) < 1e-9 ? 1 : 0,
    ];
    return { period: lag, multiple, beats, features };
  });
}

/** The index of the candidate with the highest linear score (the first on ties; 0 when there are no weights). */
export function pickCandidate(candidates: readonly Candidate[], weights: readonly number[]): number {
  let best = 0;
  let bestV = -Infinity;
  candidates.forEach((c, i) => {
    let v = 0;
    c.features.forEach((f, k) => (v += f * (weights[k] ?? 0)));
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  });
  return best;
}
