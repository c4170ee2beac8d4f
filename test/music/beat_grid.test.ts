import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBeatAnnotations, checkBeatGrid } from '../../src/music/beat_grid.ts';
import { secondsAt, ticksAt } from '../../src/music/time_map.ts';
import { InputError } from '../../src/errors.ts';

test('parseBeatAnnotations reads POP909 beat lines, downbeats from the third column', () => {
  const text = '0.51 1.0 1.0\n1.4777 0.0 0.0\n2.4454 1.0 0.0\n\n3.4132 0.0 0.0\n4.3809 1.0 1.0\n';
  const g = parseBeatAnnotations(text);
  assert.deepEqual(g.beats, [0.51, 1.4777, 2.4454, 3.4132, 4.3809]);
  assert.deepEqual(g.downbeats, [0.51, 4.3809]);
});

test('parseBeatAnnotations refuses malformed lines and unordered beats with InputError', () => {
  assert.throws(() => parseBeatAnnotations('0.5 1.0\n'), (e: unknown) => e instanceof InputError && /line 1/.test(e.message));
  assert.throws(() => parseBeatAnnotations('0.5 1 2\n'), InputError);
  assert.throws(() => parseBeatAnnotations('1.0 0 0\n0.5 0 0\n'), /strictly increasing/);
  assert.throws(() => checkBeatGrid({ beats: [0, 1], downbeats: [0.5] }), /every downbeat to be a beat/);
});

test('secondsAt and ticksAt are inverses across tempo changes', () => {
  const tempos = [{ tick: 0, bpm: 120 }, { tick: 960, bpm: 60 }, { tick: 1920, bpm: 90 }];
  const sec = secondsAt(tempos);
  const tick = ticksAt(tempos);
  // 960 ticks at 120 BPM = 1 s; then 960 ticks at 60 BPM = 2 s; then 480 ticks at 90 BPM = 2/3 s.
  assert.equal(sec(960), 1);
  assert.equal(sec(1920), 3);
  assert.ok(Math.abs(sec(2400) - (3 + 2 / 3)) < 1e-12);
  for (const t of [0, 100, 960, 1500, 1920, 2400, 9999]) assert.ok(Math.abs(tick(sec(t)) - t) < 1e-9, `tick ${t}`);
  // No tempo at all: MIDI's default 120 BPM.
  assert.equal(secondsAt([])(480), 0.5);
  assert.equal(ticksAt([])(0.5), 480);
});
