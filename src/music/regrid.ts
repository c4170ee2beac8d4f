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
 * - 4/4 (the usual spacing of the downbeats is not 3 beats): a CP bar starts at every downbeat. A bar of 4, 8, ...
 *   beats keeps a knot on every beat. A bar of any other length n (POP909's 2/4 or 6-beat bars, about 5% of its
 *   bars) is stretched linearly, downbeat to downbeat, over max(1, round(n/4)) CP bars; its tempo words carry the
 *   stretched tempo, so its timing survives although its inner positions are not 16ths of its own beats.
 * - 3/4 (the usual spacing is 3 beats, or `meter: 3`): the vocabulary cannot say 3/4, and EMOPIA's own data keeps
 *   1920-tick bars whatever the meter, so beats stay 480 ticks apart and CP bars are groups of 4 beats from the first
 *   downbeat (downbeats then cycle through positions 0, 12, 8, 4). Positions are still true 16ths.
 * - A pickup (beats before the first downbeat) ends where the first bar starts: it fills the end of the bar before.
 *   A grid without downbeats starts its bars at its first beat.
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
  /** Bars whose beat count was not a multiple of 4 (4/4 only), stretched over whole CP bars. */
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

/** The meter a grid suggests: 3 when its downbeats are most often 3 beats apart, else 4. */
export function inferMeter(grid: BeatGrid): 3 | 4 {
  const counts = new Map<number, number>();
  const ix = downbeatIndices(grid);
  for (let i = 1; i < ix.length; i++) {
    const n = (ix[i] as number) - (ix[i - 1] as number);
    counts.set(n, (counts.get(n) ?? 0) + 1);
  }
  let best = 4;
  let bestCount = 0;
  for (const [n, c] of counts) if (c > bestCount || (c === bestCount && n === 4)) [best, bestCount] = [n, c];
  return best === 3 ? 3 : 4;
}

/** Indices in `grid.beats` of the downbeats (the grid is checked: every downbeat is a beat). */
function downbeatIndices(grid: BeatGrid): number[] {
  const at = new Map(grid.beats.map((b, i) => [b, i]));
  return grid.downbeats.map((d) => at.get(d) as number);
}

/** The knots (seconds, tick) of a grid, ticks relative to the first downbeat at 0; and what was stretched. */
function knotsOf(grid: BeatGrid, meter: 3 | 4): { knots: Knot[]; stretched: number; pickup: number } {
  const beats = grid.beats;
  const down = downbeatIndices(grid);
  const first = down[0] ?? 0;
  const knots: Knot[] = [];
  for (let j = 0; j < first; j++) knots.push({ sec: beats[j] as number, tick: (j - first) * BEAT });
  let stretched = 0;
  let tick = 0;
  let j = first;
  if (meter === 4) {
    for (let k = 0; k + 1 < down.length; k++) {
      const from = down[k] as number;
      const n = (down[k + 1] as number) - from;
      if (n % 4 === 0) {
        for (let b = 0; b < n; b++) knots.push({ sec: beats[from + b] as number, tick: tick + b * BEAT });
        tick += n * BEAT;
      } else {
        knots.push({ sec: beats[from] as number, tick });
        tick += Math.max(1, Math.round(n / 4)) * BAR;
        stretched++;
      }
      j = down[k + 1] as number;
    }
  }
  for (; j < beats.length; j++, tick += BEAT) knots.push({ sec: beats[j] as number, tick });
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
 * The tempo map of the beat-true score: tempo-family values at tick 0 and at knots, chosen so that the clock they
 * give follows `secondsOf` (error diffusion with a tolerance). Returns the changes and the largest drift.
 */
function binnedTempos(knotTicks: readonly number[], secondsOf: (tick: number) => number, tolerance: number): { tempos: TempoChange[]; drift: number } {
  // A point on every beat (knots are all on beats), through one bar of the extrapolated tail.
  const end = Math.max(0, ...knotTicks.slice(-1)) + BAR;
  const points: number[] = [];
  for (let t = 0; t <= end; t += BEAT) points.push(t);
  const tempos: TempoChange[] = [];
  let clock = secondsOf(0);
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
      if (bin !== cur) tempos.push({ tick: a, bpm: bin });
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
  const meter = opts.meter ?? grid.meter ?? inferMeter(grid);
  const { knots, stretched, pickup } = knotsOf(grid, meter);
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
  const { tempos, drift } = binnedTempos(
    shifted.map((k) => k.tick),
    secondsOf,
    opts.tempoTolerance ?? TEMPO_TOLERANCE,
  );
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
 * THE ONE PLACE WHERE `--grid beats` GETS ITS BEATS: the beat grid of a score as the beat tracker finds it
 * (`encode --grid beats`, `dataset build --grid beats`). The tracker (`trackBeats` in `src/music/beats/track.ts`)
 * is not on this branch yet; at the merge this body becomes `return trackBeats(score);` (its result carries
 * `meter`, which `regrid` uses).
 */
export function trackedBeatGrid(score: Score): BeatGrid & { meter?: 3 | 4 } {
  void score;
  throw new UsageError('--grid beats', 'the beat tracker is not on this branch yet');
}
