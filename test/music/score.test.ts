/** The pure score transforms: sustain pedal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySustain, emptyScore, type Score } from '../../src/index.ts';

function score(notes: Array<[number, number, number]>, pedals: Array<[number, boolean]> = []): Score {
  const s = emptyScore();
  s.notes = notes.map(([pitch, start, end]) => ({ pitch, velocity: 64, start, end }));
  s.pedals = pedals.map(([tick, down]) => ({ tick, down }));
  return s;
}

test('applySustain: notes released under the pedal last until it lifts or the pitch is struck again', () => {
  const s = score([[60, 0, 100], [64, 0, 600], [60, 300, 400], [67, 1200, 1300]], [[50, true], [500, false], [1250, true]]);
  const out = applySustain(s);
  assert.deepEqual(out.notes.map((n) => [n.pitch, n.start, n.end]), [
    [60, 0, 300], // held by the pedal to 500, cut at the re-strike at 300
    [64, 0, 600], // released after the pedal lifted: unchanged
    [60, 300, 500],
    [67, 1200, 1300], // pedal pressed at 1250 and never lifted: held to the end of the last note
  ]);
  assert.deepEqual(out.pedals, []);
  assert.deepEqual(s.notes[0], { pitch: 60, velocity: 64, start: 0, end: 100 }, 'the input is not changed');
});
