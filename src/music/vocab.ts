/**
 * The compound-word vocabulary of EMOPIA (annahung31/EMOPIA `dataset/corpus2events.py`, `event2words.py`).
 *
 * A compound word has one value in each of eight families, always in the order of `FAMILIES`. Values are
 * EMOPIA's event strings (`Tempo_119`, `CONTI`, `C_M`, `Bar`, `Beat_3`, `Note_Pitch_60`, ...), the number 0
 * ("ignore": the family does not apply to this word) and, in the emotion family, the numbers 1..4 (Q1..Q4).
 * Within a family the values are sorted as EMOPIA sorts them: numbers first (so 0 gets index 0), then strings in
 * lexicographic order (`Beat_10` precedes `Beat_2`), so that an EMOPIA `dictionary.pkl` maps one to one.
 *
 * Families are addressed by name (`vocab.encode('pitch', 'Note_Pitch_60')`), never by a bare index.
 */
import { InputError } from '../errors.ts';

export const FAMILIES = ['tempo', 'chord', 'barbeat', 'type', 'pitch', 'duration', 'velocity', 'emotion'] as const;
export type Family = (typeof FAMILIES)[number];
export const N_FAMILIES = FAMILIES.length;
/** Position of each family in a word: `word[FAMILY_INDEX.pitch]`. */
export const FAMILY_INDEX: Readonly<Record<Family, number>> = Object.freeze(
  Object.fromEntries(FAMILIES.map((f, i) => [f, i])) as Record<Family, number>,
);

/** A family value: an event string, or a number (0 = ignore; 1..4 in the emotion family). */
export type VocabValue = string | number;
/** One compound word in readable form. */
export type CompoundEvent = Record<Family, VocabValue>;

export const WORD_TYPES = ['EOS', 'Emotion', 'Metrical', 'Note'] as const;
export type WordType = (typeof WORD_TYPES)[number];

/** Emotion quadrants and their values in the emotion family. */
export const EMOTIONS = { Q1: 1, Q2: 2, Q3: 3, Q4: 4 } as const;
export type EmotionName = keyof typeof EMOTIONS;
/** 0 = unknown, 1..4 = Q1..Q4. */
export type Emotion = 0 | 1 | 2 | 3 | 4;

/** Chord roots and qualities as written by CP's analyzer over chorder (sharps only). */
export const ROOTS = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'] as const;
export const QUALITIES = ['M', 'm', 'o', '+', '7', 'M7', 'm7', 'o7', '/o7', 'sus2', 'sus4'] as const;
export type Quality = (typeof QUALITIES)[number];
/** The chord value when no chord is recognised. */
export const NO_CHORD = 'N_N';
export const CONTI = 'CONTI';

/** The time grid of the representation (CP `midi2corpus.py`). */
export const GRID = Object.freeze({
  ticksPerBeat: 480,
  ticksPerBar: 1920,
  ticksPerPosition: 120,
  positionsPerBar: 16,
  minPitch: 22,
  maxPitch: 107,
  maxDuration: 1920,
  minVelocity: 40,
});

/** np.linspace(32, 224, 65, dtype=int): 32, 35, ..., 224. */
export const TEMPO_BINS: readonly number[] = Object.freeze(Array.from({ length: 65 }, (_, i) => 32 + 3 * i));
/** np.linspace(0, 128, 65) clamped to >= 40: the even numbers 40..128. */
export const VELOCITY_BINS: readonly number[] = Object.freeze(Array.from({ length: 45 }, (_, i) => 40 + 2 * i));
/** 0, 120, ..., 1920 ticks. */
export const DURATION_BINS: readonly number[] = Object.freeze(Array.from({ length: 17 }, (_, i) => 120 * i));

/**
 * `prefix + n`, the same string object again for a small whole n: a vocabulary lookup then finds its hash already
 * computed (a fresh string per note is hashed again, which dominated tokenizing a 200k-note file).
 */
function valueNamer(prefix: string): (n: number) => string {
  const cache: string[] = [];
  return (n: number): string => {
    if (!(Number.isInteger(n) && n >= 0 && n < 4096)) return `${prefix}${n}`;
    return (cache[n] ??= `${prefix}${n}`);
  };
}
export const tempoValue: (bpm: number) => string = valueNamer('Tempo_');
export const pitchValue: (pitch: number) => string = valueNamer('Note_Pitch_');
export const durationValue: (ticks: number) => string = valueNamer('Note_Duration_');
export const velocityValue: (velocity: number) => string = valueNamer('Note_Velocity_');
export const beatValue: (position: number) => string = valueNamer('Beat_');
export const chordValue = (root: number, quality: Quality): string => `${ROOTS[root]}_${quality}`;

/** EMOPIA's order: numbers first (ascending), then strings by code point (Python's `sorted`). */
export function emopiaCompare(a: VocabValue, b: VocabValue): number {
  const na = typeof a === 'number';
  const nb = typeof b === 'number';
  if (na !== nb) return na ? -1 : 1;
  if (na && nb) return a - b;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every value each family can take on the full grid, in EMOPIA's order. */
export function fullGridValues(): Record<Family, VocabValue[]> {
  const chords: string[] = [NO_CHORD];
  for (let r = 0; r < 12; r++) for (const q of QUALITIES) chords.push(chordValue(r, q));
  const pitches: string[] = [];
  for (let p = GRID.minPitch; p <= GRID.maxPitch; p++) pitches.push(pitchValue(p));
  const beats = Array.from({ length: GRID.positionsPerBar }, (_, i) => beatValue(i));
  const raw: Record<Family, VocabValue[]> = {
    tempo: [0, CONTI, ...TEMPO_BINS.map(tempoValue)],
    chord: [0, CONTI, ...chords],
    barbeat: [0, 'Bar', ...beats],
    type: [...WORD_TYPES],
    pitch: [0, ...pitches],
    duration: [0, ...DURATION_BINS.map(durationValue)],
    velocity: [0, ...VELOCITY_BINS.map(velocityValue)],
    emotion: [0, 1, 2, 3, 4],
  };
  for (const f of FAMILIES) raw[f].sort(emopiaCompare);
  return raw;
}

/** The serialised form, `vocab.json`. */
export interface VocabJSON {
  format: 'emopia-ts/vocab';
  version: 1;
  families: Family[];
  values: Record<Family, VocabValue[]>;
}

/** The id that `encode` writes instead of an inline vocabulary when the default full grid is used. */
export const FULL_GRID_ID = 'full-grid@1';

export class Vocab {
  private readonly vals: Record<Family, readonly VocabValue[]>;
  private readonly index: Record<Family, Map<VocabValue, number>>;

  private constructor(values: Record<Family, readonly VocabValue[]>) {
    this.vals = {} as Record<Family, readonly VocabValue[]>;
    this.index = {} as Record<Family, Map<VocabValue, number>>;
    for (const f of FAMILIES) {
      const list = Object.freeze([...values[f]]);
      const map = new Map<VocabValue, number>();
      list.forEach((v, i) => {
        if (map.has(v)) throw new InputError(`vocabulary family ${f}`, `expected distinct values, got ${JSON.stringify(v)} twice`);
        map.set(v, i);
      });
      if (list.length === 0) throw new InputError(`vocabulary family ${f}`, 'expected at least one value, got none');
      this.vals[f] = list;
      this.index[f] = map;
    }
  }

  /** The default vocabulary: every value on the grid (sizes in README "Tokenizer"). */
  static fullGrid(): Vocab {
    return new Vocab(fullGridValues());
  }

  /**
   * A vocabulary from value lists. With `sort` (default true) each list is put in EMOPIA's order; pass false to
   * keep the given order (as read from an EMOPIA dictionary).
   */
  static fromValues(values: Record<Family, readonly VocabValue[]>, opts: { sort?: boolean } = {}): Vocab {
    const copy = {} as Record<Family, VocabValue[]>;
    for (const f of FAMILIES) {
      copy[f] = [...values[f]];
      if (opts.sort ?? true) copy[f].sort(emopiaCompare);
    }
    return new Vocab(copy);
  }

  /** Parses `vocab.json` content (already JSON-parsed); throws InputError naming what is wrong. */
  static fromJSON(json: unknown, what = 'vocabulary'): Vocab {
    if (typeof json === 'string') {
      if (json === FULL_GRID_ID) return Vocab.fullGrid();
      throw new InputError(what, `expected '${FULL_GRID_ID}' or an inline vocabulary, got '${json}'`);
    }
    if (typeof json !== 'object' || json === null) throw new InputError(what, `expected '${FULL_GRID_ID}' or an inline vocabulary object, got ${json === null ? 'null' : typeof json}`);
    const o = json as Partial<VocabJSON>;
    if (o.format !== 'emopia-ts/vocab') throw new InputError(what, `expected format 'emopia-ts/vocab', got ${JSON.stringify(o.format)}`);
    if (o.version !== 1) throw new InputError(what, `expected version 1, got ${JSON.stringify(o.version)}`);
    if (!Array.isArray(o.families) || o.families.join(',') !== FAMILIES.join(',')) {
      throw new InputError(what, `expected families [${FAMILIES.join(',')}], got ${JSON.stringify(o.families)}`);
    }
    if (typeof o.values !== 'object' || o.values === null) throw new InputError(what, 'expected a "values" object');
    const values = {} as Record<Family, VocabValue[]>;
    for (const f of FAMILIES) {
      const list: unknown = (o.values as Record<string, unknown>)[f];
      if (!Array.isArray(list) || !list.every((v) => typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)))) {
        throw new InputError(what, `expected family ${f} to be a list of strings and integers`);
      }
      values[f] = list as VocabValue[];
    }
    return new Vocab(values);
  }

  toJSON(): VocabJSON {
    const values = {} as Record<Family, VocabValue[]>;
    for (const f of FAMILIES) values[f] = [...this.vals[f]];
    return { format: 'emopia-ts/vocab', version: 1, families: [...FAMILIES], values };
  }

  /** `FULL_GRID_ID` when this is the default vocabulary, else null. */
  id(): string | null {
    return this.equals(Vocab.fullGrid()) ? FULL_GRID_ID : null;
  }

  size(family: Family): number {
    return this.vals[family].length;
  }

  /** Sizes in FAMILIES order (EMOPIA's `n_class`). */
  sizes(): number[] {
    return FAMILIES.map((f) => this.vals[f].length);
  }

  values(family: Family): readonly VocabValue[] {
    return this.vals[family];
  }

  has(family: Family, value: VocabValue): boolean {
    return this.index[family].has(value);
  }

  /** The value -> index map of `family` (read-only), for loops over many words. */
  valueIndex(family: Family): ReadonlyMap<VocabValue, number> {
    return this.index[family];
  }

  /** Index of `value` in `family`; InputError when the vocabulary lacks it. */
  encode(family: Family, value: VocabValue): number {
    const i = this.index[family].get(value);
    if (i === undefined) {
      throw new InputError(`vocabulary family ${family}`, `has no value ${JSON.stringify(value)} (${this.vals[family].length} values)`);
    }
    return i;
  }

  /** Value at `index` in `family`; InputError when out of range. */
  decode(family: Family, index: number): VocabValue {
    const v = this.vals[family][index];
    if (v === undefined || !Number.isInteger(index)) {
      throw new InputError(`vocabulary family ${family}`, `expected an index in 0..${this.vals[family].length - 1}, got ${index}`);
    }
    return v;
  }

  /** A readable word to its 8 indices. */
  encodeEvent(event: CompoundEvent): number[] {
    const word = zeroWord();
    FAMILIES.forEach((f, i) => (word[i] = this.encode(f, event[f])));
    return word;
  }

  /** 8 indices (FAMILIES order) to a readable word. */
  decodeWord(word: ArrayLike<number>): CompoundEvent {
    if (word.length !== N_FAMILIES) throw new InputError('word', `expected ${N_FAMILIES} integers, got ${word.length}`);
    const ev = {} as CompoundEvent;
    FAMILIES.forEach((f, i) => (ev[f] = this.decode(f, word[i] as number)));
    return ev;
  }

  equals(other: Vocab): boolean {
    return FAMILIES.every((f) => {
      const a = this.vals[f];
      const b = other.vals[f];
      return a.length === b.length && a.every((v, i) => v === b[i]);
    });
  }
}

/** A readable word with every family at 0 except those given. */
export function makeEvent(type: WordType, fields: Partial<Record<Family, VocabValue>> = {}): CompoundEvent {
  const ev = { tempo: 0, chord: 0, barbeat: 0, type, pitch: 0, duration: 0, velocity: 0, emotion: 0 } as CompoundEvent;
  for (const f of FAMILIES) if (f !== 'type' && fields[f] !== undefined) ev[f] = fields[f] as VocabValue;
  return ev;
}

/** Parses 'Q1'..'Q4' (or 1..4) to the emotion value; InputError otherwise. */
export function parseEmotion(q: string | number): Emotion {
  if (typeof q === 'number' && [0, 1, 2, 3, 4].includes(q)) return q as Emotion;
  if (typeof q === 'string' && q in EMOTIONS) return EMOTIONS[q as EmotionName];
  throw new InputError('emotion', `expected Q1, Q2, Q3 or Q4, got '${q}'`);
}

/**
 * A word of eight zeros, as an array literal: always a packed array of small integers in V8. Words made by
 * `Array.prototype.map` or `new Array(8).fill(0)` came out packed or holey depending on whether the code making
 * them was optimised yet, and each new kind made V8 throw away the optimised word loops that read them
 * (`node --trace-deopt`: "wrong map" in the engines' feedWords and in sampleWord, several pieces into a process).
 */
export function zeroWord(): number[] {
  return [0, 0, 0, 0, 0, 0, 0, 0];
}

/** The Emotion word that opens a piece: `[0,0,0,Emotion,0,0,0,emo]`. */
export function emotionWord(vocab: Vocab, emotion: Emotion | EmotionName): number[] {
  return vocab.encodeEvent(makeEvent('Emotion', { emotion: parseEmotion(emotion) }));
}

/** The Bar word (a Metrical word with bar-beat `Bar`): `[0,0,Bar,Metrical,0,0,0,0]`. */
export function barWord(vocab: Vocab): number[] {
  return vocab.encodeEvent(makeEvent('Metrical', { barbeat: 'Bar' }));
}

/** The EOS word: type EOS, every other family 0. */
export function eosWord(vocab: Vocab): number[] {
  return vocab.encodeEvent(makeEvent('EOS'));
}

/** The prompt EMOPIA starts generation from: the Emotion word, then a Bar word. */
export function defaultPrompt(vocab: Vocab, emotion: Emotion | EmotionName): number[][] {
  return [emotionWord(vocab, emotion), barWord(vocab)];
}
