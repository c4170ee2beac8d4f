// tf.split on wasm through our SplitV (src/kernels/split.ts): every axis, equal parts and sizes with -1,
// float32 and int32, against the values themselves and tfjs's own kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { setTrainingKernels } from '../../src/kernels/register.ts';
import { splitSizes } from '../../src/kernels/split.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const SKIP = OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false;

test('splitSizes: equal parts, given sizes, one inferred -1, invalid splits', () => {
  assert.deepEqual(splitSizes(6, 3), [2, 2, 2]);
  assert.deepEqual(splitSizes(7, [2, -1, 1]), [2, 4, 1]);
  assert.deepEqual(splitSizes(5, [5]), [5]);
  assert.equal(splitSizes(7, 3), null);
  assert.equal(splitSizes(7, [2, 2]), null);
  assert.equal(splitSizes(7, [-1, -1]), null);
});

test('wasm tf.split equals the slices and tfjs own kernel on every axis', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const shape = [3, 5, 7];
  const n = 3 * 5 * 7;
  for (const dtype of ['float32', 'int32'] as const) {
    const x = tf.tensor(Int32Array.from({ length: n }, (_, i) => i * 3 - 50), shape, dtype);
    for (const [axis, how] of [[0, 3], [1, [1, -1, 2]], [2, [2, 0, 5]], [-1, [7]], [1, 5]] as [number, number | number[]][]) {
      const ours = tf.split(x, how, axis);
      setTrainingKernels(false);
      let theirs: tf.Tensor[];
      try {
        theirs = tf.split(x, how, axis);
      } finally {
        setTrainingKernels(true);
      }
      assert.equal(ours.length, theirs.length);
      ours.forEach((t, i) => {
        const r = theirs[i] as tf.Tensor;
        assert.equal(t.dtype, dtype);
        assert.deepEqual(t.shape, r.shape, `axis ${axis}, part ${i}`);
        assert.deepEqual(Array.from(t.dataSync()), Array.from(r.dataSync()), `${dtype}, axis ${axis}, part ${i}`);
      });
      // and against the definition: part i is x sliced on the axis from the running start
      const ax = axis < 0 ? axis + 3 : axis;
      let start = 0;
      ours.forEach((t) => {
        const begin = [0, 0, 0];
        begin[ax] = start;
        const s = tf.slice(x, begin, t.shape);
        assert.deepEqual(Array.from(t.dataSync()), Array.from(s.dataSync()));
        start += t.shape[ax] as number;
        s.dispose();
      });
      tf.dispose([...ours, ...theirs]);
    }
    x.dispose();
  }
});
