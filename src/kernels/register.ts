/**
 * Our own kernels in tfjs's registry: BatchMatMul (every matrix product tf.matMul makes, with its transpose
 * flags and batch broadcasting) for the `wasm` backend, run by the wasm SIMD product of wasm/matmul/gemm.c.
 * tf.matMul's gradient is itself BatchMatMul with transpose flags, so the backward pass runs here too.
 *
 * Why: tfjs-backend-wasm 4.22 sends every batched or transposed product to a scalar loop (1-2 GFLOP/s) and
 * only the plain 2-D one to XNNPACK, which is what the work-arounds of core/ops.ts (loops of 2-D products,
 * explicit transposes) were for.
 *
 * The switch: EMOPIA_KERNELS=tfjs (environment) keeps tfjs's own kernels; `setTrainingKernels(false)` does the
 * same at run time (tests compare both in one process). The `cpu` backend keeps its kernels: it is the plain
 * JavaScript reference the wasm results are checked against.
 *
 * Fused multiply-add: the products of a gradient computation (`withTrainingProducts`, around namedGrads's
 * tf.variableGrads: the forward pass under the tape and the backward pass) run on the fused build of gemm.ts
 * (f32x4.relaxed_madd) where relaxed SIMD validates; every other product (generation's `tensor` engine, the
 * full pass of checkIncremental, validation losses, evaluation) stays on the plain build, so that generation's
 * numbers do not change. The two differ only by rounding (one rounding per multiply-add instead of two); on one
 * machine either is deterministic. EMOPIA_FMA=0 (environment) keeps the plain build for training too (and
 * src/backend.ts then leaves V8's relaxed-SIMD flag unset); `setFusedProducts(false)` does the same at run time.
 *
 * The registry functions come in through the `tf` argument (src/backend.ts owns the tfjs set-up).
 */
import type * as tfns from '@tensorflow/tfjs';
import { batchMatMul, createGemmContext, linearForward, type GemmContext, type Placement, type WasmBackendLike } from './batch_matmul.ts';
import { gemmBuild, type GemmBuild } from './gemm.ts';
import { aliasingCast, aliasingIdentity } from './identity.ts';
import { instantiateReduce, leadingSum, type ReduceExports } from './sum.ts';
import { copySplitV } from './split.ts';
import { GELU_GRAD_KERNEL, GELU_KERNEL, GELU_WITH_GRAD_KERNEL, geluBackward, geluForward, geluWithGrad, instantiateGelu, type GeluExports } from './gelu.ts';
import {
  instantiateLayerNorm, LAYERNORM_GRAD_KERNEL, LAYERNORM_KERNEL, layerNormBackward, layerNormForward, type LayerNormExports,
} from './layernorm.ts';
import { instantiateXent, XENT_GRAD_KERNEL, XENT_KERNEL, xentBackward, xentForward, type XentExports } from './xent.ts';
import { ADAM_KERNEL, adamStep, instantiateAdamStep, type AdamStepAttrs, type AdamStepExports } from './adam_step.ts';
import { DROPOUT_KERNEL, dropoutApply, instantiateDropout, type DropoutAttrs, type DropoutExports } from './dropout.ts';
import {
  instantiateLinattn, LINEAR_ATTENTION_GRAD_KERNEL, LINEAR_ATTENTION_KERNEL, linearAttentionBackward, linearAttentionForward,
  type LinattnExports,
} from './linear_attention.ts';

type Tf = typeof tfns;

/** Values of EMOPIA_KERNELS: `wasm` (ours, the default) or `tfjs` (tfjs's own). */
export const KERNEL_CHOICES = ['wasm', 'tfjs'] as const;
export type KernelChoice = (typeof KERNEL_CHOICES)[number];

const contexts = new WeakMap<object, GemmContext>();
const attention = new WeakMap<object, LinattnExports>();
const reducers = new WeakMap<object, ReduceExports>();
const gelus = new WeakMap<object, GeluExports>();
const layerNorms = new WeakMap<object, LayerNormExports>();
const xents = new WeakMap<object, XentExports>();
const dropouts = new WeakMap<object, DropoutExports>();
const adams = new WeakMap<object, AdamStepExports>();
let enabled = true;
let fusedOn = true;
let trainingDepth = 0;
let current: object | null = null;
let calls = 0;
let fusedCalls = 0;
let attentionCalls = 0;

/** Products our kernel has run in this process (tests check that it is the one running). */
export function trainingKernelCalls(): number {
  return calls;
}

/** Products the fused multiply-add build has run in this process. */
export function fusedKernelCalls(): number {
  return fusedCalls;
}

/** Calls of the linear-attention kernels (forward and gradient) in this process. */
export function attentionKernelCalls(): number {
  return attentionCalls;
}

/** The choice of EMOPIA_KERNELS (unset = `wasm`); no environment (a browser) = `wasm`. */
export function kernelChoiceFromEnv(): KernelChoice {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = env?.['EMOPIA_KERNELS'];
  if (v === undefined || v === '') return 'wasm';
  if (!(KERNEL_CHOICES as readonly string[]).includes(v)) {
    throw new Error(`EMOPIA_KERNELS: expected one of ${KERNEL_CHOICES.join(', ')}, got '${v}'`);
  }
  return v as KernelChoice;
}

/**
 * EMOPIA_FMA: unset, empty or `1` = the fused multiply-add build for training's products where relaxed SIMD
 * validates; `0` = the plain build everywhere. No environment (a browser) = `1`.
 */
export function fmaWantedFromEnv(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = env?.['EMOPIA_FMA'];
  if (v === undefined || v === '' || v === '1') return true;
  if (v === '0') return false;
  throw new Error(`EMOPIA_FMA: expected 0 or 1, got '${v}'`);
}

/** Lets training's products run on the fused build (where set up) or not, for the rest of the process. */
export function setFusedProducts(on: boolean): void {
  fusedOn = on;
}

/**
 * Runs `f` with its matrix products on the fused multiply-add build where it is set up (training's gradient
 * computation: core/train/optim.ts's namedGrads); outside, the plain build runs. Synchronous `f` only.
 */
export function withTrainingProducts<T>(f: () => T): T {
  trainingDepth++;
  try {
    return f();
  } finally {
    trainingDepth--;
  }
}

/** The build training's products run on for the current backend (`fma` or `plain`), or null when ours do not run. */
export function trainingProductBuild(tf: Tf): GemmBuild | null {
  if (!trainingKernelsActive(tf)) return null;
  return fusedOn && contexts.get(tf.backend())?.fused ? 'fma' : 'plain';
}

/** Turns our kernels on or off for the rest of the process (they stay registered; off = tfjs's own run). */
export function setTrainingKernels(on: boolean): void {
  enabled = on;
}

/** True when tf.matMul on the current backend runs our product (so batched/transposed products are fast). */
export function trainingKernelsActive(tf: Tf): boolean {
  return enabled && current !== null && tf.getBackend() === 'wasm' && contexts.has(tf.backend());
}

/** The placement in use for the current backend, or null when our kernels do not run there. */
export function trainingKernelPlacement(tf: Tf): Placement | null {
  if (!trainingKernelsActive(tf)) return null;
  return contexts.get(tf.backend())?.placement ?? null;
}

/**
 * Registers our BatchMatMul for the `wasm` backend, once per backend instance, after `tf.ready()`; a no-op on
 * other backends and when EMOPIA_KERNELS=tfjs. `placement` `shared` (default) falls back to `copy` when the
 * backend's memory cannot be imported.
 */
export async function registerTrainingKernels(tf: Tf, placement: Placement = 'shared'): Promise<void> {
  if (tf.getBackend() !== 'wasm') return;
  if (kernelChoiceFromEnv() === 'tfjs') {
    enabled = false;
    return;
  }
  const backend = tf.backend() as unknown as WasmBackendLike & object;
  const build = gemmBuild(fmaWantedFromEnv());
  const old = contexts.get(backend);
  if (old && old.placement === placement && (old.fused !== null) === (build === 'fma')) {
    current = backend;
    return;
  }
  let ctx: GemmContext;
  try {
    ctx = await createGemmContext(backend, placement, build);
  } catch (err) {
    if (placement !== 'shared') throw err;
    ctx = await createGemmContext(backend, 'copy', build);
  }
  old?.release();
  contexts.set(backend, ctx);
  current = backend;
  await setUpHelpers(tf, backend);

  const original = tf.getKernel('BatchMatMul', 'wasm');
  if (!original) throw new Error("kernels: tfjs-backend-wasm has no 'BatchMatMul' kernel to replace");
  if ((original.kernelFunc as { ours?: boolean }).ours) return;
  const kernelFunc = Object.assign(
    (args: Parameters<tfns.KernelFunc>[0]) => {
      const context = contexts.get(args.backend as object);
      const { a, b } = args.inputs as { a?: tfns.TensorInfo; b?: tfns.TensorInfo };
      if (!enabled || !context || !a || !b || a.dtype !== 'float32' || b.dtype !== 'float32') return original.kernelFunc(args);
      const { transposeA, transposeB } = args.attrs as { transposeA?: boolean; transposeB?: boolean };
      calls++;
      const fused = fusedOn && trainingDepth > 0 && context.fused !== null;
      if (fused) fusedCalls++;
      return batchMatMul(args.backend as unknown as WasmBackendLike, context, { a, b, transposeA: !!transposeA, transposeB: !!transposeB }, fused);
    },
    { ours: true },
  );
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ ...original, kernelFunc });
  registerLinearKernel(tf);
  const identity = tf.getKernel('Identity', 'wasm');
  if (!identity) throw new Error("kernels: tfjs-backend-wasm has no 'Identity' kernel to replace");
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ ...identity, kernelFunc: aliasingIdentity(identity, () => enabled) });
  const cast = tf.getKernel('Cast', 'wasm');
  if (!cast) throw new Error("kernels: tfjs-backend-wasm has no 'Cast' kernel to replace");
  tf.unregisterKernel('Cast', 'wasm');
  tf.registerKernel({ ...cast, kernelFunc: aliasingCast(cast, () => enabled) });
  const sum = tf.getKernel('Sum', 'wasm');
  if (!sum) throw new Error("kernels: tfjs-backend-wasm has no 'Sum' kernel to replace");
  tf.unregisterKernel('Sum', 'wasm');
  tf.registerKernel({ ...sum, kernelFunc: leadingSum(sum, (b) => (enabled ? (reducers.get(b) ?? null) : null)) });
  const splitV = tf.getKernel('SplitV', 'wasm');
  if (!splitV) throw new Error("kernels: tfjs-backend-wasm has no 'SplitV' kernel to replace");
  tf.unregisterKernel('SplitV', 'wasm');
  tf.registerKernel({ ...splitV, kernelFunc: copySplitV(splitV, () => enabled) });
}

/**
 * The instances of the other kernels (column sums, linear attention) in `backend`'s heap. Where that memory
 * cannot be imported, Sum keeps tfjs's loop and the linear-attention kernels stay unregistered (cp/attention.ts
 * then keeps its tf form).
 */
async function setUpHelpers(tf: Tf, backend: WasmBackendLike & object): Promise<void> {
  const memory = backend.wasm.asm?.memory;
  const rd = memory instanceof WebAssembly.Memory ? await instantiateReduce(memory).catch(() => null) : null;
  if (rd) reducers.set(backend, rd);
  const ge = memory instanceof WebAssembly.Memory ? await instantiateGelu(memory).catch(() => null) : null;
  if (ge) {
    gelus.set(backend, ge);
    registerGeluKernels(tf);
  } else {
    for (const name of [GELU_KERNEL, GELU_GRAD_KERNEL, GELU_WITH_GRAD_KERNEL]) if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  }
  const ln = memory instanceof WebAssembly.Memory ? await instantiateLayerNorm(memory).catch(() => null) : null;
  if (ln) {
    layerNorms.set(backend, ln);
    registerLayerNormKernels(tf);
  } else {
    for (const name of [LAYERNORM_KERNEL, LAYERNORM_GRAD_KERNEL]) if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  }
  const xe = memory instanceof WebAssembly.Memory ? await instantiateXent(memory).catch(() => null) : null;
  if (xe) {
    xents.set(backend, xe);
    registerXentKernels(tf);
  } else {
    for (const name of [XENT_KERNEL, XENT_GRAD_KERNEL]) if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  }
  const dr = memory instanceof WebAssembly.Memory ? await instantiateDropout(memory).catch(() => null) : null;
  if (dr) {
    dropouts.set(backend, dr);
    registerDropoutKernel(tf);
  } else if (tf.getKernel(DROPOUT_KERNEL, 'wasm')) {
    tf.unregisterKernel(DROPOUT_KERNEL, 'wasm');
  }
  const ad = memory instanceof WebAssembly.Memory ? await instantiateAdamStep(memory).catch(() => null) : null;
  if (ad) {
    adams.set(backend, ad);
    registerAdamKernel(tf);
  } else if (tf.getKernel(ADAM_KERNEL, 'wasm')) {
    tf.unregisterKernel(ADAM_KERNEL, 'wasm');
  }
  const la = memory instanceof WebAssembly.Memory ? await instantiateLinattn(memory).catch(() => null) : null;
  if (la) {
    attention.set(backend, la);
    registerAttentionKernels(tf);
  } else {
    for (const name of [LINEAR_ATTENTION_KERNEL, LINEAR_ATTENTION_GRAD_KERNEL]) if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  }
}

/** Registers the causal linear-attention kernels (forward and gradient) for the `wasm` backend (once). */
function registerAttentionKernels(tf: Tf): void {
  if (tf.getKernel(LINEAR_ATTENTION_KERNEL, 'wasm')) return;
  const instance = (b: object): LinattnExports => {
    const x = attention.get(b);
    if (!x) throw new Error('kernels: the linear-attention kernel was not set up for this backend');
    attentionCalls++;
    return x;
  };
  tf.registerKernel({
    kernelName: LINEAR_ATTENTION_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b, attrs }) => {
      const { q, k, v } = inputs as Record<'q' | 'k' | 'v', tfns.TensorInfo>;
      const a = attrs as { eps?: number; heads?: number };
      return linearAttentionForward(b as unknown as WasmBackendLike, instance(b), q, k, v, Number(a.eps), Number(a.heads ?? 0));
    },
  });
  tf.registerKernel({
    kernelName: LINEAR_ATTENTION_GRAD_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b, attrs }) =>
      linearAttentionBackward(
        b as unknown as WasmBackendLike, instance(b), inputs as Record<'q' | 'k' | 'v' | 'out' | 'den' | 'dy', tfns.TensorInfo>,
        Number((attrs as { eps?: number }).eps), Number((attrs as { heads?: number }).heads ?? 0),
      ),
  });
}

/** Registers the dropout kernel (forward and gradient alike) for the `wasm` backend (once). */
function registerDropoutKernel(tf: Tf): void {
  if (tf.getKernel(DROPOUT_KERNEL, 'wasm')) return;
  tf.registerKernel({
    kernelName: DROPOUT_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b, attrs }) => {
      const k = dropouts.get(b);
      if (!k) throw new Error('kernels: the dropout kernel was not set up for this backend');
      return dropoutApply(b as unknown as WasmBackendLike, k, (inputs as { x: tfns.TensorInfo }).x, attrs as unknown as DropoutAttrs);
    },
  });
}

/** Name of the linear layer's forward kernel (x·w + b in one product call; core/ops.ts's linear while training). */
export const LINEAR_KERNEL = 'EmopiaLinear';

/**
 * Registers EmopiaLinear for the `wasm` backend (once): the product with the bias added inside the same call, on
 * the build BatchMatMul would use (the fused multiply-add one inside training's gradient computation). Counted
 * with the products. Only where the product runs in the backend's memory (`shared`); core/ops.ts checks that.
 */
function registerLinearKernel(tf: Tf): void {
  if (tf.getKernel(LINEAR_KERNEL, 'wasm')) return;
  tf.registerKernel({
    kernelName: LINEAR_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b }) => {
      const context = contexts.get(b as object);
      if (!context) throw new Error('kernels: the product was not set up for this backend');
      const { x, w, b: bias } = inputs as Record<'x' | 'w' | 'b', tfns.TensorInfo>;
      calls++;
      const fused = fusedOn && trainingDepth > 0 && context.fused !== null;
      if (fused) fusedCalls++;
      return linearForward(b as unknown as WasmBackendLike, context, x, w, bias, fused);
    },
  });
}

/** Registers the one-parameter Adam kernel for the `wasm` backend (once). */
function registerAdamKernel(tf: Tf): void {
  if (tf.getKernel(ADAM_KERNEL, 'wasm')) return;
  tf.registerKernel({
    kernelName: ADAM_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b, attrs }) => {
      const k = adams.get(b);
      if (!k) throw new Error('kernels: the adam kernel was not set up for this backend');
      return adamStep(b as unknown as WasmBackendLike, k, inputs as Record<'p' | 'g' | 'm' | 'v', tfns.TensorInfo>, attrs as unknown as AdamStepAttrs);
    },
  });
}

/** Registers the GELU kernels (forward and gradient) for the `wasm` backend (once). */
function registerGeluKernels(tf: Tf): void {
  if (tf.getKernel(GELU_KERNEL, 'wasm')) return;
  const instance = (b: object): GeluExports => {
    const x = gelus.get(b);
    if (!x) throw new Error('kernels: the gelu kernel was not set up for this backend');
    return x;
  };
  tf.registerKernel({
    kernelName: GELU_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b }) => geluForward(b as unknown as WasmBackendLike, instance(b), (inputs as { x: tfns.TensorInfo }).x),
  });
  tf.registerKernel({
    kernelName: GELU_WITH_GRAD_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b }) => geluWithGrad(b as unknown as WasmBackendLike, instance(b), (inputs as { x: tfns.TensorInfo }).x),
  });
  tf.registerKernel({
    kernelName: GELU_GRAD_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b }) => {
      const { x, dy } = inputs as { x: tfns.TensorInfo; dy: tfns.TensorInfo };
      return geluBackward(b as unknown as WasmBackendLike, instance(b), x, dy);
    },
  });
}

/** Registers the layer-norm kernels (forward and gradient) for the `wasm` backend (once). */
function registerLayerNormKernels(tf: Tf): void {
  if (tf.getKernel(LAYERNORM_KERNEL, 'wasm')) return;
  const instance = (b: object): LayerNormExports => {
    const x = layerNorms.get(b);
    if (!x) throw new Error('kernels: the layer-norm kernel was not set up for this backend');
    return x;
  };
  tf.registerKernel({
    kernelName: LAYERNORM_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b, attrs }) => {
      const { x, gamma, beta } = inputs as Record<'x' | 'gamma' | 'beta', tfns.TensorInfo>;
      return layerNormForward(b as unknown as WasmBackendLike, instance(b), x, gamma, beta, Number((attrs as { eps?: number }).eps));
    },
  });
  tf.registerKernel({
    kernelName: LAYERNORM_GRAD_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b, attrs }) => {
      const { x, gamma, dy } = inputs as Record<'x' | 'gamma' | 'dy', tfns.TensorInfo>;
      return layerNormBackward(b as unknown as WasmBackendLike, instance(b), x, gamma, dy, Number((attrs as { eps?: number }).eps));
    },
  });
}

/** Registers the softmax cross-entropy kernels (forward and gradient) for the `wasm` backend (once). */
function registerXentKernels(tf: Tf): void {
  if (tf.getKernel(XENT_KERNEL, 'wasm')) return;
  const instance = (b: object): XentExports => {
    const x = xents.get(b);
    if (!x) throw new Error('kernels: the cross-entropy kernel was not set up for this backend');
    return x;
  };
  tf.registerKernel({
    kernelName: XENT_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b }) => {
      const { logits, targets } = inputs as Record<'logits' | 'targets', tfns.TensorInfo>;
      return xentForward(b as unknown as WasmBackendLike, instance(b), logits, targets);
    },
  });
  tf.registerKernel({
    kernelName: XENT_GRAD_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b }) => {
      const { logits, targets, w } = inputs as Record<'logits' | 'targets' | 'w', tfns.TensorInfo>;
      return xentBackward(b as unknown as WasmBackendLike, instance(b), logits, targets, w);
    },
  });
}
