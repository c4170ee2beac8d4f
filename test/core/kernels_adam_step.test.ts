// The one-parameter Adam kernel (wasm/adam/adam.c in tfjs-backend-wasm's heap, src/kernels/adam_step.ts) behind
// Adam.applyClipped: the same weights and moments, to the bit, as clipGradNorm's gradients through Adam.apply (the
// tfjs ops), over several steps with and without clipping, odd sizes included; the kernel is what runs, and the
// inputs are not written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { Adam, clipFactor, clipGradNorm, gradNorm } from '../../src/core/train/optim.ts';
import { setTrainingKernels } from '../../src/kernels/register.ts';
import { Rng } from '../../src/random.ts';
import { assertCommittedWasm } from '../helpers/wasm_build.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const SKIP = OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false;

const SHAPES: Record<string, number[]> = { a: [7, 5], b: [1], c: [3, 4, 5], d: [1027] };

function params(seed: number): Map<string, tf.Variable> {
  const rng = new Rng(seed);
  return new Map(Object.entries(SHAPES).map(([name, shape]) => {
    const n = shape.reduce((p, x) => p * x, 1);
    return [name, tf.variable(tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape))] as const;
  }));
}

function grads(rng: Rng, scale: number): Map<string, tf.Tensor> {
  return new Map(Object.entries(SHAPES).map(([name, shape]) => {
    const n = shape.reduce((p, x) => p * x, 1);
    return [name, tf.tensor(Float32Array.from({ length: n }, () => rng.normal() * scale), shape)] as const;
  }));
}

test('Adam.applyClipped on the wasm kernel equals clipGradNorm + Adam.apply, to the bit, over steps', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const pk = params(1);
  const pt = params(1);
  const ok = new Adam(pk);
  const ot = new Adam(pt);
  const rng = new Rng(2);
  for (const [step, scale] of [0.01, 5, 0.3, 40, 1].entries()) {
    const g = grads(rng, scale);
    const gBefore = [...g.values()].map((t) => Array.from(t.dataSync()));
    const before = tf.memory().numTensors;
    const norm = gradNorm(g);
    const profile = await tf.profile(() => ok.applyClipped(g, clipFactor(norm, 3), 1e-3 * (step + 1)));
    assert.equal(profile.kernels.filter((k) => k.name === 'EmopiaAdam').length, 4, 'one kernel per parameter');
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    assert.deepEqual([...g.values()].map((t) => Array.from(t.dataSync())), gBefore, 'gradients not written');
    setTrainingKernels(false);
    try {
      const c = clipGradNorm(g, 3);
      assert.equal(c.norm, norm);
      ot.apply(c.grads, 1e-3 * (step + 1));
      tf.dispose([...c.grads.values()]);
    } finally {
      setTrainingKernels(true);
    }
    for (const name of Object.keys(SHAPES)) {
      assert.deepEqual(Array.from(pk.get(name)!.dataSync()), Array.from(pt.get(name)!.dataSync()), `step ${step}, ${name}: weights`);
    }
    const sk = ok.state();
    const st = ot.state();
    assert.equal(sk.step, st.step);
    for (const [key, t] of st.tensors) assert.deepEqual(Array.from(sk.tensors.get(key)!.data), Array.from(t.data), `step ${step}, ${key}`);
    tf.dispose([...g.values()]);
  }
  ok.dispose();
  ot.dispose();
  tf.dispose([...pk.values(), ...pt.values()]);
});

test('Adam.applyClipped without our kernels (cpu) is clipGradNorm + Adam.apply', async () => {
  await initBackend('cpu');
  const pa = params(3);
  const pb = params(3);
  const oa = new Adam(pa);
  const ob = new Adam(pb);
  const g = grads(new Rng(4), 10);
  const norm = gradNorm(g);
  oa.applyClipped(g, clipFactor(norm, 3), 1e-2);
  const c = clipGradNorm(g, 3);
  ob.apply(c.grads, 1e-2);
  for (const name of Object.keys(SHAPES)) assert.deepEqual(Array.from(pa.get(name)!.dataSync()), Array.from(pb.get(name)!.dataSync()), name);
  tf.dispose([...g.values(), ...c.grads.values(), ...pa.values(), ...pb.values()]);
  oa.dispose();
  ob.dispose();
});

test('the committed wasm module is what wasm/adam_step/build.sh makes of wasm/adam/adam.c (where the same clang is installed)', (t) =>
  assertCommittedWasm(t, 'adam_step', 'adam_step'));
