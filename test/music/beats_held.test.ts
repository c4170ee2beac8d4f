import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beatFeatures } from '../../src/music/beats/downbeats.ts';
import { onsetEvents, type OnsetEvent } from '../../src/music/beats/onsets.ts';
import { trackBeats } from '../../src/music/beats/track.ts';
import { emptyScore, sortNotes, type Note } from '../../src/music/score.ts';

function event(time: number, ends: number[]): OnsetEvent {
  return { time, size: ends.length, loudness: 0.5 * ends.length, low: 60, longest: Math.max(...ends) - time, chroma: new Float64Array(12).fill(1), ends };
}

test('beatFeatures.held: the beats of sound held over each beat by notes struck before it (at most 1 per note)', () => {
  // Beats 1 s apart (windows of 0.12 s). A note from 0.5 to 1.5 s holds 0.5 beat over beat 1; one from 0 to 3.5 s
  // holds a full beat over beats 1 and 2 and 0.5 over beat 3; a note ending inside a beat's window holds nothing.
  const events = [event(0, [3.5]), event(0.5, [1.5]), event(2.2, [3.05])];
  const f = beatFeatures([0, 1, 2, 3], events, [1, 1, 1]);
  assert.deepEqual(f.held, [0, 1.5, 1, 0.5]);
});

test('onsetEvents records the release of every note of a chord, in seconds', () => {
  // 120 BPM, 480 ticks a beat: a chord at 0 (ends at 1 and 0.5 s) and a note 10 ms later join one event.
  const score = emptyScore();
  score.tempos = [{ tick: 0, bpm: 120 }];
  score.notes = sortNotes([
    { pitch: 48, velocity: 80, start: 0, end: 960 },
    { pitch: 64, velocity: 80, start: 0, end: 480 },
    { pitch: 67, velocity: 80, start: 9.6, end: 1449.6 },
  ]);
  const events = onsetEvents(score);
  assert.equal(events.length, 1);
  assert.deepEqual([...(events[0] as OnsetEvent).ends].sort((a, b) => a - b).map((x) => Math.round(x * 1000) / 1000), [0.5, 1, 1.51]);
});

/**
 * 16 bars of 4/4 at 100 BPM starting on beat 3 (a half-bar pickup): beats 1 and 3 strike the same bass and triad
 * (same lengths, one harmony throughout), beat 3 louder; beats 2 and 4 a softer, higher bass and dyad, with quiet
 * eighths between the beats. Beat 3 has the accent; what marks beat 1 is that the eighth before beat 3 is held
 * over it (to beat 4), while nothing is held over beat 1.
 */
function heldPiece(): { score: ReturnType<typeof emptyScore>; downbeats: number[] } {
  const T = 480;
  const spb = 0.6;
  const notes: Note[] = [];
  const downbeats: number[] = [];
  for (let beat = 0; beat < 64; beat++) {
    const inBar = (beat + 2) % 4; // the first beat is beat 3 of its bar
    const tick = beat * T;
    if (inBar === 0) downbeats.push(beat * spb);
    if (inBar === 0 || inBar === 2) {
      const loud = inBar === 2 ? 12 : 0;
      notes.push({ pitch: 36, velocity: 90 + loud, start: tick, end: tick + T });
      for (const p of [60, 64, 67]) notes.push({ pitch: p, velocity: 80 + loud, start: tick, end: tick + T });
    } else {
      notes.push({ pitch: 43, velocity: 70, start: tick, end: tick + T / 2 });
      for (const p of [64, 67]) notes.push({ pitch: p, velocity: 64, start: tick, end: tick + T / 2 });
    }
    // Quiet eighths between the beats, released on the next beat; the one before beat 3 is held over it.
    notes.push({ pitch: 76, velocity: 44, start: tick + T / 2, end: tick + (inBar === 1 ? 2 * T : T) });
  }
  const score = emptyScore();
  score.notes = sortNotes(notes);
  score.tempos = [{ tick: 0, bpm: 100 }];
  return { score, downbeats };
}

test('a 4/4 piece whose loudest beat is beat 3 gets its downbeats on beat 1, where no note is held over', () => {
  const p = heldPiece();
  const t = trackBeats(p.score);
  assert.equal(t.meter, 4);
  assert.equal(t.downbeats.length, p.downbeats.length);
  t.downbeats.forEach((d, i) => assert.ok(Math.abs(d - (p.downbeats[i] as number)) < 0.02, `downbeat ${i}: ${d}, expected ${p.downbeats[i]}`));
  // Without the held feature the accent wins: the downbeats fall on beat 3, two beats (1.2 s) early.
  const without = trackBeats(p.score, { downbeat: { held: 0 } });
  assert.equal(without.downbeats.length, 16);
  without.downbeats.forEach((d, i) => assert.ok(Math.abs(d - 2.4 * i) < 0.02, `downbeat ${i} without held: ${d}, expected ${2.4 * i}`));
});
