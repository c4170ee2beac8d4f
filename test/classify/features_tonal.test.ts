/** The tonal feature group against hand-computed values on held triads, and its invariance under transposition. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyScore, type Note, type Score } from '../../src/music/score.ts';
import { clipFeatures, FEATURE_NAMES } from '../../src/classify/features.ts';
import { TONAL_FEATURE_NAMES } from '../../src/classify/features_tonal.ts';
import { mean, pearson, quantile, std } from '../../src/classify/moments.ts';
import { rankKeys, KK_MAJOR, KK_MINOR } from '../../src/classify/keys.ts';
import { Rng } from '../../src/random.ts';

const BAR = 1920;
function held(pitches: number[], bars = 1): Score {
  const s = emptyScore();
  s.notes = pitches.map((pitch) => ({ pitch, velocity: 80, start: 0, end: bars * BAR }));
  s.tempos = [{ tick: 0, bpm: 120 }];
  return s;
}
const at = (f: Float64Array, name: string) => {
  const i = FEATURE_NAMES.indexOf(name);
  assert.ok(i >= 0, `feature ${name} exists`);
  return f[i] as number;
};

test('moments and key ranking: closed forms', () => {
  assert.equal(mean([1, 2, 3, 6]), 3);
  assert.equal(std([1, 3]), 1);
  assert.equal(quantile([5, 1, 3], 0.5), 3);
  assert.equal(pearson([1, 2, 3], [2, 4, 6]), 1);
  assert.equal(pearson([1, 1, 1], [2, 4, 6]), 0, 'constant list: 0');
  // The KK major profile itself ranks C major first with correlation 1; rotated by 2, D major.
  assert.deepEqual(rankKeys([...KK_MAJOR], KK_MAJOR, KK_MINOR)[0], { tonic: 0, major: true, corr: 1 });
  const d = Array.from({ length: 12 }, (_, i) => KK_MAJOR[(i + 10) % 12] as number);
  assert.equal(rankKeys(d, KK_MAJOR, KK_MINOR)[0]?.tonic, 2);
  assert.equal(rankKeys(d, KK_MAJOR, KK_MINOR).length, 24);
});

test('tonal features of a held C major triad equal the hand-computed values', () => {
  assert.equal(FEATURE_NAMES.length, 87 + TONAL_FEATURE_NAMES.length);
  const f = clipFeatures(held([60, 64, 67]));
  assert.equal(at(f, 'key_mode') > 0, true, 'C E G reads as major');
  assert.equal(at(f, 'kk_best_is_major'), 1);
  assert.equal(at(f, 'bass_deg_tonic'), 1, 'C in the bass throughout');
  assert.equal(at(f, 'top_deg_tonic'), 0, 'G on top');
  assert.equal(at(f, 'third_major_share'), 1, 'E, no E flat');
  assert.equal(at(f, 'sixth_major_share'), 0.5, 'neither sixth sounds');
  assert.equal(at(f, 'beats_major_chord'), 1);
  assert.equal(at(f, 'beats_minor_chord'), 0);
  assert.equal(at(f, 'last_chord_major'), 1);
  assert.equal(at(f, 'first_chord_major'), 1);
  // Pairs C-E (4 semitones, roughness 0.25), C-G (7, 0.05), E-G (3, 0.3), all overlapping the whole bar.
  assert.ok(Math.abs(at(f, 'roughness') - 0.2) < 1e-12);
  assert.equal(at(f, 'consonance'), 1);
  assert.equal(at(f, 'top_p90'), 67);
  assert.equal(at(f, 'top_range_p5_p95'), 0);
  assert.equal(at(f, 'onset_position_entropy'), 0, 'one onset');
  assert.equal(at(f, 'syncopation'), 0);
  assert.equal(at(f, 'first_half_note_share'), 1);
  assert.equal(at(f, 'velocity_slope'), 0);
});

test('C minor against C major: the mode features flip', () => {
  const maj = clipFeatures(held([60, 64, 67]));
  const min = clipFeatures(held([60, 63, 67]));
  assert.equal(at(min, 'kk_best_is_major'), 0);
  assert.equal(at(min, 'beats_minor_chord'), 1);
  assert.equal(at(min, 'beats_major_chord'), 0);
  assert.equal(at(min, 'last_chord_major'), 0);
  assert.ok(at(min, 'ending_major_minus_minor') < 0 && at(maj, 'ending_major_minus_minor') > 0);
  // C-E flat is a minor third (0.3) and E flat-G a major third (0.25): the same roughness as major.
  assert.ok(Math.abs(at(min, 'roughness') - 0.2) < 1e-12);
});

test('tonal features (but the top line register) do not move under transposition; a tritone is rough and not consonant', () => {
  const rng = new Rng(4);
  const s = emptyScore();
  const notes: Note[] = [];
  for (let i = 0; i < 40; i++) {
    const start = rng.nextInt(32) * 240;
    notes.push({ pitch: 48 + rng.nextInt(30), velocity: 30 + rng.nextInt(90), start, end: start + 120 * (1 + rng.nextInt(8)) });
  }
  s.notes = notes.sort((a, b) => a.start - b.start || a.pitch - b.pitch);
  s.tempos = [{ tick: 0, bpm: 120 }];
  const up = { ...s, notes: s.notes.map((n) => ({ ...n, pitch: n.pitch + 5 })) };
  const f = clipFeatures(s);
  const g = clipFeatures(up);
  for (const name of TONAL_FEATURE_NAMES) {
    if (name === 'top_p90') assert.equal(at(g, name), at(f, name) + 5);
    else assert.ok(Math.abs(at(g, name) - at(f, name)) < 1e-9, `${name} is transposition invariant`);
  }
  const tritone = clipFeatures(held([60, 66]));
  assert.equal(at(tritone, 'roughness'), 0.7);
  assert.equal(at(tritone, 'consonance'), 0);
});
