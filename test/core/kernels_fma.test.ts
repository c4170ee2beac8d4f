// The fused multiply-add build of our product (wasm/matmul_fma/, f32x4.relaxed_madd): the module itself on odd
// shapes, every transpose flag, batch strides (0 = one matrix repeated), a bias and depths past the kernel's
// block (the accumulating path) against a float64 product; through tf.matMul, where it runs (training's
// gradient computation only) and where it does not (generation, plain products); the choice of build (relaxed
// SIMD missing, EMOPIA_FMA=0: the plain one); worker threads seeing V8's flag; the committed module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { tf, initBackend, withTrainingProducts } from '../../src/backend.ts';
import {
  fmaWantedFromEnv, fusedKernelCalls, registerTrainingKernels, setFusedProducts, trainingKernelCalls, trainingKernelPlacement,
  trainingProductBuild,
} from '../../src/kernels/register.ts';
import { gemmBuild, instantiateGemm, instantiateGemmFma, relaxedSimdValidates, type GemmExports } from '../../src/kernels/gemm.ts';
import { base64Bytes } from '../../src/kernels/module.ts';
import { GEMM_FMA_WASM_BASE64 } from '../../src/kernels/gemm_fma_wasm.ts';
import { namedGrads } from '../../src/core/train/optim.ts';
import { generate } from '../../src/cp/generate.ts';
import { Rng } from '../../src/random.ts';
import { assertClose } from '../helpers/close.ts';
import { assertCommittedWasm } from '../helpers/wasm_build.ts';
import { tinyModel, vocab } from '../helpers/tiny_model.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const FMA = !OFF && fmaWantedFromEnv() && relaxedSimdValidates();
const SKIP = OFF
  ? 'EMOPIA_KERNELS=tfjs: our kernels are off'
  : !FMA
    ? `the fused build is not in use here (EMOPIA_FMA=${process.env['EMOPIA_FMA'] ?? ''}, relaxed SIMD validates: ${relaxedSimdValidates()})`
    : false;

const FLAGS = [[false, false], [true, false], [false, true], [true, true]] as const;

function randomF32(n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.next() * 2 - 1;
  return out;
}

interface Case {
  batch: number;
  M: number;
  N: number;
  K: number;
  ta: boolean;
  tb: boolean;
  /** Batch strides of A and B: 0 repeats one matrix. */
  repeatA: boolean;
  repeatB: boolean;
  bias: boolean;
}

/** The float64 product of a case: C[b] = op(A[b]) op(B[b]) (+ bias on every row). */
function reference(c: Case, A: Float32Array, B: Float32Array, bias: Float32Array | null): Float64Array {
  const { batch, M, N, K, ta, tb } = c;
  const out = new Float64Array(batch * M * N);
  for (let b = 0; b < batch; b++) {
    const oa = c.repeatA ? 0 : b * M * K;
    const ob = c.repeatB ? 0 : b * K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = bias ? (bias[j] as number) : 0;
        for (let k = 0; k < K; k++) s += (A[oa + (ta ? k * M + i : i * K + k)] as number) * (B[ob + (tb ? j * K + k : k * N + j)] as number);
        out[b * M * N + i * N + j] = s;
      }
    }
  }
  return out;
}

/** Runs one case on `g` in `memory` (operands after the work buffer); returns C. */
function run(g: GemmExports, memory: WebAssembly.Memory, c: Case, A: Float32Array, B: Float32Array, bias: Float32Array | null): Float32Array {
  const { batch, M, N, K } = c;
  const align = (x: number): number => Math.ceil(x / 16) * 16;
  const pa = align(g.work_floats() * 4);
  const pb = align(pa + A.length * 4);
  const pbias = align(pb + B.length * 4);
  const pc = align(pbias + N * 4);
  const need = pc + batch * M * N * 4;
  if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
  const f = new Float32Array(memory.buffer);
  f.set(A, pa / 4);
  f.set(B, pb / 4);
  if (bias) f.set(bias, pbias / 4);
  f.fill(Number.NaN, pc / 4, pc / 4 + batch * M * N); // the product must write every element
  g.gemm(batch, M, N, K, pa, c.repeatA ? 0 : M * K, c.ta ? 1 : 0, pb, c.repeatB ? 0 : K * N, c.tb ? 1 : 0, pc, M * N, bias ? pbias : 0, 0);
  return new Float32Array(memory.buffer, pc, batch * M * N).slice();
}

test('the fused module equals float64 products: odd shapes, every transpose flag, batch strides, bias, depths past its block', { skip: SKIP }, async () => {
  const memory = new WebAssembly.Memory({ initial: 64 });
  const fused = await instantiateGemmFma(memory);
  const plain = await instantiateGemm(memory);
  assert.equal(fused.work_floats(), plain.work_floats(), 'same blocking and tile as the plain build');
  const rng = new Rng(11);
  const cases: Case[] = [];
  const sizes = [1, 3, 17, 65];
  for (const [ta, tb] of FLAGS) {
    for (const M of sizes) for (const K of sizes) for (const N of sizes) cases.push({ batch: 1, M, N, K, ta, tb, repeatA: false, repeatB: false, bias: false });
    cases.push({ batch: 1, M: 131, N: 517, K: 300, ta, tb, repeatA: false, repeatB: false, bias: false }); // past MC, NC and KC (accumulates)
    cases.push({ batch: 1, M: 70, N: 13, K: 513, ta, tb, repeatA: false, repeatB: false, bias: true }); // two KC steps and a bias
    cases.push({ batch: 3, M: 17, N: 9, K: 65, ta, tb, repeatA: false, repeatB: false, bias: true });
    cases.push({ batch: 3, M: 5, N: 33, K: 7, ta, tb, repeatA: true, repeatB: false, bias: false });
    cases.push({ batch: 4, M: 66, N: 7, K: 3, ta, tb, repeatA: false, repeatB: true, bias: true });
  }
  cases.push({ batch: 2, M: 5, N: 7, K: 0, ta: false, tb: false, repeatA: false, repeatB: false, bias: true }); // empty depth: the bias
  cases.push({ batch: 2, M: 5, N: 7, K: 0, ta: false, tb: false, repeatA: false, repeatB: false, bias: false }); // empty depth: zeros
  for (const c of cases) {
    const A = randomF32((c.repeatA ? 1 : c.batch) * c.M * c.K, rng);
    const B = randomF32((c.repeatB ? 1 : c.batch) * c.K * c.N, rng);
    const bias = c.bias ? randomF32(c.N, rng) : null;
    const want = reference(c, A, B, bias);
    const what = `${JSON.stringify(c)}`;
    const tol = 2e-7 * Math.max(c.K, 1) + 1e-7;
    assertClose(run(fused, memory, c, A, B, bias), want, tol, `fused ${what}`);
    assertClose(run(plain, memory, c, A, B, bias), want, tol, `plain ${what}`);
  }
});

test('the fused module rounds once per multiply-add where the CPU has FMA (a diagnostic, not a requirement)', { skip: SKIP }, async (t) => {
  // -1 + (1 + 2^-20)(1 - 2^-20) = -2^-40 exactly; a multiply then an add rounds the product to 1 first and gives 0.
  const memory = new WebAssembly.Memory({ initial: 64 });
  const c: Case = { batch: 1, M: 1, N: 1, K: 2, ta: false, tb: false, repeatA: false, repeatB: false, bias: false };
  const A = Float32Array.of(-1, 1 + 2 ** -20);
  const B = Float32Array.of(1, 1 - 2 ** -20);
  const fused = run(await instantiateGemmFma(memory), memory, c, A, B, null)[0];
  const plain = run(await instantiateGemm(memory), memory, c, A, B, null)[0];
  assert.equal(plain, 0);
  assert.ok(fused === 0 || fused === -(2 ** -40), `fused: ${fused}`);
  t.diagnostic(`fused multiply-add on this CPU: ${fused === -(2 ** -40) ? 'yes' : 'no (relaxed_madd lowered to a multiply and an add)'}`);
});

test('tf.matMul runs the fused build inside training\'s gradient computation only, within float64 tolerance, deterministically', { skip: SKIP }, async () => {
  await initBackend('wasm');
  assert.equal(trainingProductBuild(tf), 'fma');
  const rng = new Rng(12);
  for (const [ta, tb] of FLAGS) {
    const [M, K, N] = [65, 300, 17];
    const A = randomF32(2 * M * K, rng);
    const B = randomF32(K * N, rng);
    const at = tf.tensor(A, ta ? [2, K, M] : [2, M, K]);
    const bt = tf.tensor(B, tb ? [N, K] : [K, N]);
    const c0 = fusedKernelCalls();
    const outside = tf.matMul(at, bt, ta, tb);
    assert.equal(fusedKernelCalls(), c0, 'outside: the plain build');
    const inside = withTrainingProducts(() => tf.matMul(at, bt, ta, tb));
    const again = withTrainingProducts(() => tf.matMul(at, bt, ta, tb));
    assert.equal(fusedKernelCalls(), c0 + 2, 'inside: the fused build');
    setFusedProducts(false);
    const off = withTrainingProducts(() => tf.matMul(at, bt, ta, tb));
    setFusedProducts(true);
    assert.equal(fusedKernelCalls(), c0 + 2, 'setFusedProducts(false): the plain build');
    const want = reference({ batch: 2, M, N, K, ta, tb, repeatA: false, repeatB: true, bias: false }, A, B, null);
    assertClose(inside.dataSync(), want, 2e-7 * K, `fused ta=${ta} tb=${tb}`);
    assert.deepEqual(Array.from(again.dataSync()), Array.from(inside.dataSync()), 'the fused build is deterministic');
    assert.deepEqual(Array.from(off.dataSync()), Array.from(outside.dataSync()), 'off = the plain build');
    tf.dispose([at, bt, outside, inside, again, off]);
  }
});

test('the copy placement (own memory) runs the fused build too, to the same bits as the shared one', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(14);
  const a = tf.tensor(randomF32(3 * 65 * 300, rng), [3, 65, 300]);
  const b = tf.tensor(randomF32(3 * 300 * 33, rng), [3, 300, 33]);
  const shared = withTrainingProducts(() => tf.matMul(a, b, false, false));
  try {
    await registerTrainingKernels(tf, 'copy');
    assert.equal(trainingKernelPlacement(tf), 'copy');
    assert.equal(trainingProductBuild(tf), 'fma');
    const c0 = fusedKernelCalls();
    const copied = withTrainingProducts(() => tf.matMul(a, b, false, false));
    assert.equal(fusedKernelCalls(), c0 + 1);
    assert.deepEqual(Array.from(copied.dataSync()), Array.from(shared.dataSync()));
    copied.dispose();
  } finally {
    await registerTrainingKernels(tf, 'shared');
  }
  tf.dispose([a, b, shared]);
});

test('namedGrads (the trainer\'s gradients) runs forward and backward products on the fused build, matching float64 gradients', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(13);
  const [M, K, N] = [17, 65, 9];
  const A = randomF32(M * K, rng);
  const W = randomF32(K * N, rng);
  const G = randomF32(M * N, rng);
  const a = tf.variable(tf.tensor2d(A, [M, K]), true, 'fma_test_a');
  const w = tf.variable(tf.tensor2d(W, [K, N]), true, 'fma_test_w');
  const g = tf.tensor2d(G, [M, N]);
  const c0 = fusedKernelCalls();
  const { value, grads } = namedGrads(() => tf.sum(tf.mul(tf.matMul(a, w), g)) as tf.Scalar, [['a', a], ['w', w]]);
  assert.ok(fusedKernelCalls() >= c0 + 3, 'forward and both gradients on the fused build');
  // d a = G W^T, d w = A^T G
  const da = reference({ batch: 1, M, N: K, K: N, ta: false, tb: true, repeatA: false, repeatB: false, bias: false }, G, W, null);
  const dw = reference({ batch: 1, M: K, N, K: M, ta: true, tb: false, repeatA: false, repeatB: false, bias: false }, A, G, null);
  assertClose(grads.get('a')!.dataSync(), da, 1e-5, 'grad a');
  assertClose(grads.get('w')!.dataSync(), dw, 1e-5, 'grad w');
  tf.dispose([value, ...grads.values(), g]);
  a.dispose();
  w.dispose();
});

test('generation stays on the plain build: the tensor engine goes through our product, never the fused one', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const model = tinyModel(5);
  try {
    const opts = { emotion: 'Q2' as const, seed: 9, maxWords: 12, maxBars: 1000, stopAtEos: false };
    const [c0, p0] = [fusedKernelCalls(), trainingKernelCalls()];
    const on = generate(model, vocab, { ...opts, engine: 'tensor' });
    const fast = generate(model, vocab, { ...opts, engine: 'fast' });
    assert.ok(trainingKernelCalls() > p0, 'the tensor engine runs our BatchMatMul');
    assert.equal(fusedKernelCalls(), c0, 'never the fused build');
    setFusedProducts(false);
    const off = generate(model, vocab, { ...opts, engine: 'tensor' });
    setFusedProducts(true);
    assert.deepEqual(on.words, off.words);
    assert.ok(fast.words.length > 0);
  } finally {
    model.dispose();
  }
});

test('the choice of build: fused only when wanted and relaxed SIMD validates; EMOPIA_FMA parsing', () => {
  assert.equal(gemmBuild(true, () => true), 'fma');
  assert.equal(gemmBuild(true, () => false), 'plain'); // no relaxed SIMD (Safari; Node 20 without V8's flag)
  assert.equal(gemmBuild(false, () => true), 'plain'); // EMOPIA_FMA=0
  const saved = process.env['EMOPIA_FMA'];
  try {
    for (const [v, want] of [['', true], ['1', true], ['0', false]] as const) {
      process.env['EMOPIA_FMA'] = v;
      assert.equal(fmaWantedFromEnv(), want, `EMOPIA_FMA='${v}'`);
    }
    process.env['EMOPIA_FMA'] = 'yes';
    assert.throws(() => fmaWantedFromEnv(), /EMOPIA_FMA: expected 0 or 1, got 'yes'/);
  } finally {
    if (saved === undefined) delete process.env['EMOPIA_FMA'];
    else process.env['EMOPIA_FMA'] = saved;
  }
});

/** Runs test/helpers/fma_child.ts in a fresh process with `env` added; returns what it prints. */
function child(env: Record<string, string>): { build: string | null; validates: boolean; fused: number; ours: number } {
  const script = fileURLToPath(new URL('../helpers/fma_child.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim()) as { build: string | null; validates: boolean; fused: number; ours: number };
}

test('EMOPIA_FMA=0: a fresh process trains on the plain build (and leaves V8\'s flag unset)', { skip: OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false }, () => {
  const r = child({ EMOPIA_FMA: '0' });
  assert.equal(r.build, 'plain');
  assert.equal(r.fused, 0, 'no product on the fused build');
  assert.ok(r.ours > 0, 'the plain build ran the gradient\'s products');
  if (process.versions.node.startsWith('20.')) assert.equal(r.validates, false, 'Node 20 without the flag: no relaxed SIMD');
});

test('a fresh process with EMOPIA_FMA unset trains on the fused build where relaxed SIMD validates, else on the plain one', { skip: OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false }, () => {
  const r = child({ EMOPIA_FMA: '' });
  assert.equal(r.build, r.validates ? 'fma' : 'plain');
  assert.equal(r.fused > 0, r.validates);
  if (process.versions.node.startsWith('20.')) assert.equal(r.validates, true, 'Node 20: src/backend.ts set V8\'s flag');
});

test('worker threads started after src/backend.ts see V8\'s relaxed-SIMD flag (it is process-wide)', { skip: SKIP }, async () => {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    parentPort.postMessage(WebAssembly.validate(workerData));
  `;
  const worker = new Worker(code, { eval: true, workerData: base64Bytes(GEMM_FMA_WASM_BASE64) });
  const validates = await new Promise<unknown>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.equal(validates, true);
});

test('the committed fused module is what wasm/matmul_fma/build.sh makes of gemm_fma.c (where clang-19 is installed)', (t) =>
  assertCommittedWasm(t, 'matmul_fma', 'gemm_fma', ['clang-19']));
