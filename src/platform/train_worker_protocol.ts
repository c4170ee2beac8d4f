/** The messages between the training coordinator (train_workers.ts) and its workers (train_worker.ts), and the shared-buffer layout. */
import type { tf } from '../backend.ts';
import type { AdamState } from '../core/train/optim.ts';
import type { HostTensor } from '../core/module.ts';
import type { WindowRef } from '../cp/train/batches.ts';
import type { ValidResult } from '../cp/train/trainer.ts';
import type { Family } from '../music/vocab.ts';

export type ToWorker =
  /** Gradients of `refs` (this worker's share of step `step`'s batch, 0-based step before the update). */
  | { type: 'grads'; step: number; refs: WindowRef[]; words: number; rngState: number; perPass: number }
  /** Sum every slot and apply the update; `have`: parameters with a gradient in some worker. */
  | { type: 'apply'; have: number[]; words: number }
  | { type: 'validate' }
  | { type: 'state' };

export type FromWorker =
  | { type: 'ready'; tensors: number }
  | { type: 'grads'; have: number[] }
  | { type: 'applied'; loss: number; losses: Record<Family, number>; lr: number; gradNorm: number; phases: Record<string, number> }
  | { type: 'diverged'; step: number; value: number; message: string }
  | { type: 'valid'; result: ValidResult | undefined }
  | { type: 'state'; stateDict: Map<string, HostTensor>; optimizer: AdamState }
  | { type: 'error'; error: { name: string; message: string; stack?: string } };

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

export function describeError(err: unknown): { name: string; message: string; stack?: string } {
  return err instanceof Error ? { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) } : { name: 'thrown', message: String(err) };
}
