/**
 * `drawAmong`, the draw generation runs (sampling.ts), against the reference pipeline it replaces (allowOnly,
 * withTemperature, drawValue): on many seeded cases it returns the same value, leaves the rng in the same state
 * (the same draws, in order) and throws the same errors; likewise `barProbability` against the pipeline's softmax.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/random.ts';
import {
  allowOnly, barProbability, drawAmong, drawValue, processLogits, sampleLogits, softmaxWithTemperature, withTemperature, type SamplingParams,
} from '../../src/cp/sampling.ts';

/** What the pipeline gives: the value (or the error's message) and the rng's state after. */
function reference(logits: ArrayLike<number>, allowed: readonly number[], params: SamplingParams, state: number): { value: number | string; state: number } {
  const rng = Rng.fromState(state);
  try {
    const value = drawValue(processLogits(logits, [allowOnly(allowed), withTemperature(params.temperature)]), params.topP, rng);
    return { value, state: rng.state };
  } catch (e) {
    return { value: (e as Error).message, state: rng.state };
  }
}

function fast(f: (rng: Rng) => number, state: number): { value: number | string; state: number } {
  const rng = Rng.fromState(state);
  try {
    return { value: f(rng), state: rng.state };
  } catch (e) {
    return { value: (e as Error).message, state: rng.state };
  }
}

/** Seeded logits with the awkward cases: ties, -Infinity, huge values, NaN now and then. */
function caseLogits(rng: Rng, n: number, kind: number): Float32Array {
  const l = new Float32Array(n); // (n,)
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    if (kind === 0) l[i] = (rng.next() - 0.5) * 8; // spread
    else if (kind === 1) l[i] = (rng.next() - 0.5) * 0.05; // nearly flat (a random model)
    else if (kind === 2) l[i] = Math.round(rng.next() * 3); // many ties
    else if (kind === 3) l[i] = r < 0.3 ? -Infinity : (rng.next() - 0.5) * 40; // masked and peaked
    else l[i] = r < 0.02 ? NaN : r < 0.04 ? Infinity : (rng.next() - 0.5) * 1e4; // broken
  }
  return l;
}

test('drawAmong draws what the pipeline draws, with the same random numbers, on 20,000 seeded cases', () => {
  const rng = new Rng(42);
  const topPs = [null, 0.3, 0.9, 0.99, 1];
  let errors = 0;
  for (let c = 0; c < 20000; c++) {
    const n = 1 + rng.nextInt(140);
    const logits = caseLogits(rng, n, c % 5);
    const allowed: number[] = [];
    const density = rng.next();
    for (let i = 0; i < n; i++) if (rng.next() < density) allowed.push(i);
    const params: SamplingParams = { temperature: [0.5, 1, 1.2, 2, 5][rng.nextInt(5)] as number, topP: topPs[rng.nextInt(topPs.length)] as number | null };
    const state = rng.nextInt(2 ** 32);
    const want = reference(logits, allowed, params, state);
    assert.deepEqual(fast((r) => drawAmong(logits, allowed, params, r), state), want, `case ${c}`);
    assert.deepEqual(fast((r) => sampleLogits(logits, params, r, allowed), state), want, `case ${c} through sampleLogits`);
    if (typeof want.value === 'string') errors++;
  }
  assert.ok(errors > 100, `the broken cases reach the errors (${errors})`);
});

test('sampleLogits keeps the pipeline for lists that are not ascending, and its RangeError for bad indices', () => {
  const logits = Float32Array.of(0.5, 2, -1, 3);
  const params = { temperature: 1, topP: 0.9 };
  for (const allowed of [[3, 1], [1, 1, 3], [0, 2, 3]]) {
    for (let s = 0; s < 50; s++) assert.deepEqual(fast((r) => sampleLogits(logits, params, r, allowed), s), reference(logits, allowed, params, s));
  }
  assert.throws(() => sampleLogits(logits, params, new Rng(1), [1, 4]), RangeError);
  assert.throws(() => sampleLogits(logits, params, new Rng(1), [0.5]), RangeError);
});

test('barProbability equals the pipeline softmax at the Bar index, errors included', () => {
  const rng = new Rng(8);
  for (let c = 0; c < 3000; c++) {
    const n = 2 + rng.nextInt(20);
    const logits = caseLogits(rng, n, c % 5);
    const ok: number[] = [];
    for (let i = 0; i < n; i++) if (rng.next() < 0.7) ok.push(i);
    const bar = rng.nextInt(n);
    const t = [1, 1.2, 3][c % 3] as number;
    let want: number | string;
    try {
      want = softmaxWithTemperature(processLogits(logits, [allowOnly(ok), withTemperature(t)]), 1)[bar] as number;
    } catch (e) {
      want = (e as Error).message;
    }
    let got: number | string;
    try {
      got = barProbability(logits, ok, bar, t);
    } catch (e) {
      got = (e as Error).message;
    }
    assert.deepEqual(got, want, `case ${c}`);
  }
});
