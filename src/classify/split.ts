/**
 * A seeded, song-level, quadrant-stratified train/valid/test split of EMOPIA clips for the emotion classifier.
 *
 * EMOPIA's classification split (seungheondoh/EMOPIA_cls) has 767 / 198 / 86 of 1051 clips, split by song.
 * We do not copy its lists; we make our own with the same proportions:
 *   1. songs (EMOPIA `Q<k>_<song>_<clip>`) sorted by name, shuffled with the seed, then stably sorted by clip
 *      count, largest first (big songs are placed while there is room, small ones fill in);
 *   2. each song goes whole to the set that leaves the smallest chi-square-like distance
 *      sum_{set,quadrant} (count - target)^2 / target, where target = proportion of the set x clips of the
 *      quadrant. This keeps both the set sizes and each set's quadrant mix close to the proportions.
 * Clips of one song therefore never straddle sets. Pure: no file system here (see scripts/classifier_split.ts).
 */
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import { baseName, emotionFromName, songOf } from '../music/dataset.ts';
import { addAt, at, entry } from './indexing.ts';

export const SPLIT_SETS = ['train', 'valid', 'test'] as const;
export type SplitSet = (typeof SPLIT_SETS)[number];

/** EMOPIA_cls's clip counts per set, whose proportions we follow. */
export const EMOPIA_CLS_COUNTS: Readonly<Record<SplitSet, number>> = Object.freeze({ train: 767, valid: 198, test: 86 });

export interface ClassifierSplit {
  format: 'emopia-ts/classifier-split';
  version: 1;
  seed: number;
  method: string;
  /** Clip names (file base names without .mid) per set, sorted. */
  train: string[];
  valid: string[];
  test: string[];
  /** Clips per set and quadrant (Q1..Q4), and songs per set, for a quick look. */
  summary: Record<SplitSet, { clips: number; songs: number; perQuadrant: [number, number, number, number] }>;
}

const METHOD =
  'song-level greedy stratification: songs shuffled with the seed, sorted by clip count (largest first), each ' +
  'assigned to the set minimising sum over sets and quadrants of (count-target)^2/target; targets are ' +
  'EMOPIA_cls proportions 767/198/86 of 1051 times the clips per quadrant';

export function makeSplit(names: readonly string[], seed: number): ClassifierSplit {
  const clips = [...new Set(names.map(baseName))].sort();
  const bad = clips.find((c) => emotionFromName(c) === 0);
  if (bad !== undefined) throw new InputError(bad, 'expected an EMOPIA clip name Q<1-4>_<song>_<clip>');
  const bySong = new Map<string, string[]>();
  for (const c of clips) {
    const s = songOf(c);
    bySong.set(s, [...(bySong.get(s) ?? []), c]);
  }
  const totalRef = EMOPIA_CLS_COUNTS.train + EMOPIA_CLS_COUNTS.valid + EMOPIA_CLS_COUNTS.test;
  const perQ = [0, 0, 0, 0];
  for (const c of clips) addAt(perQ, emotionFromName(c) - 1, 1);
  const target = SPLIT_SETS.map((s) => perQ.map((n) => (n * EMOPIA_CLS_COUNTS[s]) / totalRef));
  const count = SPLIT_SETS.map((): [number, number, number, number] => [0, 0, 0, 0]);
  const songs = new Rng(seed).shuffle([...bySong.keys()].sort());
  songs.sort((a, b) => entry(bySong, b).length - entry(bySong, a).length); // stable
  const assigned = new Map<string, SplitSet>();
  const cost = (si: number, add: number[] | null): number => {
    let c = 0;
    for (let q = 0; q < 4; q++) {
      const t = at(at(target, si), q);
      const n = at(at(count, si), q) + (add ? at(add, q) : 0);
      c += t > 0 ? ((n - t) * (n - t)) / t : n * n;
    }
    return c;
  };
  for (const song of songs) {
    const add = [0, 0, 0, 0];
    for (const c of entry(bySong, song)) addAt(add, emotionFromName(c) - 1, 1);
    let best = 0;
    let bestDelta = Infinity;
    SPLIT_SETS.forEach((_, si) => {
      const delta = cost(si, add) - cost(si, null);
      if (delta < bestDelta) {
        bestDelta = delta;
        best = si;
      }
    });
    for (let q = 0; q < 4; q++) addAt(at(count, best), q, at(add, q));
    assigned.set(song, at(SPLIT_SETS, best));
  }
  const sets = { train: [] as string[], valid: [] as string[], test: [] as string[] };
  for (const c of clips) sets[entry(assigned, songOf(c))].push(c);
  const summary = {} as ClassifierSplit['summary'];
  SPLIT_SETS.forEach((s, si) => {
    summary[s] = { clips: sets[s].length, songs: new Set(sets[s].map(songOf)).size, perQuadrant: at(count, si) };
  });
  return { format: 'emopia-ts/classifier-split', version: 1, seed, method: METHOD, ...sets, summary };
}

/** Checks a split read from JSON: format, string lists, no clip in two sets, no song in two sets. */
export function parseSplit(json: unknown, what = 'split'): ClassifierSplit {
  const o = json as Partial<ClassifierSplit> | null;
  if (typeof o !== 'object' || o === null || o.format !== 'emopia-ts/classifier-split') {
    throw new InputError(what, `expected format 'emopia-ts/classifier-split', got ${JSON.stringify((o as { format?: unknown } | null)?.format)}`);
  }
  const songSet = new Map<string, SplitSet>();
  for (const s of SPLIT_SETS) {
    const list = o[s];
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new InputError(what, `expected "${s}": a list of clip names`);
    for (const c of list) {
      const prev = songSet.get(songOf(c));
      if (prev !== undefined && prev !== s) throw new InputError(what, `song ${songOf(c)} is in both ${prev} and ${s}`);
      songSet.set(songOf(c), s);
    }
  }
  return o as ClassifierSplit;
}
