#!/bin/sh
# Rebuilds the downbeat tagger's kernel (tagger.c) for wasm32 and writes it as a TypeScript module of base64 bytes
# (src/music/beats/tagger_binary.ts, loaded by tagger_wasm.ts), so nothing at run time needs clang or a file read.
# Needs clang (14 or later, with the wasm32 target) and lld: on Debian `apt-get install clang lld`.
# Run from anywhere: sh wasm/tagger/build.sh   (or npm run build:wasm)
# -ffp-contract=off: no fused multiply-adds, so the sums round exactly as the TypeScript's do. The module has its own
# memory (the loader places the weights above __heap_base). -O2 rather than -O3: 1976 bytes against 5334, under the
# 4 KB a browser's main thread compiles synchronously, at about 10% more time.
dir=tagger
src=tagger.c
name=tagger
const=TAGGER_WASM_BASE64
dest=src/music/beats/tagger_binary.ts
flags="--target=wasm32 -O2 -msimd128 -ffp-contract=off -Wall -Wextra -Werror -fno-builtin -nostdlib -Wl,--no-entry -Wl,--strip-all -Wl,--export=__heap_base"
. "$(cd "$(dirname "$0")/.." && pwd)/build_module.sh"
