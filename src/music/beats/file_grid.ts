/**
 * The file's own grid as a BeatGrid: a beat every 480 ticks from tick 0 through the tempo map, a downbeat every
 * bar of the first time signature (4/4 without one). This is the tracker's fallback for pieces it cannot track.
 */
import type { BeatGrid } from '../beat_grid.ts';
import type { Score } from '../score.ts';
import { secondsAt } from '../time_map.ts';

/** At most this many beats (a note at tick 2^40 must not make a grid of 2^31 beats). */
export const MAX_FILE_GRID_BEATS = 100_000;

/** Beats per bar of the first time signature, as 3 or 4 (quarter-note beats; anything else counts as 4). */
export function fileMeter(score: Score): 3 | 4 {
  const ts = [...score.timeSignatures].sort((a, b) => a.tick - b.tick)[0];
  if (ts === undefined) return 4;
  const beats = (ts.numerator * 4) / ts.denominator;
  return beats === 3 || (ts.numerator === 3 && ts.denominator === 8) ? 3 : 4;
}

export function fileGrid(score: Score): BeatGrid & { meter: 3 | 4 } {
  const meter = fileMeter(score);
  const end = score.notes.reduce((m, n) => Math.max(m, n.end, n.start), 0);
  if (score.notes.length === 0 || !Number.isFinite(end)) return { beats: [], downbeats: [], meter };
  const sec = secondsAt(score.tempos);
  const count = Math.min(MAX_FILE_GRID_BEATS, Math.floor(end / 480) + 1);
  const beats: number[] = [];
  const downbeats: number[] = [];
  for (let k = 0; k < count; k++) {
    const t = sec(k * 480);
    if (beats.length > 0 && t <= (beats[beats.length - 1] as number)) continue;
    beats.push(t);
    if (k % meter === 0) downbeats.push(t);
  }
  return { beats, downbeats, meter };
}
