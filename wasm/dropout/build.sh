#!/bin/sh
# Rebuilds the dropout kernel (dropout.c) for wasm32 and writes it as a TypeScript module of base64 bytes
# (src/kernels/dropout_wasm.ts), so nothing at run time needs clang or a file read.
# Needs clang (14 or later, with the wasm32 target) and lld: on Debian `apt-get install clang lld`.
# Run from anywhere: sh wasm/dropout/build.sh   (or npm run build:wasm)
dir=dropout
src=dropout.c
name=dropout
const=DROPOUT_WASM_BASE64
flags="--target=wasm32 -O3 -msimd128 -ffp-contract=off -Wall -Wextra -Werror -fno-builtin -nostdlib -Wl,--no-entry -Wl,--import-memory -Wl,--strip-all"
. "$(cd "$(dirname "$0")/.." && pwd)/build_module.sh"
