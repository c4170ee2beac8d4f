// The public barrel: what a user imports. Building and running a model needs nothing from deeper paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from '../src/index.ts';

test('the barrel gives everything needed to build and run a Transformer', async () => {
  await api.initBackend('wasm');
  const cfg = { ...api.TRANSFORMER_DEFAULTS, dModel: 8, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 16, dropout: 0 };
  const model = new api.Transformer(cfg, new api.Rng(1));
  const before = api.tf.memory().numTensors;
  const out = api.tf.tidy(() => {
    const src = api.tf.randomNormal([2, 4, 8], 0, 1, 'float32', 2);
    const tgt = api.tf.randomNormal([2, 3, 8], 0, 1, 'float32', 3);
    const srcPadding = api.paddingMask([2, 4], 4);
    return model.forward(src, tgt, { srcPadding, memoryPadding: srcPadding, tgtMask: api.causalMask(3) });
  });
  assert.deepEqual(out.shape, [2, 3, 8]);
  assert.ok(Array.from(out.dataSync()).every(Number.isFinite));
  out.dispose();
  assert.equal(api.tf.memory().numTensors, before);
  model.dispose();
});
