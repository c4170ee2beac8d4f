/*
 * The fused multiply-add build of the matrix product: wasm/matmul/gemm.c with GEMM_FMA, whose register kernel
 * multiplies and adds with relaxed SIMD's f32x4.relaxed_madd (a real FMA on x86 with FMA3 and on ARMv8), same
 * tile (4 x 8) and blocking (the tile search of README, "WebAssembly kernels": larger tiles were slower).
 * Built by clang-19 with -mrelaxed-simd (wasm/matmul_fma/build.sh); clang-14 emits relaxed SIMD's obsolete
 * prototype opcodes, which engines reject.
 */
#define GEMM_FMA 1
#include "../matmul/gemm.c"
