/**
 * The downbeat tagger's network on its WebAssembly SIMD kernel (wasm/tagger/tagger.c, embedded in tagger_binary.ts),
 * loaded synchronously with no fetch and no file read. The kernel reproduces tagger.ts's TypeScript arithmetic to the
 * last bit (products and sums in double, in the same order), so both give identical log-odds; where WebAssembly SIMD
 * is missing or the module cannot be compiled synchronously, `wasmTaggerOutputs` returns null and the caller runs the
 * TypeScript. One instance per process: each model's transposed weights are copied into its memory once, then each
 * call places its features and activations above them.
 */
import { base64Bytes } from '../../io/base64.ts';
import { TAGGER_WASM_BASE64 } from './tagger_binary.ts';

/** What the network needs, as tagger.ts keeps it: row-major float32 arrays, the input and output weights transposed. */
export interface PlacedNetwork {
  c: number;
  dilations: readonly number[];
  classes: number;
  /** (c, F) */
  inT: Float32Array;
  inB: Float32Array;
  /** Each block: (c, 3c) and c biases. */
  blocks: readonly { wT: Float32Array; b: Float32Array }[];
  /** (classes, c) */
  outT: Float32Array;
  outB: Float32Array;
}

interface Kernel {
  memory: WebAssembly.Memory;
  input(n: number, F: number, C: number, x: number, inT: number, inB: number, h: number): void;
  block(n: number, C: number, d: number, h: number, wT: number, b: number, o: number): void;
  output(n: number, C: number, K: number, h: number, outT: number, outB: number, out: number): void;
  /** First free byte above the weights placed so far. */
  top: number;
}

let kernel: Kernel | null | undefined;

function load(): Kernel | null {
  if (kernel !== undefined) return kernel;
  try {
    const e = new WebAssembly.Instance(new WebAssembly.Module(base64Bytes(TAGGER_WASM_BASE64)), {}).exports as Record<string, unknown>;
    const fn = (name: string) => e[name] as (...args: number[]) => void;
    kernel = {
      memory: e['memory'] as WebAssembly.Memory,
      input: fn('tagger_input'),
      block: fn('tagger_block'),
      output: fn('tagger_output'),
      top: (e['__heap_base'] as WebAssembly.Global).value as number,
    };
  } catch {
    kernel = null; // no SIMD, or a browser's main thread refusing a synchronous compile
  }
  return kernel;
}

/** Whether the kernel runs here. */
export function taggerWasmAvailable(): boolean {
  return load() !== null;
}

/** `bytes` at `at` rounded up to 16, the memory grown to hold them; returns the start. */
function reserve(k: Kernel, at: number, bytes: number): number {
  const start = Math.ceil(at / 16) * 16;
  const need = start + bytes - k.memory.buffer.byteLength;
  if (need > 0) k.memory.grow(Math.ceil(need / 65536));
  return start;
}

interface Offsets {
  inT: number;
  inB: number;
  blocks: { wT: number; b: number }[];
  outT: number;
  outB: number;
}
const placed = new WeakMap<PlacedNetwork, Offsets>();

/** Copies `a` into the kernel's memory above everything placed so far; returns its byte offset. */
function place(k: Kernel, a: Float32Array): number {
  const at = reserve(k, k.top, a.byteLength);
  new Float32Array(k.memory.buffer, at, a.length).set(a);
  k.top = at + a.byteLength;
  return at;
}

function offsetsOf(k: Kernel, w: PlacedNetwork): Offsets {
  let o = placed.get(w);
  if (o === undefined) {
    o = { inT: place(k, w.inT), inB: place(k, w.inB), blocks: w.blocks.map((b) => ({ wT: place(k, b.wT), b: place(k, b.b) })), outT: place(k, w.outT), outB: place(k, w.outB) };
    placed.set(w, o);
  }
  return o;
}

/** The network's outputs (n x classes) for `input` (n x F, row-major), or null when the kernel does not run here. */
export function wasmTaggerOutputs(input: Float32Array, n: number, F: number, w: PlacedNetwork): number[][] | null {
  const k = load();
  if (k === null) return null;
  const off = offsetsOf(k, w);
  const C = w.c;
  const K = w.classes;
  const x = reserve(k, k.top, n * F * 4);
  let h = reserve(k, x + n * F * 4, n * C * 4);
  let o = reserve(k, h + n * C * 4, n * C * 4);
  const out = reserve(k, o + n * C * 4, n * K * 8);
  new Float32Array(k.memory.buffer, x, n * F).set(input.subarray(0, n * F));
  k.input(n, F, C, x, off.inT, off.inB, h);
  w.dilations.forEach((d, i) => {
    const b = off.blocks[i];
    if (b === undefined) return;
    k.block(n, C, d, h, b.wT, b.b, o);
    [h, o] = [o, h];
  });
  k.output(n, C, K, h, off.outT, off.outB, out);
  const res = new Float64Array(k.memory.buffer, out, n * K);
  const rows: number[][] = [];
  for (let t = 0; t < n; t++) rows.push(Array.from(res.subarray(t * K, t * K + K)));
  return rows;
}
