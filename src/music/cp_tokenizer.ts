/**
 * Score <-> compound words, EMOPIA's representation (CP `midi2corpus.py` + EMOPIA `corpus2events.py`,
 * `utils.write_midi`).
 *
 * Encoding: quantize the score to the 16-per-bar grid (`quantize`, score.ts), then write
 *   Emotion word; per bar: Bar word, and per occupied position a Metrical word (tempo|CONTI, chord|CONTI, Beat_k)
 *   followed by its Note words (descending pitch); a closing Bar word; EOS.
 * Decoding: the inverse; bar k starts at tick 1920*k (EMOPIA's writer starts at bar 1; we start at bar 0), a
 * duration of 0 becomes 60 ticks, chords become markers, tempos become tempo changes.
 */
import { InputError } from '../errors.ts';
import { emptyScore, quantize, sortNotes, type Note, type QuantizeOptions, type Quantized, type QuantNote, type Score } from './score.ts';
import {
  CONTI,
  FAMILY_INDEX,
  type Family,
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

export interface TokenizeOptions extends QuantizeOptions {
  /** 0 (unknown, default) or 1..4 for Q1..Q4. */
  emotion?: Emotion;
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

const P = GRID.ticksPerPosition;
const BAR = GRID.ticksPerBar;

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
        // makeEvent('Note', { pitch, duration, velocity }) written out: one object per note instead of two.
        events.push({ tempo: 0, chord: 0, barbeat: 0, type: 'Note', pitch: pitchValue(n.pitch), duration: durationValue(n.duration), velocity: velocityValue(n.velocity), emotion: 0 });
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
  const missing = (ev: CompoundEvent, f: Family): never => {
    throw new InputError(what, `vocabulary family ${f} has no value ${JSON.stringify(ev[f])} (${vocab.size(f)} values)`);
  };
  // Each family read by its name, in FAMILIES order (the first missing value is the one named), without a property
  // read by a variable name per family and word, which was most of the time on 200k notes.
  const ix = (f: Family) => vocab.valueIndex(f);
  const [tempo, chord, barbeat, type, pitch, duration, velocity, emotion] = [ix('tempo'), ix('chord'), ix('barbeat'), ix('type'), ix('pitch'), ix('duration'), ix('velocity'), ix('emotion')];
  const I = FAMILY_INDEX;
  for (let i = 0; i < events.length; i++) {
    const ev = events[i] as CompoundEvent;
    const o = i * N_FAMILIES;
    words[o + I.tempo] = tempo.get(ev.tempo) ?? missing(ev, 'tempo');
    words[o + I.chord] = chord.get(ev.chord) ?? missing(ev, 'chord');
    words[o + I.barbeat] = barbeat.get(ev.barbeat) ?? missing(ev, 'barbeat');
    words[o + I.type] = type.get(ev.type) ?? missing(ev, 'type');
    words[o + I.pitch] = pitch.get(ev.pitch) ?? missing(ev, 'pitch');
    words[o + I.duration] = duration.get(ev.duration) ?? missing(ev, 'duration');
    words[o + I.velocity] = velocity.get(ev.velocity) ?? missing(ev, 'velocity');
    words[o + I.emotion] = emotion.get(ev.emotion) ?? missing(ev, 'emotion');
  }
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
  // Before its first tempo word a piece plays at that tempo (120 BPM, MIDI's default, when it names none).
  if (!score.tempos.some((t) => t.tick === 0)) score.tempos.unshift({ tick: 0, bpm: score.tempos[0]?.bpm ?? 120 });
  score.timeSignatures.push({ tick: 0, numerator: 4, denominator: 4 });
  return { score, emotion, skipped };
}

/** Words (n*8 indices) -> Score. See `eventsToScore`. */
export function wordsToScore(words: ArrayLike<number>, vocab: Vocab): { score: Score; emotion: Emotion; skipped: number } {
  return eventsToScore(wordsToEvents(words, vocab));
}
