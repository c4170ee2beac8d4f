/**
 * The tracker's evaluation on annotated pieces: each piece is rendered as a performance with a false grid
 * (render.ts, a warp seeded by the seed and the piece's number, so one piece's rendering does not depend on which
 * others are evaluated), optionally cut to a seeded excerpt (the length of an EMOPIA clip), tracked, and scored against
 * its warped annotations (metrics.ts), including whether the tracked meter is the annotated one.
 */
import { Rng } from '../../random.ts';
import type { BeatGrid } from '../beat_grid.ts';
import type { Score } from '../score.ts';
import { beatFMeasure, medianTempo, tempoMatches } from './metrics.ts';
import { randomWarp, renderPerformance, RENDER_BPM, type RandomWarpOptions } from './render.ts';
import { trackBeats, type MeterEvidence, type TrackOptions } from './track.ts';

export interface AnnotatedPiece {
  /** A positive integer naming the piece (POP909's song number). */
  id: number;
  score: Score;
  grid: BeatGrid;
}

export interface PieceResult {
  id: number;
  beatF: number;
  downbeatF: number;
  tempoOk: boolean;
  refBpm: number;
  bpm: number;
  meter: 3 | 4;
  /** The annotated meter (annotatedMeter). */
  refMeter: 3 | 4;
  meterEvidence?: MeterEvidence;
  fallback?: string;
  /** Milliseconds spent in trackBeats. */
  ms: number;
}

export interface Summary {
  pieces: number;
  beatF: { mean: number; median: number; below05: number };
  downbeatF: { mean: number; median: number; below05: number };
  /** Share of pieces whose median tempo is within 4% of the annotated one. */
  tempoAccuracy: number;
  /** Share of pieces whose tracked meter is the annotated one, and the pieces of each annotated meter read wrongly. */
  meterAccuracy: number;
  meters: { annotated3: number; annotated4: number; fourAs3: number; threeAs4: number };
  ms: { mean: number; median: number; max: number };
}

/** A clock in milliseconds, passed in so this module needs no platform timer (performance.now in Node or a browser). */
export type Clock = () => number;

/**
 * The annotated meter: 3 when the median number of beats between downbeats is a multiple of 3 (POP909 marks its
 * triple songs' downbeats every 3 or 6 beats), else 4.
 */
export function annotatedMeter(grid: BeatGrid): 3 | 4 {
  const counts: number[] = [];
  let b = 0;
  let prev = -1;
  for (const d of grid.downbeats) {
    while (b < grid.beats.length && (grid.beats[b] as number) < d - 1e-6) b++;
    if (prev >= 0) counts.push(b - prev);
    prev = b;
  }
  if (counts.length === 0) return 4;
  counts.sort((x, y) => x - y);
  const med = counts[counts.length >> 1] as number;
  return med > 0 && med % 3 === 0 ? 3 : 4;
}

/**
 * The part of a 120 BPM rendering (renderPerformance) between `start` and `start + seconds` performed seconds,
 * moved to begin at 0: notes struck in the window (cut at its end), pedals in it, and the grid's times in it.
 */
export function excerptPerformance(perf: { score: Score; grid: BeatGrid }, start: number, seconds: number): { score: Score; grid: BeatGrid } {
  const perSecond = (perf.score.ticksPerBeat * RENDER_BPM) / 60;
  const t0 = start * perSecond;
  const t1 = (start + seconds) * perSecond;
  const notes = perf.score.notes.filter((n) => n.start >= t0 && n.start < t1).map((n) => ({ ...n, start: n.start - t0, end: Math.min(n.end, t1) - t0 }));
  const pedals = perf.score.pedals.filter((p) => p.tick >= t0 && p.tick < t1).map((p) => ({ ...p, tick: p.tick - t0 }));
  const inside = (ts: readonly number[]): number[] => ts.filter((t) => t >= start && t < start + seconds).map((t) => t - start);
  return { score: { ...perf.score, notes, pedals }, grid: { beats: inside(perf.grid.beats), downbeats: inside(perf.grid.downbeats) } };
}

export interface EvaluateOptions {
  track?: TrackOptions;
  warp?: RandomWarpOptions;
  /** Track only a window of this many seconds, starting at a seeded point of the rendering (whole piece if shorter). */
  excerpt?: number;
}

/**
 * The performance `evaluatePiece` tracks for `piece` under `seed`: the seeded warp's rendering, or its seeded
 * excerpt with `excerpt`; the same for the same piece and seed (scripts/beats_downbeat_diagnose.ts reads it too).
 */
export function evaluationRendering(piece: AnnotatedPiece, seed: number, opts: Pick<EvaluateOptions, 'warp' | 'excerpt'> = {}): { score: Score; grid: BeatGrid } {
  const rng = new Rng(seed * 100_003 + piece.id);
  const warp = randomWarp(rng, opts.warp);
  const perf = renderPerformance(piece.score, piece.grid, warp);
  if (opts.excerpt === undefined) return perf;
  const perSecond = (perf.score.ticksPerBeat * RENDER_BPM) / 60;
  const end = perf.score.notes.reduce((m, n) => Math.max(m, n.start), 0) / perSecond;
  const start = Math.max(0, end - opts.excerpt) * rng.next();
  return excerptPerformance(perf, start, opts.excerpt);
}

export function evaluatePiece(piece: AnnotatedPiece, seed: number, clock: Clock, opts: EvaluateOptions = {}): PieceResult {
  const perf = evaluationRendering(piece, seed, opts);
  const t0 = clock();
  const tracked = trackBeats(perf.score, opts.track);
  const ms = clock() - t0;
  const result: PieceResult = {
    id: piece.id,
    beatF: beatFMeasure(perf.grid.beats, tracked.beats),
    downbeatF: beatFMeasure(perf.grid.downbeats, tracked.downbeats),
    tempoOk: tempoMatches(perf.grid.beats, tracked.beats),
    refBpm: medianTempo(perf.grid.beats),
    bpm: medianTempo(tracked.beats),
    meter: tracked.meter,
    refMeter: annotatedMeter(piece.grid),
    ms,
  };
  if (tracked.meterEvidence !== undefined) result.meterEvidence = tracked.meterEvidence;
  if (tracked.fallback !== undefined) result.fallback = tracked.fallback;
  return result;
}

function stats(xs: readonly number[]): { mean: number; median: number; below05: number } {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n === 0 ? 0 : n % 2 === 1 ? (s[n >> 1] as number) : ((s[(n >> 1) - 1] as number) + (s[n >> 1] as number)) / 2;
  return { mean: n === 0 ? 0 : s.reduce((a, b) => a + b, 0) / n, median, below05: s.filter((x) => x < 0.5).length };
}

export function summarize(results: readonly PieceResult[]): Summary {
  const ms = stats(results.map((r) => r.ms));
  return {
    pieces: results.length,
    beatF: stats(results.map((r) => r.beatF)),
    downbeatF: stats(results.map((r) => r.downbeatF)),
    tempoAccuracy: results.length === 0 ? 0 : results.filter((r) => r.tempoOk).length / results.length,
    meterAccuracy: results.length === 0 ? 0 : results.filter((r) => r.meter === r.refMeter).length / results.length,
    meters: {
      annotated3: results.filter((r) => r.refMeter === 3).length,
      annotated4: results.filter((r) => r.refMeter === 4).length,
      fourAs3: results.filter((r) => r.refMeter === 4 && r.meter === 3).length,
      threeAs4: results.filter((r) => r.refMeter === 3 && r.meter === 4).length,
    },
    ms: { mean: ms.mean, median: ms.median, max: results.reduce((m, r) => Math.max(m, r.ms), 0) },
  };
}

/**
 * The annotated bar position of each tracked beat (0 = an annotated downbeat, 1, 2, ... the beats after it; -1 when
 * no annotated beat is within a fifth of a beat, or before the first annotated downbeat): the labels of
 * scripts/beats_tagger.ts and scripts/beats_downbeat_diagnose.ts.
 */
export function annotatedBarPositions(beats: readonly number[], ref: BeatGrid): number[] {
  const down = new Set(ref.downbeats);
  const pos: number[] = [];
  let k = -1;
  for (const b of ref.beats) {
    k = down.has(b) ? 0 : k >= 0 ? k + 1 : -1;
    pos.push(k);
  }
  const out: number[] = [];
  let j = 0;
  beats.forEach((b, i) => {
    while (j + 1 < ref.beats.length && Math.abs((ref.beats[j + 1] as number) - b) < Math.abs((ref.beats[j] as number) - b)) j++;
    const ibi = i + 1 < beats.length ? (beats[i + 1] as number) - b : b - (beats[i - 1] as number);
    out.push(Math.abs((ref.beats[j] as number) - b) < 0.2 * ibi ? (pos[j] as number) : -1);
  });
  return out;
}
