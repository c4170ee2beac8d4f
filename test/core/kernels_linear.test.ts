// The linear layer's fused forward (EmopiaLinear: product and bias in one call of wasm/matmul's gemm) behind
// core/ops.ts's linear while a gradient is recorded: values and gradients (x, weight, bias) bit-equal to the chain it
// replaces (tf.matMul, then tf.add of the bias), over shapes with odd sizes and leading axes; it is what runs
// under a tape, and inference keeps the chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, withTrainingProducts } from '../../src/backend.ts';
import { linear } from '../../src/core/ops.ts';
import { Rng } from '../../src/random.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const SKIP = OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false;

function chain(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const K = w.shape[0] as number;
  const y = tf.matMul(x.reshape([-1, K]) as tf.Tensor2D, w as tf.Tensor2D).reshape([...x.shape.slice(0, -1), w.shape[1] as number]); // (..., out)
  return tf.add(y, b); // (..., out)
}

const rand = (rng: Rng, shape: number[]): tf.Tensor => tf.tensor(Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => rng.normal()), shape);

test('fused linear under a tape: values and gradients bit-equal to tf.matMul + tf.add', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(8);
  for (const [xs, inF, outF] of [[[5], 7, 3], [[2, 5], 7, 3], [[3, 17], 65, 9], [[2, 64], 256, 135], [[1, 1], 1, 1]] as [number[], number, number][]) {
    const x = rand(rng, [...xs, inF]);
    const w = rand(rng, [inF, outF]);
    const b = rand(rng, [outF]);
    const dy = rand(rng, [...xs, outF]);
    const run = (f: (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
      withTrainingProducts(() => {
        let y: number[] = [];
        const gs = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
          const out = f(a, c, d); // (..., out)
          y = Array.from(out.dataSync());
          return tf.sum(tf.mul(out, dy));
        })([x, w, b]);
        const r = { y, g: gs.map((g) => Array.from(g.dataSync())) };
        tf.dispose(gs);
        return r;
      });
    let ours: { y: number[]; g: number[][] } = { y: [], g: [] };
    const profile = await tf.profile(() => {
      ours = run(linear);
    });
    const names = profile.kernels.map((k) => k.name);
    assert.equal(names.filter((n) => n === 'EmopiaLinear').length, 1, `the fused kernel ran (${names.join(', ')})`);
    assert.ok(!names.includes('Add'), 'no separate bias add');
    const ref = run(chain);
    const what = `x [${x.shape}], w [${w.shape}]`;
    assert.deepEqual(ours.y, ref.y, `${what}: values`);
    ['dx', 'dw', 'db'].forEach((n, i) => assert.deepEqual(ours.g[i], ref.g[i], `${what}: ${n}`));
    tf.dispose([x, w, b, dy]);
  }
});

test('linear outside a tape keeps the chain (inference numbers unchanged)', async () => {
  await initBackend('wasm');
  const rng = new Rng(9);
  const [x, w, b] = [rand(rng, [2, 3, 17]), rand(rng, [17, 5]), rand(rng, [5])];
  const profile = await tf.profile(() => {
    const y = linear(x, w, b);
    assert.deepEqual(Array.from(y.dataSync()), Array.from(chain(x, w, b).dataSync()));
  });
  assert.ok(!profile.kernelNames.includes('EmopiaLinear'));
  tf.dispose([x, w, b]);
});
