/**
 * The hand-written gradient of the chunked causal linear attention (src/cp/attention.ts) against tf's own
 * gradient of the O(T²) masked form, phi(Q)phi(K)ᵀ ⊙ causal, for chunk sizes that do and do not divide T.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import { causalLinearAttention, LINEAR_EPS } from '../../src/cp/attention.ts';
import { assertClose } from '../helpers/close.ts';

/** The quadratic reference: out = (A ⊙ causal) V / ((A ⊙ causal) 1 + eps), A = fq fkᵀ; all [B,h,T,·]. */
function quadratic(fq: tf.Tensor, fk: tf.Tensor, v: tf.Tensor): tf.Tensor {
  const T = fq.shape[2] as number;
  const causal = tf.linalg.bandPart(tf.ones([T, T]), -1, 0); // (T, T)
  const A = tf.mul(tf.matMul(fq as tf.Tensor4D, fk as tf.Tensor4D, false, true), causal); // (B, h, T, T)
  return tf.div(tf.matMul(A, v as tf.Tensor4D), tf.add(tf.sum(A, -1, true), LINEAR_EPS)); // (B, h, T, dv)
}

test('chunked linear attention: gradients w.r.t. phi(q), phi(k), v equal those of the O(T²) form', async () => {
  await initBackend('wasm');
  const rng = new Rng(21);
  const [B, h, T, dh] = [2, 2, 9, 4];
  const n = B * h * T * dh;
  const fq = tf.tensor4d(Float32Array.from({ length: n }, () => 0.1 + rng.next() * 2), [B, h, T, dh]); // positive, like elu+1
  const fk = tf.tensor4d(Float32Array.from({ length: n }, () => 0.1 + rng.next() * 2), [B, h, T, dh]);
  const v = tf.tensor4d(Float32Array.from({ length: n }, () => rng.normal()), [B, h, T, dh]);
  // A loss that weighs every output element differently, so that each gradient entry is tested.
  const w = tf.tensor4d(Float32Array.from({ length: n }, () => rng.normal()), [B, h, T, dh]);
  const loss = (f: (q: tf.Tensor, k: tf.Tensor, vv: tf.Tensor) => tf.Tensor) => (q: tf.Tensor, k: tf.Tensor, vv: tf.Tensor) => tf.sum(tf.mul(f(q, k, vv), w));
  const ref = tf.grads(loss(quadratic))([fq, fk, v]);
  const refData = ref.map((g) => g.dataSync());
  tf.dispose(ref);
  const before = tf.memory().numTensors;
  for (const chunk of [1, 2, 4, 9, 16]) {
    const got = tf.grads(loss((q, k, vv) => causalLinearAttention(q, k, vv, chunk)))([fq, fk, v]);
    ['phi(q)', 'phi(k)', 'v'].forEach((what, i) => {
      const g = got[i] as tf.Tensor;
      assert.deepEqual(g.shape, [B, h, T, dh]);
      const r = refData[i] as Float32Array;
      const scale = Math.max(...Array.from(r, Math.abs));
      assertClose(g.dataSync(), r, 1e-5 * Math.max(1, scale), `d${what}, chunk ${chunk}`);
    });
    tf.dispose(got);
  }
  assert.equal(tf.memory().numTensors, before, 'tensors leaked by the gradient');
  tf.dispose([fq, fk, v, w]);
});
