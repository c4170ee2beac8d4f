/**
 * The f32 matrix product of wasm/matmul/gemm.c, instantiated on a given WebAssembly memory, in two builds:
 * - `plain` (gemm_wasm.ts, clang-14, 128-bit SIMD): multiply, then add;
 * - `fma` (gemm_fma_wasm.ts, wasm/matmul_fma/, clang-19): the same code with relaxed SIMD's f32x4.relaxed_madd,
 *   a fused multiply-add (one rounding) on CPUs that have one. It validates only where the engine has relaxed
 *   SIMD: Chrome >= 114, Firefox, and Node 20 once src/backend.ts has set V8's flag; not Safari.
 * `gemmBuild` picks one (the training products run on it; see register.ts for where).
 *
 * The module imports its memory and has no data segment and no stack, so it can run inside another module's
 * memory (tfjs-backend-wasm's heap: no copies) and writes only to the output and the work buffer it is given.
 */
import { GEMM_FMA_WASM_BASE64 } from './gemm_fma_wasm.ts';
import { GEMM_WASM_BASE64 } from './gemm_wasm.ts';
import { base64Bytes, kernelModule } from './module.ts';

export interface GemmExports {
  /** Floats of scratch one call needs (packed operand blocks and an edge tile). */
  work_floats(): number;
  /**
   * `batch` products C = op(A)·op(B) (+ bias per column), op(A) M x K, op(B) K x N, all row-major f32 at byte
   * addresses; strides between batch elements in floats (0 repeats one matrix); bias and work are addresses
   * (bias 0 = none).
   */
  gemm(
    batch: number, M: number, N: number, K: number,
    a: number, strideA: number, transA: number,
    b: number, strideB: number, transB: number,
    c: number, strideC: number, bias: number, work: number,
  ): void;
}

/** An instance of the product working in `memory`. Rejects when the memory cannot be imported (e.g. shared). */
export const instantiateGemm = kernelModule<GemmExports>(GEMM_WASM_BASE64);

/** An instance of the fused multiply-add build in `memory`; rejects where relaxed SIMD does not validate. */
export const instantiateGemmFma = kernelModule<GemmExports>(GEMM_FMA_WASM_BASE64);

export type GemmBuild = 'plain' | 'fma';

let fmaValidates = false;

/**
 * True when this engine validates the fused build (relaxed SIMD). A `true` is kept; a `false` is asked again
 * next time (in Node the answer turns true once V8's flag is set, src/backend.ts).
 */
export function relaxedSimdValidates(): boolean {
  if (!fmaValidates) fmaValidates = typeof WebAssembly.validate === 'function' && WebAssembly.validate(base64Bytes(GEMM_FMA_WASM_BASE64));
  return fmaValidates;
}

/** The build to run: `fma` when wanted (EMOPIA_FMA unset or 1) and relaxed SIMD validates, else `plain`. */
export function gemmBuild(wantFma: boolean, validates: () => boolean = relaxedSimdValidates): GemmBuild {
  return wantFma && validates() ? 'fma' : 'plain';
}
