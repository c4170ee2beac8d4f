// Our wasm SIMD BatchMatMul (src/kernels/): every transpose flag, odd sizes and sizes past the kernel's blocks,
// batch strides and broadcasting, against a float64 product on the host; tf.matMul's gradients (which are
// BatchMatMul with transpose flags) against float64 gradients; both placements (inside tfjs's heap, and its
// own memory with copies); and the PyTorch gradient fixture of the Transformer with the kernels running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tf, initBackend } from '../../src/backend.ts';
import { registerTrainingKernels, setTrainingKernels, trainingKernelCalls, trainingKernelPlacement } from '../../src/kernels/register.ts';
import { broadcastBatch } from '../../src/kernels/batch_matmul.ts';
import { Rng } from '../../src/random.ts';
import { parseSafetensors, toFloat32 } from '../../src/io/safetensors.ts';
import type { HostTensor } from '../../src/core/module.ts';
import { fromTorchBoolMask } from '../../src/core/masks.ts';
import { Transformer } from '../../src/core/transformer.ts';
import { isParityDataKey, transformerConfigFromTorch } from '../../src/core/torch_interop.ts';
import { assertClose, maxAbsDiff } from '../helpers/close.ts';
import { assertCommittedWasm } from '../helpers/wasm_build.ts';

const OFF = process.env['EMOPIA_KERNELS'] === 'tfjs';
const SKIP = OFF ? 'EMOPIA_KERNELS=tfjs: our kernels are off' : false;

interface Host {
  shape: number[];
  data: Float64Array;
}

function randomHost(shape: number[], rng: Rng): Host {
  const n = shape.reduce((p, x) => p * x, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.fround(rng.next() * 2 - 1);
  return { shape, data };
}

/** op(a) · op(b) in float64 with numpy batch broadcasting: the reference. */
function refMatMul(a: Host, b: Host, ta: boolean, tb: boolean): Host {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = a.shape[ta ? ra - 1 : ra - 2] as number;
  const K = a.shape[ta ? ra - 2 : ra - 1] as number;
  const N = b.shape[tb ? rb - 2 : rb - 1] as number;
  const oa = a.shape.slice(0, -2);
  const ob = b.shape.slice(0, -2);
  const outer = broadcastBatch(oa, ob);
  const batch = outer.reduce((p, x) => p * x, 1);
  const out = new Float64Array(batch * M * N);
  const index = (from: number[], t: number): number => {
    let idx = 0;
    let stride = 1;
    for (let i = outer.length - 1, j = from.length - 1; i >= 0; i--, j--) {
      const d = outer[i] as number;
      const c = t % d;
      t = (t - c) / d;
      if (j >= 0) {
        if ((from[j] as number) !== 1) idx += c * stride;
        stride *= from[j] as number;
      }
    }
    return idx;
  };
  for (let t = 0; t < batch; t++) {
    const A = index(oa, t) * M * K;
    const B = index(ob, t) * K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          s += (a.data[A + (ta ? k * M + i : i * K + k)] as number) * (b.data[B + (tb ? j * K + k : k * N + j)] as number);
        }
        out[t * M * N + i * N + j] = s;
      }
    }
  }
  return { shape: [...outer, M, N], data: out };
}

const t32 = (h: Host): tf.Tensor => tf.tensor(Float32Array.from(h.data), h.shape);
const shapeOf = (outer: number[], rows: number, cols: number, trans: boolean): number[] => [...outer, ...(trans ? [cols, rows] : [rows, cols])];
const FLAGS = [[false, false], [true, false], [false, true], [true, true]] as const;

/** tf.matMul(a, b, ta, tb) against the float64 product: shape and values (tolerance scaled by K). */
function checkProduct(rng: Rng, outerA: number[], outerB: number[], M: number, K: number, N: number, ta: boolean, tb: boolean): void {
  const a = randomHost(shapeOf(outerA, M, K, ta), rng);
  const b = randomHost(shapeOf(outerB, K, N, tb), rng);
  const ref = refMatMul(a, b, ta, tb);
  const [at, bt] = [t32(a), t32(b)];
  const y = tf.matMul(at, bt, ta, tb); // (...batch, M, N)
  const what = `[${a.shape}] x [${b.shape}] ta=${ta} tb=${tb}`;
  assert.deepEqual(y.shape, ref.shape, what);
  assertClose(y.dataSync(), ref.data, 2e-7 * Math.max(K, 1) + 1e-7, what);
  tf.dispose([at, bt, y]);
}

test('the wasm backend runs our BatchMatMul, inside tfjs\'s heap', { skip: SKIP }, async () => {
  await initBackend('wasm');
  assert.equal(trainingKernelPlacement(tf), 'shared');
  const before = trainingKernelCalls();
  tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 4])).dataSync());
  assert.equal(trainingKernelCalls(), before + 1);
});

test('2-D products for every transpose flag and odd sizes (1, 3, 17, 65) equal float64 ones', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(1);
  const sizes = [1, 3, 17, 65];
  for (const [ta, tb] of FLAGS) for (const M of sizes) for (const K of sizes) for (const N of sizes) checkProduct(rng, [], [], M, K, N, ta, tb);
});

test('products larger than the kernel blocks (rows 64, depth 256, columns 512) equal float64 ones', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(2);
  for (const [ta, tb] of FLAGS) checkProduct(rng, [], [], 131, 300, 517, ta, tb);
  checkProduct(rng, [], [], 5, 0, 7, false, false); // empty depth: zeros
});

test('batched products: equal batches, one side single, broadcast axes, a weight shared by a batch', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(3);
  const cases: [number[], number[]][] = [
    [[3], [3]],
    [[2, 3], [2, 3]],
    [[4], []], // weight [K,N] for every batch element (folded into rows when a is not transposed)
    [[], [4]], // one a for every b
    [[1], [5]],
    [[2, 1], [3]], // -> [2, 3]
    [[2, 1, 3], [4, 1]], // -> [2, 4, 3]
  ];
  for (const [oa, ob] of cases) for (const [ta, tb] of FLAGS) checkProduct(rng, oa, ob, 17, 3, 65, ta, tb);
});

test('the copy placement (own memory, operands copied) gives the same bits as the shared one', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(4);
  const a = t32(randomHost([3, 65, 17], rng));
  const b = t32(randomHost([3, 17, 33], rng));
  const shared = tf.matMul(a, b, false, false);
  try {
    await registerTrainingKernels(tf, 'copy');
    assert.equal(trainingKernelPlacement(tf), 'copy');
    for (const [ta, tb] of FLAGS) checkProduct(rng, [2], [2], 17, 65, 3, ta, tb);
    const copied = tf.matMul(a, b, false, false);
    assert.deepEqual(Array.from(copied.dataSync()), Array.from(shared.dataSync()));
    copied.dispose();
  } finally {
    await registerTrainingKernels(tf, 'shared');
  }
  assert.equal(trainingKernelPlacement(tf), 'shared');
  tf.dispose([a, b, shared]);
});

test('tf.matMul gradients (BatchMatMul with transpose flags) equal float64 gradients, for every flag', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(5);
  const [M, K, N] = [17, 65, 3];
  for (const [ta, tb] of FLAGS) {
    const a = randomHost(shapeOf([2], M, K, ta), rng);
    const b = randomHost(shapeOf([2], K, N, tb), rng);
    const w = randomHost([2, M, N], rng); // loss = sum(op(a) op(b) * w): dC = w
    const before = trainingKernelCalls();
    const [at, bt, wt] = [t32(a), t32(b), t32(w)];
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, ta, tb), wt)))([at, bt]) as [tf.Tensor, tf.Tensor];
    assert.ok(trainingKernelCalls() >= before + 3, 'forward and both gradients ran our kernel');
    // d op(a) = w op(b)^T, d op(b) = op(a)^T w; transposed operands get the transposed gradients.
    const ra = ta ? refMatMul(b, w, tb, true) : refMatMul(w, b, false, !tb); // (2, K, M) or (2, M, K)
    const rb = tb ? refMatMul(w, a, true, ta) : refMatMul(a, w, !ta, false); // (2, N, K) or (2, K, N)
    assert.deepEqual(ga.shape, a.shape);
    assert.deepEqual(gb.shape, b.shape);
    assertClose(ga.dataSync(), ra.data, 2e-5, `grad a ta=${ta} tb=${tb}`);
    assertClose(gb.dataSync(), rb.data, 2e-5, `grad b ta=${ta} tb=${tb}`);
    tf.dispose([at, bt, wt, ga, gb]);
  }
});

test('our kernels and tfjs\'s give the same products within float rounding (the EMOPIA_KERNELS=tfjs switch)', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const rng = new Rng(6);
  const a = t32(randomHost([4, 65, 130], rng));
  const b = t32(randomHost([4, 33, 130], rng));
  const ours = tf.matMul(a, b, false, true);
  setTrainingKernels(false);
  const before = trainingKernelCalls();
  const theirs = tf.matMul(a, b, false, true);
  setTrainingKernels(true);
  assert.equal(trainingKernelCalls(), before, 'off: tfjs\'s kernel ran');
  assert.ok(maxAbsDiff(ours.dataSync(), theirs.dataSync()) < 1e-4);
  tf.dispose([a, b, ours, theirs]);
});

test('the Transformer\'s gradients match the PyTorch fixture with our kernels running', { skip: SKIP }, async () => {
  await initBackend('wasm');
  const file = fileURLToPath(new URL('../fixtures/transformer/grads_relu.safetensors', import.meta.url));
  const { tensors, metadata } = parseSafetensors(new Uint8Array(readFileSync(file)));
  const model = new Transformer(transformerConfigFromTorch(metadata.config ?? 'null'), new Rng(0));
  const sd = new Map<string, HostTensor>();
  for (const [k, t] of tensors) if (!isParityDataKey(k)) sd.set(k, { shape: t.shape, data: toFloat32(t) });
  model.loadStateDict(sd);
  const get = (name: string): tf.Tensor => {
    const t = tensors.get(name);
    assert.ok(t, `fixture holds ${name}`);
    return t.dtype === 'F32' ? tf.tensor(toFloat32(t), t.shape) : tf.tensor(Int32Array.from(toFloat32(t)), t.shape, 'int32');
  };
  const opts: Record<string, tf.Tensor> = {};
  for (const [name, option] of Object.entries({ src_key_padding_mask: 'srcPadding', tgt_key_padding_mask: 'tgtPadding', memory_key_padding_mask: 'memoryPadding', tgt_mask: 'tgtMask' })) {
    opts[option] = fromTorchBoolMask(get(name));
  }
  const [src, tgt, w] = [get('src'), get('tgt'), get('loss_weight')];
  const params = model.namedParameters();
  const before = trainingKernelCalls();
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.forward(src, tgt, opts), w)) as tf.Scalar, params.map(([, v]) => v));
  assert.ok(trainingKernelCalls() > before, 'the step ran our kernel');
  for (const [name, v] of params) {
    const ref = tensors.get(`grad.${name}`);
    assert.ok(ref, `fixture holds grad.${name}`);
    const g = v.rank === 2 ? tf.transpose(grads[v.name] as tf.Tensor) : (grads[v.name] as tf.Tensor); // PyTorch stores [out, in]
    assertClose(g.dataSync(), toFloat32(ref), 1e-3, `grad.${name}`);
  }
  tf.dispose([value, src, tgt, w, ...Object.values(opts), ...Object.values(grads)]);
  model.dispose();
});

test('the committed wasm module is what wasm/matmul/build.sh makes of gemm.c (where the same clang is installed)', (t) => assertCommittedWasm(t, 'matmul', 'gemm'));
