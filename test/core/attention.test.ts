// scaledDotProductAttention against a plain-loop reference, the key/value-cache use (queries at an offset
// with causalMask(T, {offset}) equal the rows of a full causal pass), and masks of every documented rank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import { andMasks, causalMask, keyPaddingMask, paddingMask } from '../../src/core/masks.ts';
import { scaledDotProductAttention } from '../../src/core/attention.ts';
import { Transformer, TRANSFORMER_DEFAULTS } from '../../src/core/transformer.ts';
import { assertClose } from '../helpers/close.ts';

/** softmax(q kᵀ/sqrt(dh) with blocked = -1e9) v in plain loops; q [T,dh], k/v [S,dh], allowed(t,s). */
function reference(q: number[][], k: number[][], v: number[][], allowed: (t: number, s: number) => boolean): number[][] {
  const dh = q[0]!.length;
  return q.map((qt, t) => {
    const scores = k.map((ks, s) => (allowed(t, s) ? qt.reduce((a, x, i) => a + x * ks[i]!, 0) / Math.sqrt(dh) : -1e9));
    const m = Math.max(...scores);
    const e = scores.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    return v[0]!.map((_, j) => e.reduce((a, w, s) => a + (w / z) * v[s]![j]!, 0));
  });
}

for (const backend of ['wasm', 'cpu'] as const) {
  test(`${backend}: attention equals the plain-loop reference under a [B,T,S] mask`, async () => {
    await initBackend(backend);
    const [B, h, T, S, dh] = [2, 2, 3, 5, 4];
    const q = tf.randomNormal([B, h, T, dh], 0, 1, 'float32', 1);
    const k = tf.randomNormal([B, h, S, dh], 0, 1, 'float32', 2);
    const v = tf.randomNormal([B, h, S, dh], 0, 1, 'float32', 3);
    const lengths = [2, 5];
    const mask = andMasks(keyPaddingMask(paddingMask(lengths, S)), causalMask(T, { offset: 2, keyLength: S }))!; // (B, T, S)
    const out = scaledDotProductAttention(q, k, v, mask).arraySync() as number[][][][];
    const [qa, ka, va] = [q, k, v].map((x) => x.arraySync() as number[][][][]) as [number[][][][], number[][][][], number[][][][]];
    for (let b = 0; b < B; b++) {
      for (let hh = 0; hh < h; hh++) {
        const ref = reference(qa[b]![hh]!, ka[b]![hh]!, va[b]![hh]!, (t, s) => s < lengths[b]! && s <= 2 + t);
        assertClose(out[b]![hh]!.flat(), ref.flat(), 1e-5, `b${b} h${hh}`);
      }
    }
    tf.dispose([q, k, v, mask]);
  });
}

test('key/value cache: queries at an offset with causalMask(T, {offset}) equal the rows of the full pass', async () => {
  await initBackend('wasm');
  const n0 = tf.memory().numTensors;
  tf.tidy(() => {
    const [B, h, L, dh] = [1, 2, 6, 4];
    const q = tf.randomNormal([B, h, L, dh], 0, 1, 'float32', 4);
    const k = tf.randomNormal([B, h, L, dh], 0, 1, 'float32', 5);
    const v = tf.randomNormal([B, h, L, dh], 0, 1, 'float32', 6);
    const full = scaledDotProductAttention(q, k, v, causalMask(L)); // (B, h, L, dh)
    for (const [offset, T] of [[0, 1], [3, 1], [4, 2], [5, 1]] as const) {
      const qStep = tf.slice(q, [0, 0, offset, 0], [B, h, T, dh]);
      const kSeen = tf.slice(k, [0, 0, 0, 0], [B, h, offset + T, dh]);
      const vSeen = tf.slice(v, [0, 0, 0, 0], [B, h, offset + T, dh]);
      const step = scaledDotProductAttention(qStep, kSeen, vSeen, causalMask(T, { offset }));
      assertClose(step.dataSync(), tf.slice(full, [0, 0, offset, 0], [B, h, T, dh]).dataSync(), 1e-5, `offset ${offset}`);
    }
  });
  assert.equal(tf.memory().numTensors, n0);
});

test('a batch element with no real source token gives finite outputs (masked rows are uniform, not NaN)', async () => {
  await initBackend('wasm');
  const m = new Transformer({ ...TRANSFORMER_DEFAULTS, dModel: 8, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 16, dropout: 0 }, new Rng(1));
  tf.tidy(() => {
    const srcPadding = paddingMask([0, 3], 3); // element 0 has no real source token at all
    const y = m.forward(tf.randomNormal([2, 3, 8], 0, 1, 'float32', 1), tf.randomNormal([2, 2, 8], 0, 1, 'float32', 2), {
      srcPadding,
      memoryPadding: srcPadding,
      tgtMask: causalMask(2),
    });
    assert.ok(y.dataSync().every(Number.isFinite));
  });
  m.dispose();
});

test('masks of every documented rank ([T,S], [B,1,S], [B,T,S], [B,h,T,S]) give the same attention; others are refused', async () => {
  await initBackend('wasm');
  const n0 = tf.memory().numTensors;
  tf.tidy(() => {
    const [B, h, T, S, dh] = [2, 3, 4, 5, 2];
    const q = tf.randomNormal([B, h, T, dh], 0, 1, 'float32', 7);
    const k = tf.randomNormal([B, h, S, dh], 0, 1, 'float32', 8);
    const v = tf.randomNormal([B, h, S, dh], 0, 1, 'float32', 9);
    // Key padding (lengths 3 and 5) in three layouts; the causal mask [T,S] alone, and tiled to [B,h,T,S].
    const keys = keyPaddingMask(paddingMask([3, 5], S)); // (B, 1, S)
    const keyRef = scaledDotProductAttention(q, k, v, keys).dataSync();
    assertClose(scaledDotProductAttention(q, k, v, tf.tile(keys, [1, T, 1])).dataSync(), keyRef, 0, '[B,T,S] = [B,1,S]');
    assertClose(scaledDotProductAttention(q, k, v, tf.tile(tf.expandDims(keys, 1), [1, h, T, 1])).dataSync(), keyRef, 0, '[B,h,T,S] = [B,1,S]');
    const causal = causalMask(T, { offset: 1, keyLength: S }); // (T, S)
    const causalRef = scaledDotProductAttention(q, k, v, causal).dataSync();
    assertClose(scaledDotProductAttention(q, k, v, tf.tile(causal.reshape([1, 1, T, S]), [B, h, 1, 1])).dataSync(), causalRef, 0, '[B,h,T,S] = [T,S]');
    // A mask per head: head 0 sees only key 0, so its output is v at key 0 for every query.
    const perHead = tf.concat([tf.tile(tf.tensor4d([1, 0, 0, 0, 0], [1, 1, 1, S], 'bool'), [B, 1, T, 1]), tf.ones([B, h - 1, T, S], 'bool')], 1); // (B, h, T, S)
    const out = scaledDotProductAttention(q, k, v, perHead); // (B, h, T, dh)
    const head0 = tf.slice(out, [0, 0, 0, 0], [B, 1, T, dh]); // (B, 1, T, dh)
    assertClose(head0.dataSync(), tf.tile(tf.slice(v, [0, 0, 0, 0], [B, 1, 1, dh]), [1, 1, T, 1]).dataSync(), 1e-6, 'head 0 reads key 0 only');
    for (const bad of [tf.ones([T, S + 1], 'bool'), tf.ones([B, 2, T, S], 'bool'), tf.ones([S], 'bool')]) {
      assert.throws(() => scaledDotProductAttention(q, k, v, bad), /attention mask: expected a mask broadcastable to \[B,h,T,S\]=\[2,3,4,5\]/);
    }
  });
  assert.equal(tf.memory().numTensors, n0);
});
