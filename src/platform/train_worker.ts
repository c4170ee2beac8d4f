/**
 * The body of one data-parallel training worker (started by train_workers.ts): its own tfjs backend and a
 * replica of the model and the optimizer. Per step it computes the gradients of its share of the batch into
 * its slot of the shared gradient buffer, then, once every worker has written its slot, sums the slots in
 * worker order and applies the same update as every other replica (Trainer.applyGradients), so the replicas'
 * weights stay identical without ever being sent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, tf, type BackendName } from '../backend.ts';
import { Rng } from '../random.ts';
import { CPTransformer } from '../cp/model.ts';
import type { CPConfig } from '../cp/config.ts';
import type { Clip } from '../music/dataset.ts';
import { N_FAMILIES } from '../music/vocab.ts';
import type { AdamState } from '../core/train/optim.ts';
import type { HostTensor } from '../core/module.ts';
import type { WindowRef } from '../cp/train/batches.ts';
import { DivergedError, Trainer, type TrainSettings } from '../cp/train/trainer.ts';
import { describeError, paramLayout, type ToWorker, type FromWorker } from './train_worker_protocol.ts';

export interface WorkerInit {
  entry: string;
  index: number;
  workers: number;
  backend: BackendName;
  config: CPConfig;
  stateDict: Map<string, HostTensor>;
  optimizer: AdamState;
  settings: TrainSettings;
  step: number;
  train: Clip[];
  valid: Clip[];
  /** Float32 [workers, parameters]: each worker's summed gradients. */
  grads: SharedArrayBuffer;
  /** Float64 [workers, 8]: each worker's per-family loss sums. */
  sums: SharedArrayBuffer;
  /** Test hook: this worker throws while computing the gradients of this step (1-based). */
  faultAtStep?: number;
}

const init = workerData as WorkerInit;
const port = parentPort;
if (!port) throw new Error('train_worker.ts runs only as a worker thread (started by train_workers.ts)');
const send = (m: FromWorker) => port.postMessage(m);

let trainer: Trainer;
try {
  await initBackend(init.backend);
  const model = new CPTransformer(init.config);
  model.loadStateDict(init.stateDict);
  trainer = new Trainer(model, init.train, init.valid, init.settings);
  trainer.optimizer.loadState(init.optimizer);
  trainer.step = init.step;
} catch (err) {
  send({ type: 'error', error: describeError(err) });
  throw err;
}
const layout = paramLayout(trainer.model.namedParameters());
const allGrads = new Float32Array(init.grads);
const allSums = new Float64Array(init.sums);
/** Milliseconds of each phase of the last step in this worker (reported with the update, for the bench). */
let phases: Record<string, number> = {};
const slot = allGrads.subarray(init.index * layout.total, (init.index + 1) * layout.total);

/** Writes the gradients of `refs` into this worker's slot; returns the indices of the parameters that have one. */
function gradients(step: number, refs: WindowRef[], words: number, rngState: number, perPass: number): number[] {
  if (init.faultAtStep === step) throw new Error(`injected fault at step ${step}`);
  const sums = allSums.subarray(init.index * N_FAMILIES, (init.index + 1) * N_FAMILIES);
  slot.fill(0);
  sums.fill(0);
  if (refs.length === 0) return [];
  let t = performance.now();
  const g = trainer.batchGradients(refs, words, Rng.fromState(rngState), perPass);
  phases.gradients = performance.now() - t;
  t = performance.now();
  try {
    sums.set(g.sums);
    const have: number[] = [];
    layout.params.forEach((p, i) => {
      const t = g.grads.get(p.name);
      if (!t) return;
      slot.set(t.dataSync() as Float32Array, p.offset);
      have.push(i);
    });
    phases.copyOut = performance.now() - t;
    return have;
  } finally {
    tf.dispose([...g.grads.values()]);
  }
}

/** Sums every worker's slot (in worker order) and applies the update. */
function apply(have: readonly number[], words: number) {
  const grads = new Map<string, tf.Tensor>();
  let sumMs = 0;
  let tensorMs = 0;
  try {
    for (const i of have) {
      let t = performance.now();
      const p = layout.params[i] as (typeof layout.params)[number];
      const sum = allGrads.slice(p.offset, p.offset + p.size); // worker 0's slot
      for (let w = 1; w < init.workers; w++) {
        const base = w * layout.total + p.offset;
        for (let j = 0; j < p.size; j++) sum[j] = (sum[j] as number) + (allGrads[base + j] as number);
      }
      sumMs += performance.now() - t;
      t = performance.now();
      grads.set(p.name, tf.tensor(sum, p.shape, 'float32'));
      tensorMs += performance.now() - t;
    }
    phases.sum = sumMs;
    phases.tensors = tensorMs;
    const t = performance.now();
    const sums = new Float64Array(N_FAMILIES);
    for (let w = 0; w < init.workers; w++) {
      for (let f = 0; f < N_FAMILIES; f++) sums[f] = (sums[f] as number) + (allSums[w * N_FAMILIES + f] as number);
    }
    const r = trainer.applyGradients(grads, sums, words);
    phases.clipAdam = performance.now() - t;
    return r;
  } finally {
    tf.dispose([...grads.values()]);
  }
}

port.on('message', (m: ToWorker) => {
  try {
    if (m.type === 'grads') {
      phases = {};
      trainer.step = m.step;
      send({ type: 'grads', have: gradients(m.step + 1, m.refs, m.words, m.rngState, m.perPass) });
    } else if (m.type === 'apply') {
      try {
        const r = apply(m.have, m.words);
        send({ type: 'applied', loss: r.loss, losses: r.losses, lr: r.lr, gradNorm: r.gradNorm, phases });
      } catch (err) {
        if (!(err instanceof DivergedError)) throw err;
        send({ type: 'diverged', step: err.step, value: err.value, message: err.message });
      }
    } else if (m.type === 'validate') {
      send({ type: 'valid', result: trainer.validate() });
    } else if (m.type === 'state') {
      send({ type: 'state', stateDict: trainer.model.stateDict(), optimizer: trainer.optimizer.state() });
    }
  } catch (err) {
    send({ type: 'error', error: describeError(err) });
  }
});
send({ type: 'ready', tensors: tf.memory().numTensors });
