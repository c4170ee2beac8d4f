/** Musical statistics and features against hand-computed values on a hand-made piece. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyScore, type Note, type Score } from '../../src/music/score.ts';
import { entropyBits, meanTempo, pieceStats } from '../../src/classify/stats.ts';
import { quantizedScore } from '../../src/classify/timing.ts';
import { secondsAt } from '../../src/music/time_map.ts';
import { clipFeatures, estimateKey, FEATURE_NAMES } from '../../src/classify/features.ts';

const B = 480;
const chord = (pitches: number[], vels: number[], from: number, to: number): Note[] =>
  pitches.map((pitch, i) => ({ pitch, velocity: vels[i] as number, start: from * B, end: to * B }));

/**
 * One 4/4 bar at 120 BPM: C major (C4 E4 G4) held two beats, A minor (A3 C4 E4) for beat 3, B diminished
 * (B3 D4 F4) for beat 4.
 */
function handPiece(): Score {
  const s = emptyScore();
  s.notes = [
    ...chord([60, 64, 67], [60, 80, 100], 0, 2),
    ...chord([57, 60, 64], [40, 50, 60], 2, 3),
    ...chord([59, 62, 65], [70, 70, 70], 3, 4),
  ].sort((a, b) => a.start - b.start || a.pitch - b.pitch);
  s.tempos = [{ tick: 0, bpm: 120 }];
  return s;
}

test('statistics of the hand-made piece equal the hand-computed values', () => {
  const st = pieceStats(handPiece());
  assert.equal(st.notes, 9);
  assert.equal(st.seconds, 2); // 4 beats at 0.5 s
  assert.equal(st.noteDensity, 4.5); // 9 notes / 2 s
  assert.equal(st.meanPitch, 558 / 9); // (60+64+67 + 57+60+64 + 59+62+65) / 9 = 62
  assert.equal(st.pitchRange, 10); // 67 - 57
  assert.ok(Math.abs(st.meanVelocity - 600 / 9) < 1e-12); // (60+80+100 + 40+50+60 + 70*3) / 9
  // Chords per beat: C_M, C_M, A_m, B_o -> 4 chord beats, 2 major, 1 minor.
  assert.equal(st.majorShare, 0.5);
  assert.equal(st.minorShare, 0.25);
  // Pitch classes: C 2, E 2, G A B D F 1 each, of 9 -> H = 4/9 log2(9/2) + 5/9 log2(9).
  assert.ok(Math.abs(st.pitchClassEntropy - ((4 / 9) * Math.log2(9 / 2) + (5 / 9) * Math.log2(9))) < 1e-12);
});

test('a tempo change: seconds, density; the tick-weighted mean tempo (meanTempo, for the structure statistics)', () => {
  const s = handPiece();
  s.tempos = [{ tick: 0, bpm: 120 }, { tick: 2 * B, bpm: 60 }];
  const st = pieceStats(s);
  assert.equal(st.seconds, 3); // 2 beats at 0.5 s + 2 beats at 1 s
  assert.equal(st.noteDensity, 3);
  assert.equal(meanTempo(s, 0, 4 * B), 90); // (960*120 + 960*60) / 1920
  assert.ok(!('tempo' in st), 'the classifier-view statistics have no tempo: they read every piece at 120 BPM');
  const sec = secondsAt(s.tempos);
  assert.equal(sec(B), 0.5);
  assert.equal(sec(3 * B), 2);
  assert.equal(meanTempo(s, 2 * B, 4 * B), 60);
  assert.equal(meanTempo(s, 3 * B, 3 * B), 60, 'an empty span: the tempo in effect there, not the first one');
  assert.equal(meanTempo({ ...s, tempos: [{ tick: B, bpm: 60 }] }, 0, 2 * B), 90, "120 BPM (MIDI's default) before the first change");
  assert.equal(secondsAt([])(B), 0.5, "MIDI's default 120 BPM without tempos");
});

test('entropy: closed forms; a piece on the grid is unchanged by quantization', () => {
  assert.equal(entropyBits([]), 0);
  assert.equal(entropyBits([5]), 0);
  assert.equal(entropyBits([1, 1, 1, 1]), 2);
  assert.ok(Math.abs(entropyBits(new Array(12).fill(3)) - Math.log2(12)) < 1e-12);
  const s = handPiece();
  const q = quantizedScore(s);
  assert.deepEqual(q.notes, s.notes, 'onsets, durations on the 16th grid and even velocities >= 40 stay as they are');
  assert.deepEqual(pieceStats(q).majorShare, 0.5);
  // Off-grid input moves to the grid.
  const off = handPiece();
  off.notes = off.notes.map((n) => ({ ...n, start: n.start + 50, end: n.end + 50, velocity: n.velocity + 1 }));
  assert.deepEqual(quantizedScore(off).notes.map((n) => [n.start, n.end]), s.notes.map((n) => [n.start, n.end]));
  assert.throws(() => pieceStats(emptyScore()), RangeError);
  // A tempo change half-way between two positions goes where the tokenizer puts it: to the even one (tick 0, not 120).
  const half = handPiece();
  half.tempos = [{ tick: 0, bpm: 120 }, { tick: 60, bpm: 90 }];
  assert.deepEqual(quantizedScore(half).tempos, [{ tick: 0, bpm: 90 }]);
});

test('key estimate: C major scale -> C major, A harmonic minor -> A minor', () => {
  const pcs = (xs: number[]): number[] => Array.from({ length: 12 }, (_, i) => (xs.includes(i) ? 1 : 0));
  const cMajor = pcs([0, 2, 4, 5, 7, 9, 11]);
  cMajor[0] = 3; // tonic weight
  cMajor[7] = 2;
  const k1 = estimateKey(cMajor);
  assert.equal(k1.tonic, 0);
  assert.equal(k1.mode, 'major');
  const aMinor = pcs([9, 11, 0, 2, 4, 5, 8]);
  aMinor[9] = 3;
  aMinor[4] = 2;
  const k2 = estimateKey(aMinor);
  assert.equal(k2.tonic, 9);
  assert.equal(k2.mode, 'minor');
});

test('features: one value per name; transposition moves pitch features and leaves key-relative ones alone', () => {
  const s = handPiece();
  const f = clipFeatures(s);
  assert.equal(f.length, FEATURE_NAMES.length);
  assert.ok(f.every(Number.isFinite));
  const up = handPiece();
  up.notes = up.notes.map((n) => ({ ...n, pitch: n.pitch + 2 }));
  const g = clipFeatures(up);
  const at = (v: Float64Array, name: string) => v[FEATURE_NAMES.indexOf(name)] as number;
  assert.ok(Math.abs(at(g, 'pitch_mean') - at(f, 'pitch_mean') - 2) < 1e-12);
  for (const name of FEATURE_NAMES) {
    if (/^(pc_rel_|key_|chord_|ic_|velocity|log_|share_|notes_per|melody_(abs|repeat|step|leap|up))/.test(name)) {
      assert.ok(Math.abs(at(g, name) - at(f, name)) < 1e-9, `${name} is transposition invariant`);
    }
  }
  assert.equal(at(f, 'chord_M'), 0.5);
  assert.equal(at(f, 'chord_m'), 0.25);
  assert.equal(at(f, 'chord_o'), 0.25);
  assert.equal(at(f, 'log_notes_per_beat'), Math.log(9 / 4));
  assert.equal(at(f, 'notes_per_onset'), 3);
});
