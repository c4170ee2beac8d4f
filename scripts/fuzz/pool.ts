/**
 * A fuzzing pool that knows nothing of the library: jobs go to worker threads, each with a heap limit, and every
 * job has a time limit. A job that runs out of time or memory takes its worker down with it; the pool records the
 * verdict, starts a fresh worker and goes on with the next job.
 *
 * A handler module (a URL) exports `run(input)` and may export `init(data)` (once per worker) and `prepare(job)`
 * (before each job: not counted in the job's time limit, but stopped after a minute). Whatever `run` returns is
 * the job's result; whatever it throws is an error.
 */
import { Worker } from 'node:worker_threads';

export interface PoolOptions {
  /** The handler module. */
  handler: URL;
  /** Passed to the handler's `init`. */
  init?: unknown;
  workers: number;
  /** A job still running after this long is stopped and counted as a timeout. */
  timeLimitMs: number;
  /** Each worker's old-generation heap limit (MiB); a job that exceeds it is counted as out of memory. */
  heapMb: number;
}

export type Verdict =
  | { kind: 'done'; ms: number; result: unknown }
  | { kind: 'error'; ms: number; phase: 'prepare' | 'run'; error: { name: string; message: string; stack?: string } }
  | { kind: 'timeout'; ms: number }
  | { kind: 'oom'; ms: number }
  | { kind: 'died'; ms: number; message: string };

interface Slot {
  worker: Worker;
  ready: Promise<void>;
}

const BOOT = new URL('./boot.mjs', import.meta.url);
/** How long a handler's `prepare` may take before the job is stopped as a timeout. */
const PREPARE_LIMIT_MS = 60_000;

function startWorker(opts: PoolOptions): Slot {
  const worker = new Worker(BOOT, {
    workerData: { handler: opts.handler.href, init: opts.init },
    resourceLimits: { maxOldGenerationSizeMb: opts.heapMb },
    stdout: false,
    stderr: false,
  });
  const ready = new Promise<void>((resolve, reject) => {
    const onMessage = (m: { ready?: boolean }) => {
      if (m.ready) {
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve();
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
  return { worker, ready };
}

/** Runs one job on a slot; settles with its verdict. The slot is unusable afterwards unless the verdict is done/error. */
function runOn(slot: Slot, id: number, job: unknown, timeLimitMs: number): Promise<Verdict> {
  const { worker } = slot;
  let t0 = Date.now();
  return new Promise<Verdict>((resolve) => {
    let settled = false;
    const finish = (v: Verdict) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      resolve(v);
    };
    const onMessage = (m: { id: number; running?: boolean; ok: boolean; ms: number; result?: unknown; phase?: 'prepare' | 'run'; error?: { name: string; message: string; stack?: string } }) => {
      if (m.id !== id) return;
      if (m.running) {
        // The case is built: its own time limit starts.
        clearTimeout(timer);
        t0 = Date.now();
        timer = setTimeout(stop, timeLimitMs);
        return;
      }
      finish(m.ok ? { kind: 'done', ms: m.ms, result: m.result } : { kind: 'error', ms: m.ms, phase: m.phase ?? 'run', error: m.error ?? { name: '?', message: '?' } });
    };
    const onError = (err: Error & { code?: string }) => {
      const ms = Date.now() - t0;
      finish(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? { kind: 'oom', ms } : { kind: 'died', ms, message: `${err.name}: ${err.message}` });
    };
    const onExit = (code: number) => finish({ kind: 'died', ms: Date.now() - t0, message: `worker exited with code ${code}` });
    const stop = () => {
      finish({ kind: 'timeout', ms: Date.now() - t0 });
      void worker.terminate();
    };
    // Building a case (the handler's `prepare`) is not timed, but may not take forever either.
    let timer = setTimeout(stop, timeLimitMs + PREPARE_LIMIT_MS);
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage({ id, job });
  });
}

/**
 * Runs `jobs` (in order of their index, `workers` at a time) and calls `onVerdict` for each as it ends. Resolves
 * when every job has a verdict.
 */
export async function runPool<J>(jobs: readonly J[], opts: PoolOptions, onVerdict: (job: J, index: number, v: Verdict) => void): Promise<void> {
  let next = 0;
  const lane = async () => {
    let slot = startWorker(opts);
    try {
      await slot.ready;
      while (next < jobs.length) {
        const i = next++;
        const v = await runOn(slot, i, jobs[i], opts.timeLimitMs);
        onVerdict(jobs[i] as J, i, v);
        if (v.kind !== 'done' && v.kind !== 'error') {
          // The worker is gone (or being stopped): a fresh one for the next job.
          await slot.worker.terminate();
          slot = startWorker(opts);
          await slot.ready;
        }
      }
    } finally {
      await slot.worker.terminate();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.workers, jobs.length)) }, lane));
}
