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
FLAGS="--target=wasm32 -O3 -msimd128 -mbulk-memory -nostdlib -fno-builtin -ffp-contract=off -Wall -Wextra -Werror"
"$CC" $FLAGS -Wl,--no-entry -Wl,--strip-all -Wl,--export=__heap_base -o "$out/step.wasm" "$here/step.c"
version=$("$CC" --version | head -n 1)
node "$here/embed.mjs" "$out/step.wasm" "$root/src/cp/wasm/step_binary.ts" "$FLAGS" "$version"
