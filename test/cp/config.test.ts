/** CPConfig: presets, validation messages, and the parameter count formula against built models. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import { EMOPIA_CLASSES, PRESETS, countParameters, makeConfig, validateConfig } from '../../src/cp/config.ts';
import { CPTransformer } from '../../src/cp/model.ts';

test('presets: emopia is EMOPIA (d 512, 12 layers, 8 heads, ff 2048, emb 1376); small and tiny are smaller', () => {
  const e = PRESETS.emopia;
  assert.deepEqual([e.dModel, e.nLayers, e.nHeads, e.dFF, e.dropout, e.attention, e.maxLen], [512, 12, 8, 2048, 0.1, 'linear', 20000]);
  assert.deepEqual(Object.values(e.embSizes), [128, 256, 64, 32, 512, 128, 128, 128]);
  assert.deepEqual(Object.keys(e.embSizes), ['tempo', 'chord', 'barbeat', 'type', 'pitch', 'duration', 'velocity', 'emotion']);
  const s = PRESETS.small;
  assert.deepEqual([s.dModel, s.nLayers, s.nHeads, s.dFF], [256, 4, 4, 1024]);
  // With EMOPIA's classes: 39,096,813 (emopia) > small > tiny.
  const n = (p: 'emopia' | 'small' | 'tiny') => countParameters(makeConfig(p, { ...EMOPIA_CLASSES }));
  assert.equal(n('emopia'), 39_096_813);
  assert.ok(n('small') < n('emopia') / 5 && n('tiny') < n('small') / 50, `${n('small')} ${n('tiny')}`);
});

test('countParameters equals the built model for every attention kind and odd sizes', async () => {
  await initBackend('wasm');
  for (const attention of ['linear', 'softmax'] as const) {
    const cfg = makeConfig('tiny', { ...EMOPIA_CLASSES }, { attention, dModel: 12, nHeads: 3, dFF: 20, nLayers: 3 });
    const m = new CPTransformer(cfg, new Rng(1));
    assert.equal(m.numParameters(), countParameters(cfg));
    m.dispose();
  }
  assert.equal(tf.memory().numTensors, 0);
});

test('validation: one-line errors naming the field, what was expected and what came', () => {
  const good = makeConfig('tiny', { ...EMOPIA_CLASSES });
  assert.deepEqual(validateConfig(JSON.parse(JSON.stringify(good))), good);
  const bad = (patch: Record<string, unknown>) => () => validateConfig({ ...good, ...patch });
  assert.throws(bad({ nHeads: 3 }), /^InputError: config: expected dModel \(32\) to be a multiple of nHeads \(3\)$/m);
  assert.throws(bad({ attention: 'full' }), /expected attention 'linear' or 'softmax', got "full"/);
  assert.throws(bad({ dropout: 1 }), /expected dropout in \[0, 1\), got 1/);
  assert.throws(bad({ dModel: 2.5 }), /expected dModel to be a positive integer, got 2.5/);
  assert.throws(bad({ nClasses: { ...good.nClasses, pitch: 0 } }), /expected nClasses.pitch to be a positive integer, got 0/);
  const { emotion: _e, ...noEmotion } = good.embSizes;
  assert.throws(bad({ embSizes: noEmotion }), /expected embSizes.emotion to be a positive integer, got undefined/);
  assert.throws(bad({ embSizes: { ...good.embSizes, key: 128 } }), /embSizes has unknown family key/);
  assert.throws(() => validateConfig([]), /config: expected an object, got an array/);
  assert.throws(bad({ emotionInput: 'all' }), /expected emotionInput 'first' or 'every', got "all"/);
  const { emotionInput: _ei, ...older } = good; // a config.json written before the field: EMOPIA's way
  assert.equal(validateConfig(older).emotionInput, 'first');
  assert.equal(validateConfig({ ...good, emotionInput: 'every' }).emotionInput, 'every');
  assert.throws(() => makeConfig('huge' as 'tiny', { ...EMOPIA_CLASSES }), /preset: expected one of emopia, small, tiny, got 'huge'/);
});
