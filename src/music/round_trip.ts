/**
 * How well beat-true words keep a piece's timing: encode a score on a beat grid, decode the words, and compare
 * every onset in seconds with the original file's (the decoded file starts at its first bar, so the original's
 * times are taken from the same bar line).
 */
import { secondsAt } from './time_map.ts';
import { regrid, type RegridOptions } from './regrid.ts';
import { scoreToWords, wordsToScore, type TokenizeOptions } from './cp_tokenizer.ts';
import { GRID, Vocab } from './vocab.ts';
import { midiToScore, scoreToMidi } from './midi_io.ts';
import type { BeatGrid } from './beat_grid.ts';
import type { Score } from './score.ts';

export interface RoundTrip {
  /** Notes in pitch range in the original, and notes in the decoded score. */
  notesIn: number;
  notesOut: number;
  /** Per note (matched by pitch, in onset order): decoded onset minus original onset, in seconds. */
  errors: number[];
  words: number;
}

/** Encodes `score` on `grid`, decodes the words to a MIDI file and reads it back, and measures every onset against the original (see file comment). */
export function beatTrueRoundTrip(score: Score, grid: BeatGrid & { meter?: 3 | 4 }, opts: TokenizeOptions & RegridOptions = {}, vocab = Vocab.fullGrid()): RoundTrip {
  const r = regrid(score, grid, opts);
  const { words, stats } = scoreToWords(r.score, vocab, opts);
  // Through the MIDI file that `decode` writes (ticks rounded, tempos in microseconds per beat).
  const decoded = midiToScore(scoreToMidi(wordsToScore(words, vocab).score));
  const origin = r.secondsOf(stats.leadingBarsRemoved * GRID.ticksPerBar);
  const fileSec = secondsAt(score.tempos);
  const decSec = secondsAt(decoded.tempos);
  const byPitch = (times: Array<{ pitch: number; t: number }>) => {
    const m = new Map<number, number[]>();
    for (const x of times) (m.get(x.pitch) ?? m.set(x.pitch, []).get(x.pitch)!).push(x.t);
    for (const list of m.values()) list.sort((a, b) => a - b);
    return m;
  };
  const inRange = score.notes.filter((n) => n.pitch >= GRID.minPitch && n.pitch <= GRID.maxPitch);
  const want = byPitch(inRange.map((n) => ({ pitch: n.pitch, t: fileSec(n.start) - origin })));
  const got = byPitch(decoded.notes.map((n) => ({ pitch: n.pitch, t: decSec(n.start) })));
  const errors: number[] = [];
  for (const [pitch, ws] of want) {
    const gs = got.get(pitch) ?? [];
    for (let i = 0; i < Math.min(ws.length, gs.length); i++) errors.push((gs[i] as number) - (ws[i] as number));
  }
  return { notesIn: inRange.length, notesOut: decoded.notes.length, errors, words: stats.words };
}
