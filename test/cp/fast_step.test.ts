/**
 * fast_step.ts (products on the backend, the rest on the host) against CPTransformer.step and the full pass:
 * the same logits within 1e-4 for both attention kinds, the same generated words, no tensor left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import { FAMILIES, Vocab, type Family } from '../../src/music/vocab.ts';
import { makeConfig } from '../../src/cp/config.ts';
import { CPTransformer, NON_TYPE_FAMILIES } from '../../src/cp/model.ts';
import { FastStepper, erf } from '../../src/cp/fast_step.ts';
import { generate, generateBatch } from '../../src/cp/generate.ts';
import { assertClose } from '../helpers/close.ts';

const CLASSES: Record<Family, number> = { tempo: 7, chord: 9, barbeat: 5, type: 4, pitch: 11, duration: 6, velocity: 5, emotion: 5 };

test('erf matches closed values to 2e-7', () => {
  // erf(0.5), erf(1), erf(2) from tables; odd symmetry.
  assertClose([erf(0), erf(0.5), erf(1), erf(2), erf(-1)], [0, 0.5204998778, 0.8427007929, 0.995322265, -0.8427007929], 2e-7, 'erf');
});

for (const attention of ['linear', 'softmax'] as const) {
  test(`${attention}: fast step logits equal the full forward pass (within 1e-4)`, async () => {
    await initBackend('wasm');
    const model = new CPTransformer(makeConfig('tiny', CLASSES, { attention }), new Rng(4));
    const rng = new Rng(9);
    // T > 64: the softmax key/value buffers start at 64 rows and must grow without losing the cache.
    const [B, T] = [2, 70];
    const words = Array.from({ length: B }, () => Array.from({ length: T }, () => FAMILIES.map((f) => rng.nextInt(CLASSES[f]))));
    const nextType = Array.from({ length: B }, () => Array.from({ length: T }, () => rng.nextInt(4)));
    const x = tf.tensor3d(words.flat(2), [B, T, 8], 'int32');
    const nt = tf.tensor2d(nextType.flat(), [B, T], 'int32');
    const full = model.forwardTrain(x, nt);
    const before = tf.memory().numTensors;
    const fast = new FastStepper(model, B);
    for (let t = 0; t < T; t++) {
      fast.feed(words.map((w) => w[t] as number[]));
      const types = nextType.map((r) => r[t] as number);
      const wantType = tf.tidy(() => tf.slice(full.type, [0, t, 0], [B, 1, 4]).reshape([-1]));
      assertClose(fast.typeLogits(), wantType.dataSync(), 1e-4, `type logits at ${t}`);
      const wantRest = tf.tidy(() => tf.concat(NON_TYPE_FAMILIES.map((f) => tf.slice(full[f], [0, t, 0], [B, 1, CLASSES[f]]).reshape([B, CLASSES[f]])), 1));
      assertClose(fast.restLogits(types), wantRest.dataSync(), 1e-4, `other logits at ${t}`);
      tf.dispose([wantType, wantRest]);
    }
    fast.dispose();
    assert.equal(tf.memory().numTensors, before, 'the fast stepper releases its fused weights');
    tf.dispose([x, nt, ...Object.values(full)]);
    model.dispose();
  });
}

test('both engines generate the same words, alone and in a batch', async () => {
  await initBackend('wasm');
  const vocab = Vocab.fullGrid();
  const classes = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<Family, number>;
  for (const attention of ['linear', 'softmax'] as const) {
    const model = new CPTransformer(makeConfig('tiny', classes, { attention }), new Rng(2));
    const opts = { emotion: 'Q2' as const, maxWords: 40, maxBars: 1000, stopAtEos: false };
    const a = generate(model, vocab, { ...opts, seed: 3, engine: 'fast' });
    const b = generate(model, vocab, { ...opts, seed: 3, engine: 'tensor' });
    assert.deepEqual(a.words, b.words, attention);
    const [fa, fb] = [generateBatch(model, vocab, { ...opts, engine: 'fast' }, [new Rng(5), new Rng(6)]), generateBatch(model, vocab, { ...opts, engine: 'tensor' }, [new Rng(5), new Rng(6)])];
    assert.deepEqual(fa.map((r) => r.words), fb.map((r) => r.words), `${attention} batch`);
    model.dispose();
  }
});
