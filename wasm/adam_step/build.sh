#!/bin/sh
# Rebuilds wasm/adam/adam.c for an unshared memory (tfjs-backend-wasm's heap: the one-worker update's EmopiaAdam
# kernel, src/kernels/adam_step.ts) and writes it as a TypeScript module of base64 bytes
# (src/kernels/adam_step_wasm.ts). wasm/adam/build.sh builds the same source for the workers' shared memory, which
# a module importing a shared memory cannot import instead. One source, two memories.
# Needs clang (14 or later, with the wasm32 target) and lld: on Debian `apt-get install clang lld`.
# Run from anywhere: sh wasm/adam_step/build.sh   (or npm run build:wasm)
dir=adam_step
src=../adam/adam.c
name=adam_step
const=ADAM_STEP_WASM_BASE64
flags="--target=wasm32 -O3 -msimd128 -ffp-contract=off -Wall -Wextra -Werror -fno-builtin -nostdlib -Wl,--no-entry -Wl,--import-memory -Wl,--strip-all"
. "$(cd "$(dirname "$0")/.." && pwd)/build_module.sh"
