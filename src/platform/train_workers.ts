/**
 * Data-parallel training on worker threads (`emopia train --workers N`). Each worker holds a replica of the
 * model on its own tfjs backend (train_worker.ts); the weights and Adam's moments also have one shared copy
 * (SharedArrayBuffers, train_worker_protocol.ts). Per step the coordinator (this thread) splits the batch's
 * passes into N contiguous shares and sends each worker its share in one message; each worker writes the
 * summed gradients of its share into its slot of the shared gradient buffer, then the workers, meeting at
 * barriers on shared memory, each add the N slots in worker order over their own shard of the parameters,
 * clip by the global norm (the shards' partial sums added in worker order) and Adam-update their shard of the
 * shared weights and moments, and finally every replica loads the whole weights: the update work is split,
 * not repeated, and the replicas stay bit-identical. A worker that fails aborts the barrier, so the others stop
 * instead of waiting for it.
 *
 * The result is the single-worker update to float rounding: the passes are the same (while a share is at
 * least one single-worker pass, samplesPerPass), each pass draws its dropout masks from the same point of the
 * dropout stream as in a single-worker step (the stream is advanced by the draws of the passes before it),
 * and the loss is scaled by the whole batch's mask sum. Only the order of the float32 gradient additions
 * differs. The coordinator keeps the run's step and dropout Rng, and copies worker 0's weights and optimizer
 * state into its own Trainer before each checkpoint, which it alone writes.
 */
import { Worker } from 'node:worker_threads';
import { tf, type BackendName } from '../backend.ts';
import { Rng } from '../random.ts';
import { N_FAMILIES } from '../music/vocab.ts';
import { batchAt } from '../cp/train/batches.ts';
import { familyLosses } from '../cp/train/loss.ts';
import { DivergedError, samplesPerPass, type StepResult, type Trainer, type ValidResult } from '../cp/train/trainer.ts';
import type { AdamState } from '../core/train/optim.ts';
import type { HostTensor } from '../core/module.ts';
import type { WorkerInit } from './train_worker.ts';
import { abortPool, paramLayout, poolBuffers, poolFloats, type FromWorker, type PoolBuffers, type ToWorker } from './train_worker_protocol.ts';
import type { ThreadMemory } from './memory.ts';

export interface PoolOptions {
  /** Worker threads (at least 2; one worker is the plain Trainer). */
  workers: number;
  /** Test hook: worker `worker` (0-based) throws while computing the gradients of step `step` (1-based). */
  fault?: { worker: number; step: number };
}

/** The state of `state` after `n` draws. */
function advance(state: number, n: number): number {
  const r = Rng.fromState(state);
  for (let i = 0; i < n; i++) r.next();
  return r.state;
}

/**
 * How a batch of `batch` samples is split: passes of `perPass` samples (the single-worker pass size, or less
 * so that every worker gets one), and worker w's passes [first, end).
 */
export function splitPasses(batch: number, seq: number, workers: number): { perPass: number; passes: number; shares: Array<{ first: number; end: number }> } {
  const perPass = Math.max(1, Math.min(samplesPerPass(seq), Math.ceil(batch / workers)));
  const passes = Math.ceil(batch / perPass);
  const shares = Array.from({ length: workers }, (_, w) => ({ first: Math.floor((w * passes) / workers), end: Math.floor(((w + 1) * passes) / workers) }));
  return { perPass, passes, shares };
}

/** A worker's failure, as one line: which worker, and what it threw. */
export class WorkerError extends Error {
  constructor(readonly worker: number, workers: number, message: string, readonly workerStack?: string) {
    super(`training worker ${worker + 1} of ${workers}: ${message}`);
    this.name = 'WorkerError';
  }
}

interface Pending {
  resolve: (m: FromWorker) => void;
  reject: (e: Error) => void;
}

export class TrainerPool {
  private readonly pending: Array<Pending | undefined>;
  private failure: Error | undefined;
  private closed = false;
  /** Milliseconds of the last step: the coordinator's round trip and each worker's phases (for the bench). */
  lastPhases: { roundTrip: number; workers: Array<Record<string, number>> } | undefined;
  /** Each worker's memory at the end of the last step, in worker order. */
  lastMemory: ThreadMemory[] = [];

  private readonly control: Int32Array;

  /** Bytes of the memory the workers share (every worker's gradient slot, one copy of the weights and of Adam's moments). */
  readonly sharedBytes: number;

  private constructor(private readonly trainer: Trainer, private readonly workers: Worker[], private readonly draws: number, buffers: PoolBuffers) {
    this.sharedBytes = [buffers.floats instanceof SharedArrayBuffer ? buffers.floats : buffers.floats.buffer, buffers.have, buffers.sums, buffers.norms, buffers.control]
      .reduce((n, b) => n + b.byteLength, 0);
    this.pending = workers.map(() => undefined);
    this.control = new Int32Array(buffers.control);
    workers.forEach((w, i) => {
      w.on('message', (m: FromWorker) => {
        // A worker stopped by another's failure: that failure (its message, or its exit) settles every wait.
        if (m.type === 'aborted') return;
        const p = this.pending[i];
        this.pending[i] = undefined;
        if (!p) return;
        if (m.type === 'error') p.reject(this.fail(new WorkerError(i, workers.length, m.error.message, m.error.stack)));
        else p.resolve(m);
      });
      w.on('error', (err) => this.failAll(new WorkerError(i, workers.length, err.message, err.stack)));
      w.on('exit', (code) => {
        if (!this.closed) this.failAll(new WorkerError(i, workers.length, `exited with code ${code}`));
      });
    });
  }

  /** Starts `opts.workers` workers holding replicas of the trainer's model and optimizer, at its step. */
  static async start(trainer: Trainer, opts: PoolOptions): Promise<TrainerPool> {
    const n = opts.workers;
    if (!Number.isInteger(n) || n < 2) throw new Error(`TrainerPool: expected at least 2 workers, got ${n}`);
    const params = trainer.model.namedParameters();
    const layout = paramLayout(params);
    const buffers = poolBuffers(n, layout, N_FAMILIES);
    // The shared copy of the weights and moments starts as the trainer's.
    const floats = poolFloats(buffers, n, layout.total);
    params.forEach(([, v], i) => floats.weights.set(v.dataSync() as Float32Array, (layout.params[i] as { offset: number }).offset));
    const opt = trainer.optimizer.state();
    for (const [kind, arr] of [['exp_avg', floats.expAvg], ['exp_avg_sq', floats.expAvgSq]] as const) {
      for (const p of layout.params) arr.set((opt.tensors.get(`${kind}.${p.name}`) as HostTensor).data, p.offset);
    }
    // From the sources a worker needs tsx registered first (the .mjs bootstrap); the built dist/ runs as is.
    const fromSource = import.meta.url.endsWith('.ts');
    const entry = new URL(fromSource ? './train_worker.ts' : './train_worker.js', import.meta.url);
    const script = fromSource ? new URL('./train_worker_boot.mjs', import.meta.url) : entry;
    const base = {
      entry: entry.href,
      workers: n,
      backend: tf.getBackend() as BackendName,
      config: trainer.model.config,
      stateDict: trainer.model.stateDict(),
      adamStep: opt.step,
      settings: trainer.settings,
      step: trainer.step,
      train: [...trainer.train],
      buffers,
    };
    const workers = Array.from({ length: n }, (_, index) => {
      const data: WorkerInit = { ...base, index, valid: [...trainer.valid], ...(opts.fault?.worker === index ? { faultAtStep: opts.fault.step } : {}) };
      return new Worker(script, { workerData: data });
    });
    const pool = new TrainerPool(trainer, workers, trainer.dropoutDraws(), buffers);
    try {
      await Promise.all(workers.map((_, i) => pool.wait(i)));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /** One update, the same as Trainer.trainStep's to float rounding; the coordinator's step and Rng advance with it. */
  async trainStep(): Promise<StepResult> {
    const t0 = performance.now();
    const tr = this.trainer;
    const s = tr.settings;
    const { epoch, refs } = batchAt(tr.train, s, tr.step);
    const words = tr.batchWords(refs);
    const { perPass, passes, shares } = splitPasses(refs.length, s.seq, this.size);
    const rng0 = tr.rng.state;
    const tSend = performance.now();
    const applied = await Promise.all(
      shares.map(({ first, end }, i) =>
        this.ask(i, { type: 'step', step: tr.step, refs: refs.slice(first * perPass, end * perPass), words, rngState: advance(rng0, first * this.draws), perPass }),
      ),
    );
    this.lastPhases = { roundTrip: performance.now() - tSend, workers: applied.map((m) => (m.type === 'applied' ? m.phases : {})) };
    this.lastMemory = applied.flatMap((m) => (m.type === 'applied' ? [m.memory] : []));
    const first = applied[0] as FromWorker;
    if (first.type === 'diverged') throw Object.assign(new DivergedError(first.step, first.value, ''), { message: first.message });
    if (first.type !== 'applied') throw this.fail(new Error(`training workers: expected an update, got '${first.type}'`));
    for (const m of applied) {
      if (m.type !== 'applied' || m.loss !== first.loss || m.gradNorm !== first.gradNorm) throw this.fail(new Error('training workers: the replicas disagree on the update'));
    }
    tr.step += 1;
    tr.rng = Rng.fromState(advance(rng0, passes * this.draws));
    const { loss, losses, lr, gradNorm } = first;
    return { step: tr.step, epoch, loss, losses, lr, gradNorm, words, seconds: (performance.now() - t0) / 1000 };
  }

  /**
   * The validation loss, every worker's replica computing a contiguous share of the valid passes at once (the
   * replicas are bit-identical); the shares' float64 sums are added in worker order, so the loss equals one
   * worker's to float64 rounding.
   */
  async validate(): Promise<ValidResult | undefined> {
    const parts = await Promise.all(Array.from({ length: this.size }, (_, i) => this.ask(i, { type: 'validate', index: i, of: this.size })));
    const sums = new Float64Array(N_FAMILIES);
    let words = 0;
    for (const m of parts) {
      if (m.type !== 'valid') throw this.fail(new Error(`training workers: expected validation sums, got '${m.type}'`));
      if (!m.part) return undefined;
      m.part.sums.forEach((x, j) => (sums[j] = (sums[j] as number) + x));
      words += m.part.words;
    }
    return { ...familyLosses(sums, words), words };
  }

  /** Copies worker 0's weights and optimizer state into the coordinator's Trainer (before a checkpoint). */
  async pullState(): Promise<void> {
    const { stateDict, optimizer } = await this.replicaState(0);
    this.trainer.model.loadStateDict(stateDict);
    this.trainer.optimizer.loadState(optimizer);
  }

  /** Worker `i`'s weights and optimizer state, in host memory. */
  async replicaState(i: number): Promise<{ stateDict: Map<string, HostTensor>; optimizer: AdamState }> {
    const m = await this.ask(i, { type: 'state' });
    if (m.type !== 'state') throw this.fail(new Error(`training workers: expected the state, got '${m.type}'`));
    return m;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private ask(i: number, msg: ToWorker): Promise<FromWorker> {
    const reply = this.wait(i);
    if (!this.failure) (this.workers[i] as Worker).postMessage(msg);
    return reply;
  }

  private wait(i: number): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending[i] = { resolve, reject };
    });
  }

  /** Records the first failure: the pool is unusable after it. */
  private fail(err: Error): Error {
    this.failure ??= err;
    abortPool(this.control); // workers waiting at a barrier for a dead or failed one stop
    return this.failure;
  }

  private failAll(err: Error): void {
    const e = this.fail(err);
    this.pending.forEach((p, i) => {
      this.pending[i] = undefined;
      p?.reject(e);
    });
  }
}
