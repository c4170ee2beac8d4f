#!/bin/sh
# Rebuilds the clipped-Adam kernel (adam.c) for wasm32 with 128-bit SIMD, importing a shared memory (the
# training pool's buffers, seen by every worker), and writes it as a TypeScript module of base64 bytes
# (src/kernels/adam_wasm.ts), so nothing at run time needs clang or a file read.
# Needs clang (14 or later, with the wasm32 target) and lld: on Debian `apt-get install clang lld`.
# Run from anywhere: sh wasm/adam/build.sh   (or npm run build:wasm)
dir=adam
src=adam.c
name=adam
const=ADAM_WASM_BASE64
flags="--target=wasm32 -O3 -msimd128 -matomics -mbulk-memory -ffp-contract=off -Wall -Wextra -Werror -fno-builtin -nostdlib -Wl,--no-entry -Wl,--import-memory -Wl,--shared-memory -Wl,--max-memory=4294967296 -Wl,--strip-all"
. "$(cd "$(dirname "$0")/.." && pwd)/build_module.sh"
