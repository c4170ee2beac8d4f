/** The structure statistics of evaluate/structure.ts on small scores built here, against values computed by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyScore, type Note, type Score } from '../../src/music/score.ts';
import {
  barGrooving, barStarts, bars, compareStructure, grooving, nearlyRepeats, pitchClassOverlap, polyphony, repeatShare,
  STRUCTURE_KEYS, structureStats, summarizeStructure, type StructureKey, type StructureSummary,
} from '../../src/evaluate/structure.ts';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} against ${b}`);

/** A score of notes given as [16th position, pitch, length in 16ths], at 120 BPM, 4/4 unless `sig` is given. */
function score(notes: Array<[number, number, number]>, sig?: [number, number]): Score {
  const s = emptyScore();
  s.notes = notes.map(([p, pitch, len]): Note => ({ pitch, velocity: 80, start: p * 120, end: (p + len) * 120 })).sort((a, b) => a.start - b.start || a.pitch - b.pitch);
  s.tempos = [{ tick: 0, bpm: 120 }];
  if (sig) s.timeSignatures = [{ tick: 0, numerator: sig[0], denominator: sig[1] }];
  return s;
}

/** One bar (from 16th `at`) with onsets on `positions`, pitches taken in turn from `pitches`, each `len` 16ths long. */
function bar(at: number, positions: number[], pitches: number[], len = 1): Array<[number, number, number]> {
  return positions.map((p, i) => [at + p, pitches[i % pitches.length]!, len]);
}

const EIGHTHS = [0, 2, 4, 6, 8, 10, 12, 14];
const SIXTEENTHS = Array.from({ length: 16 }, (_, i) => i);

test('a bar of straight 8ths: 8 positions, all on 8ths, one voice, 2 notes per beat, notes 2 16ths long', () => {
  const s = structureStats(score(bar(0, EIGHTHS, [60], 2)));
  assert.equal(s.onsetPositions, 8);
  assert.equal(s.eighthShare, 1);
  assert.equal(s.polyphony, 1);
  assert.equal(s.notesPerBeat, 2);
  assert.equal(s.noteLength, 2);
  assert.equal(s.tempo, 120);
  assert.equal(s.pcEntropy1, 0, 'one pitch class');
  assert.ok(Number.isNaN(s.grooving), 'no pair of bars');
  assert.ok(Number.isNaN(s.repeatShare), 'no earlier bar');
});

test('16ths: half the onsets on 8ths; a chord is one onset', () => {
  const s = structureStats(score([...bar(0, SIXTEENTHS, [60]), [0, 64, 1], [0, 67, 1]]));
  assert.equal(s.onsetPositions, 16);
  assert.equal(s.eighthShare, 0.5);
  close(s.notesPerBeat, 18 / 4, 'notes per beat');
});

test('two identical bars: grooving 1 and one repeat out of one', () => {
  const s = structureStats(score([...bar(0, EIGHTHS, [60, 64, 67]), ...bar(16, EIGHTHS, [60, 64, 67])]));
  assert.equal(s.grooving, 1);
  assert.equal(s.repeatShare, 1);
});

test('grooving over all pairs of bars, and repeats of any earlier bar', () => {
  // Bars A (8ths), B (16ths), A: pairs A-B 1 - 8/16, A-A 1, B-A 0.5 -> mean 2/3.
  const s = score([...bar(0, EIGHTHS, [60]), ...bar(16, SIXTEENTHS, [60]), ...bar(32, EIGHTHS, [60])]);
  const bs = bars(s);
  assert.equal(bs.length, 3);
  assert.equal(barGrooving(bs[0]!, bs[1]!), 0.5);
  close(grooving(bs), 2 / 3, 'grooving');
  // B repeats nothing before it; the second A repeats the first (not its neighbour B): 1 of 2.
  assert.equal(repeatShare(bs), 0.5);
});

test('"nearly repeats": at most one position of 16 differs and pitch-class overlap >= 0.8', () => {
  const scale = [60, 62, 64, 65, 67, 69, 71, 72];
  const a = bars(score(bar(0, EIGHTHS, scale)))[0]!;
  // One onset moved (14 -> 15): two positions differ, grooving 0.875 < 0.9.
  const moved = bars(score(bar(0, [0, 2, 4, 6, 8, 10, 12, 15], scale)))[0]!;
  assert.equal(barGrooving(a, moved), 0.875);
  assert.equal(nearlyRepeats(a, moved), false);
  // One onset added (a C on 15): grooving 15/16, overlap 8/9.
  const added = bars(score([...bar(0, EIGHTHS, scale), [15, 48, 1]]))[0]!;
  assert.equal(barGrooving(a, added), 15 / 16);
  close(pitchClassOverlap(a, added), 8 / 9, 'overlap');
  assert.equal(nearlyRepeats(a, added), true);
  // The same rhythm a tritone away: only F and B shared, overlap 2/8.
  const tritone = bars(score(bar(0, EIGHTHS, scale.map((p) => p + 6))))[0]!;
  assert.equal(barGrooving(a, tritone), 1);
  assert.equal(pitchClassOverlap(a, tritone), 0.25);
  assert.equal(nearlyRepeats(a, tritone), false);
  // In a piece: A, tritone, added -> the tritone bar repeats nothing, the added one repeats A: 1 of 2.
  const piece = score([...bar(0, EIGHTHS, scale), ...bar(16, EIGHTHS, scale.map((p) => p + 6)), ...bar(32, EIGHTHS, scale), [47, 48, 1]]);
  assert.equal(structureStats(piece).repeatShare, 0.5);
});

test('empty bars are left out of the per-bar statistics', () => {
  // Bar 0: 4 onsets; bar 1 empty; bar 2: 8 onsets.
  const s = score([...bar(0, [0, 4, 8, 12], [60]), ...bar(32, EIGHTHS, [60])]);
  assert.equal(bars(s).length, 3);
  const st = structureStats(s);
  assert.equal(st.onsetPositions, 6);
  assert.equal(st.grooving, 0.75, 'one pair, 4 positions of 16 differ');
  assert.equal(st.repeatShare, 0);
});

test('onsets off the grid go to the nearest 16th, across the bar line too', () => {
  const s = emptyScore();
  s.notes = [
    { pitch: 60, velocity: 80, start: 130, end: 200 }, // position 1
    { pitch: 62, velocity: 80, start: 1910, end: 2000 }, // 15.92 -> position 16 = bar 1, position 0
  ];
  const bs = bars(s);
  assert.equal(bs.length, 2);
  assert.deepEqual(bs[0]!.onsets.flatMap((o, i) => (o ? [i] : [])), [1]);
  assert.deepEqual(bs[1]!.onsets.flatMap((o, i) => (o ? [i] : [])), [0]);
  assert.equal(structureStats(s).eighthShare, 0.5);
});

test('polyphony: time-weighted over the time in which something sounds', () => {
  // Two notes together for a beat, one alone for the next: (2 + 1) / 2.
  assert.equal(polyphony(score([[0, 60, 4], [0, 64, 8]])), 1.5);
  // A beat of silence between two single notes does not count.
  assert.equal(polyphony(score([[0, 60, 4], [8, 64, 4]])), 1);
  // A triad held for a bar, then a single note.
  assert.equal(polyphony(score([[0, 60, 16], [0, 64, 16], [0, 67, 16], [16, 72, 16]])), 2);
});

test('pitch-class entropy over 1 and 4 bars: counted by note, windows sliding by a bar', () => {
  // Bar 0: C E G B (2 bits); bar 1: four Cs (0 bits). 1 bar: mean 1. 4 bars: one window of both bars,
  // counts C 5, E 1, G 1, B 1 of 8.
  const two = structureStats(score([...bar(0, [0, 4, 8, 12], [60, 64, 67, 71]), ...bar(16, [0, 4, 8, 12], [60])]));
  close(two.pcEntropy1, 1, '1 bar');
  close(two.pcEntropy4, -(5 / 8) * Math.log2(5 / 8) - 3 * (1 / 8) * Math.log2(1 / 8), '4 bars');
  // Five bars of one note: C C C C D. Windows 0-3 (only C, 0 bits) and 1-4 (C C C D).
  const five = structureStats(score([0, 1, 2, 3, 4].map((b): [number, number, number] => [b * 16, b === 4 ? 62 : 60, 4])));
  close(five.pcEntropy1, 0, '1 bar');
  close(five.pcEntropy4, (0 + (-(3 / 4) * Math.log2(3 / 4) - (1 / 4) * Math.log2(1 / 4))) / 2, '4 bars');
});

test('bars follow the time signature: 3/4 has 12 positions a bar', () => {
  const s = score([...bar(0, [0, 2, 4, 6, 8, 10], [60]), ...bar(12, [0, 4, 8], [60])], [3, 4]);
  assert.deepEqual(barStarts(s, 1440).map((b) => [b.start, b.positions]), [[0, 12], [1440, 12]]);
  const bs = bars(s);
  assert.equal(bs.length, 2);
  assert.equal(bs[1]!.onsets.filter(Boolean).length, 3);
  assert.equal(barGrooving(bs[0]!, bs[1]!), 1 - 3 / 12);
  // A change from 4/4 to 3/4 at bar 1, then 6/8 two bars later.
  const m = emptyScore();
  m.timeSignatures = [{ tick: 0, numerator: 4, denominator: 4 }, { tick: 1920, numerator: 3, denominator: 4 }, { tick: 4800, numerator: 6, denominator: 8 }];
  assert.deepEqual(barStarts(m, 6300).map((b) => [b.start, b.positions]), [[0, 16], [1920, 12], [3360, 12], [4800, 12], [6240, 12]]);
});

test('tempo: the tick-weighted mean over the piece; no notes: RangeError', () => {
  const s = score([[0, 60, 16], [16, 62, 16]]);
  s.tempos = [{ tick: 0, bpm: 100 }, { tick: 960, bpm: 140 }];
  assert.equal(structureStats(s).tempo, (100 * 960 + 140 * 2880) / 3840);
  assert.throws(() => structureStats(emptyScore()), RangeError);
});

/** A summary where every statistic has mean `m` (and std 0, n 1). */
function flat(m: number, over: Partial<Record<StructureKey, number>> = {}): Record<StructureKey, StructureSummary> {
  return Object.fromEntries(STRUCTURE_KEYS.map((k) => [k, { mean: over[k] ?? m, std: 0, n: 1 }])) as Record<StructureKey, StructureSummary>;
}

test('comparison: generated/real per quadrant, flagged outside ±20%; low arousal against 2.2 notes per beat', () => {
  const real = { Q1: flat(10), Q3: flat(10, { tempo: 0 }) };
  const gen = { Q1: flat(8, { grooving: 7.9, polyphony: 12, onsetPositions: 12.1 }), Q3: flat(10, { notesPerBeat: 2.1 }), Q4: flat(3) };
  const r = compareStructure(gen, real);
  assert.equal(r.tolerance, 0.2);
  assert.deepEqual(Object.keys(r.comparison), ['Q1', 'Q3'], 'only quadrants with both sides');
  assert.equal(r.comparison.Q1!.notesPerBeat.ratio, 0.8);
  assert.equal(r.comparison.Q1!.notesPerBeat.within, true, 'exactly 20% below is within');
  assert.equal(r.comparison.Q1!.polyphony.within, true, 'exactly 20% above is within');
  close(r.comparison.Q1!.grooving.ratio, 0.79, 'ratio');
  assert.deepEqual(r.misses.Q1, ['onsetPositions', 'grooving']);
  assert.ok(Number.isNaN(r.comparison.Q3!.tempo.ratio), 'real 0: no ratio');
  assert.deepEqual(r.misses.Q3, ['notesPerBeat', 'tempo'], 'a statistic without a ratio misses');
  assert.deepEqual(r.lowArousal, {
    Q3: { notesPerBeat: 2.1, target: 2.2, met: false },
    Q4: { notesPerBeat: 3, target: 2.2, met: true },
  });
  assert.deepEqual(compareStructure(gen, null).comparison, {}, 'no real clips, no comparison');
});

test('summary: mean and std over the pieces where a statistic is defined', () => {
  const a = structureStats(score(bar(0, EIGHTHS, [60], 2))); // grooving undefined (one bar)
  const b = structureStats(score([...bar(0, EIGHTHS, [60], 2), ...bar(16, [0, 4, 8, 12], [60], 2)]));
  const s = summarizeStructure([a, b]);
  assert.equal(s.onsetPositions.mean, (8 + 6) / 2);
  assert.equal(s.onsetPositions.std, 1);
  assert.equal(s.onsetPositions.n, 2);
  assert.deepEqual(s.grooving, { mean: 0.75, std: 0, n: 1 });
});
