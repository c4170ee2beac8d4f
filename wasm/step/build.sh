#!/bin/sh
# Rebuilds the `wasm` generation engine's kernel (wasm/step/step.c) and writes it, base64-encoded, into
# src/cp/wasm/step_binary.ts, the module the engine loads (no file read or fetch at run time).
# Needs clang and lld with the wasm32 target (Debian: apt-get install clang lld). Run from anywhere:
#   sh wasm/step/build.sh        (or: npm run build:wasm)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CC=${CC:-$(command -v clang-14 || command -v clang)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# -mllvm -disable-lsr: without it LLVM's loop strength reduction rewrites the product loops' pointers so that the
# weight loads' constant offsets (+16, +32, +48 bytes) become separate i32.add instructions, which V8 executes as
# such (a 32-bit add cannot fold into x64 addressing); with it they are load offsets: ~4% less time per word.
# STEP_CFLAGS: extra flags for diagnostic builds only (e.g. -DSTEP_NO_SCORES, step.c); unset for the shipped module.
FLAGS="--target=wasm32 -O3 -msimd128 -mbulk-memory -nostdlib -fno-builtin -ffp-contract=off -mllvm -disable-lsr -Wall -Wextra -Werror${STEP_CFLAGS:+ $STEP_CFLAGS}"
"$CC" $FLAGS -Wl,--no-entry -Wl,--strip-all -Wl,--export=__heap_base -o "$out/step.wasm" "$here/step.c"
version=$("$CC" --version | head -n 1)
node "$here/embed.mjs" "$out/step.wasm" "$root/src/cp/wasm/step_binary.ts" "$FLAGS" "$version"
