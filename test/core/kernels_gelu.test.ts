// The fused GELU kernels (wasm/gelu/gelu.c through src/kernels/gelu.ts and core/ops.ts's gelu): values and
// gradients under a gradient tape against float64 references over odd sizes; outside a tape gelu keeps
// tfjs's chain to the bit; the committed module equals the build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tf, initBackend } from '../../src/backend.ts';
import { gelu } from '../../src/core/ops.ts';
import { Rng } from '../../src/random.ts';
import { assertCommittedWasm } from '../helpers/wasm_build.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const SKIP = OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false;

/** erf in float64 by its Taylor series (|x| <= 4: the terms stay below 1e5, so about 1e-11 absolute). */
function erf64(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const gelu64 = (x: number): number => 0.5 * x * (1 + erf64(x / Math.SQRT2));
const geluGrad64 = (x: number): number => 0.5 * (1 + erf64(x / Math.SQRT2)) + (x * Math.exp(-x * x / 2)) / Math.sqrt(2 * Math.PI);

test('fused gelu under a gradient tape: values and gradients equal float64 references over odd sizes', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(12);
  for (const n of [1, 3, 4, 7, 33, 1027]) {
    const xs = Float32Array.from({ length: n }, (_, i) => (i === 0 ? 0 : i === 1 ? -4 : i === 2 ? 4 : Math.fround(rng.normal() * 2)));
    const ws = Float32Array.from({ length: n }, () => Math.fround(rng.normal()));
    const x = tf.tensor1d(xs);
    const w = tf.tensor1d(ws);
    let y: Float32Array = new Float32Array(0);
    const profile = await tf.profile(() => {
      const g = tf.grad((a: tf.Tensor) => {
        const out = gelu(a); // (n)
        y = out.dataSync() as Float32Array;
        return tf.sum(tf.mul(out, w));
      })(x);
      const gd = g.dataSync();
      for (let i = 0; i < n; i++) {
        const v = xs[i] as number;
        // A&S 7.1.26 erf: |error| < 1.5e-7, so y within |x|/2 * 1.5e-7 (+ float rounding), the gradient similarly.
        const tolY = 1e-7 * Math.abs(v) + 2e-7 * Math.max(1, Math.abs(gelu64(v)));
        assert.ok(Math.abs((y[i] as number) - gelu64(v)) <= tolY, `n ${n}, x ${v}: gelu ${y[i]} vs ${gelu64(v)}`);
        const ref = (ws[i] as number) * geluGrad64(v);
        assert.ok(Math.abs((gd[i] as number) - ref) <= 5e-7 * Math.max(1, Math.abs(v)) * Math.max(1, Math.abs(ws[i] as number)), `n ${n}, x ${v}: grad ${gd[i]} vs ${ref}`);
      }
      g.dispose();
    });
    const names = profile.kernelNames;
    assert.ok(names.includes('EmopiaGeluWithGrad'), `the fused kernel ran (${names.join(', ')})`);
    assert.ok(!names.includes('Erf'), 'no tfjs Erf under the tape');
    tf.dispose([x, w]);
  }
});

test('fused gelu under a tape: the value is EmopiaGelu and the gradient EmopiaGeluGrad, to the bit (the derivative saved by the forward kernel)', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(14);
  for (const n of [1, 3, 5, 1027]) {
    const x = tf.tensor1d(Float32Array.from({ length: n }, () => Math.fround(rng.normal() * 3))); // (n)
    const dy = tf.tensor1d(Float32Array.from({ length: n }, () => Math.fround(rng.normal()))); // (n)
    let y: number[] = [];
    const g = tf.grad((a: tf.Tensor) => {
      const out = gelu(a); // (n)
      y = Array.from(out.dataSync());
      return tf.sum(tf.mul(out, dy));
    })(x);
    const refY = tf.engine().runKernel('EmopiaGelu', { x }) as tf.Tensor; // (n)
    const refG = tf.engine().runKernel('EmopiaGeluGrad', { x, dy }) as tf.Tensor; // (n)
    assert.deepEqual(y, Array.from(refY.dataSync()), `n ${n}: values`);
    assert.deepEqual(Array.from(g.dataSync()), Array.from(refG.dataSync()), `n ${n}: gradients`);
    tf.dispose([x, dy, g, refY, refG]);
  }
});

test('gelu outside a gradient tape keeps tfjs chain, to the bit (inference numbers unchanged)', async () => {
  await initBackend('wasm');
  const rng = new Rng(13);
  const x = tf.tensor1d(Float32Array.from({ length: 101 }, () => rng.normal() * 3));
  const ours = gelu(x);
  const chain = tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  assert.deepEqual(Array.from(ours.dataSync()), Array.from(chain.dataSync()));
  tf.dispose([x, ours, chain]);
});

test('the committed wasm module is what wasm/gelu/build.sh makes of gelu.c (where the same clang is installed)', (t) => assertCommittedWasm(t, 'gelu', 'gelu'));
