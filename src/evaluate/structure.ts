/**
 * Musical structure of a piece (issue 9, section 3): how its onsets sit on the beat, how its bars resemble each
 * other, how dense and how long its notes are, and how harmonically varied it is over 1 and 4 bars. Pure and
 * browser-safe; a Score in beat ticks (480 per beat), normally as the compound words see it (`quantizedScore`).
 *
 * Bars: 4/4 from tick 0 unless the score's time signatures say otherwise (a change starts a new bar at its tick);
 * a bar of n/d has n * 4/d beats and that many * 4 positions on the 16th grid. A note's position is its onset
 * rounded to the nearest 16th (half to even, as the tokenizer rounds). The piece's bars run from bar 0 to the bar
 * of its last onset; a bar is "empty" when no onset falls in it. Definitions, one function each:
 *
 * - onsetPositions: distinct 16th positions with an onset, mean over the non-empty bars.
 * - eighthShare: of those (bar, position) onset slots, the share on an 8th (an even position in its bar). Slots, not
 *   notes: a chord is one onset.
 * - grooving: grooving similarity of two bars = 1 - |a XOR b| / P over their onset vectors (P = positions of the
 *   longer bar, the shorter padded with no onsets); mean over ALL pairs of non-empty bars (i < j, not only
 *   neighbours). NaN with fewer than two non-empty bars.
 * - repeatShare: of the non-empty bars after the first one, the share that repeat or nearly repeat SOME earlier
 *   non-empty bar: grooving similarity >= 0.9 (on 16 positions: at most one position differs) AND pitch-class
 *   overlap >= 0.8, where overlap = sum over the 12 pitch classes of min(count a, count b) / max(notes a, notes b)
 *   (notes counted by onset in the bar). An exact repeat has 1 and 1. NaN with fewer than two non-empty bars.
 * - polyphony: notes sounding at once, averaged over the time (ticks) in which at least one note sounds.
 * - notesPerBeat: notes / beats from the first onset to the end of the last note (the span `pieceStats` uses).
 * - noteLength: mean note length (end - start) in 16ths (120 ticks).
 * - tempo: `meanTempo` of classify/stats.ts over the same span (tick-weighted mean BPM).
 * - pcEntropy1 / pcEntropy4: Shannon entropy in bits of the pitch-class histogram, counted over the notes with an
 *   onset in a window of 1 / 4 consecutive bars (`entropyBits`), mean over the windows that have a note. The windows
 *   slide by one bar (bars 0-3, 1-4, ...); a piece shorter than 4 bars has one window, the whole piece.
 */
import type { Score } from '../music/score.ts';
import { roundHalfEven } from '../music/score.ts';
import { addAt, at } from '../classify/indexing.ts';
import { entropyBits, meanTempo } from '../classify/stats.ts';

/** Ticks per beat and per 16th position of a Score. */
const BEAT = 480;
const POSITION = 120;

export interface StructureStats {
  onsetPositions: number;
  eighthShare: number;
  grooving: number;
  repeatShare: number;
  polyphony: number;
  notesPerBeat: number;
  noteLength: number;
  tempo: number;
  pcEntropy1: number;
  pcEntropy4: number;
}

/** The structure statistics, in display order. */
export const STRUCTURE_KEYS = ['onsetPositions', 'eighthShare', 'grooving', 'repeatShare', 'polyphony', 'notesPerBeat', 'noteLength', 'tempo', 'pcEntropy1', 'pcEntropy4'] as const;
export type StructureKey = (typeof STRUCTURE_KEYS)[number];
export const STRUCTURE_LABELS: Readonly<Record<StructureKey, string>> = Object.freeze({
  onsetPositions: 'onset positions per bar (16ths)',
  eighthShare: 'onsets on 8ths (share)',
  grooving: 'grooving similarity of bars',
  repeatShare: 'bars (nearly) repeating an earlier one',
  polyphony: 'polyphony (sounding notes)',
  notesPerBeat: 'notes per beat',
  noteLength: 'mean note length (16ths)',
  tempo: 'tempo (BPM)',
  pcEntropy1: 'pitch-class entropy, 1 bar (bits)',
  pcEntropy4: 'pitch-class entropy, 4 bars (bits)',
});

/** Thresholds of "nearly repeats" (see the header). */
export const NEAR_REPEAT = Object.freeze({ grooving: 0.9, pitchClassOverlap: 0.8 });

/** One bar of a piece: where it starts, its 16th positions, and what starts in it. */
export interface Bar {
  start: number;
  positions: number;
  /** onsets[p]: whether a note starts on position p. */
  onsets: boolean[];
  /** Notes starting in the bar, per pitch class. */
  pitchClasses: number[];
  notes: number;
}

/** Bar start ticks from tick 0 up to and including the bar that holds `tick`, from the time signatures (4/4 without). */
export function barStarts(score: Score, tick: number): Array<{ start: number; positions: number }> {
  if (!Number.isFinite(tick)) throw new RangeError(`barStarts: expected a finite tick, got ${tick}`);
  const ts = [...score.timeSignatures].sort((a, b) => a.tick - b.tick);
  const out: Array<{ start: number; positions: number }> = [];
  let start = 0;
  let sig = { numerator: 4, denominator: 4 };
  let next = 0;
  for (;;) {
    while (next < ts.length && at(ts, next).tick <= start) sig = at(ts, next++);
    let length = (sig.numerator * 4 * BEAT) / sig.denominator;
    if (!(length > 0) || !Number.isFinite(length)) length = 4 * BEAT; // a malformed signature reads as 4/4
    const change = next < ts.length ? at(ts, next).tick : Infinity;
    if (start + length > change) length = change - start; // a change mid-bar cuts the bar short
    out.push({ start, positions: Math.max(1, Math.round(length / POSITION)) });
    if (start + length > tick) return out;
    start += length;
  }
}

/** The piece cut into bars (bar 0 to the bar of the last onset), each with its onset vector and pitch classes. */
export function bars(score: Score): Bar[] {
  if (score.notes.length === 0) return [];
  const slot = (n: { start: number }) => roundHalfEven(n.start / POSITION) * POSITION;
  const last = score.notes.reduce((m, n) => Math.max(m, slot(n)), 0);
  const out: Bar[] = barStarts(score, last).map((b) => ({
    ...b, onsets: new Array<boolean>(b.positions).fill(false), pitchClasses: new Array<number>(12).fill(0), notes: 0,
  }));
  let i = 0;
  for (const t of [...score.notes].map((n) => ({ tick: Math.max(0, slot(n)), pitch: n.pitch })).sort((a, b) => a.tick - b.tick)) {
    while (i + 1 < out.length && at(out, i + 1).start <= t.tick) i++;
    const bar = at(out, i);
    const p = Math.min(bar.positions - 1, Math.round((t.tick - bar.start) / POSITION));
    bar.onsets[p] = true;
    addAt(bar.pitchClasses, ((t.pitch % 12) + 12) % 12, 1);
    bar.notes++;
  }
  return out;
}

const nonEmpty = (bs: readonly Bar[]) => bs.filter((b) => b.notes > 0);
const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Mean distinct onset positions per non-empty bar. */
export function onsetPositions(bs: readonly Bar[]): number {
  return mean(nonEmpty(bs).map((b) => b.onsets.filter(Boolean).length));
}

/** Share of onset slots (bar, position) on an 8th; NaN without onsets. */
export function eighthShare(bs: readonly Bar[]): number {
  let on = 0;
  let all = 0;
  for (const b of bs) b.onsets.forEach((o, p) => {
    if (!o) return;
    all++;
    if (p % 2 === 0) on++;
  });
  return all ? on / all : NaN;
}

/** 1 - |a XOR b| / P, P the positions of the longer bar. */
export function barGrooving(a: Bar, b: Bar): number {
  const p = Math.max(a.positions, b.positions);
  let xor = 0;
  for (let i = 0; i < p; i++) if ((a.onsets[i] ?? false) !== (b.onsets[i] ?? false)) xor++;
  return 1 - xor / p;
}

/** Mean grooving similarity over all pairs of non-empty bars; NaN with fewer than two. */
export function grooving(bs: readonly Bar[]): number {
  const ne = nonEmpty(bs);
  const sims: number[] = [];
  for (let i = 0; i < ne.length; i++) for (let j = i + 1; j < ne.length; j++) sims.push(barGrooving(at(ne, i), at(ne, j)));
  return mean(sims);
}

/** sum_pc min(a, b) / max(notes a, notes b): 1 for the same pitch-class counts, 0 for none shared. */
export function pitchClassOverlap(a: Bar, b: Bar): number {
  const most = Math.max(a.notes, b.notes);
  if (most === 0) return 1;
  let shared = 0;
  for (let pc = 0; pc < 12; pc++) shared += Math.min(at(a.pitchClasses, pc), at(b.pitchClasses, pc));
  return shared / most;
}

/** Whether bar b repeats or nearly repeats bar a (NEAR_REPEAT). */
export function nearlyRepeats(a: Bar, b: Bar): boolean {
  return barGrooving(a, b) >= NEAR_REPEAT.grooving && pitchClassOverlap(a, b) >= NEAR_REPEAT.pitchClassOverlap;
}

/** Share of the non-empty bars after the first that (nearly) repeat an earlier non-empty bar; NaN with fewer than two. */
export function repeatShare(bs: readonly Bar[]): number {
  const ne = nonEmpty(bs);
  if (ne.length < 2) return NaN;
  let repeats = 0;
  for (let i = 1; i < ne.length; i++) if (ne.slice(0, i).some((e) => nearlyRepeats(e, at(ne, i)))) repeats++;
  return repeats / (ne.length - 1);
}

/** Mean number of sounding notes over the ticks in which at least one sounds; 0 without notes of positive length. */
export function polyphony(score: Score): number {
  const events: Array<[number, number]> = [];
  for (const n of score.notes) if (n.end > n.start) events.push([n.start, 1], [n.end, -1]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let sounding = 0;
  let since = 0;
  let area = 0;
  let busy = 0;
  for (const [tick, d] of events) {
    if (sounding > 0) {
      area += sounding * (tick - since);
      busy += tick - since;
    }
    sounding += d;
    since = tick;
  }
  return busy > 0 ? area / busy : 0;
}

/** First onset and end of the last note, in ticks. */
function span(score: Score): { first: number; last: number } {
  return {
    first: score.notes.reduce((m, n) => Math.min(m, n.start), Infinity),
    last: score.notes.reduce((m, n) => Math.max(m, n.end), -Infinity),
  };
}

/** Notes per beat from the first onset to the end of the last note; NaN for a piece of no length. */
export function notesPerBeat(score: Score): number {
  const { first, last } = span(score);
  return last > first ? score.notes.length / ((last - first) / BEAT) : NaN;
}

/** Mean note length in 16ths. */
export function noteLength(score: Score): number {
  return mean(score.notes.map((n) => (n.end - n.start) / POSITION));
}

/** Mean pitch-class entropy (bits) over windows of `size` bars sliding by one bar, windows without notes left out. */
export function pitchClassEntropy(bs: readonly Bar[], size: number): number {
  const windows = Math.max(1, bs.length - size + 1);
  const hs: number[] = [];
  for (let w = 0; w < windows && w < bs.length; w++) {
    const pc = new Array<number>(12).fill(0);
    for (const b of bs.slice(w, w + size)) b.pitchClasses.forEach((c, i) => addAt(pc, i, c));
    if (pc.some((c) => c > 0)) hs.push(entropyBits(pc));
  }
  return mean(hs);
}

/** Every structure statistic of a score (throws RangeError without notes, as `pieceStats`). */
export function structureStats(score: Score): StructureStats {
  if (score.notes.length === 0) throw new RangeError('structureStats: the piece has no notes');
  const bs = bars(score);
  const { first, last } = span(score);
  return {
    onsetPositions: onsetPositions(bs),
    eighthShare: eighthShare(bs),
    grooving: grooving(bs),
    repeatShare: repeatShare(bs),
    polyphony: polyphony(score),
    notesPerBeat: notesPerBeat(score),
    noteLength: noteLength(score),
    tempo: meanTempo(score, first, last),
    pcEntropy1: pitchClassEntropy(bs, 1),
    pcEntropy4: pitchClassEntropy(bs, 4),
  };
}

/** Mean and (population) std over the pieces where the statistic is defined (finite), and how many those are. */
export interface StructureSummary {
  mean: number;
  std: number;
  n: number;
}

export function summarizeStructure(stats: readonly StructureStats[]): Record<StructureKey, StructureSummary> {
  const out = {} as Record<StructureKey, StructureSummary>;
  for (const k of STRUCTURE_KEYS) {
    const xs = stats.map((s) => s[k]).filter(Number.isFinite);
    const m = mean(xs);
    out[k] = { mean: m, std: xs.length ? Math.sqrt(mean(xs.map((x) => (x - m) ** 2))) : NaN, n: xs.length };
  }
  return out;
}

/** Issue 9's targets: every statistic within 20% of the real clips' (per quadrant); low arousal >= 2.2 notes per beat. */
export const STRUCTURE_TARGETS = Object.freeze({ tolerance: 0.2, lowArousalNotesPerBeat: 2.2, lowArousal: ['Q3', 'Q4'] as readonly string[] });

export interface StructureComparison {
  generated: number;
  real: number;
  /** generated / real (NaN when either is missing or real is 0). */
  ratio: number;
  /** |ratio - 1| <= tolerance. */
  within: boolean;
}

export interface StructureReport {
  tolerance: number;
  /** Per quadrant (Q1..Q4), per statistic; only quadrants with both sides. */
  comparison: Record<string, Record<StructureKey, StructureComparison>>;
  /** Per quadrant: the statistics outside the tolerance. */
  misses: Record<string, StructureKey[]>;
  /** Low-arousal quadrants present among the generated: mean notes per beat against the floor. */
  lowArousal: Record<string, { notesPerBeat: number; target: number; met: boolean }>;
}

/** Generated against real, per quadrant and statistic, with issue 9's targets checked. */
export function compareStructure(
  generated: Readonly<Record<string, Record<StructureKey, StructureSummary>>>,
  real: Readonly<Record<string, Record<StructureKey, StructureSummary>>> | null,
  tolerance = STRUCTURE_TARGETS.tolerance,
): StructureReport {
  const comparison: StructureReport['comparison'] = {};
  const misses: StructureReport['misses'] = {};
  for (const [q, gen] of Object.entries(generated)) {
    const re = real?.[q];
    if (!re) continue;
    const row = {} as Record<StructureKey, StructureComparison>;
    for (const k of STRUCTURE_KEYS) {
      const g = gen[k].mean;
      const r = re[k].mean;
      const ratio = Number.isFinite(g) && Number.isFinite(r) && r !== 0 ? g / r : NaN;
      row[k] = { generated: g, real: r, ratio, within: Number.isFinite(ratio) && Math.abs(ratio - 1) <= tolerance + 1e-12 };
    }
    comparison[q] = row;
    misses[q] = STRUCTURE_KEYS.filter((k) => !row[k].within);
  }
  const lowArousal: StructureReport['lowArousal'] = {};
  for (const q of STRUCTURE_TARGETS.lowArousal) {
    const g = generated[q];
    if (!g) continue;
    const v = g.notesPerBeat.mean;
    lowArousal[q] = { notesPerBeat: v, target: STRUCTURE_TARGETS.lowArousalNotesPerBeat, met: Number.isFinite(v) && v >= STRUCTURE_TARGETS.lowArousalNotesPerBeat };
  }
  return { tolerance, comparison, misses, lowArousal };
}
