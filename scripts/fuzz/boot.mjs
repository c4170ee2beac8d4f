// The body of a fuzz worker (see pool.ts). Plain JavaScript so that it starts without a loader: it registers
// tsx itself, loads the handler module named by the pool, then runs one job per message and answers with the
// result or the error, with the time the handler's `run` took.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { register } from 'tsx/esm/api';

register();
const handler = await import(workerData.handler);
if (handler.init) await handler.init(workerData.init);

parentPort.on('message', async ({ id, job }) => {
  let input;
  try {
    input = handler.prepare ? await handler.prepare(job) : job;
  } catch (err) {
    parentPort.postMessage({ id, ok: false, ms: 0, phase: 'prepare', error: describe(err) });
    return;
  }
  parentPort.postMessage({ id, running: true }); // the time limit starts now
  const t0 = performance.now();
  try {
    const result = await handler.run(input);
    parentPort.postMessage({ id, ok: true, ms: performance.now() - t0, result });
  } catch (err) {
    parentPort.postMessage({ id, ok: false, ms: performance.now() - t0, phase: 'run', error: describe(err) });
  }
});
parentPort.postMessage({ ready: true });

function describe(err) {
  return err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { name: 'thrown', message: String(err) };
}
