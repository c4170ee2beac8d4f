/**
 * The score model, and the pure transforms on it (after magenta-js `core/sequences.ts`): every function returns
 * a new object and leaves its input alone.
 *
 * A `Score` is one piano part in beat ticks: 480 ticks per beat, whatever the source file used (times are
 * rescaled, so they may be fractional; 384 -> 480 is exact). The tokenizer reads only this, so a beat tracker can
 * later produce a Score whose ticks follow tracked beats without touching the tokenizer.
 */
import { InputError } from '../errors.ts';
import { chordFromMarker, recogniseChords } from './chords.ts';
import { GRID, TEMPO_BINS } from './vocab.ts';

export interface Note {
  pitch: number;
  velocity: number;
  /** Onset and release in beat ticks (480 per beat). */
  start: number;
  end: number;
}
export interface TempoChange {
  tick: number;
  bpm: number;
}
export interface TimeSignature {
  tick: number;
  numerator: number;
  denominator: number;
}
export interface Marker {
  tick: number;
  text: string;
}
/** Sustain pedal (CC64): down at value >= 64. */
export interface PedalEvent {
  tick: number;
  down: boolean;
}

export interface Score {
  ticksPerBeat: 480;
  /** Sorted by start, then pitch. */
  notes: Note[];
  /** Sorted by tick. A score read from MIDI always has one at tick 0 (MIDI's default 120 BPM if the file has none). */
  tempos: TempoChange[];
  timeSignatures: TimeSignature[];
  markers: Marker[];
  pedals: PedalEvent[];
}

export function emptyScore(): Score {
  return { ticksPerBeat: 480, notes: [], tempos: [], timeSignatures: [], markers: [], pedals: [] };
}

export function sortNotes(notes: Note[]): Note[] {
  return notes.sort((a, b) => a.start - b.start || a.pitch - b.pitch || a.end - b.end);
}

/** numpy's `np.round`: halves go to the even neighbour (0.5 -> 0, 1.5 -> 2). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The tempo bin nearest to `bpm` (ties to the lower bin, as numpy's argmin). */
export function tempoBin(bpm: number): number {
  let best = TEMPO_BINS[0] as number;
  for (const b of TEMPO_BINS) if (Math.abs(b - bpm) < Math.abs(best - bpm)) best = b;
  return best;
}

/** The velocity bin: nearest even number (ties down, as argmin over 0,2,...,128), at least 40. */
export function velocityBin(velocity: number): number {
  if (Number.isInteger(velocity) && velocity >= 0 && velocity < VELOCITY_BIN_OF.length) return VELOCITY_BIN_OF[velocity] as number;
  return velocityBinScan(velocity);
}
function velocityBinScan(velocity: number): number {
  let best = 0;
  for (let b = 0; b <= 128; b += 2) if (Math.abs(b - velocity) < Math.abs(best - velocity)) best = b;
  return Math.max(GRID.minVelocity, best);
}

/** velocityBin of the MIDI velocities 0..127, looked up instead of scanned per note. */
const VELOCITY_BIN_OF: readonly number[] = Array.from({ length: 128 }, (_, v) => velocityBinScan(v));

/**
 * Sustain pedal applied to durations (`--pedal extend`): a note released while the pedal is down keeps sounding
 * until the pedal is lifted, or until the same pitch is struck again, whichever comes first.
 */
export function applySustain(score: Score): Score {
  const pedals = [...score.pedals].sort((a, b) => a.tick - b.tick);
  // Intervals [down, up) where the pedal is held.
  const spans: Array<[number, number]> = [];
  let downAt: number | null = null;
  for (const p of pedals) {
    if (p.down && downAt === null) downAt = p.tick;
    else if (!p.down && downAt !== null) {
      spans.push([downAt, p.tick]);
      downAt = null;
    }
  }
  if (downAt !== null) spans.push([downAt, Infinity]);
  const notes = score.notes.map((n) => ({ ...n }));
  const lastEnd = notes.reduce((m, n) => Math.max(m, n.end), 0);
  for (const n of notes) {
    // The spans are disjoint and in order: only the last one starting at or before the release can hold it.
    let lo = 0;
    let hi = spans.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if ((spans[m] as [number, number])[0] <= n.end) lo = m + 1;
      else hi = m;
    }
    const span = spans[lo - 1];
    if (span !== undefined && n.end >= span[0] && n.end < span[1]) n.end = Math.max(n.end, Number.isFinite(span[1]) ? span[1] : lastEnd);
  }
  // A re-struck pitch cuts the sounding note.
  const byPitch = new Map<number, Note[]>();
  for (const n of notes) {
    const list = byPitch.get(n.pitch) ?? [];
    list.push(n);
    byPitch.set(n.pitch, list);
  }
  for (const list of byPitch.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 0; i + 1 < list.length; i++) {
      const a = list[i] as Note;
      const b = list[i + 1] as Note;
      if (a.end > b.start && b.start > a.start) a.end = b.start;
    }
  }
  return { ...score, notes: sortNotes(notes), pedals: [] };
}

/** How `quantize` reads a score (the tokenizer's options, bar the emotion). */
export interface QuantizeOptions {
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
  /** Notes dropped because their pitch is outside 22..107, and empty bars removed from the start. */
  stats: { outOfRange: number; leadingBarsRemoved: number };
}

const P = GRID.ticksPerPosition;
const BAR = GRID.ticksPerBar;
const gridOf = (t: number) => Math.max(0, roundHalfEven(t / P) * P);

/** Chord markers of the score: its own chord markers, or the ones recognised on the beats from `from` to `until`. */
function chordMarkers(score: Score, mode: NonNullable<QuantizeOptions['chords']>, from: number, until: number): Array<{ tick: number; text: string }> {
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
export function quantize(score: Score, opts: QuantizeOptions = {}, what = 'score'): Quantized {
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
