/**
 * Is the batch-1 matrix-vector product of the `wasm` generation engine bound by memory or by its instructions?
 * Times forms of it (wasm/probe/matvec.c: the shipped two-inputs-per-iteration loop, the one before it, two output
 * blocks per loop, 24-wide blocks, and reading alone) over weights that fit the caches near the core and over
 * 13 MB of them (the `small` model's size, in L3 only), in GB/s of weights, best of 200 calls after 50.
 * Needs clang and lld with the wasm32 target, as `npm run build:wasm` does (the probe is not shipped).
 *
 *   taskset -c 1 node --import tsx scripts/matvec_probe.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'matvec-probe-'));
const cc = ['clang-14', 'clang'].find((c) => {
  try {
    execFileSync(c, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
if (!cc) {
  console.error('matvec_probe: needs clang with the wasm32 target (Debian: apt-get install clang lld)');
  process.exit(1);
}
const wasmPath = join(dir, 'matvec.wasm');
execFileSync(cc, ['--target=wasm32', '-O3', '-msimd128', '-nostdlib', '-fno-builtin', '-ffp-contract=off', '-mllvm', '-disable-lsr',
  '-Wl,--no-entry', '-Wl,--strip-all', '-Wl,--import-memory', '-o', wasmPath, new URL('../wasm/probe/matvec.c', import.meta.url).pathname]);
const bytes = readFileSync(wasmPath);
rmSync(dir, { recursive: true });

type Product = (x: number, inN: number, w: number, b: number, out: number, y: number) => void;
const memory = new WebAssembly.Memory({ initial: 16 * 64 }); // 64 MiB
const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as Record<string, (...a: number[]) => number>;
const f32 = new Float32Array(memory.buffer);
const [X, B, Y, W0] = [0, 16384, 32768, 1 << 20]; // byte offsets: input, bias, output, weights
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
for (let i = 0; i < 4096; i++) f32[X / 4 + i] = rand();
for (let i = 0; i < 4096; i++) f32[B / 4 + i] = rand();

/** GB/s of weights of `form` over `mats` matrices of in x out, best of 200 calls. */
function time(form: string, inN: number, out: number, mats: number): number {
  const fn = ex[form] as unknown as Product;
  const bytesPer = inN * out * 4;
  const run = () => {
    for (let m = 0; m < mats; m++) fn(X, inN, W0 + m * bytesPer, B, out, Y);
  };
  for (let i = 0; i < 50; i++) run();
  let best = Infinity;
  for (let r = 0; r < 200; r++) {
    const t = performance.now();
    run();
    best = Math.min(best, performance.now() - t);
  }
  return (mats * bytesPer) / (best / 1000) / 1e9;
}

function readRate(n: number): number {
  const read = ex.read_only as (w: number, n: number) => number;
  for (let i = 0; i < 50; i++) read(W0, n);
  let best = Infinity;
  for (let r = 0; r < 200; r++) {
    const t = performance.now();
    read(W0, n);
    best = Math.min(best, performance.now() - t);
  }
  return (n * 4) / (best / 1000) / 1e9;
}

// in 256; out 192 (a multiple of 16, 32 and 24), one matrix of 192 KB (in L2) or 68 of them (13 MB, L3 only)
for (let i = 0; i < 68 * 256 * 192; i++) f32[W0 / 4 + i] = rand();
console.log('GB/s of weights (best of 200 calls), in 256, out 192:');
for (const [label, mats] of [['192 KB (fits L2)', 1], ['13 MB (L3)', 68]] as const) {
  const cells = ['two_inputs', 'one_input', 'two_blocks', 'width24'].map((form) => `${form} ${time(form, 256, 192, mats).toFixed(1)}`);
  console.log(`  ${label}: ${cells.join(', ')}, read_only ${readRate(mats * 256 * 192).toFixed(1)}`);
}
