/**
 * The body of one data-parallel training worker (started by train_workers.ts): its own tfjs backend and a
 * replica of the model. Per step (one 'step' message) it computes the gradients of its share of the batch into
 * its slot of the shared gradient buffer; then, meeting the other workers at barriers on shared memory (no
 * message through the coordinator), it updates only its shard of the parameters (ZeRO-1): it adds the slots
 * of its shard's elements in worker order, reports the shard's sum of squares, and after the global norm is
 * known (the shards' partial sums added in worker order, the same in every worker) clips and Adam-updates its
 * shard of the one shared copy of the weights and moments; after a last barrier every replica loads the whole
 * weights from there. So the replicas' weights are bit-identical, and the update is the single-worker one to
 * float rounding (only the order of the gradient additions and the norm's differ).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { adamKernel, initBackend, tf, type BackendName } from '../backend.ts';
import { Rng } from '../random.ts';
import { CPTransformer } from '../cp/model.ts';
import type { CPConfig } from '../cp/config.ts';
import type { Clip } from '../music/dataset.ts';
import { N_FAMILIES } from '../music/vocab.ts';
import { adamStepConstants, adamUpdateRange, clipFactor, type AdamState } from '../core/train/optim.ts';
import { learningRate } from '../core/train/schedule.ts';
import type { HostTensor } from '../core/module.ts';
import type { WindowRef } from '../cp/train/batches.ts';
import { familyLosses } from '../cp/train/loss.ts';
import { DivergedError, Trainer, type TrainSettings } from '../cp/train/trainer.ts';
import { PoolAborted, abortPool, barrier, describeError, paramLayout, poolFloats, shardRange, type PoolBuffers, type ToWorker, type FromWorker } from './train_worker_protocol.ts';
import { threadMemory } from './memory.ts';

export interface WorkerInit {
  entry: string;
  index: number;
  workers: number;
  backend: BackendName;
  config: CPConfig;
  stateDict: Map<string, HostTensor>;
  settings: TrainSettings;
  step: number;
  train: Clip[];
  valid: Clip[];
  /** The pool's shared memory (train_worker_protocol.ts); weights and moments already hold the start state. */
  buffers: PoolBuffers;
  /** Adam's update count at the start. */
  adamStep: number;
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
  // Adam's moments live in the shared buffers (each worker updates its shard): the replica's own are freed.
  trainer.optimizer.dispose();
  trainer.optimizer.step = init.adamStep;
  trainer.step = init.step;
} catch (err) {
  send({ type: 'error', error: describeError(err) });
  throw err;
}
const layout = paramLayout(trainer.model.namedParameters());
const variables = trainer.model.namedParameters().map(([, v]) => v);
const n = init.workers;
const buf = init.buffers;
const floats = poolFloats(buf, n, layout.total);
const allGrads = floats.grads;
const allHave = new Int32Array(buf.have);
const allSums = new Float64Array(buf.sums);
const norms = new Float64Array(buf.norms);
const { weights, expAvg, expAvgSq } = floats;
/**
 * The SIMD kernel on the shared memory; null (plain JavaScript adamUpdateRange, the same result to the bit) where it does
 * not instantiate, or with EMOPIA_JS_ADAM set (to compare the two).
 */
const kernel = buf.floats instanceof WebAssembly.Memory && !process.env.EMOPIA_JS_ADAM ? await adamKernel(buf.floats) : null;
const kernelAt = { p: buf.at.weights, g: buf.at.grads, m: buf.at.expAvg, v: buf.at.expAvgSq };
const control = new Int32Array(buf.control);
const slot = allGrads.subarray(init.index * layout.total, (init.index + 1) * layout.total);
const summed = allGrads.subarray(0, layout.total); // slot 0: the summed gradient, shard by shard
const have = allHave.subarray(init.index * layout.params.length, (init.index + 1) * layout.params.length);
const shard = shardRange(layout.total, n, init.index);
/** The parameters (indices) that overlap this worker's shard. */
const shardParams = layout.params.map((p, i) => ({ p, i })).filter(({ p }) => p.offset < shard.end && p.offset + p.size > shard.start);
/** Milliseconds of each phase of the last step in this worker (reported with the update, for the bench). */
let phases: Record<string, number> = {};
let clock = 0;
function lap(name: string): void {
  const now = performance.now();
  phases[name] = (phases[name] ?? 0) + (now - clock);
  clock = now;
}

/** Writes the gradients of `refs` into this worker's slot, and which parameters have one into `have`. */
function gradients(step: number, refs: WindowRef[], words: number, rngState: number, perPass: number): void {
  if (init.faultAtStep === step) throw new Error(`injected fault at step ${step}`);
  const sums = allSums.subarray(init.index * N_FAMILIES, (init.index + 1) * N_FAMILIES);
  sums.fill(0);
  have.fill(0);
  if (refs.length === 0) {
    slot.fill(0);
    return;
  }
  const g = trainer.batchGradients(refs, words, Rng.fromState(rngState), perPass);
  lap('gradients');
  try {
    sums.set(g.sums);
    layout.params.forEach((p, i) => {
      const t = g.grads.get(p.name);
      if (!t) {
        slot.fill(0, p.offset, p.offset + p.size);
        return;
      }
      slot.set(t.dataSync() as Float32Array, p.offset);
      have[i] = 1;
    });
  } finally {
    tf.dispose([...g.grads.values()]);
  }
  lap('copyOut');
}

/** Whether some worker's share gave parameter i a gradient. */
function had(i: number): boolean {
  for (let w = 0; w < n; w++) if (allHave[w * layout.params.length + i]) return true;
  return false;
}

/** This shard's summed gradient into slot 0 (worker order), and its sum of squares. */
function sumShard(): number {
  let sq = 0;
  for (const { p, i } of shardParams) {
    if (!had(i)) continue;
    const a = Math.max(p.offset, shard.start);
    const b = Math.min(p.offset + p.size, shard.end);
    sq += addSlots(a, b);
  }
  return sq;
}

/** summed[a, b) += every other slot's [a, b) in worker order (float32 additions); returns Σ summed² there. */
function addSlots(a: number, b: number): number {
  const out = summed.subarray(a, b);
  const len = out.length;
  for (let w = 1; w < n; w++) {
    const src = allGrads.subarray(w * layout.total + a, w * layout.total + b);
    if (w < n - 1) {
      for (let j = 0; j < len; j++) out[j] = (out[j] as number) + (src[j] as number);
      continue;
    }
    // The last slot: the sum of squares in the same pass.
    let sq = 0;
    for (let j = 0; j < len; j++) {
      const x = Math.fround((out[j] as number) + (src[j] as number));
      out[j] = x;
      sq += x * x;
    }
    return sq;
  }
  let sq = 0;
  for (let j = 0; j < len; j++) sq += (out[j] as number) * (out[j] as number);
  return sq;
}

/** One step: gradients, then the sharded update with the other workers; the same result in every replica. */
function step(m: Extract<ToWorker, { type: 'step' }>) {
  phases = {};
  clock = performance.now();
  trainer.step = m.step;
  gradients(m.step + 1, m.refs, m.words, m.rngState, m.perPass);
  barrier(control, n);
  lap('wait1');
  const sums = new Float64Array(N_FAMILIES);
  for (let w = 0; w < n; w++) {
    for (let f = 0; f < N_FAMILIES; f++) sums[f] = (sums[f] as number) + (allSums[w * N_FAMILIES + f] as number);
  }
  // Every worker reads the same sums and norms, so all of them stop here alike on a divergence.
  const { loss, losses } = familyLosses(sums, m.words);
  if (!Number.isFinite(loss)) throw new DivergedError(m.step + 1, loss, 'the training loss');
  norms[init.index] = sumShard();
  lap('sum');
  barrier(control, n);
  lap('wait2');
  let sq = 0;
  for (let w = 0; w < n; w++) sq += norms[w] as number;
  const gradNorm = Math.sqrt(sq);
  if (!Number.isFinite(gradNorm)) throw new DivergedError(m.step + 1, gradNorm, 'the gradient norm');
  const s = trainer.settings;
  const coef = clipFactor(gradNorm, s.clip);
  const lr = learningRate(m.step, s);
  const c = adamStepConstants(trainer.optimizer.step + 1, lr, trainer.optimizer);
  for (const { p, i } of shardParams) {
    if (!had(i)) continue;
    const a = Math.max(p.offset, shard.start);
    const b = Math.min(p.offset + p.size, shard.end);
    if (kernel) kernel(kernelAt, a, b, coef, c);
    else adamUpdateRange(weights, summed, expAvg, expAvgSq, a, b, coef, c);
  }
  lap('clipAdam');
  barrier(control, n);
  lap('wait3');
  const wasm = tf.getBackend() === 'wasm'; // the wasm backend copies a tensor's values at once; cpu keeps the array
  layout.params.forEach((p, i) => {
    if (!had(i)) return;
    const src = weights.subarray(p.offset, p.offset + p.size);
    tf.tidy(() => (variables[i] as tf.Variable).assign(tf.tensor(wasm ? src : src.slice(), p.shape, 'float32')));
  });
  lap('loadWeights');
  trainer.optimizer.step += 1;
  trainer.step += 1;
  return { loss, losses, lr, gradNorm };
}

/** Adam's state from the shared moments, in Adam.state()'s order and names. */
function optimizerState(): AdamState {
  const tensors = new Map<string, HostTensor>();
  for (const [kind, arr] of [['exp_avg', expAvg], ['exp_avg_sq', expAvgSq]] as const) {
    for (const p of layout.params) tensors.set(`${kind}.${p.name}`, { shape: p.shape.slice(), data: arr.slice(p.offset, p.offset + p.size) });
  }
  return { step: trainer.optimizer.step, tensors };
}

port.on('message', (m: ToWorker) => {
  try {
    if (m.type === 'step') {
      try {
        const r = step(m);
        send({ type: 'applied', loss: r.loss, losses: r.losses, lr: r.lr, gradNorm: r.gradNorm, phases, memory: threadMemory() });
      } catch (err) {
        if (!(err instanceof DivergedError)) throw err;
        send({ type: 'diverged', step: err.step, value: err.value, message: err.message });
      }
    } else if (m.type === 'validate') {
      send({ type: 'valid', part: trainer.validSums(m.index, m.of) });
    } else if (m.type === 'state') {
      send({ type: 'state', stateDict: trainer.model.stateDict(), optimizer: optimizerState() });
    }
  } catch (err) {
    if (err instanceof PoolAborted) {
      send({ type: 'aborted' });
      return;
    }
    // The others may be waiting at a barrier for this worker: they stop (PoolAborted) instead of hanging.
    abortPool(control);
    send({ type: 'error', error: describeError(err) });
  }
});
send({ type: 'ready', tensors: tf.memory().numTensors });
