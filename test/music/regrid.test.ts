import { test } from 'node:test';
import assert from 'node:assert/strict';
import { regrid, inferMeter, trackedBeatGrid } from '../../src/music/regrid.ts';
import { beatTrueRoundTrip } from '../../src/music/round_trip.ts';
import { emptyScore, type Score } from '../../src/music/score.ts';
import { scoreToEvents } from '../../src/music/cp_tokenizer.ts';
import { secondsAt } from '../../src/music/time_map.ts';
import { TEMPO_BINS } from '../../src/music/vocab.ts';
import { InputError, UsageError } from '../../src/errors.ts';
import { Rng } from '../../src/random.ts';
import { randomWarp, renderPerformance } from '../../src/music/beats/render.ts';
import { steadyPiece } from './_beats.ts';

/** A score at the file's 120 BPM (960 ticks a second) with notes at the given seconds, each 0.1 s long. */
function scoreAt(seconds: number[], pitch = 60): Score {
  const s = emptyScore();
  s.tempos.push({ tick: 0, bpm: 120 });
  s.notes = seconds.map((t, i) => ({ pitch: pitch + (i % 12), velocity: 80, start: t * 960, end: (t + 0.1) * 960 }));
  return s;
}
const close = (a: number, b: number, eps = 1e-6, what = '') => assert.ok(Math.abs(a - b) <= eps, `${what}: ${a} vs ${b}`);
/** [bar, position] of each note in the words. */
function positions(score: Score): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let bar = -1;
  let pos = 0;
  for (const ev of scoreToEvents(score, { chords: 'none' }).events) {
    if (ev.barbeat === 'Bar') [bar, pos] = [bar + 1, 0];
    else if (typeof ev.barbeat === 'string') pos = Number(ev.barbeat.slice(5));
    if (ev.type === 'Note') out.push([bar, pos]);
  }
  return out;
}

// 100 BPM that slows down: beat k at 0.5 + 0.6k + 0.002k^2 s, so beat k lasts 0.602 + 0.004k s.
const drift = (k: number) => 0.5 + 0.6 * k + 0.002 * k * k;
const driftGrid = { beats: Array.from({ length: 13 }, (_, k) => drift(k)), downbeats: [drift(0), drift(4), drift(8), drift(12)] };

test('regrid: beats at 100 BPM with drift become 480 ticks each; 8ths and 16ths of a beat land on its positions', () => {
  // Notes: on beats 0, 1 and 5; halfway into beat 2; a quarter into beat 6; one 0.2 s before the first beat.
  const t = [drift(0), drift(1), (drift(2) + drift(3)) / 2, drift(5), drift(6) + (drift(7) - drift(6)) / 4, 0.2];
  const r = regrid(scoreAt(t), driftGrid);
  assert.equal(r.meter, 4);
  assert.equal(r.stretchedBars, 0);
  assert.equal(r.pickupBeats, 0);
  // The note before the first beat is extrapolated at the first beat's length (0.602 s): (0.2 - 0.5) / 0.602 beat
  // = -239.2 ticks, so one bar is put in front and every tick moves by 1920.
  const starts = r.score.notes.map((n) => n.start).sort((a, b) => a - b);
  const want = [1920 - (0.3 / 0.602) * 480, 1920, 1920 + 480, 1920 + 2 * 480 + 240, 1920 + 5 * 480, 1920 + 6 * 480 + 120];
  want.forEach((w, i) => close(starts[i] as number, w, 1e-6, `note ${i}`));
  // A release 0.1 s after the onset on beat 1 (which lasts 0.606 s): 0.1/0.606 of a beat.
  const onBeat1 = r.score.notes.find((n) => Math.abs(n.start - 2400) < 1e-6)!;
  close(onBeat1.end - onBeat1.start, (0.1 / 0.606) * 480, 1e-6, 'release');
  // Words: the extrapolated note on bar 0 position 12 (1680.8 ticks rounds to 1680), the rest from bar 1 on.
  assert.deepEqual(positions(r.score), [[0, 14], [1, 0], [1, 4], [1, 10], [2, 4], [2, 9]]);
  // Tempo: the first segment (tick 0 to 1920, extrapolated at 0.602 s a beat) wants 60/0.602 = 99.67 BPM: bin 101.
  assert.deepEqual(r.score.tempos[0], { tick: 0, bpm: 101 });
  assert.ok(r.score.tempos.every((x) => TEMPO_BINS.includes(x.bpm) && x.tick % 480 === 0));
  // The binned tempo map keeps the clock within 10 ms of the beats, plus half a bin step (60/98 - 60/101 s / 2).
  const sec = secondsAt(r.score.tempos);
  const origin = r.secondsOf(0);
  for (let k = 0; k < 13; k++) close(sec(1920 + 480 * k) + origin, drift(k), 0.01 + (60 / 98 - 60 / 101) / 2, `beat ${k}`);
  assert.ok(r.maxTempoDrift <= 0.01 + 0.01);
  close(r.secondsOf(1920 + 480 * 3), drift(3), 1e-9, 'secondsOf is the exact map');
});

test('regrid: a 3/4 grid keeps 480 ticks a beat and 4-beat CP bars, so downbeats cycle through positions 0, 12, 8, 4', () => {
  const beats = Array.from({ length: 13 }, (_, k) => 1 + 0.5 * k);
  const grid = { beats, downbeats: [beats[0]!, beats[3]!, beats[6]!, beats[9]!, beats[12]!] };
  assert.equal(inferMeter(grid), 3);
  const r = regrid(scoreAt([1, 2.5, 4, 5.5]), grid);
  assert.equal(r.meter, 3);
  assert.equal(r.stretchedBars, 0);
  assert.deepEqual(r.score.notes.map((n) => n.start), [0, 1440, 2880, 4320].map((x) => x));
  assert.deepEqual(positions(r.score), [[0, 0], [0, 12], [1, 8], [2, 4]]);
  // 120 BPM falls between bins 119 and 122: 119 runs 4.2 ms a beat slow, so after two beats (8.4 ms) the third
  // would pass 10 ms, and 122 is written at beat 2 (tick 960) to catch up; the two alternate from then on.
  assert.deepEqual(r.score.tempos.slice(0, 2), [{ tick: 0, bpm: 119 }, { tick: 960, bpm: 122 }]);
  assert.ok(r.score.tempos.every((x) => x.bpm === 119 || x.bpm === 122));
  // A tracker's grid says its meter, which wins over the inferred one.
  assert.equal(regrid(scoreAt([1]), { ...grid, meter: 4 }).meter, 4);
});

test('regrid: a pickup fills the end of the bar before the first downbeat', () => {
  const beats = Array.from({ length: 10 }, (_, k) => 0.5 * k);
  // The first downbeat is beat 2 (1.0 s): beats 0 and 1 are a pickup.
  const r = regrid(scoreAt([0, 0.5, 1, 1.25, 3]), { beats, downbeats: [1, 3] });
  assert.equal(r.pickupBeats, 2);
  // 3 s is beat 6, the second downbeat: bar 2.
  assert.deepEqual(r.score.notes.map((n) => n.start), [960, 1440, 1920, 2160, 3840]);
  assert.deepEqual(positions(r.score), [[0, 8], [0, 12], [1, 0], [1, 2], [2, 0]]);
});

test('regrid: a 2-beat bar in 4/4 is stretched over one CP bar, its tempo doubled, and bars stay on the downbeats', () => {
  const beats = Array.from({ length: 15 }, (_, k) => 0.75 * k); // 80 BPM
  const grid = { beats, downbeats: [0, 3, 4.5, 7.5] }; // bars of 4, 2, 4 beats
  const r = regrid(scoreAt([0, 3, 3.75, 4.5, 5.25]), grid);
  assert.equal(r.stretchedBars, 1);
  // Beat 4 (3 s) starts bar 1; beat 5 (3.75 s) is halfway through it; beat 6 (4.5 s) starts bar 2.
  assert.deepEqual(r.score.notes.map((n) => n.start), [0, 1920, 2880, 3840, 4320]);
  assert.deepEqual(positions(r.score), [[0, 0], [1, 0], [1, 8], [2, 0], [2, 4]]);
  // 80 BPM is bin 80; the stretched bar holds 4 CP beats in 1.5 s: 160 BPM, bin 161; then 80 again.
  assert.deepEqual(r.score.tempos, [{ tick: 0, bpm: 80 }, { tick: 1920, bpm: 161 }, { tick: 3840, bpm: 80 }]);
});

test('regrid: a grid without downbeats starts its bars at its first beat; bad grids are InputErrors', () => {
  const r = regrid(scoreAt([0.5, 1]), { beats: [0.5, 1, 1.5], downbeats: [] });
  assert.deepEqual(r.score.notes.map((n) => n.start), [0, 480]);
  assert.throws(() => regrid(scoreAt([1]), { beats: [1], downbeats: [1] }), (e: unknown) => e instanceof InputError && /at least 2 beats, got 1/.test(e.message));
  assert.throws(() => regrid(scoreAt([1]), { beats: [2, 1], downbeats: [] }), InputError);
});

test('--grid beats: a performance on a false grid round-trips through the tracked beats, every note kept, onsets within 40 ms', () => {
  // 16 bars at 96 BPM rendered as EMOPIA's clips are written (one 120 BPM track, a lead-in, a slow drift).
  const piece = steadyPiece({ bpm: 96, meter: 4, bars: 16 });
  const perf = renderPerformance(piece.score, { beats: piece.beats, downbeats: piece.downbeats }, randomWarp(new Rng(3)));
  const tracked = trackedBeatGrid(perf.score);
  assert.equal(tracked.fallback, undefined);
  assert.equal(tracked.meter, 4);
  const rt = beatTrueRoundTrip(perf.score, tracked, { chords: 'none' });
  assert.equal(rt.notesOut, rt.notesIn);
  assert.equal(rt.errors.length, perf.score.notes.length);
  const worst = Math.max(...rt.errors.map(Math.abs));
  assert.ok(worst <= 0.04, `worst onset error ${(worst * 1000).toFixed(1)} ms`);
  // Bars follow the tracked downbeats: every bass note (one per bar, on its downbeat) is at a bar's position 0.
  const beatTrue = regrid(perf.score, tracked).score;
  const bass = beatTrue.notes.filter((n) => n.pitch < 48);
  assert.equal(bass.length, 16);
  for (const n of bass) assert.equal(n.start % 1920, 0, `bass note at tick ${n.start}`);
});

test('--grid beats: a piece too sparse to track falls back to the file grid and says why', () => {
  const g = trackedBeatGrid(scoreAt([1, 2]));
  assert.match(g.fallback ?? '', /too sparse to track/);
  assert.ok(g.beats.length >= 2);
});

test('round trip on an irregular beat grid: every note kept, every onset within 30 ms after encode, decode and MIDI', () => {
  // 90 beats whose lengths wander between 0.45 and 0.85 s, downbeats every 4 beats from beat 1 (a pickup), one
  // 6-beat bar; notes on 16ths of those beats (quantization then costs nothing: what is left is tempo binning).
  const beats = [0.3];
  for (let k = 1; k < 90; k++) beats.push(beats[k - 1]! + 0.65 + 0.2 * Math.sin(k / 5));
  const down = [1, 5, 9, 15, 19];
  for (let i = 23; i < 90; i += 4) down.push(i);
  const grid = { beats, downbeats: down.map((i) => beats[i]!) };
  const times: number[] = [];
  for (let k = 0; k + 1 < beats.length; k++) {
    if (k >= 9 && k < 15) continue; // no notes in the stretched bar, whose inner positions are not 16ths
    for (const q of [0, 1, 2, 3]) if ((k * 7 + q * 3) % 5 !== 0) times.push(beats[k]! + (q / 4) * (beats[k + 1]! - beats[k]!));
  }
  const score = scoreAt(times);
  const rt = beatTrueRoundTrip(score, grid, { chords: 'none' });
  assert.equal(rt.notesOut, rt.notesIn);
  assert.equal(rt.errors.length, score.notes.length);
  const worst = Math.max(...rt.errors.map(Math.abs));
  assert.ok(worst <= 0.03, `worst onset error ${worst * 1000} ms`);
  // The same piece on the file's own grid (120 BPM, unrelated to its beats) is far off: the check can fail.
  const fileGrid = { beats: Array.from({ length: 200 }, (_, k) => 0.5 * k), downbeats: Array.from({ length: 50 }, (_, k) => 2 * k) };
  const off = beatTrueRoundTrip(score, fileGrid, { chords: 'none' });
  assert.ok(Math.max(...off.errors.map(Math.abs)) > 0.05);
});

test('regrid: a short bar too fast to stretch keeps its beats, and the next bar is stretched back onto the bar lines', () => {
  const beats = Array.from({ length: 20 }, (_, k) => 0.4 * k); // 150 BPM
  // Bars of 4, 2, 4, 4 beats. Stretching the 2-beat bar over a CP bar would need 300 BPM (the family stops at
  // 224), so it keeps 960 ticks; the next bar (natural end 2880 + 1920 = 4800) ends on the bar line 5760 (x1.5,
  // 225 BPM, sayable) rather than 3840 (x0.5, equally far; ties go to the later line).
  const grid = { beats, downbeats: [0, 4, 6, 10, 14].map((k) => beats[k]!) };
  const r = regrid(scoreAt([0, 4, 6, 8, 10].map((k) => beats[k]!)), grid);
  assert.equal(r.stretchedBars, 1);
  assert.deepEqual(r.score.notes.map((n) => n.start), [0, 1920, 2880, 4320, 5760]);
  assert.deepEqual(positions(r.score), [[0, 0], [1, 0], [1, 8], [2, 4], [3, 0]]);
});

test('regrid: bars of 6 beats (6/8) read as meter 3, beats 480 ticks apart, nothing stretched', () => {
  const beats = Array.from({ length: 25 }, (_, k) => 0.33 * k);
  const grid = { beats, downbeats: [0, 6, 12, 18, 24].map((k) => beats[k]!) };
  assert.equal(inferMeter(grid), 3);
  const r = regrid(scoreAt([0, 0.33 * 6, 0.33 * 7]), grid);
  assert.equal(r.stretchedBars, 0);
  assert.deepEqual(r.score.notes.map((n) => Math.round(n.start * 1e6) / 1e6), [0, 2880, 3360]);
});

test('regrid: a note held for 2^28 beats is re-timed without walking its length (tempo points stop at 10,000 bars)', () => {
  const s = scoreAt([0.5]);
  s.notes[0]!.end = 2 ** 28 * 480;
  const r = regrid(s, { beats: [0.5, 1, 1.5], downbeats: [0.5] });
  assert.equal(r.score.notes[0]!.start, 0);
  assert.equal(r.score.notes[0]!.end, 2 ** 28 * 480 - 480); // beats of 0.5 s from 0.5 s: the file's beats, one earlier
  // At most one tempo value a beat, and none past 10,000 bars.
  assert.ok(r.score.tempos.length <= 10000 * 4, `${r.score.tempos.length} tempo changes`);
  assert.ok(r.score.tempos.every((t) => t.tick <= 10000 * 1920));
});
