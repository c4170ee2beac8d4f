/**
 * Musical statistics of one piece, as issue 5 lists them, with exact definitions (no file system):
 *
 * - noteDensity: notes per SECOND, = notes / (end of the last note - first onset), in seconds through the tempo map.
 * - meanPitch: mean MIDI pitch over notes; pitchRange: highest - lowest pitch (semitones).
 * - meanVelocity: mean MIDI velocity over notes.
 * - majorShare / minorShare: of the beats with a recognised chord (the tokenizer's chord recogniser, one chord per
 *   beat), the share whose quality is major (M, M7, 7) / minor (m, m7). Beats without a chord are not counted;
 *   0 when no beat has a chord.
 * - pitchClassEntropy: Shannon entropy in bits of the pitch-class histogram counted over notes (0..log2 12 = 3.585).
 */
import { chordsPerBeat } from '../music/chords.ts';
import type { Quality } from '../music/vocab.ts';
import type { Score } from '../music/score.ts';
import { addAt, at } from './indexing.ts';
import { secondsAt } from '../music/time_map.ts';

export interface PieceStats {
  notes: number;
  /** Seconds from the first onset to the end of the last note. */
  seconds: number;
  noteDensity: number;
  meanPitch: number;
  pitchRange: number;
  meanVelocity: number;
  majorShare: number;
  minorShare: number;
  pitchClassEntropy: number;
}

/** The statistics shown per quadrant, in display order, with units. */
export const STAT_KEYS = ['noteDensity', 'meanPitch', 'pitchRange', 'meanVelocity', 'majorShare', 'minorShare', 'pitchClassEntropy'] as const;
export type StatKey = (typeof STAT_KEYS)[number];
export const STAT_LABELS: Readonly<Record<StatKey, string>> = Object.freeze({
  noteDensity: 'note density (notes/s)',
  meanPitch: 'mean pitch (MIDI)',
  pitchRange: 'pitch range (semitones)',
  meanVelocity: 'mean velocity',
  majorShare: 'major chords (share of chord beats)',
  minorShare: 'minor chords (share of chord beats)',
  pitchClassEntropy: 'pitch-class entropy (bits)',
});

export const MAJOR_QUALITIES: readonly Quality[] = ['M', 'M7', '7'];
export const MINOR_QUALITIES: readonly Quality[] = ['m', 'm7'];

/** Entropy in bits of a histogram (zeros ignored); 0 for an empty one. */
export function entropyBits(counts: readonly number[]): number {
  const total = counts.reduce((s, c) => s + c, 0);
  if (total <= 0) return 0;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / total) * Math.log2(c / total);
  return h;
}

/**
 * Mean BPM of the tempo map over [from, to), weighted by ticks; for an empty span, the tempo in effect at `from`.
 * Before the first change the tempo is MIDI's default 120 BPM, as in `secondsAt`.
 */
export function meanTempo(score: Score, from: number, to: number): number {
  const ts = [...score.tempos].sort((a, b) => a.tick - b.tick);
  let i = 0;
  let bpm = 120;
  for (; i < ts.length && at(ts, i).tick <= from; i++) bpm = at(ts, i).bpm;
  if (to <= from) return bpm;
  let sum = 0;
  let since = from;
  for (; i < ts.length && at(ts, i).tick < to; i++) {
    const t = at(ts, i);
    sum += (t.tick - since) * bpm;
    since = t.tick;
    bpm = t.bpm;
  }
  sum += (to - since) * bpm;
  return sum / (to - from);
}

/** The statistics of a score (throws RangeError when it has no notes). */
export function pieceStats(score: Score): PieceStats {
  const notes = score.notes;
  if (notes.length === 0) throw new RangeError('pieceStats: the piece has no notes');
  const first = notes.reduce((m, n) => Math.min(m, n.start), Infinity);
  const last = notes.reduce((m, n) => Math.max(m, n.end), -Infinity);
  const sec = secondsAt(score.tempos);
  const seconds = sec(last) - sec(first);
  let pSum = 0;
  let vSum = 0;
  let lo = Infinity;
  let hi = -Infinity;
  const pc = new Array<number>(12).fill(0);
  for (const n of notes) {
    pSum += n.pitch;
    vSum += n.velocity;
    lo = Math.min(lo, n.pitch);
    hi = Math.max(hi, n.pitch);
    addAt(pc, n.pitch % 12, 1);
  }
  let chordBeats = 0;
  let major = 0;
  let minor = 0;
  for (const c of chordsPerBeat(notes)) {
    if (c === null) continue;
    chordBeats++;
    if (MAJOR_QUALITIES.includes(c.quality)) major++;
    else if (MINOR_QUALITIES.includes(c.quality)) minor++;
  }
  return {
    notes: notes.length,
    seconds,
    noteDensity: seconds > 0 ? notes.length / seconds : 0,
    meanPitch: pSum / notes.length,
    pitchRange: hi - lo,
    meanVelocity: vSum / notes.length,
    majorShare: chordBeats ? major / chordBeats : 0,
    minorShare: chordBeats ? minor / chordBeats : 0,
    pitchClassEntropy: entropyBits(pc),
  };
}

export interface StatSummary {
  mean: number;
  std: number;
}

/** Mean and (population) standard deviation of each statistic over pieces. */
export function summarizeStats(stats: readonly PieceStats[]): Record<StatKey, StatSummary> {
  const out = {} as Record<StatKey, StatSummary>;
  for (const k of STAT_KEYS) {
    const xs = stats.map((s) => s[k]);
    const mean = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
    const std = xs.length ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length) : NaN;
    out[k] = { mean, std };
  }
  return out;
}
