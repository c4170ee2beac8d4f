/**
 * Data-parallel training (train_workers.ts): two workers give the single-worker update to float rounding,
 * their replicas stay identical, resume stays exact, and a worker that throws stops the run with one error and
 * leaves the last checkpoint whole.
 */
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend.ts';
import { countParameters, makeConfig } from '../../src/cp/config.ts';
import { CPTransformer } from '../../src/cp/model.ts';
import { DivergedError, Trainer, type TrainSettings } from '../../src/cp/train/trainer.ts';
import type { HostTensor } from '../../src/core/module.ts';
import { Rng } from '../../src/random.ts';
import { FAMILIES, Vocab, type Emotion, type Family } from '../../src/music/vocab.ts';
import type { Clip } from '../../src/music/dataset.ts';
import { TrainerPool, WorkerError, splitPasses } from '../../src/platform/train_workers.ts';
import { PoolAborted, abortPool, barrier, shardRange } from '../../src/platform/train_worker_protocol.ts';
import { runTraining, type RunOptions } from '../../src/platform/train_run.ts';
import { loadRun } from '../../src/platform/run_folder.ts';
import { maxAbsDiff } from '../helpers/close.ts';
import { runCli } from '../helpers/cli.ts';
import { twoPieces, writeDataset } from '../cp/train_data.ts';

const vocab = Vocab.fullGrid();
const nClasses = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<Family, number>;
const tmp = mkdtempSync(join(tmpdir(), 'emopia-workers-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** Five clips of 20-60 random words (not music: the arithmetic is what is compared). */
function randomClips(seed: number): Clip[] {
  const rng = new Rng(seed);
  return Array.from({ length: 5 }, (_, c) => {
    const n = 20 + rng.nextInt(40);
    const words = new Int32Array(n * FAMILIES.length);
    for (let i = 0; i < words.length; i++) words[i] = rng.nextInt(nClasses[FAMILIES[i % FAMILIES.length] as Family]);
    return { name: `random_${c}`, emotion: (1 + (c % 4)) as Emotion, words };
  });
}

function trainer(clips: Clip[], settings: TrainSettings, dropout?: number): Trainer {
  const cfg = makeConfig('tiny', nClasses, dropout === undefined ? {} : { dropout });
  return new Trainer(new CPTransformer(cfg, new Rng(3)), clips, [], settings);
}

/** Closes the pool, then frees each trainer and its model. */
async function closeAll(pool: TrainerPool, ...trainers: Trainer[]): Promise<void> {
  await pool.close();
  for (const t of trainers) {
    t.model.dispose();
    t.dispose();
  }
}

function stateDiff(a: Map<string, HostTensor>, b: Map<string, HostTensor>): number {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  return Math.max(...[...a].map(([k, t]) => maxAbsDiff(t.data, (b.get(k) as HostTensor).data)));
}

function bytesEqual(a: Map<string, HostTensor>, b: Map<string, HostTensor>): boolean {
  return [...a].every(([k, t]) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from((b.get(k) as HostTensor).data.buffer, (b.get(k) as HostTensor).data.byteOffset, (b.get(k) as HostTensor).data.byteLength)));
}

test('splitPasses: single-worker passes while each worker gets one, contiguous shares covering every pass', () => {
  // seq 512: 2 samples per pass; a batch of 4 is 2 passes, one per worker.
  assert.deepEqual(splitPasses(4, 512, 2), { perPass: 2, passes: 2, shares: [{ first: 0, end: 1 }, { first: 1, end: 2 }] });
  // seq 1024 (EMOPIA's): 1 sample per pass, 4 passes, 2 per worker.
  assert.deepEqual(splitPasses(4, 1024, 2), { perPass: 1, passes: 4, shares: [{ first: 0, end: 2 }, { first: 2, end: 4 }] });
  // seq 64 (16 samples per pass): a batch of 3 is cut into passes of 2 so that both workers have work.
  assert.deepEqual(splitPasses(3, 64, 2), { perPass: 2, passes: 2, shares: [{ first: 0, end: 1 }, { first: 1, end: 2 }] });
  // More workers than samples: the extra workers get no pass.
  assert.deepEqual(splitPasses(1, 64, 2).shares, [{ first: 0, end: 0 }, { first: 0, end: 1 }]);
});

test('shardRange: contiguous shards covering every element once, sizes differing by at most one', () => {
  for (const [total, n] of [[10, 2], [11, 2], [3_550_001, 2], [7, 3], [1, 2]] as const) {
    const shards = Array.from({ length: n }, (_, w) => shardRange(total, n, w));
    assert.equal(shards[0]?.start, 0);
    assert.equal(shards[n - 1]?.end, total);
    shards.slice(1).forEach((s, w) => assert.equal(s.start, shards[w]?.end));
    const sizes = shards.map((s) => s.end - s.start);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${total}/${n}: ${sizes}`);
  }
});

test('barrier: the last party releases the others and the barrier is reusable; an abort stops a waiting party instead of hanging', async () => {
  const control = new Int32Array(new SharedArrayBuffer(12));
  // One party: never waits, and the generation counts the passes.
  barrier(control, 1);
  barrier(control, 1);
  assert.deepEqual([...control], [0, 2, 0]);
  // Two parties, the second on another thread: it arrives after a while, and both pass, twice.
  const other = (code: string) => new Worker(`const { workerData: c } = require('node:worker_threads'); ${code}`, { eval: true, workerData: control });
  const w1 = other('const i = new Int32Array(c.buffer); setTimeout(() => { for (let k = 0; k < 2; k++) { const g = Atomics.load(i, 1); if (Atomics.add(i, 0, 1) === 1) { Atomics.store(i, 0, 0); Atomics.add(i, 1, 1); Atomics.notify(i, 1); } else while (Atomics.load(i, 1) === g) Atomics.wait(i, 1, g, 10); } }, 30);');
  barrier(control, 2, 10);
  barrier(control, 2, 10);
  await new Promise((r) => w1.on('exit', r));
  assert.deepEqual([...control], [0, 4, 0]);
  // Two parties where the other never comes: the abort (from a failed worker or the coordinator, here another thread) ends the wait.
  const w2 = other('setTimeout(() => { const i = new Int32Array(c.buffer); Atomics.store(i, 2, 1); Atomics.notify(i, 1); }, 30);');
  const t0 = performance.now();
  assert.throws(() => barrier(control, 2, 10), (err: unknown) => err instanceof PoolAborted);
  assert.ok(performance.now() - t0 < 5000);
  await new Promise((r) => w2.on('exit', r));
  assert.throws(() => barrier(control, 1), PoolAborted, 'an aborted pool stays aborted');
  // abortPool itself sets the flag that a waiting party sees.
  const fresh = new Int32Array(new SharedArrayBuffer(12));
  abortPool(fresh);
  assert.throws(() => barrier(fresh, 2, 10), PoolAborted);
});

test('2 workers = 1 worker on the same batches, dropout on: the same losses, and weights within 1e-5 after 3 steps', async () => {
  await initBackend('wasm');
  const clips = randomClips(1);
  // seq 512: single-worker passes of 2 samples, so each worker runs exactly one single-worker pass.
  const settings: TrainSettings = { seq: 512, batch: 4, seed: 7, peakLr: 1e-3, warmup: 2, clip: 3 };
  const one = trainer(clips, settings);
  const two = trainer(clips, settings);
  const pool = await TrainerPool.start(two, { workers: 2 });
  try {
    for (let i = 0; i < 3; i++) {
      const a = one.trainStep();
      const b = await pool.trainStep();
      assert.equal(b.step, a.step);
      assert.equal(b.words, a.words);
      assert.ok(Math.abs(b.loss - a.loss) <= 1e-6 * a.loss, `step ${a.step}: loss ${b.loss} vs ${a.loss}`);
      for (const f of FAMILIES) assert.ok(Math.abs(b.losses[f] - a.losses[f]) <= 1e-5, `step ${a.step} ${f}: ${b.losses[f]} vs ${a.losses[f]}`);
      assert.ok(Math.abs(b.gradNorm - a.gradNorm) <= 1e-5 * a.gradNorm, `step ${a.step}: gradient norm ${b.gradNorm} vs ${a.gradNorm}`);
      assert.equal(b.lr, a.lr);
    }
    assert.equal(two.rng.state, one.rng.state, 'the dropout stream advanced by the same draws');
    await pool.pullState();
    const d = stateDiff(two.model.stateDict(), one.model.stateDict());
    assert.ok(d <= 1e-5, `weights differ by ${d}`);
    const moments = stateDiff(two.optimizer.state().tensors, one.optimizer.state().tensors);
    assert.ok(moments <= 1e-5, `Adam moments differ by ${moments}`);
    assert.equal(two.optimizer.step, 3);
  } finally {
    await closeAll(pool, one, two);
  }
});

test('validation with 2 workers: each replica a contiguous share of the passes, the same loss as 1 worker to float64 rounding', async () => {
  await initBackend('wasm');
  const rng = new Rng(5);
  const valid: Clip[] = Array.from({ length: 12 }, (_, c) => {
    const n = 300 + rng.nextInt(300);
    const words = new Int32Array(n * FAMILIES.length);
    for (let i = 0; i < words.length; i++) words[i] = rng.nextInt(nClasses[FAMILIES[i % FAMILIES.length] as Family]);
    return { name: `valid_${c}`, emotion: (1 + (c % 4)) as Emotion, words };
  });
  const settings: TrainSettings = { seq: 64, batch: 4, seed: 7, peakLr: 1e-3, warmup: 2, clip: 3 };
  const cfg = makeConfig('tiny', nClasses);
  const one = new Trainer(new CPTransformer(cfg, new Rng(3)), randomClips(1), valid, settings);
  const two = new Trainer(new CPTransformer(cfg, new Rng(3)), randomClips(1), valid, settings);
  const halves = [two.validSums(0, 2), two.validSums(1, 2)];
  assert.ok(halves.every((h) => h && h.words > 0), 'both shares hold passes');
  const pool = await TrainerPool.start(two, { workers: 2 });
  try {
    const a = one.validate();
    const b = await pool.validate();
    assert.ok(a && b);
    assert.equal(b.words, a.words);
    assert.ok(Math.abs(b.loss - a.loss) <= 1e-12 * a.loss, `loss ${b.loss} vs ${a.loss}`);
    for (const f of FAMILIES) assert.ok(Math.abs(b.losses[f] - a.losses[f]) <= 1e-12 * Math.max(1, a.losses[f]), `${f}: ${b.losses[f]} vs ${a.losses[f]}`);
  } finally {
    await closeAll(pool, one, two);
  }
});

test('2 workers = 1 worker without dropout when the batch is cut finer than single-worker passes', async () => {
  await initBackend('wasm');
  const clips = randomClips(2);
  // seq 64: one worker takes the batch of 3 in one pass, two workers in passes of 2 and 1.
  const settings: TrainSettings = { seq: 64, batch: 3, seed: 1, peakLr: 1e-3, warmup: 2, clip: 3 };
  const one = trainer(clips, settings, 0);
  const two = trainer(clips, settings, 0);
  const pool = await TrainerPool.start(two, { workers: 2 });
  try {
    const a = one.trainStep();
    const b = await pool.trainStep();
    assert.ok(Math.abs(b.loss - a.loss) <= 1e-6 * a.loss, `loss ${b.loss} vs ${a.loss}`);
    await pool.pullState();
    const d = stateDiff(two.model.stateDict(), one.model.stateDict());
    assert.ok(d <= 1e-5, `weights differ by ${d}`);
  } finally {
    await closeAll(pool, one, two);
  }
});

test('the replicas stay bit-identical over several steps (weights and Adam state)', async () => {
  await initBackend('wasm');
  const t = trainer(randomClips(3), { seq: 32, batch: 4, seed: 2, peakLr: 1e-2, warmup: 1, clip: 3 });
  const before = t.model.stateDict();
  const pool = await TrainerPool.start(t, { workers: 2 });
  try {
    for (let i = 0; i < 4; i++) await pool.trainStep();
    const [r0, r1] = await Promise.all([pool.replicaState(0), pool.replicaState(1)]);
    assert.ok(stateDiff(r0.stateDict, before) > 1e-4, 'the weights moved');
    assert.ok(bytesEqual(r0.stateDict, r1.stateDict), 'the weights of the two replicas are bit-identical');
    assert.ok(bytesEqual(r0.optimizer.tensors, r1.optimizer.tensors), 'the Adam moments are bit-identical');
    assert.equal(r0.optimizer.step, 4);
    assert.equal(r1.optimizer.step, 4);
  } finally {
    await closeAll(pool, t);
  }
});

test('a non-finite loss in the replicas throws DivergedError and changes nothing (step, dropout state, Adam)', async () => {
  await initBackend('wasm');
  const t = trainer(randomClips(4), { seq: 32, batch: 4, seed: 2, peakLr: 1e-3, warmup: 1, clip: 3 });
  const sd = t.model.stateDict();
  const first = sd.get('in_linear.weight') as HostTensor;
  first.data.fill(NaN);
  t.model.loadStateDict(sd);
  const rngState = t.rng.state;
  const pool = await TrainerPool.start(t, { workers: 2 });
  try {
    await assert.rejects(pool.trainStep(), (err: unknown) => err instanceof DivergedError && err.message === 'the training loss is NaN at step 1');
    assert.equal(t.step, 0);
    assert.equal(t.rng.state, rngState);
    const [r0, r1] = await Promise.all([pool.replicaState(0), pool.replicaState(1)]);
    assert.equal(r0.optimizer.step, 0);
    assert.equal(r1.optimizer.step, 0);
  } finally {
    await closeAll(pool, t);
  }
});

function options(out: string, extra: Partial<RunOptions> = {}): RunOptions {
  const clips = twoPieces(vocab);
  return { data: { vocab, train: clips, valid: clips }, dataDir: 'two-pieces', out, preset: 'tiny', steps: 4, batch: 2, seq: 64, lr: 1e-2, warmup: 10, seed: 5, validEvery: 1, saveEvery: 1000, workers: 2, ...extra };
}

test('resume with workers is exact: 2 steps, resume, 2 more steps gives the same files as 4 steps; and close to 1 worker', async () => {
  await initBackend('wasm');
  const a = join(tmp, 'four');
  const b = join(tmp, 'two-plus-two');
  const c = join(tmp, 'one-worker');
  await runTraining(options(a));
  assert.equal((await runTraining(options(b, { steps: 2 }))).savedStep, 2);
  const r = await runTraining(options(b, { resume: true }));
  assert.equal(r.step, 4);
  for (const file of ['model.safetensors', 'optimizer.safetensors', 'train-state.json']) {
    assert.ok(readFileSync(join(a, file)).equals(readFileSync(join(b, file))), `${file} is byte-identical`);
  }
  const rows = (dir: string) => readFileSync(join(dir, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; step: number; loss: number });
  assert.deepEqual(rows(b).map((x) => [x.kind, x.step, x.loss]), rows(a).map((x) => [x.kind, x.step, x.loss]), 'the logs agree step by step');
  // The same run on this thread alone: with 2 workers the batch of 2 goes in passes of 1 sample instead of
  // one pass of 2, so the dropout masks differ; the validation losses (no dropout) stay close.
  await runTraining(options(c, { workers: 1 }));
  const va = rows(a).filter((x) => x.kind === 'valid');
  const vc = rows(c).filter((x) => x.kind === 'valid');
  assert.equal(va.length, 4);
  assert.ok(Math.abs((va[3] as { loss: number }).loss - (vc[3] as { loss: number }).loss) < 0.05, `valid loss after 4 steps ${va[3]?.loss} vs ${vc[3]?.loss}`);
});

test('each worker reports its memory: its wasm heap holds at least its replica, the log has one figure per worker, the CLI notes say it', async () => {
  await initBackend('wasm');
  const notes: string[] = [];
  for (const workers of [2, 1]) {
    notes.length = 0;
    const out = join(tmp, `memory-${workers}`);
    const r = await runTraining(options(out, { steps: 2, workers, note: (l) => notes.push(l) }));
    const replicaBytes = countParameters(makeConfig('tiny', nClasses)) * 4;
    assert.equal(r.memory?.length, workers, 'one entry per worker');
    for (const m of r.memory ?? []) {
      assert.ok((m.wasmHeapBytes ?? 0) >= replicaBytes, `a wasm heap of ${m.wasmHeapBytes} bytes holds a replica of ${replicaBytes}`);
      assert.ok(m.jsHeapBytes > 0);
    }
    const rows = readFileSync(join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; memoryMiB?: number[] });
    const trainRows = rows.filter((x) => x.kind === 'train');
    assert.equal(trainRows.length, 2);
    for (const x of trainRows) {
      assert.equal(x.memoryMiB?.length, workers);
      assert.ok(x.memoryMiB?.every((v) => v >= replicaBytes / 2 ** 20));
    }
    const first = notes.find((l) => l.startsWith('memory after the first step: '));
    assert.ok(first, notes.join('\n'));
    assert.match(first, workers === 2 ? /worker 1 [\d,]+ MiB wasm heap \+ [\d,]+ MiB JavaScript heap; worker 2 .*; shared by the workers [\d,]+ MiB; the process resident [\d,]+ MiB$/ : /^memory after the first step: this thread [\d,]+ MiB wasm heap/);
    assert.ok(notes.some((l) => /^largest memory over the run: .*resident at most [\d,]+ MiB$/.test(l)), notes.join('\n'));
  }
});

test('a worker that throws stops the run with one error naming it; the last checkpoint stays whole and resumable', async () => {
  await initBackend('wasm');
  const out = join(tmp, 'fault');
  await assert.rejects(
    runTraining(options(out, { steps: 6, saveEvery: 2, workerFault: { worker: 1, step: 3 } })),
    (err: unknown) => err instanceof WorkerError && err.message === 'training worker 2 of 2: injected fault at step 3',
  );
  const snap = loadRun(out);
  assert.equal(snap.state.step, 2, 'the checkpoint of step 2 is kept');
  snap.model.dispose();
  assert.deepEqual(readdirSync(out).filter((f) => f.includes('tmp') || f.startsWith('.')), [], 'no temporary file is left');
  assert.ok(!existsSync(`${out}.lock`) && !readdirSync(tmp).some((f) => f.endsWith('.lock')), 'the lock is released');
  const r = await runTraining(options(out, { steps: 4, resume: true }));
  assert.equal(r.step, 4);
});

test('emopia train --workers 2 from the command line: the same checkpoint as the library run; --workers 0 is a usage error', async () => {
  const ds = join(tmp, 'ds');
  const clips = twoPieces(vocab);
  writeDataset(ds, vocab, clips, clips);
  const run = join(tmp, 'cli-run');
  const args = ['train', '--data', ds, '--out', run, '--preset', 'tiny', '--steps', '3', '--batch', '2', '--seq', '64', '--lr', '1e-2', '--warmup', '10', '--seed', '5', '--no-progress'];
  const ok = await runCli([...args, '--workers', '2']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^step 3\/3, train loss \d+\.\d+, valid loss \d+\.\d+, saved to /);
  assert.match(ok.stderr, /2 worker threads/);
  await initBackend('wasm');
  const lib = join(tmp, 'lib-run');
  await runTraining(options(lib, { steps: 3, validEvery: 200 }));
  assert.ok(readFileSync(join(run, 'model.safetensors')).equals(readFileSync(join(lib, 'model.safetensors'))), 'the CLI and the library give the same weights');
  const bad = await runCli([...args.map((a) => (a === run ? join(tmp, 'never') : a)), '--workers', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^emopia: .*workers.*0/m);
  assert.ok(!existsSync(join(tmp, 'never')), 'nothing written');
});
