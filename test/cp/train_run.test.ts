/** The training loop on a two-piece dataset: overfitting, exact resume, --init, --epochs, split passes, leaks and NaN stop, --half. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, initBackend } from '../../src/backend.ts';
import { makeConfig } from '../../src/cp/config.ts';
import { CPTransformer } from '../../src/cp/model.ts';
import { uniformLoss } from '../../src/cp/train/loss.ts';
import { batchAt } from '../../src/cp/train/batches.ts';
import { runTraining, type RunOptions, type TrainProgress } from '../../src/platform/train_run.ts';
import { TRAIN_DEFAULTS, defaultSeq } from '../../src/cp/train/defaults.ts';
import { DivergedError, Trainer, samplesPerPass } from '../../src/cp/train/trainer.ts';
import { assertClose } from '../helpers/close.ts';
import { Rng } from '../../src/random.ts';
import { FAMILIES, Vocab, type Family } from '../../src/music/vocab.ts';
import { readSafetensorsFile } from '../../src/platform/safetensors_file.ts';
import { stateDictFromSafetensors } from '../../src/io/safetensors.ts';
import { twoPieces } from './train_data.ts';

const vocab = Vocab.fullGrid();
const clips = twoPieces(vocab);
const nClasses = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<Family, number>;
const tmp = mkdtempSync(join(tmpdir(), 'emopia-train-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function options(out: string, extra: Partial<RunOptions> = {}): RunOptions {
  return {
    data: { vocab, train: clips, valid: clips },
    dataDir: 'two-pieces',
    out,
    preset: 'tiny',
    steps: 4,
    batch: 2,
    seq: 64,
    lr: 1e-2,
    warmup: 10,
    seed: 5,
    validEvery: 1000,
    saveEvery: 1000,
    ...extra,
  };
}

const logRows = (dir: string) => readFileSync(join(dir, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; step: number; loss: number });

test('a tiny model overfits two pieces: the dropout-free loss on them falls below a tenth of the uniform loss', async () => {
  await initBackend('wasm');
  const out = join(tmp, 'overfit');
  const r = await runTraining(options(out, { steps: 80, validEvery: 40 }));
  // Every word of the two pieces is determined by its predecessors (the Emotion word tells the pieces apart),
  // so the best achievable loss is 0; predicting uniformly costs mean_f ln(nClasses[f]) = 3.28 here.
  const uniform = uniformLoss(nClasses);
  assert.ok(uniform > 3.2 && uniform < 3.4, `uniform loss ${uniform}`);
  const rows = logRows(out);
  const first = rows.find((row) => row.kind === 'train');
  assert.ok(first && first.loss > 0.75 * uniform, `the first loss (${first?.loss}) is near the uniform loss`);
  assert.ok(r.lastValid, 'validation ran');
  assert.ok(r.lastValid.loss < 0.1 * uniform, `loss ${r.lastValid.loss} < ${0.1 * uniform}`);
  assert.equal(rows.filter((row) => row.kind === 'train').length, 80);
  assert.deepEqual(rows.filter((row) => row.kind === 'valid').map((row) => row.step), [40, 80]);
});

test('resume is exact: 2 steps, resume, 2 more steps gives the same weights and optimizer state as 4 steps', async () => {
  await initBackend('wasm');
  const a = join(tmp, 'four');
  const b = join(tmp, 'two-plus-two');
  await runTraining(options(a, { steps: 4, validEvery: 1 }));
  const first = await runTraining(options(b, { steps: 2, validEvery: 1 }));
  assert.equal(first.savedStep, 2);
  // On resume the run's own settings apply: a different --lr or --seed given now must not matter.
  const second = await runTraining(options(b, { steps: 4, validEvery: 1, resume: true, lr: 1, seed: 99 }));
  assert.equal(second.step, 4);
  for (const file of ['model.safetensors', 'optimizer.safetensors']) {
    assert.ok(readFileSync(join(a, file)).equals(readFileSync(join(b, file))), `${file} is byte-identical`);
  }
  const la = logRows(a).map((row) => [row.kind, row.step, row.loss]);
  const lb = logRows(b).map((row) => [row.kind, row.step, row.loss]);
  assert.deepEqual(lb, la, 'the logs agree step by step');
  const state = JSON.parse(readFileSync(join(b, 'train-state.json'), 'utf8')) as { step: number };
  assert.equal(state.step, 4);
});

test('--emotion dropout is a setting of the run: saved, kept on resume (exactly), and it changes the updates', async () => {
  await initBackend('wasm');
  const a = join(tmp, 'dropout-four');
  const b = join(tmp, 'dropout-two-plus-two');
  const plain = join(tmp, 'dropout-none');
  await runTraining(options(a, { steps: 4, emotionDropout: 0.5 }));
  await runTraining(options(b, { steps: 2, emotionDropout: 0.5 }));
  const notes: string[] = [];
  await runTraining(options(b, { steps: 4, resume: true, note: (l) => notes.push(l) }));
  assert.ok(notes.some((l) => /emotion dropout 0\.5/.test(l)), notes.join('\n'));
  await runTraining(options(plain, { steps: 4 }));
  for (const file of ['model.safetensors', 'optimizer.safetensors']) {
    assert.ok(readFileSync(join(a, file)).equals(readFileSync(join(b, file))), `${file} is byte-identical after resume`);
  }
  const state = JSON.parse(readFileSync(join(b, 'train-state.json'), 'utf8')) as { settings: { emotionDropout?: number } };
  assert.equal(state.settings.emotionDropout, 0.5);
  // Seed 5's draws make some of the 8 windows of the 4 steps neutral (checked here, so the comparison below means something).
  const drawn = [0, 1, 2, 3].flatMap((step) => batchAt(clips, { seq: 64, batch: 2, seed: 5, emotionDropout: 0.5 }, step).refs);
  assert.ok(drawn.some((r) => r.neutral) && drawn.some((r) => !r.neutral), JSON.stringify(drawn));
  assert.ok(!readFileSync(join(a, 'model.safetensors')).equals(readFileSync(join(plain, 'model.safetensors'))), 'other inputs, other weights');
});

test('--init starts from another run\'s weights with a fresh optimizer; a different vocabulary is refused', async () => {
  await initBackend('wasm');
  const pre = join(tmp, 'pretrain');
  await runTraining(options(pre, { steps: 3 }));
  const fine = join(tmp, 'finetune');
  // With a learning rate of 0, Adam leaves the weights exactly as loaded.
  const r = await runTraining(options(fine, { steps: 2, init: pre, lr: 0, attention: 'softmax', emotionInput: 'every' }));
  assert.equal(r.step, 2);
  const weights = (dir: string) => stateDictFromSafetensors(readSafetensorsFile(join(dir, 'model.safetensors')));
  const [a, b] = [weights(pre), weights(fine)];
  assert.equal(a.size, b.size);
  for (const [name, t] of a) assert.deepEqual(b.get(name)?.data, t.data, `${name} comes from --init`);
  const state = JSON.parse(readFileSync(join(fine, 'train-state.json'), 'utf8')) as { step: number; init: string };
  assert.equal(state.step, 2, 'a fresh step count');
  assert.equal(state.init, pre);
  const cfg = JSON.parse(readFileSync(join(fine, 'config.json'), 'utf8')) as { attention: string; emotionInput: string };
  assert.equal(cfg.attention, 'softmax', '--attention may change with --init (same parameters)');
  assert.equal(cfg.emotionInput, 'every', '--emotion-input may change with --init (same parameters)');
  const values = Object.fromEntries(FAMILIES.map((f) => [f, [...vocab.values(f)]])) as Record<Family, Array<string | number>>;
  values.tempo = values.tempo.slice(0, -1);
  const other = Vocab.fromValues(values);
  await assert.rejects(runTraining({ ...options(join(tmp, 'never'), { init: pre }), data: { vocab: other, train: twoPieces(other), valid: [] } }), /vocabulary differs from the --init run's/);
});

test('--epochs counts passes over the training windows', async () => {
  await initBackend('wasm');
  // Two short clips, batch 1: two batches per epoch.
  const r = await runTraining({ ...options(join(tmp, 'epochs'), { batch: 1, steps: undefined, epochs: 3 }) });
  assert.equal(r.totalSteps, 6);
  assert.equal(r.step, 6);
  const epochs = logRows(join(tmp, 'epochs')).filter((row) => row.kind === 'train').map((row) => (row as unknown as { epoch: number }).epoch);
  assert.deepEqual(epochs, [0, 0, 1, 1, 2, 2]);
});

test('a batch split into several passes gives the gradient of the whole batch', async () => {
  await initBackend('wasm');
  const cfg = makeConfig('tiny', nClasses, { dropout: 0 });
  const results = [64, 600].map((seq) => {
    // seq 64: both samples in one pass; seq 600: one sample per pass (TOKENS_PER_PASS = 1024). Same windows.
    assert.equal(samplesPerPass(seq), seq === 64 ? 16 : 1);
    const model = new CPTransformer(cfg, new Rng(3));
    const trainer = new Trainer(model, clips, [], { seq, batch: 2, seed: 1, peakLr: 1e-3, warmup: 0, clip: 3 });
    const r = trainer.trainStep();
    const w = model.stateDict();
    trainer.dispose();
    model.dispose();
    return { r, w };
  });
  const [one, two] = results as [(typeof results)[0], (typeof results)[0]];
  assert.ok(Math.abs(one.r.loss - two.r.loss) < 1e-5, `loss ${one.r.loss} vs ${two.r.loss}`);
  assert.ok(Math.abs(one.r.gradNorm - two.r.gradNorm) < 1e-4 * one.r.gradNorm, `grad norm ${one.r.gradNorm} vs ${two.r.gradNorm}`);
  assert.equal(one.r.words, two.r.words);
  for (const [name, t] of one.w) assertClose(two.w.get(name)!.data, t.data, 1e-5, name);
});

test('a training step leaks no tensor, and a non-finite loss stops it without changing the state', async () => {
  await initBackend('wasm');
  const model = new CPTransformer(makeConfig('tiny', nClasses), new Rng(3));
  const trainer = new Trainer(model, clips, [], { seq: 16, batch: 2, seed: 1, peakLr: 1e-3, warmup: 2, clip: 3 });
  trainer.trainStep(); // the first step may create lasting tensors (none expected, but do not count them)
  const before = tf.memory().numTensors;
  const r = trainer.trainStep();
  assert.equal(r.step, 2);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks across a step');
  const v = trainer.validate();
  assert.equal(v, undefined, 'no valid split, no validation');
  // Poison one weight: the next step must throw and leave step, Rng and weights untouched.
  const [name, w] = model.namedParameters()[0] as [string, tf.Variable];
  const poisoned = tf.fill(w.shape, NaN);
  w.assign(poisoned);
  poisoned.dispose();
  const rngState = trainer.rng.state;
  const adamStep = trainer.optimizer.step;
  assert.throws(() => trainer.trainStep(), (err: unknown) => err instanceof DivergedError && /the training loss is NaN at step 3/.test(err.message), name);
  assert.equal(trainer.step, 2);
  assert.equal(trainer.optimizer.step, adamStep);
  assert.equal(trainer.rng.state, rngState);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks on a failed step');
  trainer.dispose();
  model.dispose();
});

test('--half writes F16 weights and BF16 moments, and a resume from them continues close to the full-precision run', async () => {
  await initBackend('wasm');
  const full = join(tmp, 'full-four');
  const half = join(tmp, 'half-two-plus-two');
  await runTraining(options(full, { steps: 4, validEvery: 1 }));
  await runTraining(options(half, { steps: 2, validEvery: 1, half: true }));
  const model = readSafetensorsFile(join(half, 'model.safetensors'));
  const optim = readSafetensorsFile(join(half, 'optimizer.safetensors'));
  assert.deepEqual(new Set([...model.tensors.values()].map((t) => t.dtype)), new Set(['F16']));
  assert.deepEqual(new Set([...optim.tensors.values()].map((t) => t.dtype)), new Set(['BF16']));
  await runTraining(options(half, { steps: 4, validEvery: 1, resume: true }));
  const a = stateDictFromSafetensors(readSafetensorsFile(join(full, 'model.safetensors')));
  const b = stateDictFromSafetensors(readSafetensorsFile(join(half, 'model.safetensors')));
  // Rounding to F16 moves a weight by at most 2^-11 relative; after 2 more Adam steps of lr <= 1e-2 * 4/10 the
  // runs differ by little more than that rounding, far below the size of the updates themselves.
  for (const [name, t] of a) assertClose(b.get(name)!.data, t.data, 5e-3, name);
  const state = JSON.parse(readFileSync(join(half, 'train-state.json'), 'utf8')) as { step: number; settings: { half?: boolean } };
  assert.equal(state.step, 4);
  assert.equal(state.settings.half, true, 'a resumed run keeps writing 16-bit checkpoints');
});

test('a valid clip too short for a window is refused up front; resuming on a changed dataset says so', async () => {
  await initBackend('wasm');
  const short = { name: 'Q2_short_0', emotion: 2 as const, words: clips[0]!.words.slice(0, 8) };
  await assert.rejects(
    runTraining({ ...options(join(tmp, 'short-valid')), data: { vocab, train: clips, valid: [short] } }),
    /\(valid split\) clip 'Q2_short_0': expected at least 2 words, got 1/,
  );
  const out = join(tmp, 'changed');
  await runTraining(options(out, { steps: 1 }));
  const notes: string[] = [];
  await runTraining({ ...options(out, { steps: 2, resume: true, note: (l) => notes.push(l) }), data: { vocab, train: clips, valid: [] } });
  assert.ok(notes.some((l) => /the dataset has changed since the run was saved \(train 2 -> 2 clips, valid 2 -> 0\)/.test(l)), notes.join('\n'));
});

test('runTraining: options left out take TRAIN_DEFAULTS (seq capped by the model); onProgress hears the start and every step', async () => {
  await initBackend('wasm');
  const out = join(tmp, 'defaults');
  const events: TrainProgress[] = [];
  const r = await runTraining({ data: { vocab, train: clips, valid: [] }, dataDir: 'two-pieces', out, preset: 'tiny', steps: 2, onProgress: (p) => events.push(p) });
  assert.equal(r.step, 2);
  const state = JSON.parse(readFileSync(join(out, 'train-state.json'), 'utf8')) as { settings: Record<string, number> };
  const D = TRAIN_DEFAULTS;
  assert.deepEqual(state.settings, { seq: 1023, batch: D.batch, seed: D.seed, peakLr: D.lr, warmup: D.warmup, clip: D.clip });
  assert.equal(defaultSeq(20000), 1024, "EMOPIA's window when the model reads more");
  assert.deepEqual(events.map((e) => [e.done, e.total, e.train?.step]), [[0, 2, undefined], [1, 2, 1], [2, 2, 2]]);
  assert.equal(events[2]!.train, r.lastTrain);
  // A resumed run reports the steps of this call only.
  const more: TrainProgress[] = [];
  await runTraining({ data: { vocab, train: clips, valid: [] }, dataDir: 'two-pieces', out, steps: 3, resume: true, onProgress: (p) => more.push(p) });
  assert.deepEqual(more.map((e) => [e.done, e.total, e.train?.step]), [[0, 1, undefined], [1, 1, 3]]);
});
