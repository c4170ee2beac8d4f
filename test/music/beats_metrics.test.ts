import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beatFMeasure, countMatches, medianTempo, tempoMatches } from '../../src/music/beats/metrics.ts';

const near = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

test('beat F-measure by mir_eval: +-70 ms, one-to-one, precision and recall', () => {
  // 5.05 matches 5 (50 ms), 6.08 is 80 ms from 6 (miss), 7 matches 7, 8.5 and 9 match nothing:
  // 2 hits, precision 2/5, recall 2/4, F = 2*0.4*0.5/0.9 = 4/9.
  near(beatFMeasure([5, 6, 7, 8], [5.05, 6.08, 7, 8.5, 9]), 4 / 9);
  // One-to-one: two estimates near one reference count once (precision 1/2, recall 1, F = 2/3).
  near(beatFMeasure([6], [5.97, 6.03]), 2 / 3);
  near(beatFMeasure([6, 7, 8], [6, 7, 8]), 1);
});

test('beat F-measure ignores times before 5 s and is 0 when a list is empty after that', () => {
  near(beatFMeasure([1, 2, 5.5], [1.3, 2.4, 5.5]), 1);
  assert.equal(beatFMeasure([1, 2, 3], [1, 2, 3]), 0);
  assert.equal(beatFMeasure([6, 7], []), 0);
  assert.equal(beatFMeasure([6, 7], [6.5]), 0);
  near(beatFMeasure([1, 6], [1, 6], { minTime: 0 }), 1);
});

test('countMatches finds a largest matching where nearest-neighbour pairing would not', () => {
  // 6.06 is nearest to 6.1, but pairing it with 6.0 leaves 6.12 for 6.1: two matches.
  assert.equal(countMatches([6.0, 6.1], [6.06, 6.12], 0.07), 2);
  assert.equal(countMatches([6.0, 6.1, 6.2], [6.05], 0.07), 1);
  assert.equal(countMatches([], [1], 0.07), 0);
});

test('medianTempo and tempoMatches read the median beat interval', () => {
  near(medianTempo([0, 0.5, 1, 1.5, 2.6]), 120);
  assert.equal(medianTempo([1]), 0);
  assert.ok(tempoMatches([0, 0.5, 1, 1.5], [0, 0.51, 1.02, 1.53])); // 117.6 vs 120: 2%
  assert.ok(!tempoMatches([0, 0.5, 1, 1.5], [0, 1, 2, 3])); // half tempo
});
