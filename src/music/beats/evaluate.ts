/**
 * The tracker's evaluation on annotated pieces: each piece is rendered as a performance with a false grid
 * (render.ts, a warp seeded by the seed and the piece's number, so one piece's rendering does not depend on which
 * others are evaluated), tracked, and scored against its warped annotations (metrics.ts).
 */
import { Rng } from '../../random.ts';
import type { BeatGrid } from '../beat_grid.ts';
import type { Score } from '../score.ts';
import { beatFMeasure, medianTempo, tempoMatches } from './metrics.ts';
import { randomWarp, renderPerformance, type RandomWarpOptions } from './render.ts';
import { trackBeats, type TrackOptions } from './track.ts';

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
  ms: { mean: number; median: number; max: number };
}

/** A clock in milliseconds, passed in so this module needs no platform timer (performance.now in Node or a browser). */
export type Clock = () => number;

export function evaluatePiece(piece: AnnotatedPiece, seed: number, clock: Clock, opts: { track?: TrackOptions; warp?: RandomWarpOptions } = {}): PieceResult {
  const warp = randomWarp(new Rng(seed * 100_003 + piece.id), opts.warp);
  const perf = renderPerformance(piece.score, piece.grid, warp);
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
    ms,
  };
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
    ms: { mean: ms.mean, median: ms.median, max: results.reduce((m, r) => Math.max(m, r.ms), 0) },
  };
}
