// The wasm work-arounds of ops.ts (looped matmul and its gradient, embedding gradient) against tfjs's own ops,
// closed forms of gelu and layerNorm, and Linear's PyTorch-layout state dict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { matmul, embedding, gelu, layerNorm } from '../../src/core/ops.ts';
import { Linear } from '../../src/core/module.ts';
import { Rng } from '../../src/random.ts';
import { assertClose } from '../helpers/close.ts';

for (const backend of ['wasm', 'cpu'] as const) {
  // [.., 4,5]x[.., 5,2] is below matmul's looping threshold (one batched call); [.., 64,64]x[.., 64,64] is at it,
  // so on wasm it runs the loop of 2-D products and its custom gradient.
  for (const [M, K, N] of [[4, 5, 2], [64, 64, 64]] as const) {
    test(`${backend}: batched matmul ${M}x${K}x${N} and its gradients equal tf.matMul's`, async () => {
      await initBackend(backend);
      const n0 = tf.memory().numTensors;
      const a = tf.randomNormal([2, 3, M, K], 0, 1, 'float32', 1);
      const b = tf.randomNormal([2, 3, K, N], 0, 1, 'float32', 2);
      const w = tf.randomNormal([K, 3], 0, 1, 'float32', 3);
      const mine = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(matmul(x, y))))([a, b]);
      const ref = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x as tf.Tensor4D, y as tf.Tensor4D))))([a, b]);
      const tol = 1e-4 * K; // float32 sums of K products, squared loss
      assertClose(mine[0]!.dataSync(), ref[0]!.dataSync(), tol, 'dA');
      assertClose(mine[1]!.dataSync(), ref[1]!.dataSync(), tol, 'dB');
      // matmul's reshapes are intermediate tensors: like every op it is meant to run inside a tidy.
      tf.tidy(() => assertClose(matmul(a, w).dataSync(), tf.matMul(a.reshape([-1, K]) as tf.Tensor2D, w as tf.Tensor2D).dataSync(), 1e-5 * K, 'x·W'));
      tf.dispose([a, b, w, ...mine, ...ref]);
      assert.equal(tf.memory().numTensors, n0, 'no tensor left behind');
    });
  }

  test(`${backend}: embedding gradient accumulates repeated ids`, async () => {
    await initBackend(backend);
    const table = tf.randomNormal([7, 4], 0, 1, 'float32', 4);
    const ids = tf.tensor2d([[1, 2, 2], [6, 0, 1]], undefined, 'int32');
    const weights = tf.range(0, 24).reshape([2, 3, 4]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embedding(t, ids), weights)))(table);
    // row 1 is used at (0,0) and (1,2): [0,1,2,3] + [20,21,22,23]; row 2 at (0,1) and (0,2); rows 3..5 unused.
    assert.deepEqual(Array.from(g.dataSync()).slice(4, 12), [20, 22, 24, 26, 12, 14, 16, 18]);
    assert.deepEqual(Array.from(g.dataSync()).slice(12, 24), new Array(12).fill(0));
    tf.dispose([table, ids, weights, g]);
  });
}

test('gelu and layerNorm match closed forms', async () => {
  await initBackend('wasm');
  // gelu(1) = 0.5 * (1 + erf(1/sqrt 2)) = 0.8413447
  assertClose(gelu(tf.tensor1d([1, -1, 0])).dataSync(), [0.8413447, -0.1586553, 0], 1e-5, 'gelu');
  const y = layerNorm(tf.tensor2d([[1, 2, 3, 4]]), tf.ones([4]), tf.zeros([4]), 0);
  const s = Math.sqrt(1.25);
  assertClose(y.dataSync(), [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], 1e-5, 'layerNorm');
});

for (const backend of ['wasm', 'cpu'] as const) {
  test(`${backend}: Linear state dict is in PyTorch layout [out, in], round-trips, and shares no memory with the model`, async () => {
    await initBackend(backend);
    const lin = new Linear(3, 2, new Rng(1));
    const sd = lin.stateDict();
    assert.deepEqual(sd.get('weight')!.shape, [2, 3]);
    const w = new Float32Array([1, 2, 3, 4, 5, 6]); // rows = outputs
    const b = new Float32Array([0.5, -0.5]);
    lin.loadStateDict(new Map([['weight', { shape: [2, 3], data: w }], ['bias', { shape: [2], data: b }]]));
    const x = tf.tensor2d([[1, 0, 1]]);
    const want = [1 + 3 + 0.5, 4 + 6 - 0.5];
    assertClose(lin.forward(x).dataSync(), want, 1e-6, 'y');
    const back = lin.stateDict();
    assert.deepEqual(Array.from(back.get('weight')!.data), Array.from(w));
    assert.deepEqual(Array.from(back.get('bias')!.data), Array.from(b));
    // Writing into the loaded arrays or into a state dict must not reach the parameters.
    w.fill(0);
    b.fill(7);
    back.get('bias')!.data.fill(9);
    assertClose(lin.forward(x).dataSync(), want, 1e-6, 'y after the host arrays changed');
    // A bad shape is refused before any parameter is assigned.
    const bad = new Map([['bias', { shape: [2], data: new Float32Array([100, 100]) }], ['weight', { shape: [3, 2], data: new Float32Array(6) }]]);
    assert.throws(() => lin.loadStateDict(bad), /state dict 'weight': expected shape \[2,3\], got \[3,2\]/);
    assertClose(lin.forward(x).dataSync(), want, 1e-6, 'y after a refused state dict');
    tf.dispose(x);
    lin.dispose();
  });
}
