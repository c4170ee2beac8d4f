/**
 * The dataset builder and reader on the file system (Node only; the format is in dataset.ts).
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { InputError, UsageError } from '../errors.ts';
import { recoverDir, stderrNote, writeDirAtomic, type Note } from './atomic.ts';
import { readInputFile, readJsonInput } from './read.ts';
import type { TokenizeOptions } from '../music/cp_tokenizer.ts';
import { parseBeatAnnotations } from '../music/beat_grid.ts';
import { trackedBeatGrid } from '../music/regrid.ts';
import { DEFAULT_DOWNBEAT_MODEL, type DownbeatModel } from '../music/beats/track.ts';
import {
  baseName,
  encodeFile,
  observedVocab,
  packWords,
  parseDataset,
  remapWords,
  songOf,
  splitBySong,
  type BuildSummary,
  type ClipEntry,
  type Dataset,
  type DatasetIndex,
  type BeatGridSource,
  type EncodedFile,
  type GridRecord,
} from '../music/dataset.ts';
import { DEFAULT_MAX_MIDI_BYTES, type ReadMidiOptions } from '../music/midi_io.ts';
import { FAMILIES, N_FAMILIES, Vocab } from '../music/vocab.ts';

/** Every .mid/.midi file under `dir`, sorted by relative path. */
export function listMidiFiles(dir: string): string[] {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new InputError(dir, 'no such folder, expected a folder of MIDI files');
  }
  if (!st.isDirectory()) throw new InputError(dir, 'expected a folder of MIDI files, got a file');
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(mid|midi)$/i.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A file's bytes, read no further than the size limit; an unreadable or too large file (permissions, a race with
 * a delete, a FIFO named .mid) is bad input, so the build skips it. Errors name `source`.
 */
function readSource(path: string, source: string, maxBytes = DEFAULT_MAX_MIDI_BYTES): Uint8Array {
  try {
    return readInputFile(path, { maxBytes });
  } catch (err) {
    if (err instanceof InputError && err.message.startsWith(`${path}: `)) throw new InputError(source, err.message.slice(path.length + 2));
    throw err;
  }
}

/** Which beats tokenizing follows: the file's tick grid, the beat tracker's, or a dataset's beat annotations. */
export const GRID_MODES = ['file', 'beats', 'annotations'] as const;
export type GridMode = (typeof GRID_MODES)[number];

/**
 * The beat grids of `--grid MODE [--annotations DIR] [--downbeats hand|tagger]`: undefined for `file`; the tracker
 * for `beats` (its downbeats from `downbeats`, default DEFAULT_DOWNBEAT_MODEL, the tagger); for
 * `annotations`, POP909's layout `DIR/<stem>/beat_midi.txt` for a file `<stem>.mid` (a file without one is an
 * InputError naming it). UsageError when `--annotations` and `--grid annotations` do not come together.
 */
export function beatGridSource(mode: GridMode, annotations?: string, downbeats?: DownbeatModel): BeatGridSource | undefined {
  if (mode !== 'annotations' && annotations !== undefined) throw new UsageError('--annotations', `only with --grid annotations, got --grid ${mode}`);
  if (mode !== 'beats' && downbeats !== undefined) throw new UsageError('--downbeats', `only with --grid beats, got --grid ${mode}`);
  if (mode === 'file') return undefined;
  if (mode === 'beats') return (score) => trackedBeatGrid(score, downbeats);
  if (annotations === undefined) throw new UsageError('--grid annotations', 'expected --annotations DIR (a folder of <stem>/beat_midi.txt)');
  let st;
  try {
    st = statSync(annotations);
  } catch {
    throw new InputError(annotations, 'no such folder, expected a folder of beat annotations (<stem>/beat_midi.txt)');
  }
  if (!st.isDirectory()) throw new InputError(annotations, 'expected a folder of beat annotations (<stem>/beat_midi.txt), got a file');
  return (_score, source) => {
    const path = join(annotations, baseName(source), 'beat_midi.txt');
    let bytes: Uint8Array;
    try {
      bytes = readInputFile(path, { maxBytes: 16 * 1024 * 1024 }); // a FIFO or a huge file stops at the limit
    } catch (err) {
      if (err instanceof InputError && err.message === `${path}: no such file`) throw new InputError(source, `no beat annotations: expected ${path}`);
      throw err;
    }
    return parseBeatAnnotations(new TextDecoder().decode(bytes), path);
  };
}

export interface DatasetBuildOptions extends Omit<TokenizeOptions, 'emotion'>, ReadMidiOptions {
  /** Beat-true tokenizing (see regrid.ts): `file` (default) keeps the files' tick grid. */
  grid?: GridMode;
  /** The annotations folder of `grid: 'annotations'`. */
  annotations?: string;
  /** What places the tracker's downbeats with `grid: 'beats'` (default the tagger; trackBeats' downbeatModel). */
  downbeats?: DownbeatModel;
  /** 'full' (default), 'observed', or a vocabulary to use. */
  vocab?: 'full' | 'observed' | Vocab;
  /** Fraction of songs held out for validation (default 0.1). */
  valid?: number;
  seed?: number;
  /** Called after each file with the count done. */
  onProgress?: (done: number, total: number) => void;
  /** Called for each file that is skipped, with the reason. */
  onSkip?: (file: string, reason: string) => void;
}

/** The files a dataset folder holds (see dataset.ts). */
const DATASET_FILES = ['index.json', 'vocab.json', 'words.u16'];

/**
 * Refuses an output folder that is not ours to replace: `buildDataset` replaces `outDir` as a whole, so it must be
 * missing, empty, or a dataset written by `buildDataset` (its index.json says so, and it holds nothing else).
 * A folder of the user's, or the input folder itself, is an InputError that writes nothing.
 */
export function checkDatasetOutput(outDir: string): void {
  let st;
  try {
    st = statSync(outDir);
  } catch {
    return; // a new folder
  }
  if (!st.isDirectory()) throw new InputError(outDir, 'exists and is not a folder; expected a new folder or a dataset to replace');
  const entries = readdirSync(outDir);
  if (entries.length === 0) return;
  const refuse = (why: string) =>
    new InputError(outDir, `${why}; building would replace the whole folder, so only a new or empty folder or a dataset made by \`emopia dataset build\` is accepted`);
  let index: Partial<DatasetIndex> | null = null;
  try {
    index = JSON.parse(readFileSync(join(outDir, 'index.json'), 'utf8')) as Partial<DatasetIndex>;
  } catch {
    index = null;
  }
  if (index === null || typeof index !== 'object' || index.format !== 'emopia-ts/dataset') {
    throw refuse(`not empty (${entries.length} entries, e.g. '${[...entries].sort()[0]}') and not a dataset`);
  }
  const ours = new Set([...DATASET_FILES, typeof index.wordsFile === 'string' ? index.wordsFile : 'words.u16']);
  const other = entries.filter((e) => !ours.has(e)).sort();
  if (other.length) throw refuse(`a dataset, but it also holds ${other.length} other entr${other.length > 1 ? 'ies' : 'y'} (e.g. '${other[0]}')`);
}

export interface BuildResult {
  index: DatasetIndex;
  vocab: Vocab;
}

/**
 * Encodes every MIDI file under `midiDir` and writes the dataset folder `outDir` atomically (temporary folder,
 * then rename). `outDir` must be new, empty or a dataset (`checkDatasetOutput`, checked before any work). Bad
 * files are skipped and listed (`onSkip`, the index's `skipped` and `summary.skipped`); InputError when no file
 * was usable.
 */
export async function buildDataset(midiDir: string, outDir: string, opts: DatasetBuildOptions = {}): Promise<BuildResult> {
  checkDatasetOutput(outDir);
  const gridMode = opts.grid ?? 'file';
  const beats = beatGridSource(gridMode, opts.annotations, opts.downbeats);
  const files = listMidiFiles(midiDir);
  if (files.length === 0) throw new InputError(midiDir, 'no .mid or .midi files in this folder');
  const grid = Vocab.fullGrid();
  const encoded: Array<EncodedFile & { source: string }> = [];
  const skipped: Array<{ file: string; reason: string }> = [];
  // Bad input skips the file with its reason (the message without its `source: ` prefix). Anything else is a bug,
  // but one file must not lose the whole build: it is skipped too, and its reason says so.
  const skip = (source: string, err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    const reason =
      err instanceof InputError
        ? msg.startsWith(`${source}: `) ? msg.slice(source.length + 2) : msg
        : `internal error, please report it: ${err instanceof Error ? err.name : 'Error'}: ${msg.split('\n')[0]}`;
    skipped.push({ file: source, reason });
    opts.onSkip?.(source, reason);
  };
  files.forEach((path, i) => {
    const source = relative(midiDir, path);
    try {
      encoded.push({ ...encodeFile(readSource(path, source, opts.maxBytes), source, { ...opts, beats }, grid), source });
    } catch (err) {
      if (err instanceof UsageError) throw err; // bad usage (`--grid beats` without a tracker) is not one bad file
      skip(source, err);
    }
    opts.onProgress?.(i + 1, files.length);
  });

  // Names must be unique: clips from different sub-folders with one base name keep their relative path.
  const seen = new Map<string, number>();
  for (const e of encoded) seen.set(e.name, (seen.get(e.name) ?? 0) + 1);
  for (const e of encoded) if ((seen.get(e.name) as number) > 1) e.name = e.source.replace(/\.(mid|midi)$/i, '');

  const vocab = opts.vocab === undefined || opts.vocab === 'full' ? grid : opts.vocab === 'observed' ? observedVocab(encoded.map((e) => e.words), grid) : opts.vocab;
  const kept: Array<EncodedFile & { source: string }> = [];
  for (const e of encoded) {
    try {
      e.words = remapWords(e.words, grid, vocab, e.source);
      kept.push(e);
    } catch (err) {
      skip(e.source, err);
    }
  }
  if (kept.length === 0) {
    throw new InputError(midiDir, `no usable MIDI file (${skipped.length} skipped; first: ${skipped[0]?.file}: ${skipped[0]?.reason})`);
  }

  const validFraction = opts.valid ?? 0.1;
  const seed = opts.seed ?? 0;
  const validNames = splitBySong(kept.map((e) => e.name), validFraction, seed);
  const clips: ClipEntry[] = [];
  let offset = 0;
  for (const e of kept) {
    const length = e.words.length / N_FAMILIES;
    clips.push({ name: e.name, source: e.source, song: songOf(e.name), emotion: e.emotion, split: validNames.has(e.name) ? 'valid' : 'train', offset, length, notes: e.stats.notes });
    offset += length;
  }
  const sum = (f: (e: EncodedFile) => number) => kept.reduce((s, e) => s + f(e), 0);
  const summary: BuildSummary = {
    files: files.length,
    clips: kept.length,
    train: clips.filter((c) => c.split === 'train').length,
    valid: clips.filter((c) => c.split === 'valid').length,
    words: offset,
    notes: sum((e) => e.stats.notes),
    notesOutOfRange: sum((e) => e.stats.outOfRange),
    drumNotesDropped: sum((e) => e.info.drumNotesDropped),
    restrikes: sum((e) => e.info.restrikes),
    unterminated: sum((e) => e.info.unterminated),
    skipped: skipped.length,
  };
  const index: DatasetIndex = { format: 'emopia-ts/dataset', version: 1, families: [...FAMILIES], wordsFile: 'words.u16', seed, validFraction, clips, summary, skipped };
  if (gridMode !== 'file') {
    const record: GridRecord = {
      mode: gridMode,
      ...(opts.annotations !== undefined ? { annotations: opts.annotations } : {}),
      stretchedBars: sum((e) => e.regrid?.stretchedBars ?? 0),
      clipsIn3: kept.filter((e) => e.regrid?.meter === 3).length,
      clipsWithPickup: kept.filter((e) => (e.regrid?.pickupBeats ?? 0) > 0).length,
      ...(gridMode === 'beats' ? { clipsOnFileGrid: kept.filter((e) => e.regrid?.fallback !== undefined).length } : {}),
      ...(gridMode === 'beats' ? { downbeats: opts.downbeats ?? DEFAULT_DOWNBEAT_MODEL } : {}),
    };
    index.grid = record;
  }
  const bytes = packWords(kept.map((e) => e.words));
  await writeDirAtomic(outDir, (tmp) => {
    writeFileSync(join(tmp, 'vocab.json'), `${JSON.stringify(vocab.toJSON())}\n`);
    writeFileSync(join(tmp, 'words.u16'), bytes);
    writeFileSync(join(tmp, 'index.json'), `${JSON.stringify(index, null, 1)}\n`);
  });
  return { index, vocab };
}

const DATASET_HINT = 'is this a dataset folder made by `emopia dataset build`?';

/** Reads a dataset folder: {vocab, train, valid}, each clip {name, emotion, words: Int32Array (n*8)}. */
export function readDataset(dir: string, note: Note = stderrNote): Dataset {
  recoverDir(dir, note); // a build killed between its two renames is finished or rolled back first
  const index = readJsonInput(join(dir, 'index.json'), DATASET_HINT) as Partial<DatasetIndex>;
  const vocabJson = readJsonInput(join(dir, 'vocab.json'), DATASET_HINT);
  const wordsPath = join(dir, typeof index.wordsFile === 'string' ? index.wordsFile : 'words.u16');
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(wordsPath);
  } catch {
    throw new InputError(wordsPath, 'cannot read the words file of this dataset');
  }
  return parseDataset(index, vocabJson, bytes, dir);
}
