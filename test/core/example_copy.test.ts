// The nn.Transformer tutorial's copy task: framing, masked loss, schedule, greedy decoding against a full
// decode, a short training run to >= 90% exact copies, and `emopia example copy`.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import {
  BOS, EOS, PAD, FIRST_DIGIT, VOCAB, COPY_DEFAULTS, CopyModel, framed, toBatch, copyLoss, greedyDecode,
  evaluateCopy, evaluationRng, copyLearningRate, trainCopyTask, type CopyTaskConfig,
} from '../../src/examples/copy_task.ts';
import { runCli } from '../helpers/cli.ts';

/** A shorter copy task (1-5 digits, d_model 32) that trains in seconds. */
const SHORT: CopyTaskConfig = { ...COPY_DEFAULTS, maxLen: 5, dModel: 32, dimFeedforward: 64, lr: 3e-3, warmup: 30, steps: 200, seed: 1 };

before(async () => {
  await initBackend('wasm');
});

test('framing: <bos> digits <eos> then <pad>; too long is an error', () => {
  assert.deepEqual(framed([3, 4], 6), [BOS, 3, 4, EOS, PAD, PAD]);
  assert.throws(() => framed([3, 4, 5], 4), /needs 5 positions, got 4/);
  const { ids, padding } = toBatch([framed([5], 4), framed([6, 7], 4)]);
  assert.deepEqual(ids.arraySync(), [[0, 5, 1, 2], [0, 6, 7, 1]]);
  assert.equal(padding.dtype, 'bool');
  assert.deepEqual(padding.arraySync(), [[1, 1, 1, 0], [1, 1, 1, 1]]);
  tf.dispose([ids, padding]);
  assert.throws(() => toBatch([framed([5], 4), framed([6], 5)]), /rows of equal length .* 4 tokens in row 0 and 5 in row 1/);
  assert.throws(() => toBatch([]), /at least one row/);
});

test('masked cross-entropy: pad targets are ignored, the mean is over real tokens', () => {
  // Three targets: two real ones (labels 3 and 5) and a pad. Loss = mean of -log softmax(row)[label] over the
  // two real rows (not over all three, and not their sum).
  const rows = [
    [0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, -1],
    [9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 50],
  ];
  const logits = tf.tensor3d([rows]); // (1, 3, V)
  const labels = tf.tensor2d([[3, 5, PAD]], [1, 3], 'int32');
  const nll = (row: number[], label: number) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[label]!;
  const expected = (nll(rows[0]!, 3) + nll(rows[1]!, 5)) / 2;
  const loss = copyLoss(logits, labels);
  assert.ok(Math.abs(loss.dataSync()[0]! - expected) < 1e-5, `${loss.dataSync()[0]} vs ${expected}`);
  // Its gradient at the pad position is exactly zero.
  const g = tf.grad((l: tf.Tensor) => copyLoss(l, labels))(logits);
  const gv = g.arraySync() as number[][][];
  assert.ok(gv[0]![2]!.every((v) => v === 0));
  assert.ok(gv[0]![0]!.some((v) => v !== 0) && gv[0]![1]!.some((v) => v !== 0));
  tf.dispose([logits, labels, loss, g]);
});

test('learning rate: linear warm-up (a tenth of a short run at most), then cosine decay to a tenth', () => {
  // Steps are 0-based update indices: step 4 is the 5th update.
  const cfg = { lr: 1e-3, warmup: 10, steps: 110 };
  assert.ok(Math.abs(copyLearningRate(cfg, 4) - 5e-4) < 1e-12);
  assert.ok(Math.abs(copyLearningRate(cfg, 9) - 1e-3) < 1e-12);
  assert.ok(Math.abs(copyLearningRate(cfg, 59) - 0.55e-3) < 1e-12);
  assert.ok(Math.abs(copyLearningRate(cfg, 109) - 1e-4) < 1e-12);
  // 30 steps with warmup 100: the warm-up shrinks to 3 steps, so the rate peaks and decays to a tenth.
  const short = { lr: 1e-3, warmup: 100, steps: 30 };
  assert.ok(Math.abs(copyLearningRate(short, 2) - 1e-3) < 1e-12);
  assert.ok(Math.abs(copyLearningRate(short, 29) - 1e-4) < 1e-12);
});

test('greedy decoding reuses the memory: each step equals a full teacher-forced decode of the same prefix', () => {
  const model = new CopyModel(SHORT, new Rng(3));
  const L = SHORT.maxLen + 2;
  const sources = [framed([3, 4, 5], L), framed([9], L)];
  const before = tf.memory().numTensors;
  const out = greedyDecode(model, sources, 4);
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
  // Recompute step by step with one decoder call over the final prefix: causal masking means the argmax at
  // position t depends only on tokens <= t, so the greedy tokens must be reproduced.
  const { ids, padding } = toBatch(sources);
  const memory = model.encode(ids, padding);
  for (const [b, toks] of out.entries()) {
    const prefix = [BOS, ...toks];
    const ended = toks.length < 4;
    const seq = ended ? [...prefix] : prefix.slice(0, 4);
    const tgt = tf.tensor2d([seq], [1, seq.length], 'int32');
    const mem = tf.slice(memory, [b, 0, 0], [1, -1, -1]);
    const pad = tf.slice(padding, [b, 0], [1, -1]);
    const arg = tf.tidy(() => tf.argMax(model.decode(tgt, mem, pad), -1).arraySync() as number[][]);
    const want = ended ? [...toks, EOS] : toks.slice(0, 4);
    assert.deepEqual(arg[0]!.slice(0, want.length), want, `row ${b}`);
    tf.dispose([tgt, mem, pad]);
  }
  tf.dispose([ids, padding, memory]);
  model.dispose();
});

test('a short copy task trains to >= 90% exact-sequence accuracy on fresh sequences, leaking no tensor', () => {
  const before = tf.memory().numTensors;
  const { model, losses } = trainCopyTask(SHORT);
  assert.equal(losses.length, SHORT.steps);
  assert.ok(losses.every(Number.isFinite));
  const first = losses.slice(0, 10).reduce((a, b) => a + b) / 10;
  const last = losses.slice(-10).reduce((a, b) => a + b) / 10;
  assert.ok(first > Math.log(VOCAB - FIRST_DIGIT) * 0.8, `initial loss ${first} near chance`);
  assert.ok(last < 0.2, `final loss ${last}`);
  const ev = evaluateCopy(model, evaluationRng(SHORT.seed), 200);
  assert.equal(ev.total, 200);
  assert.ok(ev.accuracy >= 0.9, `exact-sequence accuracy ${ev.accuracy}`);
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('emopia example copy: runs, prints JSON with the accuracy; bad options are usage errors', async () => {
  const r = await runCli(['example', 'copy', '--steps', '3', '--batch', '4', '--max-len', '3', '--eval', '5', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { accuracy: number; total: number; correct: number; steps: number; batch: number };
  assert.equal(res.total, 5);
  assert.equal(res.steps, 3);
  assert.equal(res.batch, 4);
  assert.equal(res.accuracy, res.correct / 5);
  assert.match(r.stderr, /copy: training/);
  const bad = await runCli(['example', 'copy', '--steps', 'zero']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--steps: expected an integer >= 1, got 'zero'/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
});
