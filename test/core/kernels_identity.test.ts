// The wasm backend's Identity without the copy (src/kernels/identity.ts): a clone shares its input's data,
// holds its own reference to it (either can be disposed first, nothing leaks), and our-kernels-off copies again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { setTrainingKernels } from '../../src/kernels/register.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const SKIP = OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false;

/** Where a tensor's data lies in the wasm heap. */
function offsetOf(t: tf.Tensor): number {
  const backend = tf.backend() as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } | undefined } };
  const d = backend.dataIdMap.get(t.dataId);
  assert.ok(d, 'the tensor is in the wasm backend');
  return d.memoryOffset;
}

test('tf.clone on wasm shares the data, with its own reference, and leaks nothing', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const before = tf.memory();
  const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
  const y = tf.clone(x); // (2, 3)
  assert.equal(offsetOf(y), offsetOf(x), 'no copy');
  assert.deepEqual(y.shape, [2, 3]);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4, 5, 6], 'the clone outlives its source');
  const z = tf.add(y, 1); // (2, 3): a new output, the shared data unchanged
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Array.from(z.dataSync()), [2, 3, 4, 5, 6, 7]);
  tf.dispose([y, z]);
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  assert.equal(after.numDataBuffers, before.numDataBuffers, 'the shared buffer is freed with its last tensor');
});

test('gradients through ops that save their inputs are unchanged by the shared clones', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const x = tf.tensor1d([0.5, -1, 2, 3]);
  const f = (a: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.exp(a), tf.mul(a, a))); // saves a and exp(a)
  const shared = tf.grad(f)(x);
  setTrainingKernels(false);
  let copied: tf.Tensor;
  try {
    copied = tf.grad(f)(x);
    const c = tf.clone(x);
    assert.notEqual(offsetOf(c), offsetOf(x), 'our kernels off: tfjs copies');
    c.dispose();
  } finally {
    setTrainingKernels(true);
  }
  const expected = Array.from([0.5, -1, 2, 3], (v) => Math.exp(v) * (v * v + 2 * v)); // d/da e^a a² = e^a (a² + 2a)
  const got = Array.from(shared.dataSync());
  assert.deepEqual(got, Array.from(copied.dataSync()));
  got.forEach((g, i) => assert.ok(Math.abs(g - (expected[i] as number)) < 1e-4 * Math.max(1, Math.abs(expected[i] as number)), `grad ${i}: ${g}`));
  tf.dispose([x, shared, copied]);
});

test('a float32 -> float32 cast on wasm shares the data; a real cast converts', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const x = tf.tensor1d([1.5, -2.25, 3]);
  const same = tf.cast(x, 'float32');
  assert.equal(offsetOf(same), offsetOf(x));
  const ints = tf.cast(x, 'int32');
  assert.equal(ints.dtype, 'int32');
  assert.deepEqual(Array.from(ints.dataSync()), [1, -2, 3]);
  x.dispose();
  assert.deepEqual(Array.from(same.dataSync()), [1.5, -2.25, 3]);
  tf.dispose([same, ints]);
});
