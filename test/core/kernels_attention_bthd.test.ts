// The fused linear attention on the projections' [B, T, h, d] layout (attr `heads`, cp/attention.ts's
// causalLinearAttentionBTHD, what CPAttention runs where the kernels do): values and gradients bit-equal to the
// [B, h, T, d] call on the transposed tensors, for odd sizes; and CPAttention's forward then makes no Transpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { CPAttention, causalLinearAttention, causalLinearAttentionBTHD, phi } from '../../src/cp/attention.ts';
import { Rng } from '../../src/random.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const SKIP = OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false;

const rand = (rng: Rng, shape: number[]): tf.Tensor => tf.tensor(Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => rng.normal()), shape);
const toBHTD = (t: tf.Tensor): tf.Tensor => tf.transpose(t, [0, 2, 1, 3]); // (B, h, T, d) from (B, T, h, d), or back

test('linear attention on [B,T,h,d]: values and gradients bit-equal to the [B,h,T,d] call on transposed tensors', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(31);
  for (const [B, T, h, dh, dv] of [[2, 9, 3, 5, 6], [1, 1, 1, 4, 4], [2, 33, 4, 16, 16], [1, 20, 2, 20, 30]]) {
    const [q, k] = [rand(rng, [B!, T!, h!, dh!]), rand(rng, [B!, T!, h!, dh!])].map(phi) as [tf.Tensor, tf.Tensor]; // (B, T, h, dh)
    const v = rand(rng, [B!, T!, h!, dv!]); // (B, T, h, dv)
    const w = rand(rng, [B!, T!, h!, dv!]); // (B, T, h, dv)
    const run = (f: (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor) => {
      let y: number[] = [];
      const gs = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
        const out = f(a, b, c); // (B, T, h, dv)
        y = Array.from(out.dataSync());
        return tf.sum(tf.mul(out, w));
      })([q, k, v]);
      const r = { y, g: gs.map((g) => Array.from(g.dataSync())) };
      tf.dispose(gs);
      return r;
    };
    const ours = run((a, b, c) => causalLinearAttentionBTHD(a, b, c));
    const ref = run((a, b, c) => toBHTD(causalLinearAttention(toBHTD(a), toBHTD(b), toBHTD(c), 128)));
    const what = `[${B},${T},${h},${dh}/${dv}]`;
    assert.deepEqual(ours.y, ref.y, `${what}: values`);
    ['dq', 'dk', 'dv'].forEach((n, i) => assert.deepEqual(ours.g[i], ref.g[i], `${what}: ${n}`));
    tf.dispose([q, k, v, w]);
  }
});

test('CPAttention (linear) with the fused kernels makes no Transpose, forward or backward', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const att = new CPAttention(32, 4, 'linear', 16, 0.1, new Rng(2));
  const x = rand(new Rng(3), [2, 10, 32]); // (2, 10, 32)
  const profile = await tf.profile(() => {
    const g = tf.grad((a: tf.Tensor) => tf.sum(att.forward(a, new Rng(4))))(x);
    g.dispose();
  });
  const names = profile.kernels.map((kk) => kk.name);
  assert.ok(names.includes('EmopiaCausalLinearAttention') && names.includes('EmopiaCausalLinearAttentionGrad'), names.join(', '));
  assert.ok(!names.includes('Transpose'), `no Transpose (${names.join(', ')})`);
  x.dispose();
  att.dispose();
});
