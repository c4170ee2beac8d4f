/**
 * One parameter's clipped-Adam update as a tfjs kernel for the `wasm` backend (`EmopiaAdam`: inputs p, g, m, v;
 * attrs the clipping factor and the step's float32 constants; outputs [p', m', v']), run by wasm/adam/adam.c (built for an unshared memory by wasm/adam_step/build.sh) inside
 * tfjs-backend-wasm's heap: the outputs start as copies of p, m and v and the kernel updates them in place, so
 * the inputs are never written. Bit-identical to tf.mul(g, coef) then Adam.apply's eleven tfjs ops (the module's
 * contract, tested), for the one-worker update (src/core/train/optim.ts's Adam.applyClipped); the sharded
 * update of several workers runs the same module on their shared memory (adam.ts).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { WasmBackendLike } from './batch_matmul.ts';
import { ADAM_STEP_WASM_BASE64 } from './adam_step_wasm.ts';
import type { AdamStepConstants } from './adam.ts';
import { kernelModule } from './module.ts';

export const ADAM_KERNEL = 'EmopiaAdam';

export interface AdamStepExports {
  adam(p: number, g: number, m: number, v: number, n: number, coef: number, b1: number, ob1: number, b2: number, ob2: number, bc2: number, eps: number, ss: number): void;
}

/** An instance of the module working in `memory` (rejects when the memory cannot be imported). */
export const instantiateAdamStep = kernelModule<AdamStepExports>(ADAM_STEP_WASM_BASE64);

/** EmopiaAdam's attributes: the clipping factor and the step's constants. */
export type AdamStepAttrs = AdamStepConstants & { coef: number };

interface HeapBackend extends WasmBackendLike {
  wasm: WasmBackendLike['wasm'] & { HEAPU8: Uint8Array };
}

export function adamStep(backend: WasmBackendLike, k: AdamStepExports, inputs: Record<'p' | 'g' | 'm' | 'v', TensorInfo>, a: AdamStepAttrs): TensorInfo[] {
  const { p, g, m, v } = inputs;
  const n = p.shape.reduce((s, d) => s * d, 1);
  for (const t of [g, m, v]) {
    if (t.shape.reduce((s, d) => s * d, 1) !== n) throw new Error(`adam kernel: [${t.shape}] differs in size from the parameter [${p.shape}]`);
  }
  for (const t of [p, g, m, v]) if (t.dtype !== 'float32') throw new Error(`adam kernel: expected float32 tensors, got ${t.dtype}`);
  const at = (t: TensorInfo): number => {
    const d = backend.dataIdMap.get(t.dataId);
    if (!d) throw new Error('adam kernel: an operand is not in the wasm backend');
    return d.memoryOffset;
  };
  const outs = [p, m, v].map((t) => backend.makeOutput([...t.shape], 'float32'));
  const [p1, m1, v1] = outs as [TensorInfo, TensorInfo, TensorInfo];
  if (n > 0) {
    const heap = (backend as HeapBackend).wasm.HEAPU8; // read after makeOutput, which may have grown the heap
    for (const [from, to] of [[p, p1], [m, m1], [v, v1]] as const) heap.copyWithin(at(to), at(from), at(from) + 4 * n);
    k.adam(at(p1), at(g), at(m1), at(v1), n, a.coef, a.beta1, a.oneMinusBeta1, a.beta2, a.oneMinusBeta2, a.bc2Sqrt, a.eps, a.stepSize);
  }
  return outs;
}
