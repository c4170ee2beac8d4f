/** Synthetic piano pieces with known beats, for the beat tracker's tests. */
import { emptyScore, sortNotes, type Note, type Score } from '../../src/music/score.ts';

export interface KnownPiece {
  score: Score;
  /** Beat and downbeat times in seconds, as built. */
  beats: number[];
  downbeats: number[];
}

/**
 * `bars` bars of `meter` beats at `bpm` (a one-tempo map), starting at `offsetBeats` beats: a bass note and a triad
 * on each downbeat (the root moves each bar through C F G A), softer chord tones on the other beats, quiet
 * off-beat eighths in the melody (unless `eighths` is false); with `bassEvery`, a softer bass note (the fifth) also
 * on every `bassEvery`-th beat of the bar.
 */
export function steadyPiece(opts: { bpm: number; meter: 3 | 4; bars: number; offsetBeats?: number; eighths?: boolean; bassEvery?: number }): KnownPiece {
  const { bpm, meter, bars } = opts;
  const T = 480;
  const off = (opts.offsetBeats ?? 0) * T;
  const spb = 60 / bpm;
  const notes: Note[] = [];
  const roots = [0, 5, 7, 9];
  const beats: number[] = [];
  const downbeats: number[] = [];
  for (let bar = 0; bar < bars; bar++) {
    const root = roots[bar % roots.length] as number;
    for (let b = 0; b < meter; b++) {
      const tick = off + (bar * meter + b) * T;
      beats.push((tick / T) * spb);
      if (b === 0) {
        downbeats.push((tick / T) * spb);
        notes.push({ pitch: 36 + root, velocity: 96, start: tick, end: tick + meter * T });
        for (const iv of [0, 4, 7]) notes.push({ pitch: 60 + root + iv, velocity: 84, start: tick, end: tick + 2 * T });
      } else {
        if (opts.bassEvery !== undefined && b % opts.bassEvery === 0) notes.push({ pitch: 43 + root, velocity: 80, start: tick, end: tick + opts.bassEvery * T });
        for (const iv of [4, 7]) notes.push({ pitch: 60 + root + iv, velocity: 56, start: tick, end: tick + T / 2 });
      }
      if (opts.eighths !== false) notes.push({ pitch: 72 + root + (b % 2 === 0 ? 7 : 4), velocity: 44, start: tick + T / 2, end: tick + T });
    }
  }
  const score = emptyScore();
  score.notes = sortNotes(notes);
  score.tempos = [{ tick: 0, bpm }];
  return { score, beats, downbeats };
}
