/**
 * The feature cache of scripts/beats_tagger.ts (meta.json: one Rendering per tracked rendering; x.bin: their
 * TAGGER_FEATURES rows as float32), shared with scripts/beats_tagger_decode.ts.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The cache's folder when no --cache is given. */
export const DEFAULT_CACHE = join(tmpdir(), 'beats_tagger');

export interface Rendering {
  song: number;
  /** 1 for the evaluation rendering, else the training seed. */
  seed: number;
  beats: number[];
  refDownbeats: number[];
  meter: 3 | 4;
  /** The tracker's own downbeats (the hand cues'; the fallback grid's, when it fell back). */
  downbeats: number[];
  fallback: boolean;
  hand: number[];
  pos: number[];
  /** Offset of its rows in the feature file. */
  at: number;
}

export interface TaggerCache {
  renderings: Rendering[];
  x: Float32Array;
}

export function loadCache(cache: string): TaggerCache {
  const buf = readFileSync(join(cache, 'x.bin'));
  const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return { renderings: JSON.parse(readFileSync(join(cache, 'meta.json'), 'utf8')) as Rendering[], x };
}
