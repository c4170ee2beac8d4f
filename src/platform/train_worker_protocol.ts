/** The messages between the training coordinator (train_workers.ts) and its workers (train_worker.ts), and the shared-buffer layout. */
import { sharedArena, type tf } from '../backend.ts';
import type { AdamState } from '../core/train/optim.ts';
import type { HostTensor } from '../core/module.ts';
import type { WindowRef } from '../cp/train/batches.ts';
import type { ValidResult } from '../cp/train/trainer.ts';
import type { Family } from '../music/vocab.ts';
import type { ThreadMemory } from './memory.ts';

export type ToWorker =
  /**
   * One step: the gradients of `refs` (this worker's share of step `step`'s batch, 0-based step before the
   * update), then, with the other workers through the shared buffers, the update of this worker's shard.
   */
  | { type: 'step'; step: number; refs: WindowRef[]; words: number; rngState: number; perPass: number }
  | { type: 'validate'; index: number; of: number }
  | { type: 'state' };

export type FromWorker =
  | { type: 'ready'; tensors: number }
  | { type: 'applied'; loss: number; losses: Record<Family, number>; lr: number; gradNorm: number; phases: Record<string, number>; memory: ThreadMemory }
  | { type: 'diverged'; step: number; value: number; message: string }
  | { type: 'valid'; part: { sums: Float64Array; words: number } | undefined }
  | { type: 'state'; stateDict: Map<string, HostTensor>; optimizer: AdamState }
  | { type: 'error'; error: { name: string; message: string; stack?: string } }
  /** This worker stopped because another one failed (that one reports the error). */
  | { type: 'aborted' };

export interface ParamSlot {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

/** Where each parameter's gradient lives in a worker's slot of the shared buffer (in the model's parameter order). */
export function paramLayout(params: ReadonlyArray<readonly [string, tf.Variable]>): { params: ParamSlot[]; total: number } {
  let offset = 0;
  const out = params.map(([name, v]) => {
    const s = { name, shape: v.shape.slice(), offset, size: v.size };
    offset += v.size;
    return s;
  });
  return { params: out, total: offset };
}

/**
 * The shared memory of a pool (made by the coordinator, seen by every worker):
 * - floats: one shared WebAssembly memory (so the Adam kernel runs on it in place; a plain SharedArrayBuffer where
 *   shared memories are unsupported) holding, at the float offsets `at`:
 *   - grads: [workers, total], each worker's summed gradients; after the first barrier the owner of a shard adds
 *     the slots of its elements in worker order into slot 0 (the summed gradient);
 *   - weights, expAvg, expAvgSq: [total] each, the one copy of the weights and of Adam's moments, each shard
 *     updated by its owner; every replica loads the weights from here after the last barrier;
 * - have: int32 [workers, parameters], 1 where the worker's share gave the parameter a gradient;
 * - sums: float64 [workers, 8], each worker's per-family loss sums;
 * - norms: float64 [workers], each shard's sum of squared summed gradients;
 * - control: int32 [3], the barrier's arrival count and generation, and the abort flag.
 */
export interface PoolBuffers {
  floats: WebAssembly.Memory | SharedArrayBuffer;
  at: { grads: number; weights: number; expAvg: number; expAvgSq: number };
  have: SharedArrayBuffer;
  sums: SharedArrayBuffer;
  norms: SharedArrayBuffer;
  control: SharedArrayBuffer;
}

/** Floats left free at the start of the arena (the kernel module's own stack and data, were it to use any). */
const ARENA_RESERVE = 65536;

export function poolBuffers(workers: number, layout: { params: ParamSlot[]; total: number }, families: number): PoolBuffers {
  const t = layout.total;
  const at = { grads: ARENA_RESERVE, weights: ARENA_RESERVE + workers * t, expAvg: ARENA_RESERVE + (workers + 1) * t, expAvgSq: ARENA_RESERVE + (workers + 2) * t };
  const floats = ARENA_RESERVE + (workers + 3) * t;
  return {
    floats: sharedArena(floats) ?? new SharedArrayBuffer(floats * Float32Array.BYTES_PER_ELEMENT),
    at,
    have: new SharedArrayBuffer(workers * layout.params.length * Int32Array.BYTES_PER_ELEMENT),
    sums: new SharedArrayBuffer(workers * families * Float64Array.BYTES_PER_ELEMENT),
    norms: new SharedArrayBuffer(workers * Float64Array.BYTES_PER_ELEMENT),
    control: new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT),
  };
}

/** The pool's float arrays, as views of its shared memory. */
export function poolFloats(b: PoolBuffers, workers: number, total: number): { grads: Float32Array; weights: Float32Array; expAvg: Float32Array; expAvgSq: Float32Array; all: Float32Array } {
  const all = new Float32Array(b.floats instanceof SharedArrayBuffer ? b.floats : b.floats.buffer);
  return {
    grads: all.subarray(b.at.grads, b.at.grads + workers * total),
    weights: all.subarray(b.at.weights, b.at.weights + total),
    expAvg: all.subarray(b.at.expAvg, b.at.expAvg + total),
    expAvgSq: all.subarray(b.at.expAvgSq, b.at.expAvgSq + total),
    all,
  };
}

/** Worker w's shard of the flat parameter elements: [start, end), contiguous, sizes differing by at most one. */
export function shardRange(total: number, workers: number, w: number): { start: number; end: number } {
  return { start: Math.floor((w * total) / workers), end: Math.floor(((w + 1) * total) / workers) };
}

const ARRIVED = 0;
const GENERATION = 1;
const ABORT = 2;

/** Thrown in a worker waiting at the barrier when another worker (or the coordinator) aborted the pool. */
export class PoolAborted extends Error {
  constructor() {
    super('training workers: aborted because another worker failed');
    this.name = 'PoolAborted';
  }
}

/**
 * A reusable barrier of `parties` threads on the control words (Atomics.wait in slices of `sliceMs`, so that
 * an abort is seen even when a party never arrives).
 */
export function barrier(control: Int32Array, parties: number, sliceMs = 50): void {
  const gen = Atomics.load(control, GENERATION);
  if (Atomics.load(control, ABORT)) throw new PoolAborted();
  if (Atomics.add(control, ARRIVED, 1) === parties - 1) {
    Atomics.store(control, ARRIVED, 0);
    Atomics.add(control, GENERATION, 1);
    Atomics.notify(control, GENERATION);
    return;
  }
  while (Atomics.load(control, GENERATION) === gen) {
    if (Atomics.load(control, ABORT)) throw new PoolAborted();
    Atomics.wait(control, GENERATION, gen, sliceMs);
  }
}

/** Marks the pool as failed: every worker waiting at (or reaching) the barrier throws PoolAborted. */
export function abortPool(control: Int32Array): void {
  Atomics.store(control, ABORT, 1);
  Atomics.notify(control, GENERATION);
}

export function describeError(err: unknown): { name: string; message: string; stack?: string } {
  return err instanceof Error ? { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) } : { name: 'thrown', message: String(err) };
}
