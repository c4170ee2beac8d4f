import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/random.ts';
import { emptyScore } from '../../src/music/score.ts';
import { jitterNotes, randomWarp, renderPerformance, warpTime, type Warp } from '../../src/music/beats/render.ts';
import { checkBeatGrid } from '../../src/music/beat_grid.ts';

test('a known note lands at its computed seconds and ticks of the 120 BPM, 384-per-beat rendering', () => {
  const score = emptyScore();
  score.tempos = [{ tick: 0, bpm: 60 }]; // 1 s per beat
  score.notes = [{ pitch: 60, velocity: 80, start: 960, end: 1440 }]; // 2 s .. 3 s
  const warp: Warp = { leadIn: 0.5, amplitude: 0.04, period: 10, phase: 0 };
  // warp(2) = 0.5 + 2 + (0.04 * 10 / 2pi) * (cos 0 - cos(0.4 pi)) = 2.5 + 0.0636620 * 0.6909830 = 2.5439897 s
  assert.ok(Math.abs(warpTime(warp, 2) - 2.5439897) < 1e-6);
  const out = renderPerformance(score, { beats: [2], downbeats: [2] }, warp);
  // At 120 BPM and 384 ticks per beat: 2.5439897 * 768 = 1953.78 -> 1954 file ticks = 1954 * 480/384 = 2442.5.
  assert.equal(out.score.notes[0]?.start, 2442.5);
  assert.deepEqual(out.score.tempos, [{ tick: 0, bpm: 120 }]);
  assert.ok(Math.abs((out.grid.beats[0] as number) - 2.5439897) < 1e-6);
  // No drift: a pure shift by the lead-in.
  const plain = renderPerformance(score, { beats: [2], downbeats: [] }, { leadIn: 0.5, amplitude: 0, period: 10, phase: 0 });
  assert.equal(plain.score.notes[0]?.start, 2400); // 2.5 s * 960 ticks/s
  assert.equal(plain.score.notes[0]?.end, 3360); // 3.5 s
});

test('random warps are seeded, within their ranges, and keep the grid well formed', () => {
  const a = randomWarp(new Rng(7));
  assert.deepEqual(a, randomWarp(new Rng(7)));
  for (let s = 0; s < 50; s++) {
    const w = randomWarp(new Rng(s));
    assert.ok(w.leadIn >= 0 && w.leadIn <= 2 && w.amplitude >= 0.02 && w.amplitude <= 0.04 && w.period >= 30 && w.period <= 60);
    let prev = -Infinity;
    for (let t = 0; t < 300; t += 0.25) {
      const x = warpTime(w, t);
      assert.ok(x > prev);
      prev = x;
    }
  }
  const grid = { beats: [0.5, 1, 1.5, 2, 2.5], downbeats: [0.5, 2.5] };
  const out = renderPerformance(emptyScore(), grid, a);
  checkBeatGrid(out.grid);
  assert.equal(out.grid.downbeats.length, 2);
});

test('jitterNotes moves each note start and end together, within six jitter widths, seeded, in range', () => {
  const s = emptyScore();
  s.tempos = [{ tick: 0, bpm: 120 }];
  // 200 notes a beat (480 ticks = 0.5 s) apart, 240 ticks long, velocity 64.
  s.notes = Array.from({ length: 200 }, (_, i) => ({ pitch: 60, velocity: 64, start: 1000 + i * 480, end: 1240 + i * 480 }));
  const a = jitterNotes(s, new Rng(5), 0.01, 12);
  assert.deepEqual(a, jitterNotes(s, new Rng(5), 0.01, 12));
  assert.equal(a.notes.length, 200);
  // 0.01 s is 9.6 ticks at 960 ticks per second; the sum of six uniforms times sqrt 2 stays within 3 sqrt 2 widths.
  const moves = a.notes.map((n, i) => n.start - (1000 + i * 480));
  for (const [i, n] of a.notes.entries()) {
    assert.equal(n.end - n.start, 240, `note ${i} keeps its length`);
    assert.ok(Math.abs(moves[i] as number) <= Math.ceil(3 * Math.SQRT2 * 9.6), `note ${i} moved ${moves[i]}`);
    assert.ok(n.velocity >= 1 && n.velocity <= 127);
  }
  assert.ok(moves.some((m) => m !== 0) && a.notes.some((n) => n.velocity !== 64));
  const sd = Math.sqrt(moves.reduce((t, m) => t + m * m, 0) / moves.length);
  assert.ok(sd > 6 && sd < 14, `deviation ${sd} ticks, expected about 9.6`);
  assert.deepEqual(jitterNotes(s, new Rng(5), 0, 0).notes, s.notes);
});
