/**
 * Beat-true scores: a Score re-timed onto the music's own beats (a BeatGrid in seconds, from a beat tracker or a
 * dataset's annotations), so that the tokenizer's 16 positions per bar are 16ths of real beats and its Bar words
 * fall on real downbeats.
 *
 * The mapping. Every time in the score (onsets, releases, pedal, markers) goes to seconds through the file's own
 * tempo map, then to a beat-true tick by piecewise-linear interpolation between knots (seconds, tick): one knot per
 * beat, 480 ticks apart. Before the first knot and after the last, times are extrapolated at the nearest segment's
 * rate (the nearest local beat length).
 *
 * Bars. The CP vocabulary has one bar shape: 16 positions, 4 beats. So:
 * - 4/4 (`meter: 4`, or downbeats most often 4 or 8 beats apart): a CP bar starts at every downbeat. A bar of n
 *   beats ends on the bar line nearest to its natural end (n x 480 ticks) whose tempo the tempo family can say
 *   (32..224 BPM; ties go to the later line), else at its natural end. So a 4-beat bar is unchanged, and a 2- or
 *   6-beat bar (POP909's 2/4 bars; about 5% of its bars) is stretched over 1 or 2 CP bars, its tempo words carrying
 *   the stretched tempo: its timing survives, its inner positions are not 16ths of its own beats. A short bar too
 *   fast to stretch keeps its beats and the next bar is stretched back onto the bar lines. Inside a bar every beat
 *   is a knot, unless one of its beats has a tempo the family cannot say: then the bar is mapped linearly.
 * - Otherwise (`meter: 3`, or downbeats most often 3, 6, 2, ... beats apart): the vocabulary cannot say 3/4, and
 *   EMOPIA's own data keeps 1920-tick bars whatever the meter, so beats stay 480 ticks apart and CP bars are groups
 *   of 4 beats from the first downbeat (3/4 downbeats cycle through positions 0, 12, 8, 4). Positions are true 16ths.
 * - A pickup (beats before the first downbeat) ends where the first bar starts: it fills the end of the bar before.
 *   A grid without downbeats starts its bars at its first beat. Beats after the last downbeat are 480 ticks each, or
 *   twice (4 times...) that when the beat is too slow for the tempo family (a long pause at the end of a song).
 *
 * Tempo. The result's tempo map holds values of the tempo family (TEMPO_BINS, 32..224 BPM, 3 BPM apart): it is
 * the local tempo of each beat, chosen with error diffusion so that the decoded clock never drifts more than a
 * tolerance (10 ms, plus half a bin step where the bins are coarse) from the original; a change is written only
 * when the current value would drift further. Decoding words writes these tempo changes back as a tempo map, so a
 * decoded file plays at the original timing, up to the 16th quantization of each onset.
 */
import { InputError, UsageError } from '../errors.ts';
import { checkBeatGrid, type BeatGrid } from './beat_grid.ts';
import { secondsAt } from './time_map.ts';
import { sortNotes, tempoBin, type Score, type TempoChange } from './score.ts';
import { GRID, TEMPO_BINS } from './vocab.ts';
import { trackBeats, type BeatTracking, type DownbeatModel } from './beats/track.ts';

const BEAT = GRID.ticksPerBeat;
const BAR = GRID.ticksPerBar;
/** Default of `RegridOptions.tempoTolerance`. */
export const TEMPO_TOLERANCE = 0.01;

export interface RegridOptions {
  /** The meter: 3 or 4 beats per bar. Default: `grid.meter` when the grid has one (a tracker's), else inferred. */
  meter?: 3 | 4;
  /** How far (seconds) the decoded clock may drift from the original before a new tempo value is written (0.01). */
  tempoTolerance?: number;
}

export interface Regridded {
  /** The beat-true score: 480 ticks per beat of the music, bars of 4 beats from the downbeats, binned tempos. */
  score: Score;
  meter: 3 | 4;
  /** Bars (4/4 only) stretched or squeezed to end on a bar line (see the file's comment). */
  stretchedBars: number;
  /** Beats before the first downbeat. */
  pickupBeats: number;
  /** The original file's seconds at a beat-true tick (the exact mapping, before tempo binning). */
  secondsOf: (tick: number) => number;
  /** The largest drift (seconds) of the binned tempo map from the exact mapping, over the knots. */
  maxTempoDrift: number;
}

interface Knot {
  sec: number;
  tick: number;
}

/** The most common number of beats from one downbeat to the next (4 when there are fewer than 2 downbeats). */
function usualBarLength(grid: BeatGrid): number {
  const counts = new Map<number, number>();
  const ix = downbeatIndices(grid);
  for (let i = 1; i < ix.length; i++) {
    const n = (ix[i] as number) - (ix[i - 1] as number);
    counts.set(n, (counts.get(n) ?? 0) + 1);
  }
  let best = 4;
  let bestCount = 0;
  for (const [n, c] of counts) if (c > bestCount || (c === bestCount && n === 4)) [best, bestCount] = [n, c];
  return best;
}

/** The meter a grid suggests: 3 when its downbeats are most often 3 (or 6) beats apart, else 4. */
export function inferMeter(grid: BeatGrid): 3 | 4 {
  return usualBarLength(grid) % 3 === 0 ? 3 : 4;
}

/** Indices in `grid.beats` of the downbeats (the grid is checked: every downbeat is a beat). */
function downbeatIndices(grid: BeatGrid): number[] {
  const at = new Map(grid.beats.map((b, i) => [b, i]));
  return grid.downbeats.map((d) => at.get(d) as number);
}

/** Whether a tempo is one the tempo family can say without clamping (TEMPO_BINS' range, half a step either side). */
const sayable = (bpm: number) => bpm >= (TEMPO_BINS[0] as number) - 1.5 && bpm <= (TEMPO_BINS[TEMPO_BINS.length - 1] as number) + 1.5;

/**
 * The knots (seconds, tick) of a grid, ticks relative to the first downbeat at 0. With `anchored`, each bar ends
 * on the bar line nearest to its natural end (n beats of 480 ticks) whose tempo the tempo family can say, else at
 * its natural end; inside a bar there is a knot on every beat, unless one of its beats has a tempo the family
 * cannot say, then the bar is mapped linearly from downbeat to downbeat.
 */
function knotsOf(grid: BeatGrid, anchored: boolean): { knots: Knot[]; stretched: number; pickup: number } {
  const beats = grid.beats;
  const down = downbeatIndices(grid);
  const first = down[0] ?? 0;
  const knots: Knot[] = [];
  for (let j = 0; j < first; j++) knots.push({ sec: beats[j] as number, tick: (j - first) * BEAT });
  let stretched = 0;
  let tick = 0;
  let j = first;
  const beatBpm = (b: number) => 60 / ((beats[b + 1] as number) - (beats[b] as number));
  if (anchored) {
    for (let k = 0; k + 1 < down.length; k++) {
      const from = down[k] as number;
      const n = (down[k + 1] as number) - from;
      const natural = n * BEAT;
      const bpm = (60 * n) / ((beats[from + n] as number) - (beats[from] as number));
      const lo = Math.floor((tick + natural) / BAR) * BAR;
      const candidates = [lo, lo + BAR]
        .filter((c) => c > tick)
        .sort((a, b) => Math.abs(a - tick - natural) - Math.abs(b - tick - natural) || b - a);
      const end = candidates.find((c) => sayable((bpm * (c - tick)) / natural)) ?? tick + natural;
      const ratio = (end - tick) / natural;
      if (ratio !== 1) stretched++;
      let inner = true;
      for (let b = 0; b < n; b++) inner &&= sayable(beatBpm(from + b) * ratio);
      for (let b = 0; b < (inner ? n : 1); b++) knots.push({ sec: beats[from + b] as number, tick: tick + b * BEAT * ratio });
      tick = end;
      j = down[k + 1] as number;
    }
  }
  // Free beats (after the last downbeat, or all of them when not anchored): 480 ticks each, or a power of 2 times
  // that for a beat whose tempo the family cannot say (a pause of several seconds at the end of a song).
  for (; j < beats.length; j++) {
    knots.push({ sec: beats[j] as number, tick });
    let step: number = BEAT;
    if (j + 1 < beats.length) {
      while (!sayable(beatBpm(j) * (step / BEAT)) && step < 64 * BEAT && step > BEAT / 8) step = beatBpm(j) * (step / BEAT) < 100 ? step * 2 : step / 2;
    }
    tick += step;
  }
  return { knots, stretched, pickup: first };
}

/** Piecewise-linear map from `from` to `to` over the knots, extrapolated at the end segments' rates. */
function interpolate(knots: readonly Knot[], from: 'sec' | 'tick', to: 'sec' | 'tick'): (x: number) => number {
  return (x: number): number => {
    let lo = 0;
    let hi = knots.length - 2;
    // The segment [lo, lo+1] to use: the last one starting at or before x, clamped to the first and last.
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((knots[mid] as Knot)[from] <= x) lo = mid;
      else hi = mid - 1;
    }
    const a = knots[lo] as Knot;
    const b = knots[lo + 1] as Knot;
    return a[to] + ((x - a[from]) * (b[to] - a[to])) / (b[from] - a[from]);
  };
}

/**
 * The tempo map of the beat-true score: tempo-family values on beats from `from` to `to`, chosen so that the clock
 * they give follows `secondsOf` (error diffusion with a tolerance). The first value is put at tick 0 (nothing
 * sounds before `from`). Returns the changes and the largest drift.
 */
function binnedTempos(from: number, to: number, secondsOf: (tick: number) => number, tolerance: number): { tempos: TempoChange[]; drift: number } {
  const points: number[] = [];
  for (let t = from; t <= to; t += BEAT) points.push(t);
  const tempos: TempoChange[] = [];
  let clock = secondsOf(from);
  let cur: number | null = null;
  let drift = 0;
  const fastest = TEMPO_BINS[TEMPO_BINS.length - 1] as number;
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i] as number;
    const b = points[i + 1] as number;
    const beats = (b - a) / BEAT;
    const target = secondsOf(b);
    if (cur === null || Math.abs(clock + (beats * 60) / cur - target) > tolerance) {
      const left = target - clock;
      const bin = left > 0 ? tempoBin((beats * 60) / left) : fastest;
      if (bin !== cur) tempos.push({ tick: tempos.length === 0 ? 0 : a, bpm: bin });
      cur = bin;
    }
    clock += (beats * 60) / cur;
    if (i + 2 < points.length) drift = Math.max(drift, Math.abs(clock - target));
  }
  return { tempos, drift };
}

/**
 * A Score re-timed onto `grid` (see the file's comment). `grid` may carry `meter` (a tracker's result does).
 * Throws InputError when the grid has fewer than 2 beats or is malformed.
 */
export function regrid(score: Score, grid: BeatGrid & { meter?: 3 | 4 }, opts: RegridOptions = {}, what = 'beat grid'): Regridded {
  checkBeatGrid(grid, what);
  if (grid.beats.length < 2) throw new InputError(what, `expected at least 2 beats, got ${grid.beats.length}`);
  const given = opts.meter ?? grid.meter;
  const meter = given ?? inferMeter(grid);
  // Bars follow the downbeats in 4/4 (a given meter of 4, or bars of 4 or 8 beats as a rule); otherwise CP bars are
  // groups of 4 beats from the first downbeat.
  const { knots, stretched, pickup } = knotsOf(grid, given !== undefined ? given === 4 : usualBarLength(grid) % 4 === 0);
  const toTick = interpolate(knots, 'sec', 'tick');
  const fileSeconds = secondsAt(score.tempos);
  const map = (t: number) => toTick(fileSeconds(t));

  const notes = score.notes.map((n) => ({ ...n, start: map(n.start), end: map(n.end) }));
  const pedals = score.pedals.map((p) => ({ ...p, tick: map(p.tick) }));
  const markers = score.markers.map((m) => ({ ...m, tick: map(m.tick) }));
  // Whole bars in front, so that nothing (a note before the first beat, the pickup) falls before tick 0.
  let earliest = Math.min(0, (knots[0] as Knot).tick);
  for (const n of notes) earliest = Math.min(earliest, n.start);
  for (const x of [...pedals, ...markers]) earliest = Math.min(earliest, x.tick);
  const shift = Math.ceil(-earliest / BAR - 1e-9) * BAR;
  for (const n of notes) [n.start, n.end] = [n.start + shift, n.end + shift];
  for (const p of pedals) p.tick += shift;
  for (const m of markers) m.tick += shift;
  const shifted = knots.map((k) => ({ sec: k.sec, tick: k.tick + shift }));
  const secondsOf = interpolate(shifted, 'tick', 'sec');
  // Tempo values on every beat from the bar of the first onset to the last release (or one bar past the last
  // knot), at most 10,000 bars (the tokenizer's limit: a note held for 2^28 beats costs no time here).
  let first = Infinity;
  let last = 0;
  for (const n of notes) [first, last] = [Math.min(first, n.start), Math.max(last, n.end)];
  const from = Number.isFinite(first) ? Math.floor(first / BAR) * BAR : 0;
  const to = Math.max((shifted[shifted.length - 1] as Knot).tick + BAR, Math.min(last, from + 10000 * BAR));
  const { tempos, drift } = binnedTempos(from, to, secondsOf, opts.tempoTolerance ?? TEMPO_TOLERANCE);
  return {
    score: {
      ticksPerBeat: 480,
      notes: sortNotes(notes),
      tempos,
      timeSignatures: [{ tick: 0, numerator: 4, denominator: 4 }],
      markers: markers.sort((a, b) => a.tick - b.tick),
      pedals: pedals.sort((a, b) => a.tick - b.tick),
    },
    meter,
    stretchedBars: stretched,
    pickupBeats: pickup,
    secondsOf,
    maxTempoDrift: drift,
  };
}

/**
 * The one place where `--grid beats` gets its beats: the beat grid of a score as the beat tracker finds it
 * (`encode --grid beats`, `dataset build --grid beats`), with its `meter` (which `regrid` uses) and, for a piece
 * too short or sparse to track, the `fallback` reason (the grid is then the file's own). `downbeatModel` places its
 * downbeats (`--downbeats hand|tagger`, track.ts; default the tagger; the shipped model's beat-true EMOPIA data was built with hand).
 */
export function trackedBeatGrid(score: Score, downbeatModel?: DownbeatModel): BeatTracking {
  return trackBeats(score, { downbeatModel });
}
