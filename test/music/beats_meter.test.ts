import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/random.ts';
import { chooseMeter, DEFAULT_DOWNBEAT } from '../../src/music/beats/downbeats.ts';
import { trackBeats } from '../../src/music/beats/track.ts';
import { annotatedMeter, evaluatePiece, excerptPerformance, summarize } from '../../src/music/beats/evaluate.ts';
import { renderPerformance } from '../../src/music/beats/render.ts';
import { emptyScore, sortNotes, type Note, type Score } from '../../src/music/score.ts';
import { steadyPiece } from './_beats.ts';

/** Share of 200 seeded draws of `n` downbeat scores (a pulse of `amp` every `meter` beats plus unit noise) read as 3/4. */
function tripleRate(n: number, amp: number, meter: number, tripleErrors: number): number {
  const rng = new Rng(7);
  let threes = 0;
  for (let d = 0; d < 200; d++) {
    const scores = Array.from({ length: n }, (_, i) => (i % meter === 0 ? amp : 0) + rng.normal());
    if (chooseMeter(scores, { ...DEFAULT_DOWNBEAT, tripleErrors }).meter === 3) threes++;
  }
  return threes / 200;
}

test('chooseMeter: noise over 32 beats is 3/4 in a fifth of draws with the fixed margin alone, almost never with the error term', () => {
  assert.ok(tripleRate(32, 0, 4, 0) > 0.15, `fixed margin alone: ${tripleRate(32, 0, 4, 0)}`);
  assert.ok(tripleRate(32, 0, 4, DEFAULT_DOWNBEAT.tripleErrors) <= 0.02, `default: ${tripleRate(32, 0, 4, DEFAULT_DOWNBEAT.tripleErrors)}`);
});

test('chooseMeter: a clear pulse every 3 beats over 8 bars is still 3/4, and the contrasts are reported', () => {
  assert.ok(tripleRate(24, 3, 3, DEFAULT_DOWNBEAT.tripleErrors) >= 0.9, `${tripleRate(24, 3, 3, DEFAULT_DOWNBEAT.tripleErrors)}`);
  const c = chooseMeter([3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0]);
  assert.equal(c.meter, 3);
  assert.equal(c.phase, 0);
  assert.equal(c.three, 3);
  assert.equal(c.contrast, 3);
  assert.ok(c.four < c.three);
});

/** `beats` beats at `bpm` of one chord each, all equally loud, with seeded random bass and harmony: no metre. */
function randomChords(seed: number, beats: number, bpm: number): Score {
  const rng = new Rng(seed);
  const notes: Note[] = [];
  for (let b = 0; b < beats; b++) {
    const t = b * 480;
    const root = rng.nextInt(12);
    notes.push({ pitch: 36 + rng.nextInt(12), velocity: 70, start: t, end: t + 480 });
    for (const iv of [0, 4, 7]) notes.push({ pitch: 60 + root + iv, velocity: 70, start: t, end: t + 480 });
    notes.push({ pitch: 72 + rng.nextInt(12), velocity: 50, start: t + 240, end: t + 480 });
  }
  const s = emptyScore();
  s.notes = sortNotes(notes);
  s.tempos = [{ tick: 0, bpm }];
  return s;
}

test('short pieces without metrical accents are not read as 3/4 (20 seeded clips of 48 beats)', () => {
  let now = 0;
  let before = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const s = randomChords(seed, 48, 100);
    if (trackBeats(s).meter === 3) now++;
    if (trackBeats(s, { downbeat: { tripleErrors: 0 } }).meter === 3) before++;
  }
  assert.equal(now, 0);
  assert.ok(before >= 4, `with the fixed margin alone ${before} of 20 were 3/4`);
});

test('a short waltz (10 bars at 100 BPM, bass on 1) is 3/4 with its downbeats, and its evidence says why', () => {
  const p = steadyPiece({ bpm: 100, meter: 3, bars: 10 });
  const t = trackBeats(p.score);
  assert.equal(t.meter, 3);
  assert.equal(t.downbeats.length, p.downbeats.length);
  t.downbeats.forEach((d, i) => assert.ok(Math.abs(d - (p.downbeats[i] as number)) < 0.02, `downbeat ${i}: ${d}`));
  assert.ok(t.meterEvidence !== undefined && t.meterEvidence.three > t.meterEvidence.four + 1, JSON.stringify(t.meterEvidence));
});

test('annotatedMeter reads 4 from downbeats every 4 beats, 3 from every 3 or 6 (POP909 triple songs)', () => {
  const beats = Array.from({ length: 25 }, (_, i) => i * 0.5);
  const every = (k: number) => ({ beats, downbeats: beats.filter((_, i) => i % k === 0) });
  assert.equal(annotatedMeter(every(4)), 4);
  assert.equal(annotatedMeter(every(2)), 4);
  assert.equal(annotatedMeter(every(3)), 3);
  assert.equal(annotatedMeter(every(6)), 3);
  assert.equal(annotatedMeter({ beats, downbeats: [] }), 4);
});

test('excerptPerformance keeps the notes and grid of the window, moved to start at 0', () => {
  const p = steadyPiece({ bpm: 100, meter: 4, bars: 12 });
  const perf = renderPerformance(p.score, p, { leadIn: 0, amplitude: 0, period: 30, phase: 0 });
  const ex = excerptPerformance(perf, 6, 12);
  assert.deepEqual(ex.grid.beats, p.beats.filter((t) => t >= 6 && t < 18).map((t) => t - 6));
  assert.deepEqual(ex.grid.downbeats, p.downbeats.filter((t) => t >= 6 && t < 18).map((t) => t - 6));
  // 120 BPM, 480 ticks per beat: 960 ticks per second.
  const inWindow = perf.score.notes.filter((n) => n.start >= 6 * 960 && n.start < 18 * 960);
  assert.equal(ex.score.notes.length, inWindow.length);
  assert.ok(ex.score.notes.every((n) => n.start >= 0 && n.end <= 12 * 960 && n.end > n.start));
  assert.equal(ex.score.notes[0]?.start, (inWindow[0]?.start as number) - 6 * 960);
});

test('evaluatePiece with an excerpt scores the window and the meter; summarize counts the meters', () => {
  const four = steadyPiece({ bpm: 100, meter: 4, bars: 40 });
  const three = steadyPiece({ bpm: 100, meter: 3, bars: 40 });
  const clock = () => 0;
  const r4 = evaluatePiece({ id: 1, score: four.score, grid: four }, 1, clock, { excerpt: 30 });
  const r3 = evaluatePiece({ id: 2, score: three.score, grid: three }, 1, clock, { excerpt: 30 });
  assert.equal(r4.refMeter, 4);
  assert.equal(r3.refMeter, 3);
  assert.equal(r4.meter, 4);
  assert.equal(r3.meter, 3);
  assert.ok(r4.beatF > 0.95 && r3.beatF > 0.95, `${r4.beatF} ${r3.beatF}`);
  const s = summarize([r4, r3]);
  assert.equal(s.meterAccuracy, 1);
  assert.deepEqual(s.meters, { annotated3: 1, annotated4: 1, fourAs3: 0, threeAs4: 0 });
});
