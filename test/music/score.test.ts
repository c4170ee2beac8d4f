/** The pure score transforms: sustain pedal and re-timing onto tracked beats. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySustain, emptyScore, retimeToBeats, type Score } from '../../src/index.ts';

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

test('retimeToBeats: tracked beats become 480-tick beats, with one tempo per beat', () => {
  // Beats at uneven source ticks; one source tick is 1 ms, so a 500-tick beat is 120 BPM.
  const s = score([[60, 0, 500], [62, 750, 1000], [64, 1000, 1600]]);
  const out = retimeToBeats(s, [0, 500, 1000, 1600], (t) => t / 1000);
  assert.deepEqual(out.notes.map((n) => [n.pitch, n.start, n.end]), [[60, 0, 480], [62, 720, 960], [64, 960, 1440]]);
  assert.deepEqual(out.tempos.map((t) => [t.tick, Math.round(t.bpm * 100) / 100]), [[0, 120], [480, 120], [960, 100]]);
  // Past the last beat, the last interval (600 ticks) continues: 2200 is one beat after 1600.
  assert.equal(retimeToBeats(score([[60, 2200, 2300]]), [0, 500, 1000, 1600], (t) => t / 1000).notes[0]?.start, 1920);
  assert.throws(() => retimeToBeats(s, [0], (t) => t), /at least 2 beats/);
});
