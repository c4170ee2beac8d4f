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

test('validation: sizes beyond sane bounds are refused at once, naming the field (a tampered config.json)', () => {
  const good = makeConfig('emopia', { ...EMOPIA_CLASSES });
  const bad = (patch: Record<string, unknown>) => () => validateConfig({ ...good, ...patch }, 'runs/x/config.json');
  assert.throws(bad({ nLayers: 100_000 }), /^InputError: runs\/x\/config\.json: expected nLayers at most 64, got 100000$/);
  assert.throws(bad({ dModel: 1 << 20 }), /^InputError: runs\/x\/config\.json: expected dModel at most 4096, got 1048576$/);
  assert.throws(bad({ maxLen: 10_000_000 }), /expected maxLen at most 65536, got 10000000/);
  assert.throws(bad({ dFF: 1e6 }), /expected dFF at most 16384, got 1000000/);
  assert.throws(bad({ nHeads: 128, dModel: 1024 }), /expected nHeads at most 64, got 128/);
  assert.throws(bad({ chunkSize: 1e6 }), /expected chunkSize at most 65536, got 1000000/);
  assert.throws(bad({ nClasses: { ...good.nClasses, pitch: 70_000 } }), /expected nClasses\.pitch at most 65536, got 70000/);
  assert.throws(bad({ embSizes: { ...good.embSizes, chord: 5000 } }), /expected embSizes\.chord at most 4096, got 5000/);
  // Each size within its bound, but together too large: the positional table, then the parameter count.
  assert.throws(bad({ maxLen: 65536, dModel: 4096, nHeads: 8 }), /expected maxLen x dModel \(the positional table\) at most 33554432, got 65536 x 4096/);
  const big = { dModel: 4096, nHeads: 8, nLayers: 64, dFF: 16384, maxLen: 4096 };
  assert.throws(bad(big), /expected at most 400000000 parameters, got \d+ \(dModel 4096, nLayers 64, dFF 16384\)/);
  assert.ok(countParameters({ ...good, ...big }) > 400_000_000);
  // EMOPIA's own model and the largest sizes that stay within every bound pass.
  assert.deepEqual(validateConfig(JSON.parse(JSON.stringify(good))), good);
  assert.equal(validateConfig({ ...good, dModel: 1024, nLayers: 24, dFF: 4096, maxLen: 32768 }).nLayers, 24);
});
