/**
 * The generation engines (src/cp/engine.ts), every one of the ENGINES table: step-by-step logits equal to the
 * full forward pass within 1e-4 for both attention kinds, the same generated words, the same InputError for the
 * same bad input, no tensor left behind; checkIncremental; the fast engine's host erf.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { InputError, UsageError } from '../../src/errors.ts';
import { Rng } from '../../src/random.ts';
import { FAMILIES, FAMILY_INDEX, Vocab, type Family } from '../../src/music/vocab.ts';
import { makeConfig } from '../../src/cp/config.ts';
import { CPTransformer, NON_TYPE_FAMILIES } from '../../src/cp/model.ts';
import { ENGINE_NAMES, autoEngines, checkIncremental, openStepper, type EngineName } from '../../src/cp/engine.ts';
import { erf } from '../../src/cp/fast_step.ts';
import { generate, generateBatch } from '../../src/cp/generate.ts';
import { assertClose } from '../helpers/close.ts';

const CLASSES: Record<Family, number> = { tempo: 7, chord: 9, barbeat: 5, type: 4, pitch: 11, duration: 6, velocity: 5, emotion: 5 };

function randomWords(rng: Rng, B: number, T: number): number[][][] {
  return Array.from({ length: B }, () => Array.from({ length: T }, () => FAMILIES.map((f) => rng.nextInt(CLASSES[f]))));
}

test('the engine table holds the tensor, fast and wasm engines', () => {
  assert.deepEqual(ENGINE_NAMES, ['tensor', 'fast', 'wasm']);
});

test('erf matches closed values to 2e-7', () => {
  // erf(0.5), erf(1), erf(2) from tables; odd symmetry.
  assertClose([erf(0), erf(0.5), erf(1), erf(2), erf(-1)], [0, 0.5204998778, 0.8427007929, 0.995322265, -0.8427007929], 2e-7, 'erf');
});

for (const attention of ['linear', 'softmax'] as const) {
  for (const engine of ENGINE_NAMES) {
    test(`${attention}, ${engine} engine: step-by-step logits equal the full forward pass (within 1e-4)`, async () => {
      await initBackend('wasm');
      const model = new CPTransformer(makeConfig('tiny', CLASSES, { attention, chunkSize: 3 }), new Rng(4));
      const rng = new Rng(9);
      // T > 64: the fast engine's softmax key/value buffers start at 64 rows and must grow without losing the cache.
      const [B, T] = [2, 70];
      const words = randomWords(rng, B, T);
      const nextType = Array.from({ length: B }, () => Array.from({ length: T }, () => rng.nextInt(4)));
      const x = tf.tensor3d(words.flat(2), [B, T, 8], 'int32');
      const nt = tf.tensor2d(nextType.flat(), [B, T], 'int32');
      const full = model.forwardTrain(x, nt);
      const want = (fs: readonly Family[], t: number): Float32Array => {
        const w = tf.tidy(() => tf.concat(fs.map((f) => tf.slice(full[f], [0, t, 0], [B, 1, CLASSES[f]]).reshape([B, CLASSES[f]])), 1)); // (B, sum n_f)
        const a = w.dataSync() as Float32Array;
        w.dispose();
        return a;
      };
      const before = tf.memory().numTensors;
      const stepper = openStepper(model, B, engine);
      let held = -1;
      for (let t = 0; t < T; t++) {
        stepper.feed(words.map((w) => w[t] as number[]));
        assertClose(stepper.typeLogits(), want(['type'], t), 1e-4, `type logits at ${t}`);
        assertClose(stepper.restLogits(nextType.map((r) => r[t] as number)), want(NON_TYPE_FAMILIES, t), 1e-4, `other logits at ${t}`);
        // Linear attention: a constant state; softmax: the cache grows in size but not in number of tensors.
        if (t === 0) held = tf.memory().numTensors;
        else assert.equal(tf.memory().numTensors, held, `tensors held after word ${t}`);
      }
      stepper.dispose();
      assert.equal(tf.memory().numTensors, before, 'dispose releases the state and the prepared weights');
      tf.dispose([x, nt, ...Object.values(full)]);
      model.dispose();
    });
  }
}

test('every engine generates the same words, alone and in a batch', async () => {
  await initBackend('wasm');
  const vocab = Vocab.fullGrid();
  const classes = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<Family, number>;
  for (const attention of ['linear', 'softmax'] as const) {
    const model = new CPTransformer(makeConfig('tiny', classes, { attention }), new Rng(2));
    const opts = { emotion: 'Q2' as const, maxWords: 40, maxBars: 1000, stopAtEos: false };
    const alone = ENGINE_NAMES.map((engine) => generate(model, vocab, { ...opts, seed: 3, engine }).words);
    const batch = ENGINE_NAMES.map((engine) => generateBatch(model, vocab, { ...opts, engine }, [new Rng(5), new Rng(6)]).map((r) => r.words));
    ENGINE_NAMES.forEach((engine, i) => {
      assert.ok((alone[i] as Int32Array).length > 8 * 40, `${attention} ${engine}: 40 words generated`);
      assert.deepEqual(alone[i], alone[0], `${attention}: ${engine} alone`);
      assert.deepEqual(batch[i], batch[0], `${attention}: ${engine} in a batch`);
    });
    model.dispose();
  }
});

/** The error `f` throws: its class and message. */
function thrown(f: () => unknown): { type: string; message: string } {
  try {
    f();
  } catch (e) {
    return { type: (e as Error).constructor.name, message: (e as Error).message };
  }
  assert.fail('expected an error');
}

test('the same bad input throws the same InputError (CLI exit 1) from every engine', async () => {
  await initBackend('wasm');
  const model = new CPTransformer(makeConfig('tiny', CLASSES, { attention: 'linear', maxLen: 3 }), new Rng(1));
  const ok = FAMILIES.map(() => 0);
  const withId = (f: Family, id: number) => ok.map((v, j) => (j === FAMILY_INDEX[f] ? id : v));
  const before = tf.memory().numTensors;
  // Each case runs on a fresh stepper of 2 sequences; `fed` words are fed first, then `bad` must throw.
  const cases: { name: string; fed: number; bad: (s: ReturnType<typeof openStepper>) => unknown; type: typeof InputError | typeof UsageError; message: RegExp }[] = [
    { name: 'pitch id out of range', fed: 0, bad: (s) => s.feed([ok, withId('pitch', CLASSES.pitch)]), type: InputError, message: /^word 1: pitch index 11 is outside 0\.\.10$/ },
    { name: 'negative id', fed: 0, bad: (s) => s.feed([withId('tempo', -1), ok]), type: InputError, message: /^word 0: tempo index -1 is outside 0\.\.6$/ },
    { name: 'fractional id', fed: 0, bad: (s) => s.feed([withId('emotion', 1.5), ok]), type: InputError, message: /emotion index 1\.5 is outside 0\.\.4/ },
    { name: 'seven families', fed: 0, bad: (s) => s.feed([ok.slice(1), ok]), type: InputError, message: /^word 0: expected 8 indices \(one per family\), got 7$/ },
    { name: 'wrong number of sequences', fed: 0, bad: (s) => s.feed([ok]), type: InputError, message: /^words: expected 2 words \(one per sequence\), got 1$/ },
    { name: 'past maxLen', fed: 3, bad: (s) => s.feed([ok, ok]), type: InputError, message: /reached the model's maxLen of 3 words/ },
    { name: 'type index out of range', fed: 1, bad: (s) => s.restLogits([0, 4]), type: InputError, message: /^types: expected type indices in 0\.\.3, got 4$/ },
    { name: 'wrong number of types', fed: 1, bad: (s) => s.restLogits([0]), type: InputError, message: /expected 2 type indices/ },
    { name: 'logits before any word', fed: 0, bad: (s) => s.typeLogits(), type: UsageError, message: /typeLogits: expected a word fed first/ },
  ];
  for (const c of cases) {
    const got = ENGINE_NAMES.map((engine: EngineName) => {
      const s = openStepper(model, 2, engine);
      try {
        for (let i = 0; i < c.fed; i++) s.feed([ok, ok]);
        assert.throws(() => c.bad(s), c.type, `${engine}: ${c.name}`);
        return thrown(() => c.bad(s));
      } finally {
        s.dispose();
      }
    });
    assert.match(got[0]!.message, c.message, c.name);
    for (const g of got) assert.deepEqual(g, got[0], `${c.name}: the same error from every engine`);
  }
  for (const engine of ENGINE_NAMES) {
    const s = openStepper(model, 1, engine);
    s.dispose();
    assert.throws(() => s.feed([ok]), UsageError, `${engine}: feed after dispose`);
  }
  assert.throws(() => openStepper(model, 0, 'fast'), /batch: expected a positive integer, got 0/);
  assert.throws(() => openStepper(model, 1, 'quick' as EngineName), UsageError);
  assert.equal(tf.memory().numTensors, before, 'failed feeds leave no tensor behind');
  model.dispose();
});

test('checkIncremental: every engine within 1e-4 of the full pass on a healthy model; an InputError past the tolerance', async () => {
  await initBackend('wasm');
  for (const attention of ['linear', 'softmax'] as const) {
    const model = new CPTransformer(makeConfig('tiny', CLASSES, { attention }), new Rng(6));
    const fed = randomWords(new Rng(8), 1, 12)[0] as number[][];
    const before = tf.memory().numTensors;
    const diffs = checkIncremental(model, fed);
    assert.deepEqual(Object.keys(diffs), ENGINE_NAMES);
    for (const engine of ENGINE_NAMES) {
      const d = diffs[engine] as number;
      assert.ok(d >= 0 && d <= 1e-4, `${attention} ${engine}: ${d}`);
    }
    // Only the engines asked for (emopia generate asks for autoEngines(): wasm here), each the same difference.
    const some = checkIncremental(model, fed, undefined, ['wasm']);
    assert.deepEqual(some, { wasm: diffs.wasm });
    assert.deepEqual(autoEngines(), ['wasm']);
    assert.throws(() => checkIncremental(model, fed, -1, ['fast', 'wasm']), (e) => e instanceof InputError && /^attention check: fast step-by-step/.test(e.message));
    assert.throws(() => checkIncremental(model, fed, undefined, []), UsageError);
    assert.throws(() => checkIncremental(model, fed, undefined, ['gpu' as EngineName]), (e) => e instanceof UsageError && /got 'gpu'/.test(e.message));
    // A tolerance below every difference (here negative) must fail, naming the first engine of the table.
    assert.throws(() => checkIncremental(model, fed, -1), (e) => e instanceof InputError && /^attention check: tensor step-by-step logits differ/.test(e.message));
    assert.throws(() => checkIncremental(model, []), InputError);
    assert.equal(tf.memory().numTensors, before);
    model.dispose();
  }
});
