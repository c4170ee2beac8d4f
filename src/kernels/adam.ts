/**
 * The clipped-Adam kernel of wasm/adam/adam.c (SIMD, bit-identical to Adam.apply on g·coef), for the sharded
 * update of data-parallel training (src/platform/train_worker.ts). It works in place on flat float32 arrays in a
 * shared WebAssembly memory (the pool's buffers, made with `sharedArena`), which each worker instantiates the
 * module on (src/backend.ts re-exports it for them); offsets are in floats from the start of that memory. Where shared memories or the module do not
 * validate, `adamKernel` resolves to null and the caller uses adamUpdateRange (plain JavaScript, same result).
 */
import { ADAM_WASM_BASE64 } from './adam_wasm.ts';
import { kernelModule } from './module.ts';

interface AdamExports {
  adam(p: number, g: number, m: number, v: number, n: number, coef: number, b1: number, ob1: number, b2: number, ob2: number, bc2: number, eps: number, ss: number): void;
}

/** One update's float32 constants, every operand rounded to float32 as tfjs's ops see them (made by src/core/train/optim.ts's adamStepConstants). */
export interface AdamStepConstants {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  bc2Sqrt: number;
  eps: number;
  stepSize: number;
}

const instantiate = kernelModule<AdamExports>(ADAM_WASM_BASE64);

const PAGE = 65536;

/** A shared WebAssembly memory of at least `floats` float32 (its buffer is a SharedArrayBuffer), or null where unsupported. */
export function sharedArena(floats: number): WebAssembly.Memory | null {
  const pages = Math.ceil((floats * 4) / PAGE) + 1;
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  } catch {
    return null;
  }
}

/** Applies clipping and Adam to elements [start, end) of the arrays at float offsets p, g, m, v of the memory. */
export type AdamKernel = (offsets: { p: number; g: number; m: number; v: number }, start: number, end: number, coef: number, c: AdamStepConstants) => void;

export async function adamKernel(memory: WebAssembly.Memory): Promise<AdamKernel | null> {
  let e: AdamExports;
  try {
    e = await instantiate(memory);
  } catch {
    return null;
  }
  return (o, start, end, coef, c) => {
    if (end <= start) return;
    e.adam(4 * (o.p + start), 4 * (o.g + start), 4 * (o.m + start), 4 * (o.v + start), end - start, coef, c.beta1, c.oneMinusBeta1, c.beta2, c.oneMinusBeta2, c.bc2Sqrt, c.eps, c.stepSize);
  };
}
