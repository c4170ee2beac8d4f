/**
 * Differentiable building blocks with the TensorFlow.js wasm work-arounds, in one place:
 *
 * - wasm runs a matmul through XNNPACK only when it is 2-D-like (batch 1) and not transposed; batched or
 *   transposed matmuls (including the ones tf.matMul's own gradient emits) fall to a scalar loop at ~1 GFLOP/s.
 *   `matmul` therefore runs a 2-D weight product as one plain product, and a batched product above 64³
 *   multiply-adds per batch element as a loop of plain 2-D products (below that, one batched call is faster);
 *   the gradients use explicit `tf.transpose` followed by plain products. All of this only while tfjs's own
 *   kernels run: with ours (src/kernels/, the default) every product is one tf.matMul with transpose flags.
 * - wasm has no gradient for `gather` (UnsortedSegmentSum is missing), so `embedding` gathers rows and adds
 *   their gradients on the host.
 *
 * Everything here is pure: no state, no randomness except what is passed in.
 */
import { DROPOUT_KERNEL, LINEAR_KERNEL, dropoutThreshold, productInBackendMemory, tf, trainingKernelsActive, trainingKernelsRegistered } from '../backend.ts';
import type { Rng } from '../random.ts';
import { InputError } from '../errors.ts';

type Tensor = tf.Tensor;

/**
 * tf.customGrad with the argument types tfjs's typings cannot express: `f` takes the input tensors, then the save
 * function, and returns the value and its gradient function. The one home of this cast for every hand-written
 * gradient (here and in src/cp/attention.ts).
 */
export function customGrad<A extends Tensor[]>(
  f: (...args: [...A, tf.GradSaveFunc]) => { value: Tensor; gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor[] },
): (...args: A) => Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...args: A) => Tensor;
}

/** Multiply-adds per batch element from which looping 2-D products beats one batched call on wasm. */
const LOOP_MIN_WORK = 64 * 64 * 64;

/** True where tf.matMul's batched/transposed kernels are slow and the 2-D loop is faster (tfjs's own wasm kernels). */
function loopMatmuls(): boolean {
  return tf.getBackend() === 'wasm' && !trainingKernelsActive();
}

/** [M,K] x [K,N] -> [M,N], whose gradient uses only plain (untransposed) 2-D products. */
const matmul2d = customGrad<[Tensor, Tensor]>((a, b, save) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), // (M, N)
    gradFunc: (dy, saved) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [
        tf.matMul(dy as tf.Tensor2D, tf.transpose(sb)), // (M, N) x (N, K) -> (M, K)
        tf.matMul(tf.transpose(sa), dy as tf.Tensor2D), // (K, M) x (M, N) -> (K, N)
      ];
    },
  };
});

/**
 * Splits x [R, ...] along its first axis into blocks of `rows[i]` rows (sum = R), through one host read.
 * Not differentiable: for use inside custom gradients. Why: wasm's Slice (and Unpack, Split, which slice once
 * per piece) copies the whole input out of the wasm heap for every piece, so cutting a tensor into P pieces
 * costs P full copies; here it is one copy out and one small copy in per piece.
 */
export function splitRowsHost(x: Tensor, rows: readonly number[]): Tensor[] {
  const R = x.shape[0] as number;
  const width = R === 0 ? 0 : x.size / R;
  const data = x.dataSync();
  let off = 0;
  return rows.map((n) => {
    const t = tf.tensor(data.subarray(off * width, (off + n) * width), [n, ...x.shape.slice(1)], x.dtype); // (n, ...)
    off += n;
    return t;
  });
}

/** x [B, M, K] -> B tensors [M, K] (as tf.unstack, through one host read: see splitRowsHost). */
function unstackHost(x: Tensor): tf.Tensor2D[] {
  const [B, M, K] = x.shape as [number, number, number];
  return splitRowsHost(x.reshape([B * M, K]), new Array<number>(B).fill(M)) as tf.Tensor2D[]; // B x (M, K)
}

/** B tensors [M, N] -> [B, M, N]. */
function stack2d(xs: Tensor[]): Tensor {
  const [M, N] = xs[0]?.shape as [number, number];
  return tf.concat(xs, 0).reshape([xs.length, M, N]); // (B, M, N)
}

/**
 * [B,M,K] x [B,K,N] -> [B,M,N] as a loop of 2-D products, forward and backward. The operands are cut into
 * 2-D pieces on the host (unstackHost): with tf.unstack, Unpack took more time than the products (measured
 * on scores [8,512,512]: each of the 8 pieces copied the whole 8 MB tensor).
 */
const matmulBatchLoop = customGrad<[Tensor, Tensor]>((a, b, save) => {
  save([a, b]);
  const value = tf.tidy(() => {
    const as = unstackHost(a); // B x (M, K)
    const bs = unstackHost(b); // B x (K, N)
    return stack2d(as.map((ai, i) => tf.matMul(ai, bs[i] as tf.Tensor2D))); // (B, M, N)
  });
  return {
    value,
    gradFunc: (dy, saved) =>
      tf.tidy(() => {
        const [sa, sb] = saved as [tf.Tensor3D, tf.Tensor3D];
        const dys = unstackHost(dy); // B x (M, N)
        const sas = unstackHost(sa); // B x (M, K)
        const sbs = unstackHost(sb); // B x (K, N)
        const da = stack2d(dys.map((d, i) => tf.matMul(d, tf.transpose(sbs[i] as tf.Tensor2D)))); // (B, M, K)
        const db = stack2d(dys.map((d, i) => tf.matMul(tf.transpose(sas[i] as tf.Tensor2D), d))); // (B, K, N)
        return [da, db];
      }),
  };
});

/**
 * Matrix product over the last two axes: a [...,M,K] x b [...,K,N] -> [...,M,N], with equal leading (batch)
 * axes; or a [...,K] x b [K,N] -> [...,N] when b is 2-D (a weight). Transpose explicitly with `transposeLast`.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (b.rank === 2) {
    const K = b.shape[0] as number;
    const N = b.shape[1] as number;
    const lead = a.shape.slice(0, -1);
    const a2 = a.reshape([-1, K]); // (prod(lead), K)
    const y = loopMatmuls() ? matmul2d(a2, b) : tf.matMul(a2, b); // (prod(lead), N)
    return y.reshape([...lead, N]); // (..., N)
  }
  const M = a.shape[a.rank - 2] as number;
  const K = a.shape[a.rank - 1] as number;
  const N = b.shape[b.rank - 1] as number;
  const lead = a.shape.slice(0, -2);
  const a3 = a.reshape([-1, M, K]) as tf.Tensor3D; // (B', M, K)
  const b3 = b.reshape([-1, K, N]) as tf.Tensor3D; // (B', K, N)
  // Small products are dominated by per-kernel overhead (~10-20 µs each on wasm), where one batched call wins;
  // above ~64³ multiply-adds per batch element the XNNPACK 2-D loop wins (measured: [64,11,32]x[64,32,11]
  // 0.9 ms batched vs 18.5 ms looped; [16,256,64]x[16,64,256] 100 ms batched vs 53 ms looped).
  const loop = loopMatmuls() && M * K * N >= LOOP_MIN_WORK;
  const y = loop ? matmulBatchLoop(a3, b3) : tf.matMul(a3, b3); // (B', M, N)
  return y.reshape([...lead, M, N]); // (..., M, N)
}

/** Swaps the last two axes: [..., M, N] -> [..., N, M]. */
export function transposeLast(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return tf.transpose(x, perm);
}

/** y = x · Wᵀ + b, with the weight stored pre-transposed as wT [in, out]: x [..., in] -> [..., out]. */
export function linear(x: Tensor, wT: Tensor, b?: Tensor): Tensor {
  if (b && wT.rank === 2 && b.rank === 1 && x.dtype === 'float32' && productInBackendMemory() && fusedTrainingKernels(LINEAR_KERNEL)) {
    const K = wT.shape[0] as number;
    const y = linearKernel(x.reshape([-1, K]), wT, b); // (prod(lead), out)
    return y.reshape([...x.shape.slice(0, -1), wT.shape[1] as number]); // (..., out)
  }
  const y = matmul(x, wT); // (..., out)
  return b ? tf.add(y, b) : y; // (..., out)
}

/**
 * x [N, in] · wT [in, out] + b [out] while training: the product and the bias in one kernel call (EmopiaLinear, the
 * bias added after the product as tf.add does), the gradients those of tf.matMul and tf.add (two products with
 * transpose flags and the column sum of dy), so values and gradients are the bits of matmul + tf.add, with one
 * tape entry instead of four and no separate pass for the bias.
 */
const linearKernel = customGrad<[Tensor, Tensor, Tensor]>((x, w, b, save) => {
  save([x, w]);
  return {
    value: tf.engine().runKernel(LINEAR_KERNEL, { x, w, b }) as Tensor, // (N, out)
    gradFunc: (dy, saved) => {
      const [sx, sw] = saved as [Tensor, Tensor];
      return [tf.matMul(dy, sw, false, true), tf.matMul(sx, dy, true, false), tf.sum(dy, 0)]; // (N, in), (in, out), (out)
    },
  };
});

/**
 * Rows of `table` [V, D] picked by integer `ids` [...] -> [..., D]; differentiable in `table` on every backend.
 * Both directions run on the host: the rows are copied out of the table, and the table's gradient adds each
 * row of dy into its id's row in order (the same sums as oneHot(ids)ᵀ·dy, without the [V,N] one-hot, its
 * transpose and the product). Why: wasm's GatherV2 took ~4 ms for 1024 ids of a [87,256] table, and wasm has
 * no gradient for gather at all. Measured: the 8 tables of the `small` preset, 1024 ids, forward + backward
 * 27.9 -> 4.5 ms.
 */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  const V = table.shape[0] as number;
  const D = table.shape[1] as number;
  const idx = ids.dataSync(); // (N,) on the host
  const N = idx.length;
  for (let i = 0; i < N; i++) {
    const id = idx[i] as number;
    if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new InputError('embedding ids', `id ${id} is outside 0..${V - 1}`);
  }
  const lookup = customGrad<[Tensor]>((t) => {
    const tv = t.dataSync();
    const rows = new Float32Array(N * D);
    for (let i = 0; i < N; i++) {
      const r = (idx[i] as number) * D;
      rows.set(tv.subarray(r, r + D), i * D);
    }
    return {
      value: tf.tensor2d(rows, [N, D]), // (N, D)
      gradFunc: (dy) => {
        const g = dy.dataSync(); // (N, D)
        const acc = new Float32Array(V * D); // float32 sums, in id order as the one-hot product
        for (let i = 0; i < N; i++) {
          const r = (idx[i] as number) * D;
          for (let j = 0; j < D; j++) acc[r + j] = (acc[r + j] as number) + (g[i * D + j] as number);
        }
        return [tf.tensor2d(acc, [V, D])]; // (V, D)
      },
    };
  });
  return lookup(table).reshape([...ids.shape, D]); // (..., D)
}

/**
 * Several embeddings looked up, scaled and concatenated in one host pass: row i of the result [N, Σ D_k] is
 * tables[k][ids[k][i]] * scales[k] for each k side by side; differentiable in every table. The same float32
 * arithmetic as `tf.concat(tables.map((t, k) => tf.mul(embedding(t, ids[k]), scales[k])), -1)` (scales rounded
 * to float32, each product rounded once; the gradients dy·scale added into each id's row in order), so the same
 * bits, without the eight slices of the ids, the scalings, the concatenation and its gradient's split (2-D only:
 * ids[k] holds N ids). Measured in a `small` training step: see the README's "Training kernels".
 */
export function embeddingConcat(tables: readonly Tensor[], ids: readonly ArrayLike<number>[], scales: readonly number[]): Tensor {
  const K = tables.length;
  if (ids.length !== K || scales.length !== K) throw new InputError('embeddingConcat', `expected ${K} id lists and scales, got ${ids.length} and ${scales.length}`);
  const N = ids[0]?.length ?? 0;
  const Vs = tables.map((t) => t.shape[0] as number);
  const Ds = tables.map((t) => t.shape[1] as number);
  const W = Ds.reduce((a, d) => a + d, 0);
  const s32 = scales.map((x) => Math.fround(x));
  ids.forEach((list, k) => {
    if (list.length !== N) throw new InputError('embeddingConcat', `id list ${k} holds ${list.length} ids, expected ${N}`);
    const V = Vs[k] as number;
    for (let i = 0; i < N; i++) {
      const id = list[i] as number;
      if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new InputError('embedding ids', `id ${id} is outside 0..${V - 1}`);
    }
  });
  const lookup = customGrad<Tensor[]>((...args) => {
    const ts = args.slice(0, K) as Tensor[];
    const out = new Float32Array(N * W);
    let col = 0;
    for (let k = 0; k < K; k++) {
      const tv = (ts[k] as Tensor).dataSync();
      const D = Ds[k] as number;
      const sc = s32[k] as number;
      const list = ids[k] as ArrayLike<number>;
      // The table scaled once (V_k x D_k products, rounded to float32 on store), then each word's row copied:
      // the same values as scaling every looked-up element, 3-4x faster than that loop (1024 words).
      const scaled = new Float32Array(tv.length);
      for (let j = 0; j < tv.length; j++) scaled[j] = (tv[j] as number) * sc;
      for (let i = 0; i < N; i++) {
        const r = (list[i] as number) * D;
        out.set(scaled.subarray(r, r + D), i * W + col);
      }
      col += D;
    }
    return {
      value: tf.tensor2d(out, [N, W]), // (N, W)
      gradFunc: (dy) => {
        const g = dy.dataSync(); // (N, W)
        const grads: Tensor[] = [];
        let c = 0;
        for (let k = 0; k < K; k++) {
          const D = Ds[k] as number;
          const sc = s32[k] as number;
          const list = ids[k] as ArrayLike<number>;
          const acc = new Float32Array((Vs[k] as number) * D); // float32 sums, in id order
          for (let i = 0; i < N; i++) {
            const r = (list[i] as number) * D;
            const o = i * W + c;
            for (let j = 0; j < D; j++) acc[r + j] = (acc[r + j] as number) + Math.fround((g[o + j] as number) * sc);
          }
          grads.push(tf.tensor2d(acc, [Vs[k] as number, D])); // (V_k, D_k)
          c += D;
        }
        return grads;
      },
    };
  });
  return lookup(...tables); // (N, W)
}

/** Names of the wasm layer-norm kernels of src/kernels/layernorm.ts (registered by src/backend.ts's set-up). */
const LAYERNORM_KERNEL = 'EmopiaLayerNorm';
const LAYERNORM_GRAD_KERNEL = 'EmopiaLayerNormGrad';

/**
 * Whether a fused training kernel may run: a gradient is being recorded (training: inference keeps tfjs's chains,
 * so its numbers do not move), our kernels are on, and every kernel named is registered on the current backend.
 */
export function fusedTrainingKernels(...names: string[]): boolean {
  const recording = (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
  return recording && trainingKernelsRegistered(...names);
}

/** Layer norm and its gradient through the fused kernels (one call each way instead of tfjs's chains). */
function layerNormKernel(eps: number): (x: Tensor, gamma: Tensor, beta: Tensor) => Tensor {
  return customGrad<[Tensor, Tensor, Tensor]>((x, gamma, beta, save) => {
    save([x, gamma]);
    return {
      value: tf.engine().runKernel(LAYERNORM_KERNEL, { x, gamma, beta }, { eps }) as Tensor, // same shape as x
      gradFunc: (dy, saved) => tf.engine().runKernel(LAYERNORM_GRAD_KERNEL, { x: saved[0] as Tensor, gamma: saved[1] as Tensor, dy }, { eps }) as Tensor[], // dx, dgamma, dbeta
    };
  });
}

/**
 * Layer normalisation over the last axis, as torch.nn.LayerNorm (biased variance). x [..., D], gamma and beta [D].
 * While a gradient is recorded (training) with our kernels on, one fused kernel each way (src/kernels/layernorm.ts);
 * otherwise tfjs's chain, so inference numbers do not move.
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  if (x.dtype === 'float32' && gamma.rank === 1 && beta.rank === 1 && fusedTrainingKernels(LAYERNORM_KERNEL, LAYERNORM_GRAD_KERNEL)) {
    return layerNormKernel(eps)(x, gamma, beta); // (..., D)
  }
  const { mean, variance } = tf.moments(x, -1, true); // (..., 1) each
  const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))); // (..., D)
  return tf.add(tf.mul(xhat, gamma), beta); // (..., D)
}

/**
 * Name of the wasm GELU kernel that training runs (src/kernels/gelu.ts, registered by src/backend.ts's set-up):
 * gelu and its derivative in one call. Its separate forward and gradient kernels are the references it is tested
 * against.
 */
const GELU_WITH_GRAD_KERNEL = 'EmopiaGeluWithGrad';

/**
 * True when gelu runs the fused wasm kernels: our kernels on, registered on the current backend, and a gradient
 * being recorded (training). Inference keeps tfjs's chain, so generation's numbers do not move.
 */
function fusedGelu(x: Tensor): boolean {
  return x.dtype === 'float32' && fusedTrainingKernels(GELU_WITH_GRAD_KERNEL);
}

/**
 * GELU and its gradient through the fused kernels (instead of tfjs's chain of five kernels forward and eight
 * backward): the forward kernel also writes the derivative d = gelu'(x) from the same exp and erf, which is saved
 * instead of x, so the backward pass is dy * d (the bits of EmopiaGeluGrad on x and dy, without evaluating exp
 * and erf a second time).
 */
const geluKernel = customGrad<[Tensor]>((x, save) => {
  const [y, d] = tf.engine().runKernel(GELU_WITH_GRAD_KERNEL, { x }) as Tensor[] as [Tensor, Tensor]; // same shape as x, each
  save([d]);
  return {
    value: y, // same shape as x
    gradFunc: (dy, saved) => [tf.mul(dy, saved[0] as Tensor)], // same shape as x
  };
});

/** GELU with the exact erf form, as torch.nn.functional.gelu's default. */
export function gelu(x: Tensor): Tensor {
  if (fusedGelu(x)) return geluKernel(x); // same shape as x
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))); // same shape as x
}

export function relu(x: Tensor): Tensor {
  return tf.relu(x);
}

export type Activation = 'relu' | 'gelu';

export function activation(name: Activation, x: Tensor): Tensor {
  return name === 'gelu' ? gelu(x) : relu(x);
}

/**
 * n uniform numbers in [0, 1) as float32: the stream tf.randomUniform(shape, 0, 1, 'float32', seed) draws
 * (seedrandom's Alea generator, seeded through its Mash hash of String(seed)), to the bit, without tfjs's
 * per-number calls (they were ~0.9 s of a `small` training step, in dropout).
 */
export function seededUniform(seed: number, n: number): Float32Array {
  return seededStream(seed, n, -1, 0);
}

/**
 * The stream of seededUniform, or with keep >= 0 the dropout multipliers drawn from it: scale where
 * floor(u + keep) = 1 in float32 (as tf.dropout computes it), else 0.
 */
/** Alea's lag-3 state after seeding with String(seed) through its Mash hash: three multiples of 2^-32 in [0, 1). */
function aleaState(seed: number): [number, number, number] {
  // Mash: one hash state over the six seeding calls.
  let h = 0xefc8249d;
  const mash = (data: string): number => {
    for (let i = 0; i < data.length; i++) {
      h += data.charCodeAt(i);
      let f = 0.02519603282416938 * h;
      h = f >>> 0;
      f -= h;
      f *= h;
      h = f >>> 0;
      f -= h;
      h += f * 0x100000000; // 2^32
    }
    return (h >>> 0) * 2.3283064365386963e-10; // 2^-32
  };
  const key = String(seed);
  let s0 = mash(' ');
  let s1 = mash(' ');
  let s2 = mash(' ');
  s0 -= mash(key);
  if (s0 < 0) s0 += 1;
  s1 -= mash(key);
  if (s1 < 0) s1 += 1;
  s2 -= mash(key);
  if (s2 < 0) s2 += 1;
  return [s0, s1, s2];
}

function seededStream(seed: number, n: number, keep: number, scale: number): Float32Array {
  let [s0, s1, s2] = aleaState(seed);
  // s_{i+3} = frac(2091639 s_i + c 2^-32), c = its integer part (t >= 0, so trunc = floor = |0). Unrolled by
  // three so that the lag-3 state stays in place instead of rotating (twice as fast: the carry is a serial chain).
  const K = 2.3283064365386963e-10; // 2^-32
  let c = 1;
  let t = 0;
  const out = new Float32Array(n);
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    t = 2091639 * s0 + c * K;
    c = Math.trunc(t);
    out[i] = s0 = t - c;
    t = 2091639 * s1 + c * K;
    c = Math.trunc(t);
    out[i + 1] = s1 = t - c;
    t = 2091639 * s2 + c * K;
    c = Math.trunc(t);
    out[i + 2] = s2 = t - c;
  }
  if (i < n) {
    t = 2091639 * s0 + c * K;
    c = Math.trunc(t);
    out[i] = t - c;
  }
  if (i + 1 < n) out[i + 1] = 2091639 * s1 + c * K - Math.trunc(2091639 * s1 + c * K);
  if (keep >= 0) for (let j = 0; j < n; j++) out[j] = Math.fround((out[j] as number) + keep) >= 1 ? scale : 0;
  return out;
}

/**
 * Inverted dropout when `rng` is given (training), identity otherwise. The mask is drawn from `rng`: the
 * same numbers and float32 arithmetic as tf.dropout(x, rate, undefined, seed) (keep where
 * floor(u + keep) = 1, scaled by 1/keep), so the same bits, with the mask built on the host in one pass.
 */
export function dropout(x: Tensor, rate: number, rng?: Rng): Tensor {
  if (!rng || rate <= 0) return x;
  if (x.dtype !== 'float32' || !(rate < 1)) return tf.dropout(x, rate, undefined, rng.nextSeed()); // tf's own checks and errors
  const keep = Math.fround(1 - rate);
  const scale = Math.fround(1 / keep);
  const seed = rng.nextSeed();
  if (trainingKernelsRegistered(DROPOUT_KERNEL)) {
    const [s0, s1, s2] = aleaState(seed).map((s) => s * 0x100000000) as [number, number, number];
    return dropoutKernel({ s0, s1, s2, thr: dropoutThresholdOf(keep), scale })(x); // same shape as x
  }
  const mask = seededStream(seed, x.size, keep, scale); // same shape as x, flat
  return tf.mul(x, tf.tensor(mask, x.shape, 'float32')); // same shape as x
}

const thresholds = new Map<number, number>();
/** dropoutThreshold (src/kernels/dropout.ts), memoised per keep. */
function dropoutThresholdOf(keep: number): number {
  let thr = thresholds.get(keep);
  if (thr === undefined) thresholds.set(keep, (thr = dropoutThreshold(keep)));
  return thr;
}

/**
 * Dropout through the wasm kernel, which draws the mask of seededStream inside itself (the same bits): the
 * value is the kernel on x, the gradient the same kernel on dy (dx = dy * mask, as tf.mul's gradient), so no
 * mask is built on the host, uploaded or kept for the backward pass.
 */
function dropoutKernel(attrs: { s0: number; s1: number; s2: number; thr: number; scale: number }): (x: Tensor) => Tensor {
  return customGrad<[Tensor]>((x) => ({
    value: tf.engine().runKernel(DROPOUT_KERNEL, { x }, { ...attrs }) as Tensor, // same shape as x
    gradFunc: (dy) => [tf.engine().runKernel(DROPOUT_KERNEL, { x: dy }, { ...attrs }) as Tensor], // same shape as x
  }));
}
