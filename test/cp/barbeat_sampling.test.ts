// The bar-beat rule of generation: Bar at the model's own probability, never a position already passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/random.ts';
import { barBeatChoices, barProbability, sampleBarBeat } from '../../src/cp/sampling.ts';

test('sampleBarBeat: Bar keeps the model\'s probability; the passed positions\' mass goes to later Beats only', () => {
  // Values: 0, Bar, Beat_0..Beat_3 (indices 2..5). Metrical words may take Bar and the Beats.
  const values = [0, 'Bar', 'Beat_0', 'Beat_1', 'Beat_2', 'Beat_3'];
  const ok = [1, 2, 3, 4, 5];
  // P over ok: Bar 0.1, Beat_0 0.4, Beat_1 0.3, Beat_2 0.1, Beat_3 0.1 (log-probabilities as logits).
  const logits = [-50, Math.log(0.1), Math.log(0.4), Math.log(0.3), Math.log(0.1), Math.log(0.1)];
  const params = { temperature: 1, topP: null };
  const rng = new Rng(1);
  const n = 20000;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const v = sampleBarBeat(values, ok, logits, params, 1, rng); // at Beat_1: Beat_0 and Beat_1 have passed
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  // Bar 0.1 (renormalising would give 0.1 / 0.3 = 0.33); Beat_2 and Beat_3 share the rest equally.
  assert.ok(Math.abs((counts.get(1) ?? 0) / n - 0.1) < 0.01, `Bar ${(counts.get(1) ?? 0) / n}`);
  assert.ok(Math.abs((counts.get(4) ?? 0) / n - 0.45) < 0.015);
  assert.ok(Math.abs((counts.get(5) ?? 0) / n - 0.45) < 0.015);
  assert.equal((counts.get(2) ?? 0) + (counts.get(3) ?? 0), 0, 'never a passed position');
  assert.equal(sampleBarBeat(values, ok, logits, params, 3, rng), 1, 'after the last Beat only Bar remains');
});

test('the bar-beat rule by hand: its choices, P(Bar) under temperature, and the two draws', () => {
  const values = [0, 'Bar', 'Beat_0', 'Beat_1', 'Beat_2', 'Beat_3'];
  const ok = [1, 2, 3, 4, 5];
  assert.deepEqual(barBeatChoices(values, ok, 1), { bar: 1, later: [4, 5] });
  assert.deepEqual(barBeatChoices(values, ok, -1), { bar: 1, later: [2, 3, 4, 5] });
  assert.deepEqual(barBeatChoices(values, ok, 3), { bar: 1, later: [] });
  assert.deepEqual(barBeatChoices(values, [2, 3], 0), { bar: undefined, later: [3] });
  const logits = [7, Math.log(0.1), Math.log(0.4), Math.log(0.3), Math.log(0.1), Math.log(0.1)]; // index 0 is masked
  assert.ok(Math.abs(barProbability(logits, ok, 1, 1) - 0.1) < 1e-12);
  // t = 2 takes square roots of the probabilities before renormalising.
  const r = Math.sqrt;
  assert.ok(Math.abs(barProbability(logits, ok, 1, 2) - r(0.1) / (3 * r(0.1) + r(0.4) + r(0.3))) < 1e-12);
  // Draw 1: Bar when u1 < 0.1; else draw 2 among Beat_2 and Beat_3 (0.5 each, index order).
  for (let seed = 0; seed < 40; seed++) {
    const ref = new Rng(seed);
    const u1 = ref.next();
    const want = u1 < 0.1 ? 1 : ref.next() < 0.5 ? 4 : 5;
    assert.equal(sampleBarBeat(values, ok, logits, { temperature: 1, topP: null }, 1, new Rng(seed)), want, `seed ${seed}`);
  }
});
