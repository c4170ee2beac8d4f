/**
 * The f32 matrix product of wasm/matmul/gemm.c, instantiated on a given WebAssembly memory.
 *
 * The module imports its memory and has no data segment and no stack, so it can run inside another module's
 * memory (tfjs-backend-wasm's heap: no copies) and writes only to the output and the work buffer it is given.
 */
import { GEMM_WASM_BASE64 } from './gemm_wasm.ts';
import { kernelModule } from './module.ts';

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
