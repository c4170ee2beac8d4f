/**
 * Score <-> compound words, EMOPIA's representation (CP `midi2corpus.py` + EMOPIA `corpus2events.py`,
 * `utils.write_midi`).
 *
 * Encoding: quantize the score to the 16-per-bar grid (see `quantize`), then write
 *   Emotion word; per bar: Bar word, and per occupied position a Metrical word (tempo|CONTI, chord|CONTI, Beat_k)
 *   followed by its Note words (descending pitch); a closing Bar word; EOS.
 * Decoding: the inverse; bar k starts at tick 1920*k (EMOPIA's writer starts at bar 1; we start at bar 0), a
 * duration of 0 becomes 60 ticks, chords become markers, tempos become tempo changes.
 */
import { InputError } from '../errors.ts';
import { chordFromMarker, recogniseChords } from './chords.ts';
import { applySustain, emptyScore, roundHalfEven, sortNotes, tempoBin, velocityBin, type Note, type Score } from './score.ts';
import {
  CONTI,
  FAMILIES,
  GRID,
  N_FAMILIES,
  beatValue,
  durationValue,
  makeEvent,
  pitchValue,
  tempoValue,
  velocityValue,
  type CompoundEvent,
  type Emotion,
  type Vocab,
} from './vocab.ts';

export interface TokenizeOptions {
  /** 0 (unknown, default) or 1..4 for Q1..Q4. */
  emotion?: Emotion;
  /**
   * Where chords come from: `recognise` (our chorder-equivalent), `markers` (chord markers in the score, as
   * written by `decode` or CP's analyzer), `none`, or `auto` (default): markers when the score has chord markers,
   * else recognise.
   */
  chords?: 'auto' | 'recognise' | 'markers' | 'none';
  /** `ignore` (default, as EMOPIA) or `extend`: notes held by the sustain pedal last until it is lifted. */
  pedal?: 'ignore' | 'extend';
  /** Scores longer than this many bars are refused (default 10000). */
  maxBars?: number;
}

/** What quantization did, for summaries: nothing is dropped or changed silently. */
export interface TokenizeStats {
  /** Notes in the words. */
  notes: number;
  /** Notes dropped because their pitch is outside 22..107. */
  outOfRange: number;
  /** Empty bars removed from the start. */
  leadingBarsRemoved: number;
  bars: number;
  words: number;
}

export interface QuantNote {
  /** Grid tick from the first kept bar: a multiple of 120. */
  onset: number;
  pitch: number;
  /** 0..1920, a multiple of 120. */
  duration: number;
  /** A velocity bin: even, 40..128. */
  velocity: number;
}

export interface Quantized {
  /** Sorted by onset, then descending pitch. */
  notes: QuantNote[];
  /** Tempo bin per grid tick (the last change at a position wins). */
  tempos: Map<number, number>;
  /** Chord value per grid tick. */
  chords: Map<number, string>;
  bars: number;
  stats: Omit<TokenizeStats, 'words' | 'notes' | 'bars'>;
}

const P = GRID.ticksPerPosition;
const BAR = GRID.ticksPerBar;
const gridOf = (t: number) => Math.max(0, roundHalfEven(t / P) * P);

/** Chord markers of the score: its own chord markers, or the ones recognised on the beats from `from` to `until`. */
function chordMarkers(score: Score, mode: NonNullable<TokenizeOptions['chords']>, from: number, until: number): Array<{ tick: number; text: string }> {
  if (mode === 'none') return [];
  const own: Array<{ tick: number; text: string }> = [];
  for (const m of score.markers) {
    const text = chordFromMarker(m.text);
    if (text !== null) own.push({ tick: m.tick, text });
  }
  if (mode === 'markers' || (mode === 'auto' && own.length > 0)) return own;
  return recogniseChords(score.notes, until, from);
}

/** Quantizes a score to EMOPIA's grid. Throws InputError when no note is in range or the piece is too long. */
export function quantize(score: Score, opts: TokenizeOptions = {}, what = 'score'): Quantized {
  const src = opts.pedal === 'extend' ? applySustain(score) : score;
  const inRange = src.notes.filter((n) => n.pitch >= GRID.minPitch && n.pitch <= GRID.maxPitch);
  const outOfRange = src.notes.length - inRange.length;
  if (inRange.length === 0) {
    throw new InputError(what, src.notes.length === 0 ? 'no notes to encode' : `no notes in pitch range 22..107 (${outOfRange} notes outside it)`);
  }
  const first = inRange.reduce((m, n) => Math.min(m, n.start), Infinity);
  const offset = Math.floor(gridOf(first) / BAR) * BAR;

  let lastOnset = 0;
  const notes: QuantNote[] = inRange.map((n) => {
    const onset = gridOf(n.start - offset);
    lastOnset = Math.max(lastOnset, onset);
    const duration = roundHalfEven(Math.min(Math.max(0, n.end - n.start), GRID.maxDuration) / P) * P;
    return { onset, pitch: n.pitch, duration, velocity: velocityBin(n.velocity) };
  });
  const bars = Math.floor(lastOnset / BAR) + 1;
  const maxBars = opts.maxBars ?? 10000;
  if (bars > maxBars) throw new InputError(what, `too long: ${bars} bars after quantization, the limit is ${maxBars}`);
  // Limits before work: chords are recognised only on the kept bars, after the length check (a note held for 2^28
  // beats, or a first note after 2^28 empty ones, made the recogniser walk every beat). Markers before the first
  // kept bar all land on its first position, where the last one wins: the chord in force there, which a walk from
  // a pair of beats before `offset` marks too (that pair also covers a piece whose every note ends at `offset`).
  const end = bars * BAR;
  const chordList = chordMarkers(src, opts.chords ?? 'auto', Math.max(0, offset - 2 * GRID.ticksPerBeat), offset + end);
  // EMOPIA's order: onset, then descending pitch; equal notes (EMOPIA keeps them) longest and loudest first.
  notes.sort((a, b) => a.onset - b.onset || b.pitch - a.pitch || b.duration - a.duration || b.velocity - a.velocity);

  const tempos = new Map<number, number>();
  for (const t of [...src.tempos].sort((a, b) => a.tick - b.tick)) {
    const at = gridOf(t.tick - offset);
    if (at < end) tempos.set(at, tempoBin(t.bpm));
  }
  const chords = new Map<number, string>();
  for (const c of [...chordList].sort((a, b) => a.tick - b.tick)) {
    const at = gridOf(c.tick - offset);
    if (at < end) chords.set(at, c.text);
  }
  return { notes, tempos, chords, bars, stats: { outOfRange, leadingBarsRemoved: offset / BAR } };
}

/** The readable words of a quantized score. */
export function quantizedToEvents(q: Quantized, emotion: Emotion = 0): CompoundEvent[] {
  const events: CompoundEvent[] = [makeEvent('Emotion', { emotion })];
  let k = 0;
  for (let bar = 0; bar < q.bars; bar++) {
    events.push(makeEvent('Metrical', { barbeat: 'Bar' }));
    for (let pos = 0; pos < GRID.positionsPerBar; pos++) {
      const t = bar * BAR + pos * P;
      const tempo = q.tempos.get(t);
      const chord = q.chords.get(t);
      const hasNotes = k < q.notes.length && (q.notes[k] as QuantNote).onset === t;
      if (tempo !== undefined || chord !== undefined || hasNotes) {
        events.push(makeEvent('Metrical', { tempo: tempo === undefined ? CONTI : tempoValue(tempo), chord: chord ?? CONTI, barbeat: beatValue(pos) }));
      }
      while (k < q.notes.length && (q.notes[k] as QuantNote).onset === t) {
        const n = q.notes[k++] as QuantNote;
        events.push(makeEvent('Note', { pitch: pitchValue(n.pitch), duration: durationValue(n.duration), velocity: velocityValue(n.velocity) }));
      }
    }
  }
  events.push(makeEvent('Metrical', { barbeat: 'Bar' }));
  events.push(makeEvent('EOS'));
  return events;
}

/** Score -> readable words and what quantization did. */
export function scoreToEvents(score: Score, opts: TokenizeOptions = {}, what = 'score'): { events: CompoundEvent[]; stats: TokenizeStats } {
  const q = quantize(score, opts, what);
  const events = quantizedToEvents(q, opts.emotion ?? 0);
  return { events, stats: { ...q.stats, notes: q.notes.length, bars: q.bars, words: events.length } };
}

/** Score -> words (n*8 indices, FAMILIES order). Throws InputError when a value is missing from `vocab`. */
export function scoreToWords(score: Score, vocab: Vocab, opts: TokenizeOptions = {}, what = 'score'): { words: Int32Array; events: CompoundEvent[]; stats: TokenizeStats } {
  const { events, stats } = scoreToEvents(score, opts, what);
  return { words: eventsToWords(events, vocab, what), events, stats };
}

/** Readable words -> n*8 indices; InputError (prefixed with `what`) for a value the vocabulary lacks. */
export function eventsToWords(events: readonly CompoundEvent[], vocab: Vocab, what = 'events'): Int32Array {
  const words = new Int32Array(events.length * N_FAMILIES);
  events.forEach((ev, i) => {
    FAMILIES.forEach((f, j) => {
      if (!vocab.has(f, ev[f])) throw new InputError(what, `vocabulary family ${f} has no value ${JSON.stringify(ev[f])} (${vocab.size(f)} values)`);
      words[i * N_FAMILIES + j] = vocab.encode(f, ev[f]);
    });
  });
  return words;
}

/** n*8 indices -> readable words; InputError for an index outside the vocabulary. */
export function wordsToEvents(words: ArrayLike<number>, vocab: Vocab): CompoundEvent[] {
  if (words.length % N_FAMILIES !== 0) throw new InputError('words', `expected a multiple of ${N_FAMILIES} integers, got ${words.length}`);
  const out: CompoundEvent[] = [];
  for (let i = 0; i < words.length; i += N_FAMILIES) out.push(vocab.decodeWord(Array.from({ length: N_FAMILIES }, (_, j) => words[i + j] as number)));
  return out;
}

const suffixInt = (v: unknown, prefix: string): number | null => {
  if (typeof v !== 'string' || !v.startsWith(prefix)) return null;
  const n = Number(v.slice(prefix.length));
  return Number.isInteger(n) ? n : null;
};

/**
 * Readable words -> Score. Lenient, for sampled output: words that carry values their type cannot use are
 * skipped and counted in `skipped`; decoding stops at EOS. The emotion of the Emotion word is returned.
 */
export function eventsToScore(events: readonly CompoundEvent[]): { score: Score; emotion: Emotion; skipped: number } {
  const score = emptyScore();
  const notes: Note[] = [];
  let bar = -1;
  let pos = 0;
  let skipped = 0;
  let emotion: Emotion = 0;
  for (const ev of events) {
    const at = Math.max(0, bar) * BAR + pos * P;
    if (ev.type === 'EOS') break;
    if (ev.type === 'Emotion') {
      if (typeof ev.emotion === 'number' && ev.emotion >= 0 && ev.emotion <= 4) emotion = ev.emotion as Emotion;
      else skipped++;
    } else if (ev.type === 'Metrical') {
      if (ev.barbeat === 'Bar') {
        bar++;
        pos = 0;
      } else {
        const k = suffixInt(ev.barbeat, 'Beat_');
        if (k === null || k < 0 || k >= GRID.positionsPerBar) {
          skipped++;
          continue;
        }
        if (bar < 0) bar = 0;
        pos = k;
        const t = bar * BAR + pos * P;
        const bpm = suffixInt(ev.tempo, 'Tempo_');
        if (bpm !== null && bpm > 0) score.tempos.push({ tick: t, bpm });
        if (typeof ev.chord === 'string' && ev.chord !== CONTI) score.markers.push({ tick: t, text: ev.chord });
      }
    } else if (ev.type === 'Note') {
      const pitch = suffixInt(ev.pitch, 'Note_Pitch_');
      const dur = suffixInt(ev.duration, 'Note_Duration_');
      const vel = suffixInt(ev.velocity, 'Note_Velocity_');
      if (pitch === null || dur === null || vel === null || pitch < 0 || pitch > 127 || dur < 0) {
        skipped++;
        continue;
      }
      notes.push({ pitch, velocity: Math.min(127, Math.max(1, vel)), start: at, end: at + (dur === 0 ? P / 2 : dur) });
    } else skipped++;
  }
  score.notes = sortNotes(notes);
  if (!score.tempos.some((t) => t.tick === 0)) score.tempos.unshift({ tick: 0, bpm: 120 });
  score.timeSignatures.push({ tick: 0, numerator: 4, denominator: 4 });
  return { score, emotion, skipped };
}

/** Words (n*8 indices) -> Score. See `eventsToScore`. */
export function wordsToScore(words: ArrayLike<number>, vocab: Vocab): { score: Score; emotion: Emotion; skipped: number } {
  return eventsToScore(wordsToEvents(words, vocab));
}
