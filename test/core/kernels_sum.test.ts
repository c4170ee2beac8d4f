// tf.sum over leading axes on wasm (src/kernels/sum.ts, wasm/reduce/reduce.c): against float64 sums over odd
// shapes, with keepDims and negative axes; other reductions unchanged; the committed module equals the build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { leadingAxes } from '../../src/kernels/sum.ts';
import { setTrainingKernels } from '../../src/kernels/register.ts';
import { Rng } from '../../src/random.ts';
import { assertClose } from '../helpers/close.ts';
import { assertCommittedWasm } from '../helpers/wasm_build.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const SKIP = OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false;

test('leadingAxes recognises exactly the leading axes (any order, negatives), never all of them', () => {
  assert.equal(leadingAxes([0, 1], 3), 2);
  assert.equal(leadingAxes([1, 0], 3), 2);
  assert.equal(leadingAxes(0, 2), 1);
  assert.equal(leadingAxes([-3, -2], 3), 2);
  assert.equal(leadingAxes([1], 3), 0);
  assert.equal(leadingAxes([0, 2], 3), 0);
  assert.equal(leadingAxes([0, 1], 2), 0);
  assert.equal(leadingAxes(undefined, 2), 0);
});

test('wasm tf.sum over leading axes equals float64 column sums over odd shapes', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(9);
  const cases: [number[], number[], boolean][] = [
    [[7, 5], [0], false],
    [[1, 1], [0], false],
    [[3, 17, 33], [0, 1], false],
    [[2, 9, 16], [1, 0], true],
    [[5, 3, 2, 19], [-4, -3], false],
    [[300, 1], [0], true],
    [[4, 2, 64], [0, 1], false],
  ];
  for (const [shape, axis, keepDims] of cases) {
    const n = shape.reduce((p, x) => p * x, 1);
    const data = Float32Array.from({ length: n }, () => rng.normal());
    const x = tf.tensor(data, shape);
    const y = tf.sum(x, axis, keepDims);
    const k = axis.length;
    const R = shape.slice(0, k).reduce((p, d) => p * d, 1);
    const C = n / R;
    const ref = new Float64Array(C);
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) ref[c] = (ref[c] as number) + (data[r * C + c] as number);
    assert.deepEqual(y.shape, keepDims ? [...shape.slice(0, k).map(() => 1), ...shape.slice(k)] : shape.slice(k), `[${shape}] axis ${axis}`);
    assertClose(y.dataSync(), ref, 1e-6 * Math.sqrt(R) * 4, `[${shape}] axis ${axis}`);
    tf.dispose([x, y]);
  }
});

test('wasm tf.sum: our kernel and tfjs own agree, including reductions ours leaves to tfjs', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(10);
  const x = tf.tensor(Float32Array.from({ length: 3 * 5 * 7 }, () => rng.normal()), [3, 5, 7]);
  for (const axis of [[0], [0, 1], [1], [2], [0, 2], [0, 1, 2]]) {
    const ours = tf.sum(x, axis);
    setTrainingKernels(false);
    let theirs: tf.Tensor;
    try {
      theirs = tf.sum(x, axis);
    } finally {
      setTrainingKernels(true);
    }
    assert.deepEqual(ours.shape, theirs.shape);
    assertClose(ours.dataSync(), theirs.dataSync(), 1e-5, `axis ${axis}`);
    tf.dispose([ours, theirs]);
  }
  const ints = tf.tensor([[1, 2], [3, 4]], [2, 2], 'int32');
  const s = tf.sum(ints, 0);
  assert.equal(s.dtype, 'int32');
  assert.deepEqual(Array.from(s.dataSync()), [4, 6]);
  tf.dispose([x, ints, s]);
});

test('the committed wasm module is what wasm/reduce/build.sh makes of reduce.c (where the same clang is installed)', (t) => assertCommittedWasm(t, 'reduce', 'reduce'));
