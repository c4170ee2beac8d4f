// The fused causal linear-attention kernels (wasm/linattn/linattn.c through src/kernels/linear_attention.ts):
// values and gradients against a float64 O(T²) reference over odd sizes (dh != dv, T = 1, heads of width 1),
// the chunked tf form (our kernels off) against the fused one, that the fused kernel is the one running, and
// that the committed module is what the build makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { attentionKernelCalls, setTrainingKernels } from '../../src/kernels/register.ts';
import { causalLinearAttention, fusedLinearAttentionActive, LINEAR_EPS } from '../../src/cp/attention.ts';
import { Rng } from '../../src/random.ts';
import { assertClose } from '../helpers/close.ts';
import { assertCommittedWasm } from '../helpers/wasm_build.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const SKIP = OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false;

interface Case {
  G: number;
  T: number;
  dh: number;
  dv: number;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  w: Float64Array; // the loss weights: loss = sum(out * w), so dout = w
}

function makeCase(G: number, T: number, dh: number, dv: number, rng: Rng): Case {
  const pos = (n: number): Float64Array => Float64Array.from({ length: n }, () => Math.fround(0.05 + 1.5 * rng.next())); // like elu + 1
  const nrm = (n: number): Float64Array => Float64Array.from({ length: n }, () => Math.fround(rng.normal()));
  return { G, T, dh, dv, q: pos(G * T * dh), k: pos(G * T * dh), v: nrm(G * T * dv), w: nrm(G * T * dv) };
}

/** Float64 O(T²) reference: out, and the gradients of sum(out * w) w.r.t. q, k, v. */
function reference({ G, T, dh, dv, q, k, v, w }: Case): Record<'out' | 'dq' | 'dk' | 'dv', Float64Array> {
  const out = new Float64Array(G * T * dv);
  const dq = new Float64Array(G * T * dh);
  const dk = new Float64Array(G * T * dh);
  const dV = new Float64Array(G * T * dv);
  for (let g = 0; g < G; g++) {
    const b = g * T;
    const A = (i: number, j: number): number => {
      let s = 0;
      for (let d = 0; d < dh; d++) s += (q[(b + i) * dh + d] as number) * (k[(b + j) * dh + d] as number);
      return s;
    };
    for (let i = 0; i < T; i++) {
      let den = 0;
      const num = new Float64Array(dv);
      for (let j = 0; j <= i; j++) {
        const a = A(i, j);
        den += a;
        for (let c = 0; c < dv; c++) num[c] = (num[c] as number) + a * (v[(b + j) * dv + c] as number);
      }
      const inv = 1 / (den + LINEAR_EPS);
      let dot = 0; // Σ_c w_ic out_ic
      for (let c = 0; c < dv; c++) {
        out[(b + i) * dv + c] = (num[c] as number) * inv;
        dot += (w[(b + i) * dv + c] as number) * (num[c] as number) * inv;
      }
      for (let j = 0; j <= i; j++) {
        // ∂loss/∂A_ij = Σ_c w_ic (v_jc - out_ic) / (den_i + eps)
        let gA = -dot * inv;
        for (let c = 0; c < dv; c++) gA += (w[(b + i) * dv + c] as number) * inv * (v[(b + j) * dv + c] as number);
        for (let d = 0; d < dh; d++) {
          dq[(b + i) * dh + d] = (dq[(b + i) * dh + d] as number) + gA * (k[(b + j) * dh + d] as number);
          dk[(b + j) * dh + d] = (dk[(b + j) * dh + d] as number) + gA * (q[(b + i) * dh + d] as number);
        }
        const a = A(i, j);
        for (let c = 0; c < dv; c++) dV[(b + j) * dv + c] = (dV[(b + j) * dv + c] as number) + a * (w[(b + i) * dv + c] as number) * inv;
      }
    }
  }
  return { out, dq, dk, dv: dV };
}

const scaleOf = (x: Float64Array): number => Math.max(1, ...Array.from(x, Math.abs));

/** Runs causalLinearAttention and its gradients on a case as [1, G, T, ·] tensors (the chunk of the tf form). */
function run(c: Case, chunk: number): Record<'out' | 'dq' | 'dk' | 'dv', Float32Array> {
  const q = tf.tensor4d(Float32Array.from(c.q), [1, c.G, c.T, c.dh]);
  const k = tf.tensor4d(Float32Array.from(c.k), [1, c.G, c.T, c.dh]);
  const v = tf.tensor4d(Float32Array.from(c.v), [1, c.G, c.T, c.dv]);
  const w = tf.tensor4d(Float32Array.from(c.w), [1, c.G, c.T, c.dv]);
  const out = causalLinearAttention(q, k, v, chunk); // (1, G, T, dv)
  assert.deepEqual(out.shape, [1, c.G, c.T, c.dv]);
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, x: tf.Tensor) => tf.sum(tf.mul(causalLinearAttention(a, b, x, chunk), w)))([q, k, v]);
  const [dq, dk, dv] = grads as [tf.Tensor, tf.Tensor, tf.Tensor];
  assert.deepEqual(dq.shape, q.shape);
  assert.deepEqual(dk.shape, k.shape);
  assert.deepEqual(dv.shape, v.shape);
  const r = { out: out.dataSync() as Float32Array, dq: dq.dataSync() as Float32Array, dk: dk.dataSync() as Float32Array, dv: dv.dataSync() as Float32Array };
  tf.dispose([q, k, v, w, out, ...grads]);
  return r;
}

/** [G, T, dh, dv]: odd sizes, dh != dv, single rows, widths of 1, widths past a multiple of 4, a long sequence. */
const SIZES: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [3, 7, 5, 3],
  [2, 17, 1, 4],
  [1, 33, 9, 6],
  [2, 65, 8, 7],
  [1, 200, 17, 13],
];

test('fused linear attention: values and gradients equal a float64 O(T²) reference over odd sizes', { skip: SKIP }, async () => {
  await initBackend('wasm');
  assert.ok(fusedLinearAttentionActive(), 'the fused kernels are registered on wasm');
  const rng = new Rng(5);
  const before = tf.memory().numTensors;
  const calls = attentionKernelCalls();
  for (const [G, T, dh, dv] of SIZES) {
    const c = makeCase(G, T, dh, dv, rng);
    const ref = reference(c);
    const got = run(c, 4);
    const what = `G ${G}, T ${T}, dh ${dh}, dv ${dv}`;
    assertClose(got.out, ref.out, 2e-6 * scaleOf(ref.out), `out, ${what}`);
    // Gradient entries are sums over up to T rows: tolerance scaled by the largest entry and by T.
    for (const key of ['dq', 'dk', 'dv'] as const) assertClose(got[key], ref[key], 1e-6 * Math.sqrt(T) * scaleOf(ref[key]), `${key}, ${what}`);
  }
  // forward (twice: once alone, once under tf.grads) and the gradient kernel, per size
  assert.equal(attentionKernelCalls() - calls, 3 * SIZES.length, 'the fused kernels ran');
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
});

test('fused linear attention equals the chunked tf form (our kernels off) on the same inputs', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(6);
  for (const [G, T, dh, dv] of [[4, 50, 16, 16], [2, 33, 5, 9]] as [number, number, number, number][]) {
    const c = makeCase(G, T, dh, dv, rng);
    const fused = run(c, 8);
    setTrainingKernels(false);
    let chunked: ReturnType<typeof run>;
    try {
      assert.equal(fusedLinearAttentionActive(), false);
      chunked = run(c, 8);
    } finally {
      setTrainingKernels(true);
    }
    for (const key of ['out', 'dq', 'dk', 'dv'] as const) {
      const scale = Math.max(1, ...Array.from(chunked[key], Math.abs));
      assertClose(fused[key], chunked[key], 2e-5 * scale, `${key}, G ${G} T ${T} dh ${dh} dv ${dv}`);
    }
  }
});

test('the committed wasm module is what wasm/linattn/build.sh makes of linattn.c (where the same clang is installed)', (t) => assertCommittedWasm(t, 'linattn', 'linattn'));
