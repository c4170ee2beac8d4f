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
