// Starts a training worker (train_workers.ts) from the TypeScript sources: Node 20 does not pass the parent's
// `--import tsx` on to worker threads, so this plain-JavaScript file registers tsx itself and then imports the
// worker body named in workerData.entry. The built package (dist/) starts train_worker.js directly instead.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
