#!/bin/sh
# Rebuilds the fused multiply-add build of the f32 matrix product (gemm_fma.c: wasm/matmul/gemm.c with
# f32x4.relaxed_madd, relaxed SIMD) and writes it as src/kernels/gemm_fma_wasm.ts (base64). The plain product
# (wasm/matmul/build.sh, clang-14) is untouched; src/kernels/gemm.ts picks one at run time.
# Needs clang-19 and lld-19 (clang-14's relaxed SIMD opcodes are the obsolete prototype ones, which V8 and
# browsers reject): on Debian `apt-get install clang-19 lld-19`.
# Run from anywhere: sh wasm/matmul_fma/build.sh   (or npm run build:wasm)
dir=matmul_fma
src=gemm_fma.c
name=gemm_fma
const=GEMM_FMA_WASM_BASE64
needs=clang-19
install="apt-get install clang-19 lld-19"
flags="--target=wasm32 -O3 -msimd128 -mrelaxed-simd -fno-builtin -nostdlib -Wl,--no-entry -Wl,--import-memory -Wl,--strip-all"
. "$(cd "$(dirname "$0")/.." && pwd)/build_module.sh"
