/** Sampling on hand-made distributions: nucleus sets, temperature, masking, seeded determinism, purity. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/random.ts';
import {
  EMOPIA_SAMPLING, nucleusSample, nucleusSet, sampleLogits, samplingTable, softmaxWithTemperature, weightedSample,
} from '../../src/cp/sampling.ts';
import { assertClose } from '../helpers/close.ts';

test('nucleus keeps up to and including the first index where the cumulative sum exceeds p', () => {
  const probs = [0.1, 0.4, 0.2, 0.3]; // sorted: 1 (0.4), 3 (0.7), 2 (0.9), 0 (1.0)
  assert.deepEqual(nucleusSet(probs, 0.3), [1]);
  assert.deepEqual(nucleusSet(probs, 0.5), [1, 3]);
  assert.deepEqual(nucleusSet(probs, 0.65), [1, 3]);
  assert.deepEqual(nucleusSet(probs, 0.85), [1, 3, 2]);
  assert.deepEqual(nucleusSet(probs, 0.95), [1, 3, 2, 0]);
  assert.deepEqual(nucleusSet(probs, 1), [1, 3, 2, 0]);
  // Ties keep index order; unnormalised weights behave as their normalised form.
  assert.deepEqual(nucleusSet([2, 2, 1], 0.5), [0, 1]);
});

test('nucleus sampling never leaves the kept set and follows its renormalised weights', () => {
  const probs = [0.05, 0.5, 0.05, 0.4];
  const rng = new Rng(3);
  const counts = [0, 0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[nucleusSample(probs, 0.8, rng)]! += 1;
  assert.equal(counts[0], 0);
  assert.equal(counts[2], 0);
  // Kept {1, 3} renormalised: 0.5/0.9 and 0.4/0.9. Binomial std at n=20000 is ~0.0035; allow 5 sigma.
  assert.ok(Math.abs(counts[1]! / n - 5 / 9) < 0.018, `P(1) = ${counts[1]! / n}`);
});

test('softmax with temperature: closed form, max subtracted (no overflow), input untouched', () => {
  const logits = Float32Array.from([0, Math.log(3)]);
  assertClose(softmaxWithTemperature(logits, 1), [0.25, 0.75], 1e-7, 't=1');
  // t=2: weights 1 and sqrt(3).
  assertClose(softmaxWithTemperature(logits, 2), [1 / (1 + Math.sqrt(3)), Math.sqrt(3) / (1 + Math.sqrt(3))], 1e-7, 't=2');
  assertClose(softmaxWithTemperature([1000, 1000 + Math.log(3)], 1), [0.25, 0.75], 1e-7, 'large logits');
  assert.deepEqual(Array.from(logits), [0, Math.fround(Math.log(3))]);
});

test('weighted sampling matches its weights and skips zero weights', () => {
  const rng = new Rng(5);
  const counts = [0, 0, 0];
  for (let i = 0; i < 10000; i++) counts[weightedSample([1, 0, 3], rng)]! += 1;
  assert.equal(counts[1], 0);
  assert.ok(Math.abs(counts[2]! / 10000 - 0.75) < 0.025, `P(2) = ${counts[2]! / 10000}`);
});

test('sampleLogits: allowed values only, seeded determinism, a single allowed value is returned as is', () => {
  const logits = [5, 0, 4, -1, 3];
  const draw = (seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: 50 }, () => sampleLogits(logits, { temperature: 1, topP: null }, rng, [1, 3, 4]));
  };
  const a = draw(11);
  assert.deepEqual(a, draw(11));
  assert.notDeepEqual(a, draw(12));
  assert.ok(a.every((i) => [1, 3, 4].includes(i)));
  assert.equal(sampleLogits(logits, { temperature: 1, topP: 0.9 }, new Rng(1), [2]), 2);
  // Top-p 0.5 on [5, 0, 4]: softmax puts 0.73 on index 0, which alone exceeds 0.5.
  const rng = new Rng(2);
  for (let i = 0; i < 20; i++) assert.equal(sampleLogits([5, 0, 4], { temperature: 1, topP: 0.5 }, rng), 0);
});

test("EMOPIA's table with overrides; bad values are one-line errors", () => {
  assert.deepEqual(EMOPIA_SAMPLING.duration, { temperature: 2, topP: 0.9 });
  assert.deepEqual(EMOPIA_SAMPLING.velocity, { temperature: 5, topP: null });
  const t = samplingTable({ pitch: { temperature: 0.5 }, barbeat: { topP: 0.95 } });
  assert.deepEqual(t.pitch, { temperature: 0.5, topP: 0.9 });
  assert.deepEqual(t.barbeat, { temperature: 1.2, topP: 0.95 });
  assert.deepEqual(t.chord, { temperature: 1, topP: 0.99 });
  assert.throws(() => samplingTable({ pitch: { temperature: 0 } }), /temperature of pitch: expected a number > 0, got 0/);
  assert.throws(() => samplingTable({ tempo: { topP: 1.5 } }), /top-p of tempo: expected a number in \(0, 1\], got 1.5/);
});
