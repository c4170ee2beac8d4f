/** The core training module: Adam and clip_grad_norm_ against a PyTorch fixture and closed forms, state round trip, named gradients, and the learning-rate schedules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tf, initBackend } from '../../src/backend.ts';
import { Adam, adamStepConstants, adamUpdateRange, clipGradNorm, namedGrads } from '../../src/core/train/optim.ts';
import { cosineLearningRate, learningRate } from '../../src/core/train/schedule.ts';
import { assertClose } from '../helpers/close.ts';

interface AdamFixture {
  lr: number;
  max_norm: number;
  x: number[];
  t: number[];
  init: { w: number[]; b: number[] };
  steps: Array<{ loss: number; norm: number; w: number[]; b: number[]; exp_avg_sq_w: number[] }>;
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/adam.json', import.meta.url), 'utf8')) as AdamFixture;

function variableOf(t: tf.Tensor): tf.Variable {
  const v = tf.variable(t);
  t.dispose();
  return v;
}

/** Gradients of 4·Σ(xW + b − t)² for the fixture's problem, by tfjs autodiff. */
function gradsOf(w: tf.Variable, b: tf.Variable, x: tf.Tensor, t: tf.Tensor): { loss: number; grads: Map<string, tf.Tensor> } {
  const { value, grads } = tf.variableGrads(() => tf.mul(4, tf.sum(tf.square(tf.sub(tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b), t)))) as tf.Scalar, [w, b]);
  const loss = value.dataSync()[0] as number;
  value.dispose();
  return { loss, grads: new Map([['w', grads[w.name] as tf.Tensor], ['b', grads[b.name] as tf.Tensor]]) };
}

test('Adam with clip_grad_norm_(3) matches torch.optim.Adam step by step (PyTorch fixture)', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  const x = tf.tensor2d(fx.x, [5, 3]);
  const t = tf.tensor2d(fx.t, [5, 2]);
  const w = variableOf(tf.tensor2d(fx.init.w, [3, 2]));
  const b = variableOf(tf.tensor1d(fx.init.b));
  const opt = new Adam([['w', w], ['b', b]]);
  for (const [i, ref] of fx.steps.entries()) {
    const { loss, grads } = gradsOf(w, b, x, t);
    assertClose([loss], [ref.loss], 1e-3 * ref.loss, `loss at step ${i + 1}`);
    const clipped = clipGradNorm(grads, fx.max_norm);
    assertClose([clipped.norm], [ref.norm], 1e-4 * ref.norm, `grad norm at step ${i + 1}`);
    opt.apply(clipped.grads, fx.lr);
    tf.dispose([...grads.values(), ...clipped.grads.values()]);
    assertClose(w.dataSync(), ref.w, 2e-6, `w after step ${i + 1}`);
    assertClose(b.dataSync(), ref.b, 2e-6, `b after step ${i + 1}`);
    const sq = opt.state().tensors.get('exp_avg_sq.w');
    assert.ok(sq);
    assertClose(sq.data, ref.exp_avg_sq_w, 1e-6, `exp_avg_sq(w) after step ${i + 1}`);
  }
  assert.equal(opt.step, fx.steps.length);
  opt.dispose();
  tf.dispose([x, t, w, b]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('Adam first step moves each parameter by lr·sign(g) (closed form), and its state round-trips exactly', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  const p = variableOf(tf.tensor1d([1, -2, 3, 0.5]));
  const g = tf.tensor1d([0.3, -4, 1e-3, 0]);
  const opt = new Adam([['p', p]]);
  opt.apply(new Map([['p', g]]), 0.1);
  // m̂ = g, v̂ = g², update = lr·g/(|g| + eps): lr·sign(g) up to eps; zero gradient -> no move.
  const g0 = [0.3, -4, 1e-3, 0];
  const expected = [1, -2, 3, 0.5].map((p0, i) => p0 - (0.1 * g0[i]!) / (Math.abs(g0[i]!) + 1e-8));
  assertClose(p.dataSync(), expected, 5e-7, 'p after one step');
  assertClose(expected, [0.9, -1.9, 2.9000010, 0.5], 1e-8, 'closed form');
  opt.apply(new Map([['p', g]]), 0.1);
  const saved = opt.state();
  const snapshot = Float32Array.from(p.dataSync());
  // A fresh optimizer restored from the state continues exactly like the original.
  const q = variableOf(tf.tensor1d(snapshot));
  const opt2 = new Adam([['p', q]]);
  opt2.loadState(saved);
  assert.equal(opt2.step, 2);
  opt.apply(new Map([['p', g]]), 0.05);
  opt2.apply(new Map([['p', g]]), 0.05);
  assert.deepEqual(Array.from(q.dataSync()), Array.from(p.dataSync()));
  assert.throws(() => opt2.loadState({ step: 1, tensors: new Map([...saved.tensors].slice(0, 1)) }), /missing 'exp_avg_sq\.p'/);
  opt.dispose();
  opt2.dispose();
  tf.dispose([p, q, g]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('clipGradNorm scales by maxNorm/(norm + 1e-6) only when the norm exceeds maxNorm', async () => {
  await initBackend('wasm');
  const a: tf.Tensor = tf.tensor1d([3, 0]);
  const c: tf.Tensor = tf.tensor2d([[0, 4]]); // global norm 5
  const big = clipGradNorm(new Map([['a', a], ['c', c]]), 3);
  assertClose([big.norm], [5], 1e-6, 'norm');
  const k = 3 / (5 + 1e-6);
  assertClose(big.grads.get('a')!.dataSync(), [3 * k, 0], 1e-6, 'a clipped');
  assertClose(big.grads.get('c')!.dataSync(), [0, 4 * k], 1e-6, 'c clipped');
  const small = clipGradNorm(new Map([['a', a], ['c', c]]), 10);
  assert.deepEqual(Array.from(small.grads.get('a')!.dataSync()), [3, 0]);
  tf.dispose([a, c, ...big.grads.values(), ...small.grads.values()]);
});

test('schedule: linear warm-up to the peak, then peak·sqrt(warmup/t), independent of run length', () => {
  const cfg = { peakLr: 1e-3, warmup: 4 };
  assertClose([0, 1, 2, 3].map((s) => learningRate(s, cfg)), [0.25e-3, 0.5e-3, 0.75e-3, 1e-3], 1e-12, 'warm-up');
  assertClose([learningRate(15, cfg), learningRate(99, cfg)], [1e-3 * Math.sqrt(4 / 16), 1e-3 * Math.sqrt(4 / 100)], 1e-12, 'decay');
  assert.equal(learningRate(0, { peakLr: 2e-4, warmup: 0 }), 2e-4);
});

test('cosine schedule: linear warm-up, then from the peak down to finalLr at the last planned step', () => {
  const cfg = { peakLr: 1e-3, warmup: 10, steps: 110, finalLr: 1e-4 };
  assertClose([4, 9].map((s) => cosineLearningRate(s, cfg)), [5e-4, 1e-3], 1e-12, 'warm-up');
  // Half-way through the decay (update 60 of 110) the cosine is 0: the mean of the peak and the floor.
  assertClose([cosineLearningRate(59, cfg), cosineLearningRate(109, cfg), cosineLearningRate(500, cfg)], [0.55e-3, 1e-4, 1e-4], 1e-12, 'decay');
  assertClose([cosineLearningRate(0, { ...cfg, warmup: 0 })], [1e-3 - (1e-3 - 1e-4) * 0.5 * (1 - Math.cos(Math.PI / 110))], 1e-15, 'no warm-up: the first update is already past the peak');
});

test('namedGrads keys the gradients by the parameters\' own names, with the values of tf.variableGrads', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  const w = variableOf(tf.tensor1d([1, 2]));
  const b = variableOf(tf.scalar(3));
  const f = () => tf.sum(tf.mul(tf.square(w), b)) as tf.Scalar; // 3·(1 + 4)
  const { value, grads } = namedGrads(f, [['layer.weight', w], ['layer.bias', b]]);
  assert.equal(value.dataSync()[0], 15);
  assert.deepEqual([...grads.keys()].sort(), ['layer.bias', 'layer.weight']);
  assertClose(grads.get('layer.weight')!.dataSync(), [6, 12], 1e-6, 'd/dw = 2·w·b');
  assertClose(grads.get('layer.bias')!.dataSync(), [5], 1e-6, 'd/db = Σ w²');
  tf.dispose([value, ...grads.values(), w, b]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('adamUpdateRange (the sharded update of data-parallel training) is clipping times coef then Adam.apply, bit for bit, over several steps', async () => {
  await initBackend('wasm');
  const n = 1000;
  const rnd = (seed: number, scale: number) => Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed * 1000 + i * 12.9898) * scale));
  const w0 = rnd(1, 0.5);
  const p = variableOf(tf.tensor1d(w0));
  const adam = new Adam([['p', p]]);
  const host = { p: w0.slice(), m: new Float32Array(n), v: new Float32Array(n) };
  try {
    for (let step = 1; step <= 4; step++) {
      const g = rnd(step + 1, step === 2 ? 1e-4 : 3); // one step below the clipping norm
      const coef = Math.min(1, 3 / (Math.hypot(...g) + 1e-6));
      const lr = 1e-3 * step;
      const gt = tf.tensor1d(g);
      const clipped = tf.mul(gt, coef);
      adam.apply(new Map([['p', clipped]]), lr);
      tf.dispose([gt, clipped]);
      // Two shards, as two workers would update them.
      const c = adamStepConstants(step, lr);
      adamUpdateRange(host.p, g, host.m, host.v, 0, 400, coef, c);
      adamUpdateRange(host.p, g, host.m, host.v, 400, n, coef, c);
      assert.deepEqual(host.p, p.dataSync(), `weights after step ${step}`);
      const st = adam.state();
      assert.deepEqual(host.m, st.tensors.get('exp_avg.p')?.data, `first moments after step ${step}`);
      assert.deepEqual(host.v, st.tensors.get('exp_avg_sq.p')?.data, `second moments after step ${step}`);
    }
  } finally {
    adam.dispose();
    p.dispose();
  }
});
