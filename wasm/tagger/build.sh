#!/bin/sh
# Rebuilds the downbeat tagger's kernel (wasm/tagger/tagger.c) and writes it, base64-encoded, into
# src/music/beats/tagger_binary.ts, the module src/music/beats/tagger_wasm.ts loads (no file read or fetch at run time).
# Needs clang and lld with the wasm32 target (Debian: apt-get install clang lld). Run from anywhere:
#   sh wasm/tagger/build.sh        (or: npm run build:wasm; OUT=FILE writes FILE instead, for the test's check)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CC=${CC:-$(command -v clang-14 || command -v clang)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# -ffp-contract=off: no fused multiply-adds, so the sums round exactly as the TypeScript's do. -O2 rather than -O3:
# 1976 bytes against 5334 (under the 4 KB a browser's main thread compiles synchronously), at about 10% more time.
FLAGS="--target=wasm32 -O2 -msimd128 -nostdlib -fno-builtin -ffp-contract=off -Wall -Wextra -Werror"
"$CC" $FLAGS -Wl,--no-entry -Wl,--strip-all -Wl,--export=__heap_base -o "$out/tagger.wasm" "$here/tagger.c"
version=$("$CC" --version | head -n 1)
node "$root/wasm/step/embed.mjs" "$out/tagger.wasm" "${OUT:-$root/src/music/beats/tagger_binary.ts}" "$FLAGS" "$version" TAGGER "wasm/tagger/tagger.c|The downbeat tagger's kernel" test/music/beats_tagger_wasm.test.ts
