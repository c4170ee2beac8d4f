// A model as in-memory parts (weights bytes, config, vocabulary): the browser's way to load a run folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import { FAMILIES, Vocab } from '../../src/music/vocab.ts';
import { makeConfig } from '../../src/cp/config.ts';
import { CPTransformer } from '../../src/cp/model.ts';
import { modelFromParts, modelToParts } from '../../src/cp/run_folder.ts';

test('modelToParts then modelFromParts gives the same weights (F32 exactly, F16 within half-precision rounding); bad parts name themselves', async () => {
  await initBackend('wasm');
  const vocab = Vocab.fullGrid();
  const classes = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<(typeof FAMILIES)[number], number>;
  const model = new CPTransformer(makeConfig('tiny', classes), new Rng(7));
  const want = model.stateDict();
  for (const dtype of ['F32', 'F16'] as const) {
    // Through JSON text, as a web page would fetch config.json and vocab.json.
    const parts = modelToParts(model, vocab, { dtype });
    const back = modelFromParts({ weights: parts.weights, config: JSON.parse(JSON.stringify(parts.config)), vocab: JSON.parse(JSON.stringify(parts.vocab)) });
    const got = back.model.stateDict();
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    let worst = 0;
    for (const [k, t] of want) {
      const g = got.get(k)!;
      assert.deepEqual(g.shape, t.shape, k);
      for (let i = 0; i < t.data.length; i++) worst = Math.max(worst, Math.abs(g.data[i]! - t.data[i]!) / Math.max(1, Math.abs(t.data[i]!)));
    }
    assert.ok(dtype === 'F32' ? worst === 0 : worst > 0 && worst < 1e-3, `${dtype}: worst relative error ${worst}`);
    assert.deepEqual(back.config, model.config);
    back.model.dispose();
  }
  const parts = modelToParts(model, vocab);
  assert.throws(() => modelFromParts({ ...parts, weights: new Uint8Array(3) }), /^InputError: model\.safetensors: safetensors: file is truncated/);
  assert.throws(() => modelFromParts({ ...parts, config: { ...parts.config, dModel: 'x' } }), /^InputError: config\.json: /);
  const other = makeConfig('tiny', { ...classes, pitch: classes.pitch - 1 });
  assert.throws(() => modelFromParts({ ...parts, config: other }), /^InputError: vocab\.json: vocabulary family pitch has 87 values but the config says 86 classes/);
  model.dispose();
});
