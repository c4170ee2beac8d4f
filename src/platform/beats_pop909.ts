/**
 * Reading POP909 songs with their beat annotations (`NNN.mid` and `annotations/NNN/beat_midi.txt`, see the
 * dataset's README) for the beat tracker's evaluation. The split is by song number, fixed: songs 1-300 are the
 * development split (the tracker was tuned on them only), songs 301-909 the test split.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { parseBeatAnnotations } from '../music/beat_grid.ts';
import type { AnnotatedPiece } from '../music/beats/evaluate.ts';
import { midiToScore } from '../music/midi_io.ts';

export type Pop909Split = 'dev' | 'test' | 'all';
export const DEV_LAST_SONG = 300;

export function inSplit(song: number, split: Pop909Split): boolean {
  return split === 'all' || (split === 'dev' ? song <= DEV_LAST_SONG : song > DEV_LAST_SONG);
}

/** The song numbers of `dir` in the split that have both a MIDI file and beat annotations, ascending. */
export function pop909Songs(dir: string, split: Pop909Split): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new InputError(dir, 'cannot read the folder, expected POP909 (NNN.mid files and annotations/NNN/beat_midi.txt)');
  }
  const songs = names
    .map((n) => /^(\d{3})\.mid$/.exec(n)?.[1])
    .filter((s): s is string => s !== undefined && existsSync(join(dir, 'annotations', s, 'beat_midi.txt')))
    .map(Number)
    .filter((s) => inSplit(s, split))
    .sort((a, b) => a - b);
  if (songs.length === 0) throw new InputError(dir, `no POP909 song with annotations in the ${split} split (expected NNN.mid and annotations/NNN/beat_midi.txt)`);
  return songs;
}

export function readPop909Song(dir: string, song: number): AnnotatedPiece {
  const name = String(song).padStart(3, '0');
  const midi = join(dir, `${name}.mid`);
  const beats = join(dir, 'annotations', name, 'beat_midi.txt');
  return { id: song, score: midiToScore(new Uint8Array(readFileSync(midi)), midi), grid: parseBeatAnnotations(readFileSync(beats, 'utf8'), beats) };
}
