/**
 * Performed renderings of an annotated piece, for evaluating the beat tracker on what it will meet in EMOPIA:
 * transcriptions whose notes sit in seconds on a false grid. The notes are moved to seconds through the score's
 * tempo map, shifted by a lead-in and bent by a slow tempo drift, and written as one 120 BPM track quantized to
 * 384 ticks per beat (EMOPIA's format); the annotated beats go through the same warp.
 *
 * The warp: performed time = leadIn + integral over [0, t] of (1 + amplitude * sin(2 pi u / period + phase)) du,
 * a tempo that swings by +-amplitude over `period` seconds; strictly increasing for amplitude < 1.
 */
import { Rng } from '../../random.ts';
import type { BeatGrid } from '../beat_grid.ts';
import { sortNotes, type Score } from '../score.ts';
import { secondsAt } from '../time_map.ts';

export interface Warp {
  /** Seconds of silence added before the piece's own start. */
  leadIn: number;
  /** Relative tempo swing, 0 <= amplitude < 1 (0.04 = +-4%). */
  amplitude: number;
  /** Seconds per cycle of the swing (> 0). */
  period: number;
  /** Phase of the swing at time 0, radians. */
  phase: number;
}

export interface RandomWarpOptions {
  /** The lead-in is uniform in [0, maxLeadIn] seconds (default 2). */
  maxLeadIn?: number;
  /** The amplitude is uniform in [amplitude/2, amplitude] (default 0.04). */
  amplitude?: number;
  /** The period is uniform in [minPeriod, 2 * minPeriod] seconds (default 30). */
  minPeriod?: number;
}

/** The file format of the renderings: EMOPIA's 384 ticks per beat at 120 BPM. */
export const RENDER_TICKS_PER_BEAT = 384;
export const RENDER_BPM = 120;

export function randomWarp(rng: Rng, opts: RandomWarpOptions = {}): Warp {
  const amp = opts.amplitude ?? 0.04;
  const minPeriod = opts.minPeriod ?? 30;
  return {
    leadIn: rng.next() * (opts.maxLeadIn ?? 2),
    amplitude: amp * (0.5 + 0.5 * rng.next()),
    period: minPeriod * (1 + rng.next()),
    phase: 2 * Math.PI * rng.next(),
  };
}

/** Performed seconds of original seconds `t` (closed form of the integral above). */
export function warpTime(w: Warp, t: number): number {
  const k = (2 * Math.PI) / w.period;
  return w.leadIn + t + (w.amplitude / k) * (Math.cos(w.phase) - Math.cos(k * t + w.phase));
}

/** Score ticks (480 per beat at 120 BPM) of performed seconds, on the 384-per-beat grid of the written file. */
function fileTick(seconds: number): number {
  const perSecond = (RENDER_BPM / 60) * RENDER_TICKS_PER_BEAT;
  return (Math.round(seconds * perSecond) * 480) / RENDER_TICKS_PER_BEAT;
}

/**
 * The performed rendering of `score` with its annotated `grid` (seconds of the score's own timeline): a Score at
 * 120 BPM whose notes (and pedal events) sit where the warp puts them, and the grid warped the same way. Notes
 * keep at least one 384th of a beat of length; time signatures and markers are dropped (a transcription has none).
 */
export function renderPerformance(score: Score, grid: BeatGrid, warp: Warp): { score: Score; grid: BeatGrid } {
  const sec = secondsAt(score.tempos);
  const minLen = 480 / RENDER_TICKS_PER_BEAT;
  const notes = score.notes.map((n) => {
    const start = fileTick(warpTime(warp, sec(n.start)));
    const end = Math.max(start + minLen, fileTick(warpTime(warp, sec(n.end))));
    return { pitch: n.pitch, velocity: n.velocity, start, end };
  });
  const pedals = score.pedals.map((p) => ({ tick: fileTick(warpTime(warp, sec(p.tick))), down: p.down }));
  const out: Score = {
    ticksPerBeat: 480,
    notes: sortNotes(notes),
    tempos: [{ tick: 0, bpm: RENDER_BPM }],
    timeSignatures: [],
    markers: [],
    pedals,
  };
  return { score: out, grid: { beats: grid.beats.map((t) => warpTime(warp, t)), downbeats: grid.downbeats.map((t) => warpTime(warp, t)) } };
}

/**
 * A rendering with its timing and dynamics roughened like a performance or a transcription: each note's start and
 * end move together by about N(0, `seconds`) (a sum of six uniforms), its velocity by about N(0, `velocity`), kept in
 * 1..127 and at least one tick long. Seeded by `rng`; the grid is not touched (it stays the music's beat).
 */
export function jitterNotes(score: Score, rng: Rng, seconds: number, velocity: number): Score {
  const ticksPerSecond = (score.ticksPerBeat * (score.tempos[0]?.bpm ?? RENDER_BPM)) / 60;
  const normal = (): number => {
    let s = 0;
    for (let k = 0; k < 6; k++) s += rng.next();
    return (s - 3) * Math.SQRT2;
  };
  const notes = score.notes.map((n) => {
    const d = Math.round(normal() * seconds * ticksPerSecond);
    const start = Math.max(0, n.start + d);
    return { ...n, start, end: Math.max(start + 1, n.end + d), velocity: Math.max(1, Math.min(127, Math.round(n.velocity + normal() * velocity))) };
  });
  return { ...score, notes: sortNotes(notes) };
}
