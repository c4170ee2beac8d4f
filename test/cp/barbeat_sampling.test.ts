// The bar-beat rule of generation: Bar at the model's own probability, never a position already passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/random.ts';
import { sampleBarBeat } from '../../src/cp/generate.ts';

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
