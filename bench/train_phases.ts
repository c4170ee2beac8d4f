/**
 * `npm run bench -- train_phases [--steps 3] [--preset small] [--batch 4] [--seq 512] [--attention linear|softmax]
 * [--workers 1|2]`: where the time of one training step goes with one worker (gradients; the norm; clipping + Adam) and
 * with a TrainerPool of two (the coordinator's round trips and each worker's phases: gradients, copy-out,
 * barrier wait, sum, tensor creation, clipping + Adam), mean milliseconds over the timed steps after one warm-up.
 * No PyTorch counterpart; run it with `--cores 2` so the pool has both cores.
 */
import { initBackend, tf } from '../src/backend.ts';
import type { AttentionKind, PresetName } from '../src/cp/config.ts';
import { batchAt } from '../src/cp/train/batches.ts';
import { TrainerPool } from '../src/platform/train_workers.ts';
import { clipFactor, gradNorm } from '../src/core/train/optim.ts';
import { learningRate } from '../src/core/train/schedule.ts';
import { machineLine } from './_machine.ts';
import { randomTrainer } from './train.ts';

interface Args {
  steps: number;
  preset: PresetName;
  batch: number;
  seq: number;
  attention: AttentionKind;
  workers: number[];
}

function parseArgs(args: string[]): Args {
  const out: Args = { steps: 3, preset: 'small', batch: 4, seq: 512, attention: 'linear', workers: [1, 2] };
  for (let i = 0; i < args.length; i += 2) {
    const [k, v] = [args[i], args[i + 1]];
    if (k === '--steps') out.steps = Number(v);
    else if (k === '--preset') out.preset = v as PresetName;
    else if (k === '--batch') out.batch = Number(v);
    else if (k === '--seq') out.seq = Number(v);
    else if (k === '--attention') out.attention = v as AttentionKind;
    else if (k === '--workers') out.workers = [Number(v)];
    else throw new Error(`bench train_phases: unknown argument '${k}' (expected --steps, --preset, --batch, --seq, --attention, --workers)`);
  }
  return out;
}

function fmt(phases: Map<string, number>, n: number): string {
  return [...phases].map(([k, ms]) => `${k} ${(ms / n).toFixed(1)}`).join(', ');
}

function add(into: Map<string, number>, k: string, ms: number): void {
  into.set(k, (into.get(k) ?? 0) + ms);
}

async function oneWorker(a: Args): Promise<void> {
  const { model, trainer } = randomTrainer(a);
  const acc = new Map<string, number>();
  try {
    for (let i = 0; i <= a.steps; i++) {
      const t0 = performance.now();
      const { refs } = batchAt(trainer.train, trainer.settings, trainer.step);
      const words = trainer.batchWords(refs);
      const g = trainer.batchGradients(refs, words, trainer.rng);
      const t1 = performance.now();
      const norm = gradNorm(g.grads); // as Trainer.applyGradients: the norm, then clipping and Adam in one pass
      const t2 = performance.now();
      trainer.optimizer.applyClipped(g.grads, clipFactor(norm, trainer.settings.clip), learningRate(trainer.step, trainer.settings));
      trainer.step += 1;
      tf.dispose([...g.grads.values()]);
      const t3 = performance.now();
      if (i === 0) continue; // warm-up
      add(acc, 'step', t3 - t0);
      add(acc, 'gradients', t1 - t0);
      add(acc, 'norm', t2 - t1);
      add(acc, 'clipAdam', t3 - t2);
    }
    process.stdout.write(`1 worker (ms/step): ${fmt(acc, a.steps)}\n`);
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

async function pool(a: Args, n: number): Promise<void> {
  const { model, trainer } = randomTrainer(a);
  const p = await TrainerPool.start(trainer, { workers: n });
  const coord = new Map<string, number>();
  const workers = Array.from({ length: n }, () => new Map<string, number>());
  try {
    for (let i = 0; i <= a.steps; i++) {
      const t0 = performance.now();
      await p.trainStep();
      const ms = performance.now() - t0;
      if (i === 0) continue;
      const ph = p.lastPhases;
      if (!ph) continue;
      add(coord, 'step', ms);
      for (const [k, v] of Object.entries(ph)) if (typeof v === 'number') add(coord, k, v);
      ph.workers.forEach((w, j) => Object.entries(w).forEach(([k, v]) => add(workers[j] as Map<string, number>, k, v)));
    }
    process.stdout.write(`${n} workers, coordinator (ms/step): ${fmt(coord, a.steps)}\n`);
    workers.forEach((w, j) => process.stdout.write(`  worker ${j}: ${fmt(w, a.steps)}\n`));
  } finally {
    await p.close();
    trainer.dispose();
    model.dispose();
  }
}

export async function run(args: string[] = []): Promise<void> {
  const a = parseArgs(args);
  const backend = await initBackend('wasm');
  process.stdout.write(`train phases: preset ${a.preset}, ${a.attention}, batch ${a.batch}, seq ${a.seq}, ${a.steps} timed steps after 1 warm-up\n`);
  for (const n of a.workers) {
    if (n <= 1) await oneWorker(a);
    else await pool(a, n);
  }
  process.stdout.write(`  machine: ${machineLine(backend)}\n`);
}
