// The dropout kernel (wasm/dropout/dropout.c through src/kernels/dropout.ts and core/ops.ts's dropout): values and
// gradients bit-equal to the host mask path (our kernels off) and to tf.dropout with the same seed, over rates,
// seeds and sizes around the generator's lag of 3; the kernel is what runs; the committed module equals the build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, dropoutThreshold } from '../../src/backend.ts';
import { setTrainingKernels } from '../../src/kernels/register.ts';
import { dropout } from '../../src/core/ops.ts';
import { Rng } from '../../src/random.ts';
import { assertCommittedWasm } from '../helpers/wasm_build.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const SKIP = OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false;

/** y = dropout(x) and dx of sum(dropout(x) * w), with our kernels on or off. */
function run(x: tf.Tensor, w: tf.Tensor, rate: number, seed: number, kernels: boolean): { y: number[]; g: number[] } {
  setTrainingKernels(kernels);
  try {
    const y = dropout(x, rate, new Rng(seed));
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(dropout(a, rate, new Rng(seed)), w)))(x);
    const out = { y: Array.from(y.dataSync()), g: Array.from(g.dataSync()) };
    tf.dispose([y, g]);
    return out;
  } finally {
    setTrainingKernels(true);
  }
}

test('dropout kernel: values and gradients bit-equal to the host mask and to tf.dropout (rates, seeds, sizes)', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const data = new Rng(21);
  for (const rate of [0.1, 0.5, 1 / 3, 0.9, 0.999]) {
    for (const seed of [0, 5, 99, 123456]) {
      for (const n of [1, 2, 3, 4, 5, 6, 7, 100, 1001, 4099]) {
        const xs = Float32Array.from({ length: n }, (_, i) => (i === 3 ? -0.5 : i === 4 ? Infinity : data.normal() * 3));
        const x = tf.tensor1d(xs); // (n)
        const w = tf.tensor1d(Float32Array.from({ length: n }, () => data.normal())); // (n)
        const ours = run(x, w, rate, seed, true);
        const host = run(x, w, rate, seed, false);
        const what = `rate ${rate}, seed ${seed}, n ${n}`;
        assert.deepEqual(ours.y, host.y, `${what}: values`);
        assert.deepEqual(ours.g, host.g, `${what}: gradients`);
        const ref = tf.dropout(x, rate, undefined, new Rng(seed).nextSeed()); // (n)
        assert.deepEqual(ours.y, Array.from(ref.dataSync()), `${what}: tf.dropout`);
        tf.dispose([x, w, ref]);
      }
    }
  }
});

test('dropoutThreshold: X >= thr is exactly tf.dropout\'s keep test fround(fround(X / 2^32) + keep) >= 1', () => {
  const kept = (X: number, keep: number): boolean => Math.fround(Math.fround(X * 2 ** -32) + keep) >= 1;
  const rng = new Rng(5);
  for (const rate of [0.1, 0.5, 1 / 3, 0.9, 0.999, 1e-7, ...Array.from({ length: 20 }, () => rng.next())]) {
    const keep = Math.fround(1 - rate);
    const thr = dropoutThreshold(keep);
    assert.ok(thr >= 1 && thr <= 0xffffffff && kept(thr, keep) && !kept(thr - 1, keep), `rate ${rate}: threshold ${thr}`);
    for (let i = 0; i < 2000; i++) {
      const X = Math.floor(rng.next() * 2 ** 32);
      assert.equal(X >= thr, kept(X, keep), `rate ${rate}, X ${X}`);
    }
  }
});

test('dropout kernel: it is what runs with our kernels on, forward and backward', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const x = tf.randomNormal([64, 33], 0, 1, 'float32', 4); // (64, 33)
  const profile = await tf.profile(() => {
    const g = tf.grad((a: tf.Tensor) => tf.sum(dropout(a, 0.1, new Rng(2))))(x);
    g.dispose();
  });
  const names = profile.kernels.map((k) => k.name);
  assert.equal(names.filter((n) => n === 'EmopiaDropout').length, 2, `forward and backward (${names.join(', ')})`);
  const kept = dropout(x, 0.25, new Rng(3)).dataSync();
  const dropped = Array.from(kept).filter((v) => v === 0).length;
  assert.ok(dropped > 0.2 * kept.length && dropped < 0.3 * kept.length, `about a quarter dropped (${dropped} of ${kept.length})`);
  x.dispose();
});

test('the committed wasm module is what wasm/dropout/build.sh makes of dropout.c (where the same clang is installed)', (t) =>
  assertCommittedWasm(t, 'dropout', 'dropout'));
