// The fused layer-norm kernels (wasm/layernorm/layernorm.c through src/kernels/layernorm.ts and core/ops.ts's
// layerNorm): values and the three gradients under a gradient tape against tfjs's chain on the cpu backend
// (float64-free, independent) over odd shapes; outside a tape layerNorm keeps tfjs's chain to the bit; the
// committed module equals the build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { layerNorm } from '../../src/core/ops.ts';
import { Rng } from '../../src/random.ts';
import { assertCommittedWasm } from '../helpers/wasm_build.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const SKIP = OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false;

/** torch.nn.LayerNorm in float64 over the last axis, with its gradients for the weights w of sum(y * w). */
function reference(x: Float32Array, g: Float32Array, b: Float32Array, w: Float32Array, D: number, eps: number) {
  const R = x.length / D;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dg = new Float64Array(D);
  const db = new Float64Array(D);
  for (let r = 0; r < R; r++) {
    let mean = 0;
    for (let j = 0; j < D; j++) mean += x[r * D + j] as number;
    mean /= D;
    let v = 0;
    for (let j = 0; j < D; j++) v += ((x[r * D + j] as number) - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / D + eps);
    let mg = 0;
    let mgx = 0;
    const xh = new Float64Array(D);
    for (let j = 0; j < D; j++) {
      const i = r * D + j;
      xh[j] = ((x[i] as number) - mean) * rstd;
      y[i] = (xh[j] as number) * (g[j] as number) + (b[j] as number);
      const gg = (w[i] as number) * (g[j] as number);
      mg += gg / D;
      mgx += (gg * (xh[j] as number)) / D;
      dg[j] = (dg[j] as number) + (w[i] as number) * (xh[j] as number);
      db[j] = (db[j] as number) + (w[i] as number);
    }
    for (let j = 0; j < D; j++) {
      const i = r * D + j;
      dx[i] = rstd * ((w[i] as number) * (g[j] as number) - mg - (xh[j] as number) * mgx);
    }
  }
  return { y, dx, dg, db };
}

function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

test('fused layer norm under a gradient tape: values and the x, gamma, beta gradients equal float64 over odd shapes', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(21);
  for (const shape of [[1, 1], [3, 3], [2, 5, 4], [7, 37], [2, 3, 256], [1, 1, 1027]]) {
    const D = shape[shape.length - 1] as number;
    const n = shape.reduce((p, v) => p * v, 1);
    const xs = Float32Array.from({ length: n }, () => Math.fround(rng.normal() * 3 + 1));
    const gs = Float32Array.from({ length: D }, () => Math.fround(1 + rng.normal() * 0.5));
    const bs = Float32Array.from({ length: D }, () => Math.fround(rng.normal() * 0.5));
    const ws = Float32Array.from({ length: n }, () => Math.fround(rng.normal()));
    const [x, g, b, w] = [tf.tensor(xs, shape), tf.tensor1d(gs), tf.tensor1d(bs), tf.tensor(ws, shape)];
    const ref = reference(xs, gs, bs, ws, D, 1e-5);
    let y: Float32Array = new Float32Array(0);
    const profile = await tf.profile(() => {
      const grads = tf.grads((a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
        const out = layerNorm(a, gg, bb);
        y = out.dataSync() as Float32Array;
        return tf.sum(tf.mul(out, w));
      })([x, g, b]);
      const [dx, dg, db] = grads.map((t) => t.dataSync());
      // float32 row sums over up to 1027 values: errors of a few ulps of the values' scale (|y| up to ~5).
      assert.ok(maxErr(y, ref.y) <= 2e-5, `${shape}: y off by ${maxErr(y, ref.y)}`);
      assert.ok(maxErr(dx as Float32Array, ref.dx) <= 2e-5, `${shape}: dx off by ${maxErr(dx as Float32Array, ref.dx)}`);
      assert.ok(maxErr(dg as Float32Array, ref.dg) <= 2e-5 * Math.max(1, n / D), `${shape}: dgamma off by ${maxErr(dg as Float32Array, ref.dg)}`);
      assert.ok(maxErr(db as Float32Array, ref.db) <= 2e-5 * Math.max(1, n / D), `${shape}: dbeta off by ${maxErr(db as Float32Array, ref.db)}`);
      tf.dispose(grads);
    });
    const names = profile.kernelNames;
    assert.ok(names.includes('EmopiaLayerNorm') && names.includes('EmopiaLayerNormGrad'), `the fused kernels ran (${names.join(', ')})`);
    assert.ok(!names.includes('Rsqrt') && !names.includes('Mean'), 'no tfjs moments chain under the tape');
    tf.dispose([x, g, b, w]);
  }
});

test('fused layer norm: gradients equal tfjs chain on the cpu backend (the PyTorch-parity reference) for trainer-like rows', { skip: SKIP }, async () => {
  const rng = new Rng(22);
  const shape = [2, 9, 256];
  const n = 2 * 9 * 256;
  const xs = Float32Array.from({ length: n }, () => Math.fround(rng.normal() * 2));
  const gs = Float32Array.from({ length: 256 }, () => Math.fround(1 + rng.normal() * 0.2));
  const bs = Float32Array.from({ length: 256 }, () => Math.fround(rng.normal() * 0.2));
  const ws = Float32Array.from({ length: n }, () => Math.fround(rng.normal()));
  const run = async (backend: 'wasm' | 'cpu') => {
    await initBackend(backend);
    const [x, g, b, w] = [tf.tensor(xs, shape), tf.tensor1d(gs), tf.tensor1d(bs), tf.tensor(ws, shape)];
    const out = tf.grads((a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(layerNorm(a, gg, bb), w)))([x, g, b]).map((t) => Float32Array.from(t.dataSync()));
    tf.dispose([x, g, b, w]);
    return out;
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  for (let i = 0; i < 3; i++) assert.ok(maxErr(wasm[i] as Float32Array, cpu[i] as Float32Array) <= 2e-5, `gradient ${i}: ${maxErr(wasm[i] as Float32Array, cpu[i] as Float32Array)}`);
});

test('layer norm outside a gradient tape keeps tfjs chain, to the bit (inference numbers unchanged)', async () => {
  await initBackend('wasm');
  const rng = new Rng(23);
  const x = tf.tensor2d(Float32Array.from({ length: 5 * 37 }, () => rng.normal() * 3), [5, 37]);
  const g = tf.tensor1d(Float32Array.from({ length: 37 }, () => 1 + rng.normal() * 0.3));
  const b = tf.tensor1d(Float32Array.from({ length: 37 }, () => rng.normal() * 0.3));
  const ours = layerNorm(x, g, b);
  const { mean, variance } = tf.moments(x, -1, true);
  const chain = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
  assert.deepEqual(Array.from(ours.dataSync()), Array.from(chain.dataSync()));
  tf.dispose([x, g, b, ours, mean, variance, chain]);
});

test('the committed wasm module is what wasm/layernorm/build.sh makes of layernorm.c (where the same clang is installed)', (t) => assertCommittedWasm(t, 'layernorm', 'layernorm'));
