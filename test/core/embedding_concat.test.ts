// core/ops.ts's embeddingConcat (the compound-word model's eight lookups, scalings and concatenation in one host
// pass): values and every table's gradient bit-equal to the chain it replaces (embedding, tf.mul by the scale,
// tf.concat) on both backends, odd widths and repeated ids; bad ids rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { embedding, embeddingConcat } from '../../src/core/ops.ts';
import { InputError } from '../../src/errors.ts';
import { Rng } from '../../src/random.ts';

for (const backend of ['wasm', 'cpu'] as const) {
  test(`embeddingConcat equals embedding * scale concatenated, values and gradients to the bit (${backend})`, async () => {
    await initBackend(backend);
    const rng = new Rng(41);
    const shapes: [number, number][] = [[5, 3], [1, 1], [17, 8], [9, 33]];
    const scales = shapes.map(([, d]) => Math.sqrt(d));
    const tables = shapes.map(([v, d]) => tf.tensor2d(Float32Array.from({ length: v * d }, () => rng.normal()), [v, d]));
    const N = 23;
    const ids = shapes.map(([v]) => Int32Array.from({ length: N }, (_, i) => (i % 4 === 0 ? 0 : Math.floor(rng.next() * v))));
    const W = shapes.reduce((a, [, d]) => a + d, 0);
    const w = tf.tensor2d(Float32Array.from({ length: N * W }, () => rng.normal()), [N, W]);
    const chain = (...ts: tf.Tensor[]) => tf.concat(ts.map((t, k) => tf.mul(embedding(t, tf.tensor1d(ids[k] as Int32Array, 'int32')), scales[k] as number)), -1);
    const fused = (...ts: tf.Tensor[]) => embeddingConcat(ts, ids, scales);
    for (const [a, b] of [[chain(...tables), fused(...tables)]] as const) assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
    const ga = tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(chain(...ts), w)))(tables);
    const gb = tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(fused(...ts), w)))(tables);
    ga.forEach((g, k) => assert.deepEqual(Array.from((gb[k] as tf.Tensor).dataSync()), Array.from(g.dataSync()), `table ${k}`));
    assert.throws(() => embeddingConcat(tables, ids.map((l, k) => (k === 2 ? Int32Array.from(l, () => 17) : l)), scales), InputError);
    assert.throws(() => embeddingConcat(tables, ids.slice(1), scales), InputError);
    tf.dispose([...tables, w, ...ga, ...gb]);
  });
}
