/**
 * The music's beats and downbeats, in seconds of a MIDI file's own timeline (see `time_map.ts` for the bridge to
 * ticks). Both the beat tracker and a dataset's annotations produce one; beat-true tokenizing consumes one.
 */
import { InputError } from '../errors.ts';

export interface BeatGrid {
  /** Beat times in seconds, strictly increasing. */
  beats: number[];
  /** Downbeat times in seconds, strictly increasing, each one of `beats`. */
  downbeats: number[];
}

/** Throws InputError unless `grid` is well formed (as described on BeatGrid). */
export function checkBeatGrid(grid: BeatGrid, what = 'beat grid'): void {
  const increasing = (xs: readonly number[], name: string): void => {
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i] as number;
      if (!Number.isFinite(x) || x < 0) throw new InputError(what, `expected ${name} to be finite seconds >= 0, got ${x} at ${i}`);
      if (i > 0 && x <= (xs[i - 1] as number)) throw new InputError(what, `expected ${name} strictly increasing, got ${xs[i - 1]} then ${x} at ${i}`);
    }
  };
  increasing(grid.beats, 'beats');
  increasing(grid.downbeats, 'downbeats');
  const beats = new Set(grid.beats);
  for (const d of grid.downbeats) {
    if (!beats.has(d)) throw new InputError(what, `expected every downbeat to be a beat, got downbeat ${d}`);
  }
}

/**
 * POP909's `beat_midi.txt`: one line per beat, `seconds half_bar_flag downbeat_flag` (whitespace separated;
 * a downbeat has 1 in the third column). Blank lines are ignored. Throws InputError on any other line.
 */
export function parseBeatAnnotations(text: string, what = 'beat_midi.txt'): BeatGrid {
  const beats: number[] = [];
  const downbeats: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const cols = line.split(/\s+/);
    const [t, , down] = cols.map(Number);
    if (cols.length !== 3 || t === undefined || down === undefined || !Number.isFinite(t) || !(down === 0 || down === 1)) {
      throw new InputError(what, `line ${i + 1}: expected 'seconds half_bar_flag downbeat_flag', got '${line.slice(0, 60)}'`);
    }
    beats.push(t);
    if (down === 1) downbeats.push(t);
  }
  const grid = { beats, downbeats };
  checkBeatGrid(grid, what);
  return grid;
}
