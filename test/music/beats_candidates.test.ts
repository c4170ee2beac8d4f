import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CANDIDATE_FEATURES, PERIOD_MULTIPLES, pickCandidate, type Candidate } from '../../src/music/beats/candidates.ts';
import { TEMPO_WEIGHTS } from '../../src/music/beats/fitted.ts';
import { medianTempo } from '../../src/music/beats/metrics.ts';
import { trackBeats, trackCandidates } from '../../src/music/beats/track.ts';
import { steadyPiece } from './_beats.ts';

const feature = (c: Candidate, name: (typeof CANDIDATE_FEATURES)[number]): number => c.features[CANDIDATE_FEATURES.indexOf(name)] as number;

test('the fitted weights have one value per candidate feature', () => {
  assert.equal(TEMPO_WEIGHTS.length, CANDIDATE_FEATURES.length);
  assert.ok(TEMPO_WEIGHTS.every(Number.isFinite));
});

test('a steady 100 BPM piece gets the candidates 100, 50, 200, 66.7 and 150 BPM, each decoded at its own period', () => {
  const p = steadyPiece({ bpm: 100, meter: 4, bars: 16 });
  const cands = trackCandidates(p.score);
  assert.deepEqual(cands.map((c) => c.multiple), [...PERIOD_MULTIPLES]);
  // The comb's period is 0.6 s = 60 frames; the others are refined within 5% of 120, 30, 90 and 40 frames.
  const want = [60, 120, 30, 90, 40];
  cands.forEach((c, i) => {
    const w = want[i] as number;
    assert.ok(Math.abs(c.period - w) <= 0.05 * w, `candidate ${i}: period ${c.period} frames, expected about ${w}`);
    assert.ok(Math.abs(medianTempo(c.beats) - 6000 / c.period) < 0.02 * (6000 / c.period), `candidate ${i}: decoded at ${medianTempo(c.beats)} BPM`);
    assert.equal(c.features.length, CANDIDATE_FEATURES.length);
  });
  // Every inter-onset interval is an eighth note (0.3 s): half a beat at 100 BPM, a quarter of one at 50 BPM.
  assert.equal(feature(cands[0] as Candidate, 'ioi1_2'), 1);
  assert.equal(feature(cands[0] as Candidate, 'ioi1_4'), 0);
  assert.equal(feature(cands[1] as Candidate, 'ioi1_4'), 1);
  assert.equal(feature(cands[1] as Candidate, 'isDouble'), 1);
  assert.equal(feature(cands[2] as Candidate, 'isHalf'), 1);
});

test('pickCandidate takes the highest linear score, the first on ties', () => {
  const c = (features: number[]): Candidate => ({ period: 50, multiple: 1, beats: [], features });
  const cands = [c([1, 0]), c([0, 1]), c([0, 2])];
  assert.equal(pickCandidate(cands, [1, 0]), 0);
  assert.equal(pickCandidate(cands, [0, 1]), 2);
  assert.equal(pickCandidate(cands, [0, 0]), 0);
  assert.equal(pickCandidate(cands, []), 0);
});

test('tempoWeights choose among the candidates: a weight on isHalf tracks the 100 BPM piece at 200 BPM', () => {
  const p = steadyPiece({ bpm: 100, meter: 4, bars: 16 });
  const w = CANDIDATE_FEATURES.map((n) => (n === 'isHalf' ? 1 : 0));
  const t = trackBeats(p.score, { tempoWeights: w });
  assert.ok(Math.abs(medianTempo(t.beats) - 200) < 2, `tracked at ${medianTempo(t.beats)} BPM`);
  assert.ok(Math.abs(medianTempo(trackBeats(p.score).beats) - 100) < 1);
});

test('a piece that falls back to the file grid has no candidates', () => {
  const p = steadyPiece({ bpm: 100, meter: 4, bars: 1 });
  assert.deepEqual(trackCandidates(p.score), []);
});
