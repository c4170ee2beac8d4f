/**
 * tfjs's SplitV kernel for the `wasm` backend as row copies inside its heap (copyWithin per outer index and
 * part). tfjs-backend-wasm 4.22 slices each part with a JavaScript loop per value (slice3d and friends): the
 * gradient of the model's concatenated embeddings ([2, 512, 688] into eight parts) took 14-27 ms a call.
 * 4-byte dtypes only (float32, int32); others go to the original kernel.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { WasmBackendLike } from './batch_matmul.ts';

/** The part sizes of a split of `S` values: `n` equal parts, or the sizes given with at most one -1 inferred; null when invalid. */
export function splitSizes(S: number, numOrSizeSplits: number | number[]): number[] | null {
  if (typeof numOrSizeSplits === 'number') {
    if (!(numOrSizeSplits > 0) || S % numOrSizeSplits !== 0) return null;
    return new Array<number>(numOrSizeSplits).fill(S / numOrSizeSplits);
  }
  const sizes = [...numOrSizeSplits];
  const free = sizes.filter((s) => s === -1).length;
  if (free > 1) return null;
  const known = sizes.reduce((p, s) => (s === -1 ? p : p + s), 0);
  if (free === 1) sizes[sizes.indexOf(-1)] = S - known;
  if (sizes.some((s) => s < 0) || sizes.reduce((p, s) => p + s, 0) !== S) return null;
  return sizes;
}

export function copySplitV(original: KernelConfig, active: () => boolean): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number | number[] };
    const rank = x.shape.length;
    let ax = Array.isArray(axis) ? (axis[0] ?? 0) : axis;
    if (ax < 0) ax += rank;
    const S = x.shape[ax];
    const sizes = S === undefined ? null : splitSizes(S, numOrSizeSplits);
    if (!active() || (x.dtype !== 'float32' && x.dtype !== 'int32') || !sizes || S === undefined) return original.kernelFunc(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const outs = sizes.map((s) => backend.makeOutput(x.shape.map((d, i) => (i === ax ? s : d)), x.dtype as 'float32'));
    const outer = x.shape.slice(0, ax).reduce((p, d) => p * d, 1);
    const inner = x.shape.slice(ax + 1).reduce((p, d) => p * d, 1);
    const at = (t: TensorInfo): number => {
      const d = backend.dataIdMap.get(t.dataId);
      if (!d) throw new Error('kernels: a SplitV operand is not in the wasm backend');
      return d.memoryOffset / 4;
    };
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer); // read after makeOutput, which may grow the memory
    const src = at(x);
    const row = S * inner;
    let start = 0;
    sizes.forEach((s, i) => {
      const w = s * inner;
      if (w > 0) {
        const dst = at(outs[i] as TensorInfo);
        for (let o = 0; o < outer; o++) heap.copyWithin(dst + o * w, src + o * row + start, src + o * row + start + w);
      }
      start += w;
    });
    return outs;
  };
}
