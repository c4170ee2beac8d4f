/**
 * The compound-word model: EMOPIA's parameter names and count, chunked linear attention against the O(T²)
 * reference, causality, gradients. Step-by-step inference is tested in engine.test.ts and parity.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { InputError } from '../../src/errors.ts';
import { Rng } from '../../src/random.ts';
import { FAMILIES, type Family } from '../../src/music/vocab.ts';
import { EMOPIA_CLASSES, countParameters, makeConfig, type AttentionKind, type CPConfig } from '../../src/cp/config.ts';
import { causalLinearAttention, LINEAR_EPS } from '../../src/cp/attention.ts';
import { CPTransformer, familyIds } from '../../src/cp/model.ts';
import { sinusoidalTable } from '../../src/core/positional.ts';
import { assertClose, maxAbsDiff } from '../helpers/close.ts';

const TINY_CLASSES: Record<Family, number> = { tempo: 7, chord: 9, barbeat: 5, type: 4, pitch: 11, duration: 6, velocity: 5, emotion: 5 };

function tinyConfig(attention: AttentionKind, chunkSize = 4): CPConfig {
  return makeConfig('tiny', TINY_CLASSES, { attention, chunkSize });
}

/** Random words [B, T, 8] within each family's range (flat, FAMILIES order). */
function randomWords(rng: Rng, B: number, T: number): Int32Array {
  const out = new Int32Array(B * T * 8);
  for (let i = 0; i < B * T; i++) FAMILIES.forEach((f, j) => (out[i * 8 + j] = rng.nextInt(TINY_CLASSES[f])));
  return out;
}

function expectedEmopiaKeys(): string[] {
  const keys: string[] = [];
  for (const f of ['tempo', 'chord', 'barbeat', 'type', 'pitch', 'duration', 'velocity', 'emotion']) keys.push(`word_emb_${f}.lut.weight`);
  keys.push('in_linear.weight', 'in_linear.bias');
  for (let i = 0; i < 12; i++) {
    for (const p of ['query', 'key', 'value', 'out']) keys.push(`transformer_encoder.layers.${i}.attention.${p}_projection.weight`, `transformer_encoder.layers.${i}.attention.${p}_projection.bias`);
    for (const m of ['linear1', 'linear2', 'norm1', 'norm2']) keys.push(`transformer_encoder.layers.${i}.${m}.weight`, `transformer_encoder.layers.${i}.${m}.bias`);
  }
  keys.push('transformer_encoder.norm.weight', 'transformer_encoder.norm.bias', 'project_concat_type.weight', 'project_concat_type.bias');
  for (const f of ['tempo', 'chord', 'barbeat', 'type', 'pitch', 'duration', 'velocity', 'emotion']) keys.push(`proj_${f}.weight`, `proj_${f}.bias`);
  return keys;
}

test('emopia preset with EMOPIA class counts: 39,096,813 parameters under EMOPIA state_dict keys', async () => {
  await initBackend('wasm');
  const cfg = makeConfig('emopia', { ...EMOPIA_CLASSES });
  assert.equal(countParameters(cfg), 39_096_813);
  const before = tf.memory().numTensors;
  const model = new CPTransformer(cfg, new Rng(1));
  assert.equal(model.numParameters(), 39_096_813);
  const names = model.namedParameters().map(([n]) => n);
  assert.deepEqual(names, expectedEmopiaKeys());
  // PyTorch shapes of a few entries (Linear weights are [out, in] in the state dict).
  const shapes = new Map(model.namedParameters().map(([n, v]) => [n, v.shape]));
  assert.deepEqual(shapes.get('word_emb_pitch.lut.weight'), [87, 512]);
  assert.deepEqual(shapes.get('in_linear.weight'), [1376, 512]); // stored [in, out]
  assert.deepEqual(shapes.get('project_concat_type.weight'), [544, 512]);
  // The camelCase fields are the children registered under EMOPIA's names.
  const vars = new Map(model.namedParameters());
  const layer0 = model.transformerEncoder.layers.items[0]!;
  assert.equal(vars.get('in_linear.weight'), model.inLinear.weight);
  assert.equal(vars.get('project_concat_type.bias'), model.projectConcatType.bias);
  assert.equal(vars.get('transformer_encoder.layers.0.attention.query_projection.weight'), layer0.attention.queryProjection.weight);
  assert.equal(vars.get('transformer_encoder.layers.0.attention.out_projection.bias'), layer0.attention.outProjection.bias);
  assert.equal(vars.get('transformer_encoder.norm.weight'), model.transformerEncoder.norm.weight);
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});

/** out_i = sum_{j<=i} (fq_i·fk_j) v_j / (sum_{j<=i} fq_i·fk_j + eps), in float64 loops. */
function naiveLinear(fq: Float32Array, fk: Float32Array, v: Float32Array, BH: number, T: number, dh: number): Float64Array {
  const out = new Float64Array(BH * T * dh);
  for (let b = 0; b < BH; b++) {
    for (let i = 0; i < T; i++) {
      let den = 0;
      const num = new Float64Array(dh);
      for (let j = 0; j <= i; j++) {
        let a = 0;
        for (let c = 0; c < dh; c++) a += (fq[(b * T + i) * dh + c] as number) * (fk[(b * T + j) * dh + c] as number);
        den += a;
        for (let c = 0; c < dh; c++) num[c] = (num[c] as number) + a * (v[(b * T + j) * dh + c] as number);
      }
      for (let c = 0; c < dh; c++) out[(b * T + i) * dh + c] = (num[c] as number) / (den + LINEAR_EPS);
    }
  }
  return out;
}

test('chunked causal linear attention equals the O(T²) masked form for every chunk size', async () => {
  await initBackend('wasm');
  const rng = new Rng(7);
  const [B, h, T, dh] = [2, 2, 7, 3];
  const n = B * h * T * dh;
  const fq = Float32Array.from({ length: n }, () => rng.next() * 2); // positive, like elu+1
  const fk = Float32Array.from({ length: n }, () => rng.next() * 2);
  const v = Float32Array.from({ length: n }, () => rng.normal());
  const ref = naiveLinear(fq, fk, v, B * h, T, dh);
  const [tq, tk, tv] = [fq, fk, v].map((a) => tf.tensor4d(a, [B, h, T, dh]));
  const before = tf.memory().numTensors;
  for (const chunk of [1, 2, 3, 7, 10]) {
    const out = causalLinearAttention(tq!, tk!, tv!, chunk);
    assert.deepEqual(out.shape, [B, h, T, dh]);
    assertClose(out.dataSync(), ref, 1e-5, `chunk ${chunk}`);
    out.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([tq!, tk!, tv!]);
});

for (const attention of ['linear', 'softmax'] as const) {
  test(`${attention}: changing future words never changes earlier logits`, async () => {
    await initBackend('wasm');
    const model = new CPTransformer(tinyConfig(attention), new Rng(3));
    const rng = new Rng(11);
    const [B, T, cut] = [2, 10, 6];
    const a = randomWords(rng, B, T);
    const b = a.slice();
    for (let bi = 0; bi < B; bi++) for (let t = cut; t < T; t++) for (let j = 0; j < 8; j++) b[(bi * T + t) * 8 + j] = (a[(bi * T + t) * 8 + j]! + 1) % TINY_CLASSES[FAMILIES[j]!];
    const nt = tf.tensor2d(Int32Array.from({ length: B * T }, () => rng.nextInt(4)), [B, T], 'int32');
    const before = tf.memory().numTensors;
    const run = (w: Int32Array) => tf.tidy(() => model.forwardTrain(tf.tensor3d(w, [B, T, 8], 'int32'), nt));
    const la = run(a);
    const lb = run(b);
    for (const f of FAMILIES) {
      const n = TINY_CLASSES[f];
      const [xa, xb] = [la[f].arraySync() as number[][][], lb[f].arraySync() as number[][][]];
      for (let bi = 0; bi < B; bi++) {
        const early = maxAbsDiff(xa[bi]!.slice(0, cut).flat(), xb[bi]!.slice(0, cut).flat());
        assert.ok(early < 1e-6, `${f}: earlier logits moved by ${early}`);
        const late = maxAbsDiff(xa[bi]!.slice(cut).flat(), xb[bi]!.slice(cut).flat());
        assert.ok(late > 1e-4, `${f}: later logits should depend on the changed words (diff ${late})`);
        assert.equal(xa[bi]![0]!.length, n);
      }
    }
    tf.dispose([...Object.values(la), ...Object.values(lb)]);
    assert.equal(tf.memory().numTensors, before);
    nt.dispose();
    model.dispose();
  });
}

test('familyIds picks families by name from [B,T,8] and [B,8]', async () => {
  await initBackend('wasm');
  const w = tf.tensor2d([[0, 1, 2, 3, 4, 5, 6, 7], [10, 11, 12, 13, 14, 15, 16, 17]], [2, 8], 'int32');
  assert.deepEqual(Array.from(familyIds(w, 'pitch').dataSync()), [4, 14]);
  assert.deepEqual(Array.from(familyIds(w.reshape([1, 2, 8]), 'emotion').dataSync()), [7, 17]);
  tf.dispose(w);
});

test('linear: gradients flow to every parameter through the chunked attention; dropout is seeded', async () => {
  await initBackend('wasm');
  const model = new CPTransformer(tinyConfig('linear', 3), new Rng(9));
  const rng = new Rng(21);
  const [B, T] = [2, 7];
  const x = tf.tensor3d(randomWords(rng, B, T), [B, T, 8], 'int32');
  const nt = tf.tensor2d(Int32Array.from({ length: B * T }, () => rng.nextInt(4)), [B, T], 'int32');
  const before = tf.memory().numTensors;
  const loss = (r?: Rng) => () => tf.addN(FAMILIES.map((f) => tf.mean(tf.square(model.forwardTrain(x, nt, r)[f])))) as tf.Scalar;
  const { value, grads } = tf.variableGrads(loss(new Rng(1)));
  const names = model.namedParameters();
  for (const [name, v] of names) {
    const g = grads[v.name];
    assert.ok(g, `no gradient for ${name}`);
    const a = g.dataSync();
    assert.ok(a.every(Number.isFinite), `non-finite gradient for ${name}`);
    // Every embedding row of an unused id has zero gradient, but each table has some used rows.
    assert.ok(a.some((u) => u !== 0), `zero gradient for ${name}`);
  }
  const again = tf.tidy(() => loss(new Rng(1))());
  const other = tf.tidy(() => loss(new Rng(2))());
  assert.equal(again.dataSync()[0], value.dataSync()[0], 'same dropout seed, same loss');
  assert.notEqual(other.dataSync()[0], value.dataSync()[0], 'another dropout seed, another loss');
  tf.dispose([value, again, other, ...Object.values(grads)]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, nt]);
  model.dispose();
});

test('bad arguments to the attention and the model are one-line input errors', async () => {
  await initBackend('wasm');
  const q = tf.ones([1, 1, 3, 2]);
  assert.throws(() => causalLinearAttention(q, q, q, 0), (e) => e instanceof InputError && /chunk length that is an integer >= 1, got 0/.test(e.message));
  q.dispose();
  const model = new CPTransformer(tinyConfig('linear'), new Rng(3));
  const w = tf.zeros([1, 3, 7], 'int32');
  assert.throws(() => model.forwardHidden(w), (e) => e instanceof InputError && /^words: expected int32 \[B,T,8\], got \[1,3,7\]$/.test(e.message));
  tf.dispose(w);
  model.dispose();
});

test('positionRows: rows computed on demand are the full sinusoidal table\'s, whatever order they are asked in', async () => {
  await initBackend('cpu');
  const cfg = { ...tinyConfig('softmax'), maxLen: 600 };
  const d = cfg.dModel;
  const full = sinusoidalTable(cfg.maxLen, d);
  const model = new CPTransformer(cfg, new Rng(1));
  try {
    assert.deepEqual(Array.from(model.positionRow(3)), Array.from(full.subarray(3 * d, 4 * d)));
    assert.deepEqual(Array.from(model.positionRows(300)), Array.from(full.subarray(0, 300 * d))); // grown once
    assert.deepEqual(Array.from(model.positionRow(599)), Array.from(full.subarray(599 * d))); // grown to maxLen
    assert.equal(model.positionRows(0).length, 0);
    assert.throws(() => model.positionRow(600), /expected 0\.\.600 rows of the positional table, got 601/);
    assert.throws(() => model.positionRows(-1), InputError);
  } finally {
    model.dispose();
  }
});
