/**
 * Dropout as one tfjs kernel for the `wasm` backend, run by wasm/dropout/dropout.c inside tfjs-backend-wasm's
 * heap: `EmopiaDropout` (input x; attrs the Alea state after seeding, as three 32-bit integers s0, s1, s2, the
 * keep threshold and the scale: y = x * mask). The mask is drawn inside the kernel from the same Alea stream as
 * core/ops.ts's seededStream (and tf.randomUniform with the same seed), to the bit, and never stored: the
 * gradient is the same kernel on dy with the same state. Before, the stream ran in JavaScript (latency-bound,
 * ~8 ns a value, 13 million values a `small` step), was uploaded as a tensor and multiplied in, twice.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { WasmBackendLike } from './batch_matmul.ts';
import { DROPOUT_WASM_BASE64 } from './dropout_wasm.ts';
import { kernelModule } from './module.ts';

export const DROPOUT_KERNEL = 'EmopiaDropout';

/**
 * The attributes of EmopiaDropout: Alea's state after seeding (s_i·2^32, integers), the threshold of
 * dropoutThreshold for the float32 keep, and the float32 scale.
 */
export interface DropoutAttrs {
  s0: number;
  s1: number;
  s2: number;
  thr: number;
  scale: number;
}

/**
 * The smallest X in [0, 2^32) whose uniform u = fround(X / 2^32) keeps its value under tf.dropout's test
 * fround(u + keep) >= 1 (the test is monotone in X, so exactly X >= thr keeps): the kernel then compares integers.
 * keep: the float32 keep probability, in (0, 1).
 */
export function dropoutThreshold(keep: number): number {
  const kept = (X: number): boolean => Math.fround(Math.fround(X * 2.3283064365386963e-10) + keep) >= 1;
  let lo = 0; // every X < lo is dropped
  let hi = 0xffffffff; // kept (u rounds to 1 there)
  if (!kept(hi)) throw new Error(`dropout kernel: keep ${keep} keeps nothing`);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (kept(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface DropoutExports {
  dropout_apply(n: number, x: number, y: number, s0: number, s1: number, s2: number, thr: number, scale: number): void;
}

/** An instance of the kernel working in `memory` (rejects when the memory cannot be imported). */
export const instantiateDropout = kernelModule<DropoutExports>(DROPOUT_WASM_BASE64);

function offset(backend: WasmBackendLike, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('dropout kernel: an operand is not in the wasm backend');
  return d.memoryOffset;
}

const size = (t: TensorInfo): number => t.shape.reduce((p, d) => p * d, 1);

export function dropoutApply(backend: WasmBackendLike, k: DropoutExports, x: TensorInfo, a: DropoutAttrs): TensorInfo {
  if (x.dtype !== 'float32') throw new Error(`dropout kernel: expected a float32 tensor, got ${x.dtype}`);
  const y = backend.makeOutput([...x.shape], 'float32');
  if (size(x) > 0) k.dropout_apply(size(x), offset(backend, x), offset(backend, y), a.s0 | 0, a.s1 | 0, a.s2 | 0, a.thr | 0, a.scale);
  return y;
}
