/**
 * The dataset format and the parts of the builder that need no file system (the Node side is
 * `src/platform/dataset.ts`).
 *
 * A dataset folder holds:
 *   vocab.json   the vocabulary (see vocab.ts)
 *   words.u16    every clip's words, concatenated: n*8 unsigned 16-bit little-endian integers per clip
 *   index.json   {format, version, families, wordsFile, seed, validFraction, clips: [{name, source, song, emotion,
 *                split, offset, length, ...}], summary, skipped, grid?}; offsets and lengths count words
 *                (`grid` only when the clips were tokenized beat-true: see GridRecord)
 */
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import { readMidi, type MidiReadInfo, type ReadMidiOptions } from './midi_io.ts';
import { scoreToWords, type TokenizeOptions, type TokenizeStats } from './cp_tokenizer.ts';
import { FAMILIES, N_FAMILIES, Vocab, type Emotion, type Family, type VocabValue } from './vocab.ts';
import { regrid, type RegridOptions } from './regrid.ts';
import type { BeatGrid } from './beat_grid.ts';
import type { Score } from './score.ts';

/** One clip of a dataset, as the reader gives it and training reads it (src/cp/train/batches.ts). */
export interface Clip {
  name: string;
  emotion: Emotion;
  /** n words of 8 indices each (FAMILIES order), row-major. */
  words: Int32Array;
}
export interface Dataset {
  vocab: Vocab;
  train: Clip[];
  valid: Clip[];
}

export interface ClipEntry {
  name: string;
  /** Path of the MIDI file relative to the source folder. */
  source: string;
  song: string;
  emotion: Emotion;
  split: 'train' | 'valid';
  /** In words. */
  offset: number;
  length: number;
  notes: number;
}
export interface BuildSummary {
  files: number;
  clips: number;
  train: number;
  valid: number;
  words: number;
  notes: number;
  /** Notes dropped: out of 22..107, drums. */
  notesOutOfRange: number;
  drumNotesDropped: number;
  /** Notes the reader had to end: re-struck while sounding, or without a note-off. */
  restrikes: number;
  unterminated: number;
  skipped: number;
}
export interface DatasetIndex {
  format: 'emopia-ts/dataset';
  version: 1;
  families: Family[];
  wordsFile: string;
  seed: number;
  validFraction: number;
  clips: ClipEntry[];
  summary: BuildSummary;
  skipped: Array<{ file: string; reason: string }>;
  /** Which beats the clips were tokenized on; absent: the files' own tick grid (`--grid file`). */
  grid?: GridRecord;
}

/** How a dataset was gridded, when beat-true (`--grid beats|annotations`). */
export interface GridRecord {
  mode: 'beats' | 'annotations';
  /** The annotations folder as given (`--grid annotations`). */
  annotations?: string;
  /** Over the kept clips: bars stretched (see regrid.ts), clips read as 3/4, clips with a pickup. */
  stretchedBars: number;
  clipsIn3: number;
  clipsWithPickup: number;
  /** `--grid beats`: clips too short or sparse to track, tokenized on their file's own grid instead. */
  clipsOnFileGrid?: number;
  /**
   * `--grid beats`: what placed the downbeats, the learned tagger or the hand cues (`--downbeats`). Absent in sets
   * built while the hand cues were the default, which used them.
   */
  downbeats?: 'hand' | 'tagger';
}

const CLIP_NAME = /^(Q[1-4])_(.+)_(\d+)$/;

/** The emotion of an EMOPIA file name (`Q3_xyz_2.mid` -> 3), 0 when the name has no quadrant prefix. */
export function emotionFromName(name: string): Emotion {
  const m = /^Q([1-4])_/.exec(baseName(name));
  return m ? (Number(m[1]) as Emotion) : 0;
}

/** The song of a clip: EMOPIA's `Q1_<song>_<clip>` gives `<song>`; any other name is its own song. */
export function songOf(name: string): string {
  const b = baseName(name);
  const m = CLIP_NAME.exec(b);
  return m ? (m[2] as string) : b;
}

export function baseName(path: string): string {
  const b = path.split(/[\\/]/).pop() ?? path;
  return b.replace(/\.(mid|midi)$/i, '');
}

/**
 * Song-level split: songs (sorted, then shuffled with `seed`) go to valid until `fraction` of the songs are there
 * (at least one when the fraction is positive and there are two songs or more; at least one song stays in train).
 */
export function splitBySong(names: readonly string[], fraction: number, seed: number): Set<string> {
  const songs = [...new Set(names.map(songOf))].sort();
  let k = Math.round(fraction * songs.length);
  if (fraction > 0 && songs.length >= 2) k = Math.max(1, k);
  if (fraction < 1) k = Math.min(k, songs.length - 1);
  const validSongs = new Set(new Rng(seed).shuffle(songs).slice(0, Math.max(0, k)));
  return new Set(names.filter((n) => validSongs.has(songOf(n))));
}

/**
 * The beat grid of a score for beat-true tokenizing (a tracker's, or a dataset's annotations); may carry `meter`,
 * and `fallback` (why the tracker gave the file's own grid instead).
 */
export type BeatGridSource = (score: Score, source: string) => BeatGrid & { meter?: 3 | 4; fallback?: string };

/** What `encodeFile` reads besides the tokenizer's options. */
export interface EncodeFileOptions extends TokenizeOptions, ReadMidiOptions, RegridOptions {
  /** Beat-true tokenizing: the score is re-timed onto these beats first (see regrid.ts). Absent: the file's grid. */
  beats?: BeatGridSource;
}

export interface EncodedFile {
  name: string;
  emotion: Emotion;
  /** n*8 indices in the vocabulary given to `encodeFile` (the full grid by default). */
  words: Int32Array;
  stats: TokenizeStats;
  info: MidiReadInfo;
  /** Present when encoded beat-true; `fallback` says why the file's own grid was used instead of tracked beats. */
  regrid?: { meter: 3 | 4; stretchedBars: number; pickupBeats: number; fallback?: string };
}

/** InputError for a file without notes, saying when drum notes were all it had. */
export function assertHasNotes(notes: number, info: MidiReadInfo, source: string): void {
  if (notes === 0) {
    throw new InputError(source, info.drumNotesDropped > 0 ? `no notes to encode (only drums: ${info.drumNotesDropped} notes on channel 10, dropped)` : 'no notes to encode');
  }
}

/**
 * Reads and encodes one file (in `vocab`, the full grid by default); the emotion is `opts.emotion`, else the file
 * name's quadrant. With `opts.beats`, the score is re-timed onto those beats first (beat-true tokenizing). Throws
 * InputError naming `source` on bad input.
 */
export function encodeFile(bytes: Uint8Array, source: string, opts: EncodeFileOptions = {}, vocab = Vocab.fullGrid()): EncodedFile {
  const { score, info } = readMidi(bytes, source, opts);
  assertHasNotes(score.notes.length, info, source);
  const emotion = opts.emotion ?? emotionFromName(source);
  if (opts.beats === undefined) {
    const { words, stats } = scoreToWords(score, vocab, { ...opts, emotion }, source);
    return { name: baseName(source), emotion, words, stats, info };
  }
  const grid = opts.beats(score, source);
  const r = regrid(score, grid, opts, source);
  const { words, stats } = scoreToWords(r.score, vocab, { ...opts, emotion }, source);
  const fallback = grid.fallback === undefined ? {} : { fallback: grid.fallback };
  return { name: baseName(source), emotion, words, stats, info, regrid: { meter: r.meter, stretchedBars: r.stretchedBars, pickupBeats: r.pickupBeats, ...fallback } };
}

/**
 * The vocabulary of the values a corpus uses (EMOPIA's way), in EMOPIA's order. 0 is always kept (except in
 * type), and type and emotion always keep every value, so that the special words exist.
 */
export function observedVocab(wordsList: readonly Int32Array[], grid: Vocab): Vocab {
  const used = FAMILIES.map(() => new Set<number>());
  for (const w of wordsList) for (let i = 0; i < w.length; i++) (used[i % N_FAMILIES] as Set<number>).add(w[i] as number);
  const values = {} as Record<Family, VocabValue[]>;
  FAMILIES.forEach((f, j) => {
    if (f === 'type' || f === 'emotion') values[f] = [...grid.values(f)];
    else values[f] = [0, ...[...(used[j] as Set<number>)].map((i) => grid.decode(f, i)).filter((v) => v !== 0)];
  });
  return Vocab.fromValues(values);
}

/** Maps words from one vocabulary to another; InputError naming the first value `to` lacks. */
export function remapWords(words: Int32Array, from: Vocab, to: Vocab, what = 'words'): Int32Array {
  if (from === to || from.equals(to)) return words;
  const maps = FAMILIES.map((f) => from.values(f).map((v) => (to.has(f, v) ? to.encode(f, v) : -1)));
  const out = new Int32Array(words.length);
  for (let i = 0; i < words.length; i++) {
    const j = i % N_FAMILIES;
    const k = (maps[j] as number[])[words[i] as number] ?? -1;
    if (k < 0) {
      const f = FAMILIES[j] as Family;
      throw new InputError(what, `value ${JSON.stringify(from.decode(f, words[i] as number))} of family ${f} is not in the vocabulary`);
    }
    out[i] = k;
  }
  return out;
}

/** Concatenates clips' words as little-endian uint16. */
export function packWords(wordsList: readonly Int32Array[]): Uint8Array {
  const total = wordsList.reduce((s, w) => s + w.length, 0);
  const bytes = new Uint8Array(total * 2);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const w of wordsList) {
    for (let i = 0; i < w.length; i++, at += 2) {
      const v = w[i] as number;
      if (v < 0 || v > 0xffff) throw new RangeError(`packWords: index ${v} does not fit in 16 bits`);
      view.setUint16(at, v, true);
    }
  }
  return bytes;
}

/** A dataset from the contents of its three files. Throws InputError when they do not agree. */
export function parseDataset(indexJson: unknown, vocabJson: unknown, bytes: Uint8Array, what = 'dataset'): Dataset {
  const idx = indexJson as Partial<DatasetIndex>;
  if (typeof idx !== 'object' || idx === null || idx.format !== 'emopia-ts/dataset' || idx.version !== 1) {
    throw new InputError(`${what}/index.json`, `expected format 'emopia-ts/dataset' version 1, got ${JSON.stringify((idx as { format?: unknown } | null)?.format)}`);
  }
  if (!Array.isArray(idx.families) || idx.families.join(',') !== FAMILIES.join(',')) {
    throw new InputError(`${what}/index.json`, `expected families [${FAMILIES.join(',')}], got ${JSON.stringify(idx.families)}`);
  }
  const vocab = Vocab.fromJSON(vocabJson, `${what}/vocab.json`);
  const sizes = vocab.sizes();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nWords = bytes.byteLength / (2 * N_FAMILIES);
  const ds: Dataset = { vocab, train: [], valid: [] };
  if (!Array.isArray(idx.clips)) throw new InputError(`${what}/index.json`, `expected "clips": a list, got ${JSON.stringify(idx.clips)}`);
  idx.clips.forEach((c: Partial<ClipEntry> | null, i) => {
    const ok = typeof c === 'object' && c !== null && typeof c.name === 'string' && [0, 1, 2, 3, 4].includes(c.emotion as number) && (c.split === 'train' || c.split === 'valid');
    if (!ok) throw new InputError(`${what}/index.json`, `clip ${i}: expected {name, emotion 0..4, split 'train'|'valid', offset, length}, got ${JSON.stringify(c)}`);
  });
  for (const c of idx.clips) {
    if (!Number.isInteger(c.offset) || !Number.isInteger(c.length) || c.offset < 0 || c.length < 0 || c.offset + c.length > nWords) {
      throw new InputError(`${what}/${idx.wordsFile ?? 'words.u16'}`, `clip ${c.name} needs words ${c.offset}..${c.offset + c.length}, the file has ${nWords}`);
    }
    const words = new Int32Array(c.length * N_FAMILIES);
    for (let i = 0; i < words.length; i++) {
      const v = view.getUint16((c.offset * N_FAMILIES + i) * 2, true);
      if (v >= (sizes[i % N_FAMILIES] as number)) {
        throw new InputError(`${what}/${idx.wordsFile ?? 'words.u16'}`, `clip ${c.name}: ${FAMILIES[i % N_FAMILIES]} index ${v} is outside the vocabulary (size ${sizes[i % N_FAMILIES]})`);
      }
      words[i] = v;
    }
    (c.split === 'valid' ? ds.valid : ds.train).push({ name: c.name, emotion: c.emotion, words });
  }
  return ds;
}

export interface DatasetStats {
  clips: number;
  words: number;
  /** By emotion 0..4 (0 = unknown). */
  perEmotion: Array<{ emotion: Emotion; clips: number; words: number }>;
  /** Words per clip: min, p10, p25, p50, p75, p90, max. */
  lengthPercentiles: Record<'min' | 'p10' | 'p25' | 'p50' | 'p75' | 'p90' | 'max', number>;
  /** Per family: the count of each value over all words, in vocabulary order. */
  histograms: Record<Family, Array<{ value: VocabValue; count: number }>>;
  /** Rhythm and tempo of the clips, overall and per emotion 0..4 (what beat-true tokenizing changes). */
  structure: WordStructureStats & { perEmotion: Array<WordStructureStats & { emotion: Emotion }> };
}

/** Figures read from the words (see `wordStructureStats`). */
export interface WordStructureStats {
  clips: number;
  /** Distinct Tempo_X values used, and words that carry one (not CONTI or 0). */
  tempoClasses: number;
  tempoWords: number;
  /** Mean over bars holding at least one onset: distinct onset positions (of 16) in the bar. */
  onsetPositionsPerBar: number;
  /** Share of note onsets on the 8th-note grid (even positions). */
  onsetsOn8ths: number;
  /** Mean note duration in 16ths (a duration of 0 counts as half a 16th, as decoding writes it). */
  meanDuration16ths: number;
  /** Notes per beat over the bars from the first Bar to the closing one. */
  notesPerBeat: number;
  wordsPerClip: number;
}

/** The structure figures of some clips (words in `vocab`). */
export function wordStructureStats(clips: readonly Clip[], vocab: Vocab): WordStructureStats {
  const I = (f: Family) => FAMILIES.indexOf(f);
  const [iTempo, iBar, iType, iDur] = [I('tempo'), I('barbeat'), I('type'), I('duration')];
  const tempos = new Set<VocabValue>();
  let tempoWords = 0;
  let barsWithOnsets = 0;
  let positions = 0;
  let onsets = 0;
  let on8ths = 0;
  let durSum = 0;
  let beats = 0;
  let words = 0;
  for (const c of clips) {
    const n = c.words.length / N_FAMILIES;
    words += n;
    let bars = 0;
    let pos = 0;
    let inBar = new Set<number>();
    const closeBar = () => {
      if (inBar.size > 0) {
        barsWithOnsets++;
        positions += inBar.size;
      }
      inBar = new Set<number>();
    };
    for (let w = 0; w < n; w++) {
      const at = (f: number) => c.words[w * N_FAMILIES + f] as number;
      const type = vocab.decode('type', at(iType));
      if (type === 'Metrical') {
        const bb = vocab.decode('barbeat', at(iBar));
        if (bb === 'Bar') {
          closeBar();
          bars++;
          pos = 0;
        } else if (typeof bb === 'string' && bb.startsWith('Beat_')) pos = Number(bb.slice(5));
        const t = vocab.decode('tempo', at(iTempo));
        if (typeof t === 'string' && t.startsWith('Tempo_')) {
          tempos.add(t);
          tempoWords++;
        }
      } else if (type === 'Note') {
        onsets++;
        inBar.add(pos);
        if (pos % 2 === 0) on8ths++;
        const d = vocab.decode('duration', at(iDur));
        const ticks = typeof d === 'string' && d.startsWith('Note_Duration_') ? Number(d.slice(14)) : 0;
        durSum += ticks === 0 ? 0.5 : ticks / 120;
      }
    }
    closeBar();
    beats += Math.max(0, bars - 1) * 4; // the closing Bar word ends the last bar
  }
  const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
  return {
    clips: clips.length,
    tempoClasses: tempos.size,
    tempoWords,
    onsetPositionsPerBar: ratio(positions, barsWithOnsets),
    onsetsOn8ths: ratio(on8ths, onsets),
    meanDuration16ths: ratio(durSum, onsets),
    notesPerBeat: ratio(onsets, beats),
    wordsPerClip: ratio(words, clips.length),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  // Nearest rank.
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function datasetStats(ds: Dataset): DatasetStats {
  const clips = [...ds.train, ...ds.valid];
  const perEmotion = ([0, 1, 2, 3, 4] as Emotion[]).map((emotion) => {
    const cs = clips.filter((c) => c.emotion === emotion);
    return { emotion, clips: cs.length, words: cs.reduce((s, c) => s + c.words.length / N_FAMILIES, 0) };
  });
  const lengths = clips.map((c) => c.words.length / N_FAMILIES).sort((a, b) => a - b);
  const counts = FAMILIES.map((f) => new Array<number>(ds.vocab.size(f)).fill(0));
  for (const c of clips) for (let i = 0; i < c.words.length; i++) (counts[i % N_FAMILIES] as number[])[c.words[i] as number]! += 1;
  const histograms = {} as DatasetStats['histograms'];
  FAMILIES.forEach((f, j) => (histograms[f] = ds.vocab.values(f).map((value, i) => ({ value, count: (counts[j] as number[])[i] as number }))));
  return {
    clips: clips.length,
    words: lengths.reduce((s, n) => s + n, 0),
    perEmotion,
    lengthPercentiles: {
      min: lengths[0] ?? 0,
      p10: percentile(lengths, 10),
      p25: percentile(lengths, 25),
      p50: percentile(lengths, 50),
      p75: percentile(lengths, 75),
      p90: percentile(lengths, 90),
      max: lengths[lengths.length - 1] ?? 0,
    },
    histograms,
    structure: {
      ...wordStructureStats(clips, ds.vocab),
      perEmotion: ([0, 1, 2, 3, 4] as Emotion[]).map((emotion) => ({ emotion, ...wordStructureStats(clips.filter((c) => c.emotion === emotion), ds.vocab) })),
    },
  };
}
