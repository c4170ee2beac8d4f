// The fused softmax cross-entropy kernels (wasm/xent/xent.c through src/kernels/xent.ts and core/train/loss.ts's
// maskedCrossEntropySum): under a gradient tape the masked sum and the logits' gradient equal tfjs's chain on
// the cpu backend (the PyTorch-parity reference) over odd class counts, masks and out-of-range targets; outside
// a tape the chain runs, to the bit; the committed module equals the build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { maskedCrossEntropySum } from '../../src/core/train/loss.ts';
import { Rng } from '../../src/random.ts';
import { assertCommittedWasm } from '../helpers/wasm_build.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const SKIP = OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false;

function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** Loss and logits gradient of 1.7 * Σ CE·mask on `backend`. */
async function lossAndGrad(backend: 'wasm' | 'cpu', shape: number[], xs: Float32Array, ts: Int32Array, ms: Float32Array) {
  await initBackend(backend);
  const lead = shape.slice(0, -1);
  const [x, t, m] = [tf.tensor(xs, shape), tf.tensor(ts, lead, 'int32'), tf.tensor(ms, lead)];
  let ran: string[] = [];
  let out: { loss: number; grad: Float32Array } = { loss: 0, grad: new Float32Array(0) };
  const profile = await tf.profile(() => {
    const { value, grad } = tf.valueAndGrad((lg: tf.Tensor) => tf.mul(maskedCrossEntropySum(lg, t, m), 1.7))(x);
    out = { loss: value.dataSync()[0] as number, grad: Float32Array.from(grad.dataSync()) };
    tf.dispose([value, grad]);
  });
  ran = profile.kernelNames;
  tf.dispose([x, t, m]);
  return { ...out, ran };
}

test('fused cross-entropy under a gradient tape: loss and logits gradient equal the cpu chain (odd classes, masks, out-of-range targets)', { skip: SKIP }, async () => {
  const rng = new Rng(31);
  for (const shape of [[1, 1, 2], [2, 7, 3], [3, 5, 4], [2, 9, 87], [1, 33, 135], [4, 3, 1027]]) {
    const C = shape[shape.length - 1] as number;
    const R = shape.slice(0, -1).reduce((p, v) => p * v, 1);
    const xs = Float32Array.from({ length: R * C }, () => Math.fround(rng.normal() * 4));
    const ts = Int32Array.from({ length: R }, (_, i) => (i === 3 ? C : i === 4 ? -1 : Math.floor(rng.next() * C)));
    const ms = Float32Array.from({ length: R }, (_, i) => (i % 5 === 2 ? 0 : 1));
    const cpu = await lossAndGrad('cpu', shape, xs, ts, ms);
    const wasm = await lossAndGrad('wasm', shape, xs, ts, ms);
    assert.ok(wasm.ran.includes('EmopiaSoftmaxXent') && wasm.ran.includes('EmopiaSoftmaxXentGrad'), `the fused kernels ran (${wasm.ran.join(', ')})`);
    assert.ok(!wasm.ran.includes('OneHot') && !wasm.ran.includes('Exp'), 'no tfjs chain under the tape');
    assert.ok(Math.abs(wasm.loss - cpu.loss) <= 1e-5 * Math.max(1, Math.abs(cpu.loss)), `${shape}: loss ${wasm.loss} vs ${cpu.loss}`);
    assert.ok(maxErr(wasm.grad, cpu.grad) <= 1e-6, `${shape}: gradient off by ${maxErr(wasm.grad, cpu.grad)}`);
  }
});

test('cross-entropy outside a gradient tape keeps tfjs chain, to the bit (validation numbers unchanged)', async () => {
  await initBackend('wasm');
  const rng = new Rng(32);
  const x = tf.tensor3d(Float32Array.from({ length: 2 * 5 * 11 }, () => rng.normal() * 3), [2, 5, 11]);
  const t = tf.tensor2d(Int32Array.from({ length: 10 }, (_, i) => i % 11), [2, 5], 'int32');
  const m = tf.tensor2d(Float32Array.from({ length: 10 }, (_, i) => (i % 3 === 0 ? 0 : 1)), [2, 5]);
  const ours = maskedCrossEntropySum(x, t, m);
  const chain = tf.sum(tf.mul(tf.neg(tf.sum(tf.mul(tf.logSoftmax(x), tf.oneHot(t, 11).toFloat()), -1)), m));
  assert.equal(ours.dataSync()[0], chain.dataSync()[0]);
  tf.dispose([x, t, m, ours, chain]);
});

test('the committed wasm module is what wasm/xent/build.sh makes of xent.c (where the same clang is installed)', (t) => assertCommittedWasm(t, 'xent', 'xent'));
