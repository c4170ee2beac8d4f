/**
 * tfjs's Sum kernel for the `wasm` backend where it reduces leading axes (axes 0..k-1 of a float32 tensor:
 * a bias's gradient, the gradient of a broadcast add): column sums by wasm/reduce/reduce.c inside
 * tfjs-backend-wasm's heap. tfjs-backend-wasm 4.22 transposes and then sums in a scalar loop (4-7 ns per
 * value, 80-90 such sums per `small` training step). Every other Sum goes to the original kernel.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { WasmBackendLike } from './batch_matmul.ts';
import { REDUCE_WASM_BASE64 } from './reduce_wasm.ts';
import { kernelModule } from './module.ts';

export interface ReduceExports {
  /** out[c] = Σ_r x[r][c] for x [R][C] (byte addresses). */
  colsum(R: number, C: number, x: number, out: number): void;
}

/** An instance of the kernel working in `memory` (rejects when the memory cannot be imported). */
export const instantiateReduce = kernelModule<ReduceExports>(REDUCE_WASM_BASE64);

/** k when `axis` (any order, negatives allowed) is exactly the leading axes 0..k-1 of a rank-r tensor, k < r; else 0. */
export function leadingAxes(axis: number | number[] | undefined, rank: number): number {
  if (axis === undefined) return 0;
  const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  if (axes.length === 0 || axes.length >= rank) return 0;
  return axes.every((a, i) => a === i) ? axes.length : 0;
}

/** The Sum kernel: leading-axes float32 sums here (when `reduce(backend)` gives an instance), the rest to `original`. */
export function leadingSum(original: KernelConfig, reduce: (backend: object) => ReduceExports | null): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as { axis?: number | number[]; keepDims?: boolean };
    const rd = reduce(args.backend as object);
    const k = leadingAxes(axis, x.shape.length);
    if (!rd || k === 0 || x.dtype !== 'float32') return original.kernelFunc(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const R = x.shape.slice(0, k).reduce((p, d) => p * d, 1);
    const rest = x.shape.slice(k);
    const C = rest.reduce((p, d) => p * d, 1);
    const out = backend.makeOutput(keepDims ? [...x.shape.slice(0, k).map(() => 1), ...rest] : rest, 'float32');
    if (C === 0) return out;
    const at = (t: TensorInfo): number => {
      const d = backend.dataIdMap.get(t.dataId);
      if (!d) throw new Error('kernels: a Sum operand is not in the wasm backend');
      return d.memoryOffset;
    };
    rd.colsum(R, C, at(x), at(out));
    return out;
  };
}
