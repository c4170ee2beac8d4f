/**
 * tfjs's BatchMatMul kernel (a [...,M,K] or its transpose, b [...,K,N] or its transpose, batch axes
 * broadcast) on the wasm product of gemm.ts, for the `wasm` backend.
 *
 * Two placements: `shared` runs the product inside tfjs-backend-wasm's own memory on the tensors where they
 * lie (no copies; the default), `copy` gives the product a memory of its own and copies the operands in and
 * the result out (the fallback where the backend's memory cannot be imported, e.g. a shared one).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import { instantiateGemm, instantiateGemmFma, type GemmBuild, type GemmExports } from './gemm.ts';

/** What this kernel reads of tfjs-backend-wasm's BackendWasm (4.22; not part of its typed API). */
export interface WasmBackendLike {
  wasm: { asm?: { memory?: unknown }; _malloc(bytes: number): number; _free(ptr: number): void; HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
}

export type Placement = 'shared' | 'copy';

/**
 * A product ready to run for one backend: the plain build's instance, the fused multiply-add build's in the same
 * memory where it was asked for and validates (gemm.ts), their work buffer and, for `copy`, their own memory.
 */
export interface GemmContext {
  readonly placement: Placement;
  /** The plain build. */
  readonly gemm: GemmExports;
  /** The fused multiply-add build, or null (not asked for, or relaxed SIMD does not validate). */
  readonly fused: GemmExports | null;
  /** Byte address of the work buffer in the product's memory, shared by both builds. */
  readonly work: number;
  /** Floats of the work buffer: the larger of the builds' work_floats(). */
  readonly workFloats: number;
  /** The product's own memory (`copy`), or null when it runs in the backend's (`shared`). */
  readonly own: WebAssembly.Memory | null;
  /** Frees what the context holds in the backend's heap. */
  release(): void;
}

const PAGE = 65536;

/** The context for `backend`: `build` `fma` adds the fused build (it must validate: see gemm.ts's gemmBuild). */
export async function createGemmContext(backend: WasmBackendLike, placement: Placement, build: GemmBuild = 'plain'): Promise<GemmContext> {
  const instances = async (memory: WebAssembly.Memory): Promise<{ gemm: GemmExports; fused: GemmExports | null; workFloats: number }> => {
    const gemm = await instantiateGemm(memory);
    const fused = build === 'fma' ? await instantiateGemmFma(memory) : null;
    return { gemm, fused, workFloats: Math.max(gemm.work_floats(), fused?.work_floats() ?? 0) };
  };
  if (placement === 'shared') {
    const memory = backend.wasm.asm?.memory;
    if (!(memory instanceof WebAssembly.Memory)) throw new Error('kernels: tfjs-backend-wasm does not expose its memory');
    const { gemm, fused, workFloats } = await instances(memory);
    const work = backend.wasm._malloc(workFloats * 4) >>> 0;
    if (work === 0) throw new Error('kernels: could not allocate the product work buffer in the wasm heap');
    return { placement, gemm, fused, work, workFloats, own: null, release: () => backend.wasm._free(work) };
  }
  const own = new WebAssembly.Memory({ initial: 16 });
  const { gemm, fused, workFloats } = await instances(own);
  return { placement, gemm, fused, work: 0, workFloats, own, release: () => {} };
}

/** Broadcast shape of two batch shapes (numpy rules, right-aligned), as tf.matMul allows. */
export function broadcastBatch(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw new Error(`matMul: batch shapes [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
    }
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Index into a (right-aligned, broadcast) batch shape `from` of the t-th element of the batch shape `to`. */
function batchIndex(to: readonly number[], from: readonly number[], t: number): number {
  let idx = 0;
  let stride = 1;
  for (let i = to.length - 1, j = from.length - 1; i >= 0; i--, j--) {
    const dimTo = to[i] as number;
    const coord = t % dimTo;
    t = (t - coord) / dimTo;
    if (j >= 0) {
      const dimFrom = from[j] as number;
      if (dimFrom !== 1) idx += coord * stride;
      stride *= dimFrom;
    }
  }
  return idx;
}

const product = (xs: readonly number[]): number => xs.reduce((p, x) => p * x, 1);

export interface MatMulArgs {
  a: TensorInfo;
  b: TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * Runs BatchMatMul for `backend` with `ctx` (its fused build when `fused` and it has one); returns the output
 * tensor info [...batch, M, N].
 */
export function batchMatMul(backend: WasmBackendLike, ctx: GemmContext, { a, b, transposeA, transposeB }: MatMulArgs, fused = false): TensorInfo {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) throw new Error(`matMul: expected tensors of rank >= 2, got shapes [${a.shape}] and [${b.shape}]`);
  const M = a.shape[transposeA ? ra - 1 : ra - 2] as number;
  const K = a.shape[transposeA ? ra - 2 : ra - 1] as number;
  const Kb = b.shape[transposeB ? rb - 1 : rb - 2] as number;
  const N = b.shape[transposeB ? rb - 2 : rb - 1] as number;
  if (K !== Kb) {
    throw new Error(
      `matMul: inner sizes ${K} and ${Kb} differ (shapes [${a.shape}] and [${b.shape}], transposeA ${transposeA}, transposeB ${transposeB})`,
    );
  }
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = broadcastBatch(outerA, outerB);
  const out = backend.makeOutput([...outer, M, N], 'float32');
  const batch = product(outer);
  const sizeA = product(a.shape);
  const sizeB = product(b.shape);
  const sizeC = batch * M * N;
  if (sizeC === 0) return out;

  const offset = (t: TensorInfo): number => {
    const d = backend.dataIdMap.get(t.dataId);
    if (!d) throw new Error('kernels: a matMul operand is not in the wasm backend');
    return d.memoryOffset;
  };
  let pa = offset(a);
  let pb = offset(b);
  let pc = offset(out);
  const heapC = pc;
  if (ctx.own) {
    // Own memory: [work | a | b | c], grown as needed; the backend's heap view is read after makeOutput,
    // which may have grown (and so replaced) it.
    const base = ctx.work + ctx.workFloats * 4;
    const need = base + (sizeA + sizeB + sizeC) * 4;
    if (need > ctx.own.buffer.byteLength) ctx.own.grow(Math.ceil((need - ctx.own.buffer.byteLength) / PAGE));
    const own = new Uint8Array(ctx.own.buffer);
    const heap = backend.wasm.HEAPU8;
    own.set(heap.subarray(pa, pa + sizeA * 4), base);
    own.set(heap.subarray(pb, pb + sizeB * 4), base + sizeA * 4);
    pa = base;
    pb = base + sizeA * 4;
    pc = base + (sizeA + sizeB) * 4;
  }

  const { gemm } = fused && ctx.fused ? ctx.fused : ctx.gemm;
  const tA = transposeA ? 1 : 0;
  const tB = transposeB ? 1 : 0;
  const batchA = product(outerA);
  const batchB = product(outerB);
  if (batchB === 1 && !transposeA) {
    // One weight for every batch element: the batch folds into the rows of a single product.
    gemm(1, batch * M, N, K, pa, 0, 0, pb, 0, tB, pc, 0, 0, ctx.work);
  } else if ((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1)) {
    gemm(batch, M, N, K, pa, batchA === 1 ? 0 : M * K, tA, pb, batchB === 1 ? 0 : K * N, tB, pc, M * N, 0, ctx.work);
  } else {
    for (let t = 0; t < batch; t++) {
      const ia = batchIndex(outer, outerA, t);
      const ib = batchIndex(outer, outerB, t);
      gemm(1, M, N, K, pa + ia * M * K * 4, 0, tA, pb + ib * K * N * 4, 0, tB, pc + t * M * N * 4, 0, 0, ctx.work);
    }
  }

  if (ctx.own) backend.wasm.HEAPU8.set(new Uint8Array(ctx.own.buffer, pc, sizeC * 4), heapC);
  return out;
}

/**
 * A linear layer's forward product with its bias, x [N, K] · w [K, N'] + b [N'], as one call of the product (its bias
 * is added after the whole product, in float32, as tf.add after tf.matMul: the same bits). `shared` placement only
 * (the caller checks): the bias is read where it lies in the backend's heap.
 */
export function linearForward(backend: WasmBackendLike, ctx: GemmContext, x: TensorInfo, w: TensorInfo, b: TensorInfo, fused: boolean): TensorInfo {
  if (ctx.own) throw new Error('linear kernel: needs the product in the backend\'s own memory (shared placement)');
  const [M, K] = x.shape as [number, number];
  const [Kw, N] = w.shape as [number, number];
  if (x.shape.length !== 2 || w.shape.length !== 2 || K !== Kw || b.shape.length !== 1 || b.shape[0] !== N) {
    throw new Error(`linear kernel: expected x [M,K], w [K,N], b [N], got [${x.shape}], [${w.shape}], [${b.shape}]`);
  }
  for (const t of [x, w, b]) if (t.dtype !== 'float32') throw new Error(`linear kernel: expected float32 tensors, got ${t.dtype}`);
  const out = backend.makeOutput([M, N], 'float32');
  if (M * N === 0) return out;
  const at = (t: TensorInfo): number => {
    const d = backend.dataIdMap.get(t.dataId);
    if (!d) throw new Error('linear kernel: an operand is not in the wasm backend');
    return d.memoryOffset;
  };
  const { gemm } = fused && ctx.fused ? ctx.fused : ctx.gemm;
  gemm(1, M, N, K, at(x), 0, 0, at(w), 0, 0, at(out), 0, at(b), ctx.work);
  return out;
}
