/**
 * Loads the `wasm` engine's kernel (wasm/step/step.c, embedded in step_binary.ts) synchronously, in Node and in a
 * Web Worker, with no fetch and no file read. The module is compiled once per process and instantiated once per
 * stepper (each instance has its own memory, released with the stepper).
 *
 * Browsers may refuse synchronous compilation of larger modules on the main thread (Chrome once limited it to
 * 4 KB; this module is about 26 KB; Chromium 156 headless accepted it on the main thread and in a worker), so a
 * page is safest generating in a Web Worker. `wasmStepAvailable` says whether the kernel compiles here, and `auto`
 * falls back to the host engines when it does not (no SIMD, or a refused compile).
 */
import { UsageError } from '../../errors.ts';
import { base64Bytes } from '../../io/base64.ts';
import { STEP_WASM_BASE64 } from './step_binary.ts';

/** What the engine calls; checked against the module's exports when it loads. */
export interface StepKernel {
  memory: WebAssembly.Memory;
  /** Where the module's own data and stack end: the engine allocates from here up. */
  heapBase: number;
  feed(model: number, pos: number): void;
  rest(model: number): void;
  /** W (in, out) row-major float32 at src -> the packed halves at dst (pack.ts packHalfMatrix): 1, or 0 when some value is not a half. */
  packHalf(src: number, inF: number, outF: number, dst: number): number;
  /** W (in, out) row-major float32 at src -> the packed float32 at dst (pack.ts packMatrix). */
  packF32(src: number, inF: number, outF: number, dst: number): void;
  /** One family's in_linear table (wasm_engine.ts inLinearTables): emb (V, e) f32 and W (e, d) f32 -> rows of P(d) at out; acc: d doubles. */
  inTable(emb: number, V: number, e: number, W: number, d: number, out: number, acc: number): void;
  modelSize: number;
  layerSize: number;
}

/** The exports the loader expects, by name and kind. */
export const STEP_EXPORTS = {
  memory: 'memory',
  __heap_base: 'global',
  cp_feed: 'function',
  cp_rest: 'function',
  cp_pack_half: 'function',
  cp_pack_f32: 'function',
  cp_in_table: 'function',
  cp_model_size: 'function',
  cp_layer_size: 'function',
} as const;

/** The module's bytes, decoded from base64. */
export function stepWasmBytes(): Uint8Array<ArrayBuffer> {
  return base64Bytes(STEP_WASM_BASE64);
}

let compiled: WebAssembly.Module | null = null;
let failure: Error | null = null;

function compile(): WebAssembly.Module {
  if (compiled) return compiled;
  if (failure) throw failure;
  try {
    const m = new WebAssembly.Module(stepWasmBytes());
    const have = new Map(WebAssembly.Module.exports(m).map((e) => [e.name, e.kind as string]));
    for (const [name, kind] of Object.entries(STEP_EXPORTS)) {
      if (have.get(name) !== kind) throw new Error(`the kernel has no ${kind} export '${name}'`);
    }
    if (WebAssembly.Module.imports(m).length) throw new Error('the kernel imports something; expected no imports');
    compiled = m;
    return m;
  } catch (e) {
    // A browser's main thread (modules over 4 KB compile only asynchronously there), or no SIMD support.
    failure = new UsageError('engine wasm', `cannot compile the WebAssembly kernel here (${(e as Error).message}); run generation in a Web Worker or Node, or choose the fast or tensor engine`);
    throw failure;
  }
}

/** Whether the kernel compiles here (false on a browser's main thread or without WebAssembly SIMD). */
export function wasmStepAvailable(): boolean {
  try {
    compile();
    return true;
  } catch {
    return false;
  }
}

/** A fresh instance of the kernel, with its own memory. */
export function instantiateStep(): StepKernel {
  const inst = new WebAssembly.Instance(compile(), {});
  const e = inst.exports as Record<string, unknown>;
  const fn = (name: string) => e[name] as (...args: number[]) => number;
  return {
    memory: e.memory as WebAssembly.Memory,
    heapBase: (e.__heap_base as WebAssembly.Global).value as number,
    feed: fn('cp_feed'),
    rest: fn('cp_rest'),
    packHalf: fn('cp_pack_half'),
    packF32: fn('cp_pack_f32'),
    inTable: fn('cp_in_table'),
    modelSize: fn('cp_model_size')(),
    layerSize: fn('cp_layer_size')(),
  };
}
