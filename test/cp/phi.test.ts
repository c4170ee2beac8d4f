/**
 * Linear attention's phi = elu + 1 on the host engines (src/cp/phi_host.ts, wasm/step/step.c `vphi`): the same
 * float32 bits as tfjs-wasm's tf.add(tf.elu(x), 1), and every engine equal to the full pass on a model whose
 * first-word normaliser phi(q).z + 1e-6 sits near the eps (where exp(x) in place of float32 elu + 1 moved the
 * logits by far more than 1e-4); the attention check's tolerance per backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import { FAMILIES } from '../../src/music/vocab.ts';
import { ATTENTION_CHECK_TOL, ATTENTION_CHECK_TOL_OTHER_BACKENDS, ENGINE_NAMES, attentionCheckTol, checkIncremental, openStepper } from '../../src/cp/engine.ts';
import { phiF32 } from '../../src/cp/phi_host.ts';
import { assertClose } from '../helpers/close.ts';
import { classes, tinyModel } from '../helpers/tiny_model.ts';

test('phiF32 equals tfjs-wasm elu + 1 to the bit (grid near -1, zero from -24.5 ln2, saturation, positives)', async () => {
  await initBackend('wasm');
  const rng = new Rng(3);
  const xs: number[] = [0, -0, 1e-30, -1e-30, -1e-45, 2.5, 100, -100, -17.32868003845215, -17.3, -17, -16.982107162475586, -16.982105255126953, -16.6, -0.7];
  for (let i = 0; i < 20000; i++) xs.push(Math.fround(-20 * rng.next() ** 2), Math.fround(-rng.next()), Math.fround(4 * rng.next()));
  const want = tf.tidy(() => tf.add(tf.elu(tf.tensor1d(xs)), 1)).dataSync() as Float32Array; // (n,)
  let bad = 0;
  xs.forEach((x, i) => {
    if (!Object.is(phiF32(Math.fround(x)), want[i])) bad++;
  });
  assert.equal(bad, 0, `phiF32 differs from tfjs-wasm on ${bad} of ${xs.length} inputs`);
  // Where exp(x) is not on elu's grid: 0 from -24.5 ln2 down, multiples of 2^-24 below ~-0.7.
  assert.equal(phiF32(-17), 0);
  assert.equal(phiF32(Math.fround(-16.6)), 2 ** -24);
});

/** A tiny linear model whose first layer's keys are -18..-15 whatever the word: phi(k) ~ 0..3e-7, so the
 * normaliser phi(q).z + 1e-6 (phi(q) = 1) is near its eps on every word. */
function nearEpsModel() {
  const model = tinyModel(11);
  const sd = model.stateDict();
  const p = 'transformer_encoder.layers.0.attention.';
  const kw = sd.get(`${p}key_projection.weight`)!;
  const kb = sd.get(`${p}key_projection.bias`)!;
  const qw = sd.get(`${p}query_projection.weight`)!;
  const qb = sd.get(`${p}query_projection.bias`)!;
  const vb = sd.get(`${p}value_projection.bias`)!;
  kw.data.fill(0);
  qw.data.fill(0);
  qb.data.fill(0);
  for (let i = 0; i < kb.data.length; i++) kb.data[i] = -18 + (3 * i) / (kb.data.length - 1);
  for (let i = 0; i < vb.data.length; i++) vb.data[i] = 3;
  model.loadStateDict(sd);
  return model;
}

test('near-eps normaliser: every engine equals the full pass within 1e-4 (exp(x) for phi missed by far more)', async () => {
  await initBackend('wasm');
  const model = nearEpsModel();
  const rng = new Rng(5);
  const T = 8;
  const words = Array.from({ length: T }, () => FAMILIES.map((f) => rng.nextInt(classes[f])));
  const full = tf.tidy(() => model.typeLogits(model.forwardHidden(tf.tensor3d(words.flat(), [1, T, 8], 'int32'))).reshape([T, -1])); // (T, n_type)
  const want = full.dataSync() as Float32Array;
  full.dispose();
  const n = classes.type;
  for (const engine of ENGINE_NAMES) {
    const s = openStepper(model, 1, engine);
    for (let t = 0; t < T; t++) {
      s.feed([words[t] as number[]]);
      assertClose(s.typeLogits(), want.subarray(t * n, (t + 1) * n), 1e-4, `${engine} type logits at word ${t}`);
    }
    s.dispose();
  }
  const diffs = checkIncremental(model, words);
  for (const engine of ENGINE_NAMES) assert.ok((diffs[engine] as number) <= 1e-4, `${engine}: ${diffs[engine]}`);
  model.dispose();
});

test('the attention check: 1e-3 on the wasm backend, 0.1 on the others (tfjs-cpu rounds elu differently)', () => {
  assert.equal(ATTENTION_CHECK_TOL, 1e-3);
  assert.equal(attentionCheckTol('wasm'), ATTENTION_CHECK_TOL);
  assert.equal(attentionCheckTol('cpu'), ATTENTION_CHECK_TOL_OTHER_BACKENDS);
  assert.equal(ATTENTION_CHECK_TOL_OTHER_BACKENDS, 0.1);
});
