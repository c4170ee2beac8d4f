/**
 * The one module that owns TensorFlow.js set-up. Everything else imports `tf` from here and never calls
 * `tf.setBackend` itself.
 *
 * Why: with `@tensorflow/tfjs-backend-wasm` imported, creating a tensor before the backend has finished
 * initialising throws ("highest priority backend 'wasm' has not yet been initialized"). So every entry point
 * (CLI command, test, bench) awaits `initBackend()` first, and library code creates tensors only when called.
 *
 * Backends: `wasm` (default: XNNPACK, single-threaded in Node), `cpu` (plain JS, slower, always available),
 * `tensorflow` (only when the user has installed `@tensorflow/tfjs-node` themselves).
 */
import type * as Tfjs from '@tensorflow/tfjs';
import { tfjs } from './tfjs_load.ts';
import {
  fmaWantedFromEnv, registerTrainingKernels, trainingKernelPlacement, trainingKernelsActive as kernelsActiveOn, withTrainingProducts,
} from './kernels/register.ts';

export { withTrainingProducts };

/** TensorFlow.js (src/tfjs_load.ts loads it, with the wasm backend), and below, the tfjs types named as `tf.X`. */
export const tf: typeof Tfjs = tfjs;

/** Types only (no code), merged with the value `tf` above. */
export declare namespace tf {
  export type Rank = Tfjs.Rank;
  export type Tensor<R extends Tfjs.Rank = Tfjs.Rank> = Tfjs.Tensor<R>;
  export type Scalar = Tfjs.Scalar;
  export type Tensor1D = Tfjs.Tensor1D;
  export type Tensor2D = Tfjs.Tensor2D;
  export type Tensor3D = Tfjs.Tensor3D;
  export type Tensor4D = Tfjs.Tensor4D;
  export type Variable<R extends Tfjs.Rank = Tfjs.Rank> = Tfjs.Variable<R>;
  export type Optimizer = Tfjs.Optimizer;
  export type GradSaveFunc = Tfjs.GradSaveFunc;
}
/** The clipped-Adam kernel on a shared memory, for data-parallel training's sharded update (src/kernels/adam.ts). */
export { adamKernel, sharedArena, type AdamKernel, type AdamStepConstants } from './kernels/adam.ts';
/** The keep threshold of the dropout kernel (src/kernels/dropout.ts), for core/ops.ts's dropout. */
export { DROPOUT_KERNEL, dropoutThreshold } from './kernels/dropout.ts';
/** The one-parameter Adam kernel's name (src/kernels/adam_step.ts), for core/train/optim.ts's Adam.applyClipped. */
export { ADAM_KERNEL } from './kernels/adam_step.ts';
/** The linear layer's forward kernel (src/kernels/register.ts), for core/ops.ts's linear while training. */
export { LINEAR_KERNEL } from './kernels/register.ts';

/**
 * V8's relaxed-SIMD flag, set here once, when this module is evaluated. The fused multiply-add build of the
 * training product (src/kernels/gemm.ts: f32x4.relaxed_madd, a real FMA on x86 with FMA3) validates in Node 20's
 * V8 (11.3) only with --experimental-wasm-relaxed-simd; browsers have relaxed SIMD on (Chrome >= 114, Firefox)
 * or not (Safari: the plain build runs), and have no `process`, so nothing happens there.
 * - Here, the one module that owns the back-end set-up, because every entry point (CLI, worker, test, bench)
 *   imports it before any WebAssembly module compiles: tfjs-backend-wasm's compiles in initBackend, ours in
 *   registerTrainingKernels, the generation step's on first use; so every compile of the process sees one set of
 *   features.
 * - V8's flags are process-wide: worker threads spawned later (the training workers of src/platform/) see it
 *   (and import this module themselves anyway).
 * - It only adds opcodes: a module that does not use them validates and computes as before, so the generation
 *   step, tfjs's own module and the other kernels are unchanged (their tests check exact outputs).
 * EMOPIA_FMA=0 leaves the flag unset (and the plain build runs everywhere).
 */
function enableRelaxedSimd(): void {
  if (!fmaWantedFromEnv()) return;
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const v8 = proc?.getBuiltinModule?.('node:v8') as { setFlagsFromString?: (flags: string) => void } | undefined;
  v8?.setFlagsFromString?.('--experimental-wasm-relaxed-simd');
}
enableRelaxedSimd();

export const BACKENDS = ['wasm', 'cpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKENDS)[number];

let quietened = false;

/** Selects and initialises a backend; safe to call more than once. Returns the backend now in use. */
export async function initBackend(name: BackendName = 'wasm'): Promise<BackendName> {
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new Error(`backend: expected one of ${BACKENDS.join(', ')}, got '${String(name)}'`);
  }
  if (!quietened) {
    // PROD skips tfjs's debug checks (NaN scans of every kernel output).
    tf.env().set('PROD', true);
    quietened = true;
  }
  if (name === 'tensorflow') {
    try {
      // Optional peer: not a dependency of this package. The specifier is built at run time so that
      // bundlers and the type checker do not try to resolve it.
      const spec = '@tensorflow/tfjs-node';
      await import(spec);
    } catch {
      throw new Error("backend: 'tensorflow' needs @tensorflow/tfjs-node, which is not installed (npm install @tensorflow/tfjs-node)");
    }
  }
  if (tf.getBackend() !== name || !tf.findBackend(name)) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`backend: could not initialise '${name}'`);
  }
  await tf.ready();
  // Our wasm SIMD matrix products for the wasm backend (src/kernels/; EMOPIA_KERNELS=tfjs keeps tfjs's own).
  await registerTrainingKernels(tf);
  return tf.getBackend() as BackendName;
}

/** True when tf.matMul runs our wasm kernels on the current backend (transposed and batched products fast). */
export function trainingKernelsActive(): boolean {
  return kernelsActiveOn(tf);
}

/** True when our kernels are on and every kernel `names` is registered on the current backend. */
export function trainingKernelsRegistered(...names: string[]): boolean {
  const b = tf.getBackend();
  return trainingKernelsActive() && names.every((n) => !!tf.getKernel(n, b));
}

/**
 * Bytes of the current backend's own WebAssembly memory (tfjs-backend-wasm's heap, where every tensor of this
 * thread lives; it grows and never shrinks), or undefined on a backend without one (cpu keeps JavaScript arrays).
 */
export function backendHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap?.buffer.byteLength;
}

/** True when our product runs inside the backend's own memory (placement `shared`), where EmopiaLinear can run. */
export function productInBackendMemory(): boolean {
  return trainingKernelPlacement(tf) === 'shared';
}
