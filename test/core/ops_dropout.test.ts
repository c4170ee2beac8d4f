// core/ops.ts's dropout draws its mask on the host: the same bits as tf.randomUniform / tf.dropout with the
// same seed (so seeded training is unchanged), on both backends, for several rates, seeds and odd sizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { dropout, seededUniform } from '../../src/core/ops.ts';
import { Rng } from '../../src/random.ts';

test('seededUniform is the stream of tf.randomUniform(shape, 0, 1, float32, seed), to the bit', async () => {
  await initBackend('cpu');
  for (const seed of [0, 1, 7, 123456789, 2147483646, 0.5]) {
    for (const n of [1, 2, 3, 1000, 1001]) {
      const ref = tf.randomUniform([n], 0, 1, 'float32', seed);
      assert.deepEqual(Array.from(seededUniform(seed, n)), Array.from(ref.dataSync()), `seed ${seed}, n ${n}`);
      ref.dispose();
    }
  }
});

for (const backend of ['wasm', 'cpu'] as const) {
  test(`${backend}: dropout equals tf.dropout with the seed drawn from the same Rng, values and gradients`, async () => {
    await initBackend(backend);
    const data = new Rng(3);
    for (const [rate, shape] of [[0.1, [2, 5, 7]], [0.5, [33]], [0.9, [4, 17]], [1 / 3, [3, 64]]] as [number, number[]][]) {
      const n = shape.reduce((p, x) => p * x, 1);
      const x = tf.tensor(Float32Array.from({ length: n }, () => data.normal()), shape);
      const ours = dropout(x, rate, new Rng(11));
      const theirs = tf.dropout(x, rate, undefined, new Rng(11).nextSeed());
      assert.deepEqual(ours.shape, shape);
      assert.deepEqual(Array.from(ours.dataSync()), Array.from(theirs.dataSync()), `rate ${rate}`);
      const zeros = Array.from(ours.dataSync()).filter((v) => v === 0).length;
      assert.ok(zeros > 0 || n * rate < 3, `rate ${rate}: some values are dropped`);
      const gOurs = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(dropout(a, rate, new Rng(11)), a)))(x);
      const gTheirs = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.dropout(a, rate, undefined, new Rng(11).nextSeed()), a)))(x);
      assert.deepEqual(Array.from(gOurs.dataSync()), Array.from(gTheirs.dataSync()), `rate ${rate}: gradient`);
      tf.dispose([x, ours, theirs, gOurs, gTheirs]);
    }
    const x = tf.ones([3]);
    assert.equal(dropout(x, 0.5), x, 'no rng: identity');
    assert.equal(dropout(x, 0, new Rng(1)), x, 'rate 0: identity');
    x.dispose();
  });
}
