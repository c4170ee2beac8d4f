// Transformer properties on tiny configs: masks really block what they claim (future targets, padded source
// and target tokens), names equal torch.nn.Transformer's, no tensor leaks across a forward and training
// steps, and bad shapes give one-line InputErrors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { InputError } from '../../src/errors.ts';
import { Rng } from '../../src/random.ts';
import { causalMask, crossAttentionMask, paddingMask } from '../../src/core/masks.ts';
import { MultiHeadAttention } from '../../src/core/attention.ts';
import { TokenEmbedding } from '../../src/core/embedding.ts';
import { TRANSFORMER_DEFAULTS, Transformer, TransformerDecoderLayer, type TransformerConfig } from '../../src/core/transformer.ts';
import { assertClose, maxAbsDiff } from '../helpers/close.ts';

const CFG: TransformerConfig = { ...TRANSFORMER_DEFAULTS, dModel: 8, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 16, dropout: 0 };

// torch.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16,
// batch_first=True).state_dict(), keys and shapes in order, as printed by PyTorch 1.13.
const TORCH_KEYS: Array<[string, number[]]> = [
  ['encoder.layers.0.self_attn.in_proj_weight', [24, 8]], ['encoder.layers.0.self_attn.in_proj_bias', [24]],
  ['encoder.layers.0.self_attn.out_proj.weight', [8, 8]], ['encoder.layers.0.self_attn.out_proj.bias', [8]],
  ['encoder.layers.0.linear1.weight', [16, 8]], ['encoder.layers.0.linear1.bias', [16]],
  ['encoder.layers.0.linear2.weight', [8, 16]], ['encoder.layers.0.linear2.bias', [8]],
  ['encoder.layers.0.norm1.weight', [8]], ['encoder.layers.0.norm1.bias', [8]],
  ['encoder.layers.0.norm2.weight', [8]], ['encoder.layers.0.norm2.bias', [8]],
  ['encoder.norm.weight', [8]], ['encoder.norm.bias', [8]],
  ['decoder.layers.0.self_attn.in_proj_weight', [24, 8]], ['decoder.layers.0.self_attn.in_proj_bias', [24]],
  ['decoder.layers.0.self_attn.out_proj.weight', [8, 8]], ['decoder.layers.0.self_attn.out_proj.bias', [8]],
  ['decoder.layers.0.multihead_attn.in_proj_weight', [24, 8]], ['decoder.layers.0.multihead_attn.in_proj_bias', [24]],
  ['decoder.layers.0.multihead_attn.out_proj.weight', [8, 8]], ['decoder.layers.0.multihead_attn.out_proj.bias', [8]],
  ['decoder.layers.0.linear1.weight', [16, 8]], ['decoder.layers.0.linear1.bias', [16]],
  ['decoder.layers.0.linear2.weight', [8, 16]], ['decoder.layers.0.linear2.bias', [8]],
  ['decoder.layers.0.norm1.weight', [8]], ['decoder.layers.0.norm1.bias', [8]],
  ['decoder.layers.0.norm2.weight', [8]], ['decoder.layers.0.norm2.bias', [8]],
  ['decoder.layers.0.norm3.weight', [8]], ['decoder.layers.0.norm3.bias', [8]],
  ['decoder.norm.weight', [8]], ['decoder.norm.bias', [8]],
];

/** Rows [b, t, :] of a [B, L, d] array, for the (b, t) pairs where keep(b, t). */
function rows(x: tf.Tensor, keep: (b: number, t: number) => boolean): number[] {
  const [B, L, d] = x.shape as [number, number, number];
  const data = x.dataSync();
  const out: number[] = [];
  for (let b = 0; b < B; b++) for (let t = 0; t < L; t++) if (keep(b, t)) out.push(...data.subarray((b * L + t) * d, (b * L + t + 1) * d));
  return out;
}

/** A copy of x [B, L, d] with fresh random values at the (b, t) positions where change(b, t). */
function perturb(x: tf.Tensor, change: (b: number, t: number) => boolean, seed: number): tf.Tensor {
  const [B, L, d] = x.shape as [number, number, number];
  const data = Float32Array.from(x.dataSync());
  const rng = new Rng(seed);
  for (let b = 0; b < B; b++) for (let t = 0; t < L; t++) if (change(b, t)) for (let k = 0; k < d; k++) data[(b * L + t) * d + k] = 5 * rng.normal();
  return tf.tensor3d(data, [B, L, d]);
}

function expectInputError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
}

test("parameter names and state-dict shapes equal torch.nn.Transformer's", async () => {
  await initBackend('wasm');
  const m = new Transformer({ ...CFG, numEncoderLayers: 1, numDecoderLayers: 1 }, new Rng(1));
  const sd = m.stateDict();
  assert.deepEqual([...sd.entries()].map(([k, v]) => [k, v.shape]), TORCH_KEYS);
  assert.equal(m.numParameters(), TORCH_KEYS.reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b, 1), 0));
  // PyTorch's init: zero attention biases, LayerNorm 1/0, xavier_uniform bounds on every matrix.
  assert.ok(sd.get('encoder.layers.0.self_attn.in_proj_bias')!.data.every((v) => v === 0));
  assert.ok(sd.get('decoder.layers.0.multihead_attn.out_proj.bias')!.data.every((v) => v === 0));
  assert.ok(sd.get('decoder.norm.weight')!.data.every((v) => v === 1));
  const w = sd.get('encoder.layers.0.linear1.weight')!.data;
  const bound = Math.sqrt(6 / (16 + 8));
  assert.ok(w.every((v) => Math.abs(v) <= bound) && Math.max(...w.map(Math.abs)) > bound / 2);
  assert.deepEqual(TRANSFORMER_DEFAULTS, { dModel: 512, nhead: 8, numEncoderLayers: 6, numDecoderLayers: 6, dimFeedforward: 2048, dropout: 0.1, activation: 'relu', normFirst: false, layerNormEps: 1e-5 });
  m.dispose();
});

for (const [label, extra] of [['post-norm relu', {}], ['norm-first gelu', { normFirst: true, activation: 'gelu' }]] as const) {
  test(`${label}: changing future target tokens never changes earlier outputs`, async () => {
    await initBackend('wasm');
    const m = new Transformer({ ...CFG, ...extra }, new Rng(2));
    const src = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 3);
    const tgt = tf.randomNormal([2, 6, 8], 0, 1, 'float32', 4);
    const tgtMask = causalMask(6);
    const y0 = m.forward(src, tgt, { tgtMask });
    for (const k of [1, 3, 5]) {
      const tgt2 = perturb(tgt, (_, t) => t >= k, k);
      const y1 = m.forward(src, tgt2, { tgtMask });
      assertClose(rows(y1, (_, t) => t < k), rows(y0, (_, t) => t < k), 1e-5, `positions < ${k}`);
      assert.ok(maxAbsDiff(rows(y1, (_, t) => t === k), rows(y0, (_, t) => t === k)) > 1e-2, `position ${k} does change`);
      tf.dispose([tgt2, y1]);
    }
    // Without the causal mask the past does see the future.
    const free0 = m.forward(src, tgt);
    const tgt3 = perturb(tgt, (_, t) => t >= 3, 9);
    const free1 = m.forward(src, tgt3);
    assert.ok(maxAbsDiff(rows(free1, (_, t) => t < 3), rows(free0, (_, t) => t < 3)) > 1e-2);
    tf.dispose([src, tgt, tgtMask, y0, free0, tgt3, free1]);
    m.dispose();
  });

  test(`${label}: changing padded source or target tokens never changes outputs at real positions`, async () => {
    await initBackend('wasm');
    const m = new Transformer({ ...CFG, ...extra }, new Rng(5));
    const srcLen = [3, 5];
    const tgtLen = [4, 2];
    const src = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 6);
    const tgt = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 7);
    const srcPadding = paddingMask(srcLen, 5);
    const tgtPadding = paddingMask(tgtLen, 4);
    const opts = { srcPadding, memoryPadding: srcPadding, tgtPadding, tgtMask: causalMask(4) };
    const realSrc = (b: number, t: number) => t < (srcLen[b] as number);
    const realTgt = (b: number, t: number) => t < (tgtLen[b] as number);
    const y0 = m.forward(src, tgt, opts);
    const mem0 = m.encode(src, { srcPadding });

    // Encoder self-attention and decoder cross-attention: padded source rows changed.
    const src2 = perturb(src, (b, t) => !realSrc(b, t), 11);
    const mem1 = m.encode(src2, { srcPadding });
    assertClose(rows(mem1, realSrc), rows(mem0, realSrc), 1e-5, 'encoder at real source positions');
    const y1 = m.forward(src2, tgt, opts);
    assertClose(rows(y1, realTgt), rows(y0, realTgt), 1e-5, 'decoder after padded source changes');

    // Decoder self-attention: padded target rows changed (the causal mask alone would let later rows see them).
    const tgt2 = perturb(tgt, (b, t) => !realTgt(b, t), 12);
    const y2 = m.forward(src, tgt2, opts);
    assertClose(rows(y2, realTgt), rows(y0, realTgt), 1e-5, 'decoder after padded target changes');

    // Without the padding masks, the same changes do reach real positions.
    const y3 = m.forward(src2, tgt, { tgtMask: opts.tgtMask });
    const y4 = m.forward(src, tgt, { tgtMask: opts.tgtMask });
    assert.ok(maxAbsDiff(rows(y3, realTgt), rows(y4, realTgt)) > 1e-2, 'unmasked padding leaks');
    tf.dispose([src, tgt, srcPadding, tgtPadding, opts.tgtMask, y0, mem0, src2, mem1, y1, tgt2, y2, y3, y4]);
    m.dispose();
  });
}

test('cross-attention mask: a decoder layer ignores memory beyond each source length', async () => {
  await initBackend('wasm');
  const layer = new TransformerDecoderLayer(CFG, new Rng(8));
  const x = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 1);
  const memory = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 2);
  const srcLen = [2, 4];
  const cross = crossAttentionMask([3, 3], srcLen);
  const y0 = layer.forward(x, memory, causalMask(3), cross);
  const memory2 = perturb(memory, (b, t) => t >= (srcLen[b] as number), 3);
  const y1 = layer.forward(x, memory2, causalMask(3), cross);
  assertClose(y1.dataSync(), y0.dataSync(), 1e-5, 'decoder layer output');
  const y2 = layer.forward(x, memory2, causalMask(3));
  assert.ok(maxAbsDiff(y2.dataSync(), y0.dataSync()) > 1e-2, 'without the mask the padded memory is read');
  tf.dispose([x, memory, cross, y0, memory2, y1, y2]);
  layer.dispose();
});

test('multi-head attention: fused self/cross paths equal the general path; masking changes the output', async () => {
  await initBackend('wasm');
  const mha = new MultiHeadAttention(8, 2, new Rng(3));
  tf.tidy(() => {
    const x = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 1);
    const mem = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 2);
    assertClose(mha.forward(x, x, x).dataSync(), mha.forward(x, x.clone(), x.clone()).dataSync(), 1e-6, 'self');
    assertClose(mha.forward(x, mem, mem).dataSync(), mha.forward(x, mem, mem.clone()).dataSync(), 1e-6, 'cross');
    const masked = mha.forward(x, mem, mem, crossAttentionMask([3, 3], [2, 5]));
    assert.ok(maxAbsDiff(masked.dataSync(), mha.forward(x, mem, mem).dataSync()) > 1e-3);
  });
  expectInputError(() => mha.forward(tf.zeros([2, 3, 8]), tf.zeros([2, 4, 8]), tf.zeros([2, 4, 8]), causalMask(3)), /expected a mask broadcastable to \[B,h,T,S\]=\[2,2,3,4\].*got \[3,3\]/);
  expectInputError(() => new MultiHeadAttention(10, 3, new Rng(1)), /divisible by nhead, got d_model=10, nhead=3/);
  mha.dispose();
});

test('TokenEmbedding scales by sqrt(d) when asked; dropout is active only with an rng', async () => {
  await initBackend('wasm');
  const plain = new TokenEmbedding(9, 4, new Rng(1));
  const scaled = new TokenEmbedding(9, 4, new Rng(1), { scale: true });
  const ids = tf.tensor2d([[3, 0], [8, 3]], undefined, 'int32');
  const e = plain.forward(ids);
  assert.deepEqual(e.shape, [2, 2, 4]);
  const row3 = Array.from(plain.weight.dataSync().subarray(12, 16));
  assertClose(rows(e, (b, t) => b === 0 && t === 0), row3, 0, 'row 3');
  assertClose(scaled.forward(ids).dataSync(), e.dataSync().map((v) => v * 2), 1e-6, 'scaled by sqrt(4)');

  const m = new Transformer({ ...CFG, dropout: 0.3 }, new Rng(4));
  const src = tf.randomNormal([1, 4, 8], 0, 1, 'float32', 1);
  const tgt = tf.randomNormal([1, 3, 8], 0, 1, 'float32', 2);
  const evalA = m.forward(src, tgt).dataSync();
  const evalB = m.forward(src, tgt).dataSync();
  const trainA = m.forward(src, tgt, {}, new Rng(7)).dataSync();
  const trainB = m.forward(src, tgt, {}, new Rng(7)).dataSync();
  assertClose(evalA, evalB, 0, 'eval is deterministic');
  assertClose(trainA, trainB, 0, 'training with the same seed is reproducible');
  assert.ok(maxAbsDiff(trainA, evalA) > 1e-2, 'dropout changes the training output');
  tf.dispose([ids, e, src, tgt]);
  plain.dispose();
  scaled.dispose();
  m.dispose();
});

for (const backend of ['wasm', 'cpu'] as const) {
  test(`${backend}: no tensor leaks across a forward and training steps (variableGrads + optimizer)`, async () => {
    await initBackend(backend);
    const m = new Transformer({ ...CFG, dropout: 0.1 }, new Rng(9));
    const src = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 1);
    const tgt = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 2);
    const target = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 3);
    const opts = { srcPadding: paddingMask([3, 5], 5), memoryPadding: paddingMask([3, 5], 5), tgtPadding: paddingMask([4, 2], 4), tgtMask: causalMask(4) };
    const rng = new Rng(10);
    const step = (opt: tf.Optimizer): number => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(m.forward(src, tgt, opts, rng), target))) as tf.Scalar, m.parameters());
      assert.equal(Object.keys(grads).length, m.parameters().length, 'every parameter gets a gradient');
      opt.applyGradients(grads);
      const loss = value.dataSync()[0] as number;
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    };

    const n0 = tf.memory().numTensors;
    m.forward(src, tgt, opts).dispose();
    m.forward(src, tgt, opts, new Rng(1)).dispose();
    assert.equal(tf.memory().numTensors, n0, 'forward (eval and training mode)');
    // An optimizer keeps its own state after its first step (SGD: the learning-rate scalar; Adam: two moments
    // per parameter). Counted after that first step, further steps must not add a single tensor.
    const sgd = tf.train.sgd(0.05);
    const first = step(sgd);
    const n1 = tf.memory().numTensors;
    assert.equal(n1, n0 + 1, 'SGD keeps only its learning rate');
    step(sgd);
    assert.equal(tf.memory().numTensors, n1, 'SGD step');
    const adam = tf.train.adam(1e-2);
    step(adam);
    const n2 = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 3; i++) {
      m.forward(src, tgt, opts).dispose();
      last = step(adam);
    }
    assert.equal(tf.memory().numTensors, n2, 'forward + Adam steps');
    assert.ok(Number.isFinite(last) && last < first, `loss falls: ${first} -> ${last}`);
    adam.dispose();
    sgd.dispose();
    tf.dispose([src, tgt, target, ...Object.values(opts)]);
    m.dispose();
  });
}

test('shapes that do not fit give one-line InputErrors naming expected and received shapes', async () => {
  await initBackend('wasm');
  const m = new Transformer(CFG, new Rng(1));
  // Every input exists before counting, and the failing calls run outside any tidy, so a tensor that a failed
  // call leaves behind shows in the count.
  const src = tf.zeros([2, 5, 8]);
  const tgt = tf.zeros([2, 4, 8]);
  const inputs = {
    src7: tf.zeros([2, 5, 7]),
    tgt3: tf.zeros([3, 4, 8]),
    rank2: tf.zeros([5, 8]),
    pad4: paddingMask([3, 4], 4),
    causal5: causalMask(5),
    floatPad: tf.ones([2, 4]),
    mem1: tf.zeros([1, 5, 8]),
    memMask: tf.ones([4, 5], 'bool'),
    badMemMask: tf.ones([4, 3], 'bool'),
  };
  const n0 = tf.memory().numTensors;
  expectInputError(() => m.forward(inputs.src7, tgt), /transformer src: expected shape \[B,L,8\], got \[2,5,7\]/);
  expectInputError(() => m.forward(src, inputs.tgt3), /transformer tgt: expected shape \[2,L,8\], got \[3,4,8\]/);
  expectInputError(() => m.encode(inputs.rank2), /expected shape \[B,L,8\], got \[5,8\]/);
  expectInputError(() => m.forward(src, tgt, { srcPadding: inputs.pad4 }), /srcPadding: expected shape \[2,5\], got \[2,4\]/);
  expectInputError(() => m.forward(src, tgt, { tgtMask: inputs.causal5 }), /tgtMask: expected shape \[4,4\], got \[5,5\]/);
  expectInputError(() => m.forward(src, tgt, { tgtPadding: inputs.floatPad }), /tgtPadding: expected a 'bool' mask/);
  expectInputError(() => m.decode(tgt, inputs.mem1), /transformer memory: expected shape \[2,L,8\], got \[1,5,8\]/);
  expectInputError(() => m.forward(src, tgt, { memoryMask: inputs.badMemMask }), /memoryMask: expected shape \[4,5\], got \[4,3\]/);
  assert.equal(tf.memory().numTensors, n0, 'failed calls release their tensors');
  tf.tidy(() => assert.deepEqual(m.forward(src, tgt, { memoryMask: inputs.memMask }).shape, [2, 4, 8]));
  tf.dispose([src, tgt, ...Object.values(inputs)]);
  expectInputError(() => new Transformer({ ...CFG, nhead: 3 }, new Rng(1)), /dModel divisible by nhead, got 8 and 3/);
  expectInputError(() => new Transformer({ ...CFG, activation: 'tanh' as 'relu' }, new Rng(1)), /activation 'relu' or 'gelu', got 'tanh'/);
  m.dispose();
});
