import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { trackBeats, type BeatTracking } from '../../src/music/beats/track.ts';
import { beatFMeasure, medianTempo } from '../../src/music/beats/metrics.ts';
import { renderPerformance } from '../../src/music/beats/render.ts';
import { MAX_FILE_GRID_BEATS } from '../../src/music/beats/file_grid.ts';
import { evaluatePiece } from '../../src/music/beats/evaluate.ts';
import { checkBeatGrid } from '../../src/music/beat_grid.ts';
import { emptyScore, sortNotes, type Note } from '../../src/music/score.ts';
import { readPop909Song } from '../../src/platform/beats_pop909.ts';
import { steadyPiece } from './_beats.ts';

/** Every expected time has a tracked one within `tol` seconds, and there are no more tracked than expected. */
function assertTimes(got: readonly number[], want: readonly number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} tracked, ${want.length} expected`);
  want.forEach((w, i) => assert.ok(Math.abs((got[i] as number) - w) <= tol, `${what} ${i}: tracked ${got[i]}, expected ${w}`));
}

function assertWellFormed(t: BeatTracking): void {
  checkBeatGrid(t);
  assert.ok(t.confidence >= 0 && t.confidence <= 1);
  assert.ok(t.meter === 3 || t.meter === 4);
  assert.ok(t.tempo.every((p) => Number.isFinite(p.bpm) && p.bpm > 0));
}

test('a steady 4/4 piece at 100 BPM: every beat (0.6 s apart) and downbeat (2.4 s apart) found', () => {
  const p = steadyPiece({ bpm: 100, meter: 4, bars: 16 });
  const t = trackBeats(p.score);
  assertWellFormed(t);
  assert.equal(t.fallback, undefined);
  assert.equal(t.meter, 4);
  assertTimes(t.beats, p.beats, 0.02, 'beat');
  assertTimes(t.downbeats, p.downbeats, 0.02, 'downbeat');
  for (const q of t.tempo) assert.ok(Math.abs(q.bpm - 100) < 1, `tempo ${q.bpm} at ${q.time}`);
  assert.ok(t.confidence > 0.9, `confidence ${t.confidence}`);
});

test('a lead-in of 1.7 s moves every beat by 1.7 s (72 BPM, rendered at 120 BPM on 384 ticks)', () => {
  const p = steadyPiece({ bpm: 72, meter: 4, bars: 12 });
  const r = renderPerformance(p.score, p, { leadIn: 1.7, amplitude: 0, period: 30, phase: 0 });
  const t = trackBeats(r.score);
  assertWellFormed(t);
  assertTimes(t.beats, p.beats.map((b) => b + 1.7), 0.02, 'beat');
  assertTimes(t.downbeats, p.downbeats.map((b) => b + 1.7), 0.02, 'downbeat');
});

test('a tempo drifting by +-5% over 15 s is followed within mir_eval tolerance', () => {
  const p = steadyPiece({ bpm: 100, meter: 4, bars: 20 });
  const r = renderPerformance(p.score, p, { leadIn: 0.4, amplitude: 0.05, period: 15, phase: 1 });
  const t = trackBeats(r.score);
  assertWellFormed(t);
  assertTimes(t.beats, r.grid.beats, 0.05, 'beat');
  assert.equal(beatFMeasure(r.grid.downbeats, t.downbeats, { minTime: 0 }), 1);
  const bpms = t.tempo.map((q) => q.bpm);
  assert.ok(Math.min(...bpms) < 98 && Math.max(...bpms) > 102, `the tempo curve follows the drift: ${Math.min(...bpms)}..${Math.max(...bpms)}`);
});

test('a 3/4 piece at 100 BPM: meter 3, downbeats every 3 beats', () => {
  const p = steadyPiece({ bpm: 100, meter: 3, bars: 20 });
  const t = trackBeats(p.score);
  assertWellFormed(t);
  assert.equal(t.meter, 3);
  assertTimes(t.beats, p.beats, 0.02, 'beat');
  assertTimes(t.downbeats, p.downbeats, 0.02, 'downbeat');
});

test('a 90 BPM waltz: beats 2/3 s apart, meter 3, downbeats every 2 s (the previous tracker read it at 60 BPM in 4/4)', () => {
  const p = steadyPiece({ bpm: 90, meter: 3, bars: 24 });
  const t = trackBeats(p.score);
  assertWellFormed(t);
  assert.equal(t.meter, 3);
  // 24 bars of 3 beats at 60/90 s: 72 beats, 24 downbeats 2 s apart.
  assert.equal(p.beats.length, 72);
  assertTimes(t.beats, p.beats, 0.02, 'beat');
  assertTimes(t.downbeats, p.downbeats, 0.02, 'downbeat');
  for (const q of t.tempo) assert.ok(Math.abs(q.bpm - 90) < 1, `tempo ${q.bpm} at ${q.time}`);
});

test('a steady 120 BPM 4/4 piece with a bass note on every beat is tracked at 120 BPM (the previous tracker halved it)', () => {
  const p = steadyPiece({ bpm: 120, meter: 4, bars: 24, bassEvery: 1 });
  const t = trackBeats(p.score);
  assertWellFormed(t);
  assert.equal(t.meter, 4);
  // 96 beats 0.5 s apart, downbeats 2 s apart.
  assertTimes(t.beats, p.beats, 0.02, 'beat');
  assertTimes(t.downbeats, p.downbeats, 0.02, 'downbeat');
  for (const q of t.tempo) assert.ok(Math.abs(q.bpm - 120) < 1, `tempo ${q.bpm} at ${q.time}`);
  // The comb's own period (all candidate weights 0) is the half tempo.
  assert.ok(Math.abs(medianTempo(trackBeats(p.score, { tempoWeights: [] }).beats) - 60) < 1);
});

test('tracking is deterministic', () => {
  const p = steadyPiece({ bpm: 100, meter: 4, bars: 8 });
  const r = renderPerformance(p.score, p, { leadIn: 0.3, amplitude: 0.03, period: 20, phase: 2 });
  assert.deepEqual(trackBeats(r.score), trackBeats(r.score));
});

const note = (start: number, pitch = 60): Note => ({ pitch, velocity: 80, start, end: start + 240 });

test('too sparse, too short and too long pieces get the file grid with a one-line reason', () => {
  const sparse = emptyScore();
  sparse.tempos = [{ tick: 0, bpm: 120 }];
  sparse.notes = [note(0), note(480), note(1920)];
  const t = trackBeats(sparse);
  assert.match(t.fallback ?? '', /^too sparse to track: 3 onset events/);
  assert.ok(!(t.fallback ?? '').includes('\n'));
  // The file grid: a beat every 480 ticks through the last note's end (2160), 0.5 s apart at 120 BPM.
  assert.deepEqual(t.beats, [0, 0.5, 1, 1.5, 2]);
  assert.deepEqual(t.downbeats, [0, 2]);
  assert.equal(t.confidence, 0);

  const short = emptyScore();
  short.notes = Array.from({ length: 12 }, (_, i) => note(i * 120));
  assert.match(trackBeats(short).fallback ?? '', /^too short to track/);

  const long = emptyScore();
  long.notes = Array.from({ length: 20 }, (_, i) => note(i * 480 * 500)); // 250 s apart: 4750 s
  const tl = trackBeats(long);
  assert.match(tl.fallback ?? '', /^too long to track/);
  assert.ok(tl.beats.length <= MAX_FILE_GRID_BEATS);

  const waltz = steadyPiece({ bpm: 100, meter: 3, bars: 1 }).score;
  waltz.timeSignatures = [{ tick: 0, numerator: 3, denominator: 4 }];
  const tw = trackBeats(waltz);
  assert.ok(tw.fallback !== undefined);
  assert.equal(tw.meter, 3);

  const none = trackBeats(emptyScore());
  assert.deepEqual([none.beats, none.downbeats], [[], []]);
  assert.ok(none.fallback !== undefined);
});

test('degenerate pieces finish with a well-formed result', () => {
  const pieces: Note[][] = [
    Array.from({ length: 1000 }, (_, i) => note(0, 30 + (i % 60))), // one huge chord
    Array.from({ length: 6000 }, (_, i) => note(i * 5)), // a note every 5 ms for 30 s
    [...Array.from({ length: 10 }, (_, i) => note(i * 480)), note(2 ** 40)], // a note after 2^40 ticks
    Array.from({ length: 50 }, (_, i) => note(Math.floor(((i * 7919) % 997) * 48))), // irregular
  ];
  for (const notes of pieces) {
    const s = emptyScore();
    s.notes = sortNotes(notes);
    const t = trackBeats(s);
    assertWellFormed(t);
    assert.ok(t.beats.length <= MAX_FILE_GRID_BEATS);
  }
});

const POP909 = '../shared/data/pop909';
test('a real POP909 song, rendered with a false grid, is tracked (needs the shared data)', { skip: existsSync(`${POP909}/annotations/002/beat_midi.txt`) ? false : `no POP909 at ${POP909}` }, () => {
  const r = evaluatePiece(readPop909Song(POP909, 2), 1, () => performance.now());
  assert.equal(r.fallback, undefined);
  assert.ok(r.tempoOk, `tempo ${r.bpm} against ${r.refBpm}`);
  assert.ok(r.beatF > 0.8, `beat F ${r.beatF}`);
});
