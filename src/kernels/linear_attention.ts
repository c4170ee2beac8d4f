/**
 * Causal linear attention as two tfjs kernels for the `wasm` backend, run by wasm/linattn/linattn.c inside
 * tfjs-backend-wasm's heap (the tensors where they lie, no copies):
 *
 * - `EmopiaCausalLinearAttention`: inputs q, k [..., T, dh] (feature-mapped), v [..., T, dv]; attr eps;
 *   outputs out [..., T, dv] and den [..., T, 1] (the normaliser phi(q)·z before eps).
 * - `EmopiaCausalLinearAttentionGrad`: inputs q, k, v, out, den and dy = ∂loss/∂out; attr eps; outputs dq, dk, dv.
 * - Attr `heads` (optional, > 0): q, k, v, out and their gradients are [B, T, heads, d] instead of [..., T, d]
 *   (the projections' layout, so no transposes around the call); den is then [B, heads, T, 1].
 *
 * cp/attention.ts calls them from its custom gradient when they are registered and our kernels are on; one
 * call per layer and pass replaces hundreds of small products (the recurrent form: see linattn.c).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { WasmBackendLike } from './batch_matmul.ts';
import { LINATTN_WASM_BASE64 } from './linattn_wasm.ts';
import { kernelModule } from './module.ts';

export const LINEAR_ATTENTION_KERNEL = 'EmopiaCausalLinearAttention';
export const LINEAR_ATTENTION_GRAD_KERNEL = 'EmopiaCausalLinearAttentionGrad';

export interface LinattnExports {
  work_floats(dh: number, dv: number): number;
  forward(G: number, T: number, H: number, dh: number, dv: number, eps: number, q: number, k: number, v: number, out: number, den: number, work: number): void;
  backward(
    G: number, T: number, H: number, dh: number, dv: number, eps: number,
    q: number, k: number, v: number, out: number, den: number, dout: number,
    dq: number, dk: number, dv_: number, work: number,
  ): void;
}

/** An instance of the kernel working in `memory` (rejects when the memory cannot be imported). */
export const instantiateLinattn = kernelModule<LinattnExports>(LINATTN_WASM_BASE64);

/** [G, T, d] sizes of a [..., T, d] tensor, or of a [B, T, heads, d] one (G = B·heads) with heads > 0. */
function dims(t: TensorInfo, heads = 0): [number, number, number] {
  const r = t.shape.length;
  if (heads > 0) {
    if (r !== 4 || t.shape[2] !== heads) throw new Error(`linear attention kernel: expected [B, T, ${heads}, d], got shape [${t.shape}]`);
    return [(t.shape[0] as number) * heads, t.shape[1] as number, t.shape[3] as number];
  }
  if (r < 2) throw new Error(`linear attention kernel: expected a tensor of rank >= 2, got shape [${t.shape}]`);
  const T = t.shape[r - 2] as number;
  const d = t.shape[r - 1] as number;
  const G = t.shape.slice(0, -2).reduce((p, x) => p * x, 1);
  return [G, T, d];
}

function offset(backend: WasmBackendLike, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('linear attention kernel: an operand is not in the wasm backend');
  return d.memoryOffset;
}

function checkSame(what: string, a: TensorInfo, b: TensorInfo, lastToo: boolean): void {
  const n = lastToo ? a.shape.length : a.shape.length - 1;
  if (a.shape.length !== b.shape.length || a.shape.slice(0, n).some((x, i) => x !== b.shape[i])) {
    throw new Error(`linear attention kernel: ${what} shapes differ: [${a.shape}] and [${b.shape}]`);
  }
}

/** Runs `f` with a work buffer of `floats` floats in the backend's heap. */
function withWork<R>(backend: WasmBackendLike, floats: number, f: (work: number) => R): R {
  const work = backend.wasm._malloc(floats * 4) >>> 0;
  if (work === 0) throw new Error('linear attention kernel: could not allocate its work buffer in the wasm heap');
  try {
    return f(work);
  } finally {
    backend.wasm._free(work);
  }
}

/** The forward kernel: [out, den]. */
export function linearAttentionForward(backend: WasmBackendLike, la: LinattnExports, q: TensorInfo, k: TensorInfo, v: TensorInfo, eps: number, heads = 0): TensorInfo[] {
  checkSame('query and key', q, k, true);
  checkSame('query and value', q, v, false);
  const [G, T, dh] = dims(q, heads);
  const dv = v.shape[v.shape.length - 1] as number;
  const out = backend.makeOutput([...v.shape], 'float32');
  const den = backend.makeOutput(heads > 0 ? [q.shape[0] as number, heads, T, 1] : [...q.shape.slice(0, -1), 1], 'float32');
  if (G * T === 0) return [out, den];
  withWork(backend, la.work_floats(dh, dv), (work) =>
    la.forward(G, T, heads, dh, dv, eps, offset(backend, q), offset(backend, k), offset(backend, v), offset(backend, out), offset(backend, den), work),
  );
  return [out, den];
}

/** The gradient kernel: [dq, dk, dv]. */
export function linearAttentionBackward(
  backend: WasmBackendLike, la: LinattnExports,
  { q, k, v, out, den, dy }: Record<'q' | 'k' | 'v' | 'out' | 'den' | 'dy', TensorInfo>, eps: number, heads = 0,
): TensorInfo[] {
  checkSame('query and key', q, k, true);
  checkSame('value and output', v, out, true);
  checkSame('output and its gradient', out, dy, true);
  const [G, T, dh] = dims(q, heads);
  const dv = v.shape[v.shape.length - 1] as number;
  const dq = backend.makeOutput([...q.shape], 'float32');
  const dk = backend.makeOutput([...k.shape], 'float32');
  const dvOut = backend.makeOutput([...v.shape], 'float32');
  if (G * T === 0) return [dq, dk, dvOut];
  withWork(backend, la.work_floats(dh, dv), (work) =>
    la.backward(
      G, T, heads, dh, dv, eps,
      offset(backend, q), offset(backend, k), offset(backend, v), offset(backend, out), offset(backend, den), offset(backend, dy),
      offset(backend, dq), offset(backend, dk), offset(backend, dvOut), work,
    ),
  );
  return [dq, dk, dvOut];
}
