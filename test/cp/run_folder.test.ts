/**
 * The run folder (src/cp/run_folder.ts and its Node adapter src/platform/run_folder.ts): the config stored once,
 * committed folders loading as before, tampered files refused with one line naming the file and the field,
 * recovery of a half-done checkpoint swap, and the lock that refuses a second training on one folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../../src/backend.ts';
import { parseSafetensors } from '../../src/io/safetensors.ts';
import { CONFIG_FILE, MODEL_FILE, modelFromParts, modelToParts, runFiles } from '../../src/cp/run_folder.ts';
import { loadModel, loadRun, lockRun, readModelMeta, runLockPath, saveModel, saveRun } from '../../src/platform/run_folder.ts';
import { runTraining, type RunOptions } from '../../src/platform/train_run.ts';
import { tinyModel, vocab } from '../helpers/tiny_model.ts';
import { twoPieces } from './train_data.ts';

const MODELS = fileURLToPath(new URL('../../models/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'emopia-runfolder-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid as number;
const header = (bytes: Uint8Array) => parseSafetensors(bytes).metadata;

test('the config is stored once, in config.json: the weights header holds only the format', async () => {
  await initBackend('wasm');
  const model = tinyModel(1);
  const dir = join(tmp, 'once');
  saveModel(dir, model, vocab);
  assert.deepEqual(header(readFileSync(join(dir, MODEL_FILE))), { format: 'emopia-ts/cp' });
  assert.deepEqual(JSON.parse(readFileSync(join(dir, CONFIG_FILE), 'utf8')), model.config);
  assert.deepEqual(readModelMeta(dir).config, model.config);
  model.dispose();
});

test('the committed folders load as before: their header copy of the config is ignored, an older config.json reads as emotionInput first', async () => {
  await initBackend('wasm');
  const pre = join(MODELS, 'training', 'pop909-small');
  const old = header(readFileSync(join(pre, MODEL_FILE)));
  assert.equal(typeof old.config, 'string', 'this folder was written with the config in the header too');
  const meta = readModelMeta(pre);
  assert.equal(meta.config.emotionInput, 'first');
  assert.deepEqual({ ...meta.config, emotionInput: undefined }, { ...JSON.parse(old.config!), emotionInput: undefined });
  assert.equal(readModelMeta(join(MODELS, 'default')).config.emotionInput, 'every');

  // Resuming the committed pre-training run and saving it again gives the same optimizer, state and log bytes,
  // and the same tensors (only the weights header loses its config copy).
  const snap = loadRun(pre);
  try {
    assert.equal(snap.state.step, 3001);
    assert.equal(snap.optimizer.step, 3001);
    const files = new Map(runFiles(snap));
    for (const name of ['optimizer.safetensors', 'train-state.json', 'train-log.jsonl', 'vocab.json']) {
      const want = readFileSync(join(pre, name));
      const got = files.get(name)!;
      assert.ok(want.equals(typeof got === 'string' ? Buffer.from(got) : Buffer.from(got)), `${name} is byte-identical`);
    }
    const a = parseSafetensors(readFileSync(join(pre, MODEL_FILE))).tensors;
    const b = parseSafetensors(files.get(MODEL_FILE) as Uint8Array).tensors;
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [name, t] of a) assert.deepEqual(b.get(name), t, name);
  } finally {
    snap.model.dispose();
  }
});

test('a tampered folder is refused with one line naming the file and the field: huge sizes, integer weights, wrong shapes', async () => {
  await initBackend('wasm');
  const model = tinyModel(2);
  const dir = join(tmp, 'tampered');
  saveModel(dir, model, vocab);
  const configPath = join(dir, CONFIG_FILE);
  const good = readFileSync(configPath, 'utf8');
  writeFileSync(configPath, JSON.stringify({ ...JSON.parse(good), nLayers: 100_000 }));
  assert.throws(() => loadModel(dir), (err: Error) => err.name === 'InputError' && err.message === `${configPath}: expected nLayers at most 64, got 100000`);
  writeFileSync(configPath, good);

  // F32 changed to I32 in the header: same widths, so the bytes still parse.
  const parts = modelToParts(model, vocab);
  const headerLength = Number(new DataView(parts.weights.buffer, parts.weights.byteOffset).getBigUint64(0, true));
  const text = new TextDecoder().decode(parts.weights.subarray(8, 8 + headerLength));
  const first = /"([^"]+)":\{"dtype":"F32"/.exec(text)!;
  const tampered = parts.weights.slice();
  tampered[8 + first.index + first[0].length - 4] = 'I'.charCodeAt(0); // "F32" -> "I32"
  assert.match(new TextDecoder().decode(tampered.subarray(8, 8 + headerLength)), new RegExp(`"${first[1]}":\\{"dtype":"I32"`));
  assert.throws(() => modelFromParts({ ...parts, weights: tampered }), new RegExp(`^InputError: model\\.safetensors: tensor '${first[1]!.replace(/\./g, '\\.')}' has dtype I32, expected F32 or F16 or BF16 or F64$`));
  // Weights of another shape than the config gives.
  const other = tinyModel(3);
  const wide = { ...other.config, dFF: other.config.dFF * 2 };
  assert.throws(() => modelFromParts({ ...parts, config: wide }), /^InputError: model\.safetensors: state dict '.+': expected shape \[\d+,\d+\], got \[\d+,\d+\]$/m);
  other.dispose();
  model.dispose();
});

test('loadRun finishes a checkpoint swap that a kill interrupted between the two renames, with one notice', async () => {
  await initBackend('wasm');
  const model = tinyModel(4);
  const optimizer = { step: 0, tensors: new Map() };
  const state = (step: number) => ({ format: 'emopia-ts/train-state' as const, version: 1 as const, step, epoch: 0, batchInEpoch: step, rng: 1, settings: { seq: 8, batch: 1, seed: 1, peakLr: 1e-3, warmup: 1, clip: 3 }, data: { train: 1, valid: 0 } });
  const run = join(tmp, 'swap', 'run');
  await saveRun(run, { model, vocab, optimizer, state: state(1), log: ['{"step":1}'] });
  // What a SIGKILL between the renames leaves (test/platform/atomic.test.ts kills a real process there): the previous
  // checkpoint moved to .old, the new one complete in the temporary folder, nothing at the name.
  const gone = deadPid();
  const pending = join(tmp, 'swap', `.run.tmp-${gone}-0123abcd`);
  await saveRun(join(tmp, 'swap', 'next'), { model, vocab, optimizer, state: state(2), log: ['{"step":1}', '{"step":2}'] });
  renameSync(run, `${pending}.old`);
  renameSync(join(tmp, 'swap', 'next'), pending);
  const notes: string[] = [];
  const snap = loadRun(run, (l) => notes.push(l));
  snap.model.dispose();
  assert.deepEqual(notes, [`${run}: finished a replacement that a killed process left half done (the new folder is in place)`]);
  assert.equal(snap.state.step, 2);
  assert.deepEqual(snap.log, ['{"step":1}', '{"step":2}']);
  assert.deepEqual(readdirSync(join(tmp, 'swap')), ['run']);
  model.dispose();
});

const clips = twoPieces(vocab);
const training = (out: string, notes: string[]): RunOptions => ({
  data: { vocab, train: clips, valid: clips }, dataDir: 'two-pieces', out, preset: 'tiny', steps: 1, batch: 2, seq: 64, lr: 1e-2, warmup: 10, seed: 5,
  validEvery: 1000, saveEvery: 1000, note: (l) => notes.push(l),
});

test('a second training on a run folder is refused with one line; a dead training\'s lock is taken over', async () => {
  await initBackend('wasm');
  const out = join(tmp, 'locked', 'run');
  const lockPath = runLockPath(out);
  assert.equal(lockPath, join(tmp, 'locked', '.run.lock'));

  // A running process (init, pid 1) holds the lock: refused, nothing written.
  mkdirSync(join(tmp, 'locked'));
  writeFileSync(lockPath, JSON.stringify({ pid: 1 }));
  const notes: string[] = [];
  await assert.rejects(runTraining(training(out, notes)), (err: Error) =>
    err.name === 'InputError' && err.message === `${out}: in use by another process (pid 1, lock file ${lockPath}); wait for it to finish, or stop it`);
  assert.equal(existsSync(out), false);
  assert.equal(readFileSync(lockPath, 'utf8'), JSON.stringify({ pid: 1 }), 'the holder keeps its lock');

  // In one process too: a lock taken and not yet released refuses the next taker.
  rmSync(lockPath);
  const held = lockRun(out);
  assert.throws(() => lockRun(out), new RegExp(`in use by another process \\(pid ${process.pid}, `));
  held.release();
  assert.equal(existsSync(lockPath), false, 'release removes the lock file');

  // The lock of a process that is no longer running is stale: taken over with one notice; training runs and
  // releases it at the end.
  const gone = deadPid();
  writeFileSync(lockPath, JSON.stringify({ pid: gone, since: '2026-01-01T00:00:00.000Z' }));
  const r = await runTraining(training(out, notes));
  assert.equal(r.savedStep, 1);
  assert.equal(notes[0], `${out}: took over the lock of process ${gone}, which is no longer running`);
  assert.equal(existsSync(lockPath), false);
  // An unreadable lock (no process id) is stale as well.
  writeFileSync(lockPath, 'garbage');
  const again = lockRun(out, (l) => notes.push(l));
  assert.equal(notes.at(-1), `${out}: took over the lock of an unknown process, which is no longer running`);
  assert.equal(JSON.parse(readFileSync(lockPath, 'utf8')).pid, process.pid);
  again.release();
  assert.deepEqual(readdirSync(join(tmp, 'locked')), ['run']);
});
