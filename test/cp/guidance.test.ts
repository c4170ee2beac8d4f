// Emotion guidance: l = l_neutral + w * (l_emotion - l_neutral), with a neutral twin fed the same words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import { FAMILY_INDEX, N_FAMILIES } from '../../src/music/vocab.ts';
import { checkWords } from '../../src/music/grammar.ts';
import { CPTransformer } from '../../src/cp/model.ts';
import { tinyModel, vocab } from '../helpers/tiny_model.ts';
import { generate, generateBatch } from '../../src/cp/generate.ts';
import { contrastEmotions, guideByClass, guideLogits, guidanceWeights, isGuided, pitchClassOf, samplingTable } from '../../src/cp/sampling.ts';


test('guideLogits: twins + w * (emotion - twins), per piece, twins averaged', () => {
  // Two pieces of width 2: emotion rows [1,2],[3,4]; one twin block [0,0],[5,5].
  const l = Float32Array.from([1, 2, 3, 4, 0, 0, 5, 5]);
  assert.deepEqual([...guideLogits(l, 2, 2, 2)], [2, 4, 1, 3]);
  assert.deepEqual([...guideLogits(l, 2, 2, 0)], [0, 0, 5, 5]);
  assert.deepEqual([...guideLogits(l, 2, 2, 1)], [1, 2, 3, 4]);
  assert.throws(() => guideLogits(l, 3, 2, 2), /expected 12 logits, got 8/);
  // One piece of width 2, three twins [0,3],[3,3],[6,3] (mean [3,3]); emotion row [4,1].
  assert.deepEqual([...guideLogits(Float32Array.from([4, 1, 0, 3, 3, 3, 6, 3]), 1, 2, 3, 3)], [6, -3]);
  // One weight per column: column 0 at w = 2, column 1 at w = 0, the same for every piece.
  assert.deepEqual([...guideLogits(l, 2, 2, [2, 0])], [2, 0, 1, 5]);
  assert.deepEqual([...guideLogits(l, 2, 2, [2, 2])], [...guideLogits(l, 2, 2, 2)]);
  assert.throws(() => guideLogits(l, 2, 2, [1, 2, 3]), /expected 2 weights, got 3/);
  assert.deepEqual(contrastEmotions(2, 'others'), [1, 3, 4]);
  assert.deepEqual(contrastEmotions(2, 'neutral'), [0]);
});

test('guidanceWeights: each family\'s own weight over its columns, else the piece\'s; samplingTable checks it', () => {
  const table = samplingTable({ pitch: { guidance: 3 }, barbeat: { guidance: 1 } });
  const w = guidanceWeights(vocab, ['barbeat', 'pitch', 'velocity'], table, 2);
  const nb = vocab.size('barbeat');
  const np = vocab.size('pitch');
  assert.equal(w.length, nb + np + vocab.size('velocity'));
  assert.deepEqual([w[0], w[nb - 1], w[nb], w[nb + np - 1], w[nb + np], w[w.length - 1]], [1, 1, 3, 3, 2, 2]);
  assert.throws(() => samplingTable({ pitch: { guidance: -1 } }), /^InputError: guidance of pitch: expected a number >= 0, got -1/);
  // Guided when some drawn family's weight is not 1; the emotion family (never drawn) does not count.
  assert.equal(isGuided(samplingTable({}), 1), false);
  assert.equal(isGuided(samplingTable({}), 2), true);
  assert.equal(isGuided(samplingTable({ pitch: { guidance: 3 } }), 1), true);
  assert.equal(isGuided(samplingTable({ emotion: { guidance: 3 } }), 1), false);
  const allOne = Object.fromEntries(['tempo', 'chord', 'barbeat', 'type', 'pitch', 'duration', 'velocity'].map((f) => [f, { guidance: 1 }]));
  assert.equal(isGuided(samplingTable(allOne), 2), false);
});

test('per-family guidance: every family at w is guidance w; pitch alone guided changes only what follows the first pitch', async () => {
  await initBackend('wasm');
  const model = tinyModel(3, { emotionScale: 30 });
  const opts = { maxWords: 40, maxBars: 1000, stopAtEos: false, seed: 11, emotion: 'Q1' as const, contrast: 'neutral' as const };
  const all3 = Object.fromEntries(['tempo', 'chord', 'barbeat', 'type', 'pitch', 'duration', 'velocity'].map((f) => [f, { guidance: 3 }]));
  const g3 = generate(model, vocab, { ...opts, guidance: 3 });
  assert.deepEqual(generate(model, vocab, { ...opts, guidance: 1, sampling: all3 }).words, g3.words, 'each family at 3 = guidance 3');
  // guidance 30 on pitch only, 1 elsewhere: guided (twins run), yet every family but pitch is drawn as plain sampling
  // draws it, so up to the first Note word the piece equals the unguided one, and then it departs.
  const plain = generate(model, vocab, { ...opts, guidance: 1 });
  const pitch3 = generate(model, vocab, { ...opts, guidance: 1, sampling: { pitch: { guidance: 30 } } });
  const firstNote = (ws: Int32Array) => {
    for (let i = N_FAMILIES; i < ws.length; i += N_FAMILIES) if (vocab.values('type')[ws[i + FAMILY_INDEX.type] as number] === 'Note') return i;
    return -1;
  };
  const i = firstNote(plain.words);
  assert.ok(i > 0, 'the plain piece has a note');
  assert.equal(firstNote(pitch3.words), i);
  assert.deepEqual(pitch3.words.slice(0, i + FAMILY_INDEX.pitch), plain.words.slice(0, i + FAMILY_INDEX.pitch), 'before the first pitch: as plain sampling');
  assert.notDeepEqual(pitch3.words, plain.words, 'pitch guidance 30 changes the piece');
  assert.deepEqual(checkWords(vocab, pitch3.words), []);
  model.dispose();
});

const softmax = (x: ArrayLike<number>): number[] => {
  const m = Math.max(...Array.from(x));
  const e = Array.from(x, (v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
};

test('guideByClass: the classes\' shares move as P_e(k)^w / P_twins(k)^(w-1), the values within a class keep the emotion row\'s proportions', () => {
  // One piece, a row of 3 columns (one outside the family) + a family of 5 values in classes [0, 1, 0, 1, 2].
  const classOf = Int32Array.from([0, 1, 0, 1, 2]);
  const rng = new Rng(4);
  const width = 8;
  const at = 3;
  const twins = 3;
  const l = Float32Array.from({ length: (1 + twins) * width }, () => rng.next() * 4 - 2);
  const w = 3;
  const out = guideLogits(l, 1, width, w, twins);
  const before = Float32Array.from(out);
  guideByClass(l, out, 1, width, at, 5, classOf, w, twins);
  assert.deepEqual([...out.slice(0, at)], [...before.slice(0, at)], 'other columns untouched');
  const fam = (row: Float32Array, r: number) => Array.from(row.subarray(r * width + at, r * width + at + 5));
  const pe = softmax(fam(l, 0));
  const twinMean = fam(l, 1).map((_, v) => (fam(l, 1)[v]! + fam(l, 2)[v]! + fam(l, 3)[v]!) / 3);
  const pt = softmax(twinMean);
  const pg = softmax(fam(out, 0));
  const share = (p: number[], k: number) => p.reduce((s, x, v) => s + (classOf[v] === k ? x : 0), 0);
  const expect = [0, 1, 2].map((k) => share(pe, k) ** w / share(pt, k) ** (w - 1));
  const z = expect.reduce((a, b) => a + b, 0);
  for (const k of [0, 1, 2]) assert.ok(Math.abs(share(pg, k) - expect[k]! / z) < 1e-5, `class ${k}: ${share(pg, k)} against ${expect[k]! / z}`);
  // Within class 0 (values 0 and 2) and class 1 (values 1 and 3): the emotion row's own ratio.
  assert.ok(Math.abs(pg[0]! / pg[2]! - pe[0]! / pe[2]!) < 1e-4);
  assert.ok(Math.abs(pg[1]! / pg[3]! - pe[1]! / pe[3]!) < 1e-4);
  // w = 1: the emotion row itself.
  const one = guideLogits(l, 1, width, 1, twins);
  guideByClass(l, one, 1, width, at, 5, classOf, 1, twins);
  assert.deepEqual(fam(one, 0), fam(l, 0));
  // Every value its own class: value-wise guidance, up to a constant (the same distribution).
  const single = guideLogits(l, 1, width, w, twins);
  guideByClass(l, single, 1, width, at, 5, Int32Array.from([0, 1, 2, 3, 4]), w, twins);
  const pv = softmax(fam(guideLogits(l, 1, width, w, twins), 0));
  softmax(fam(single, 0)).forEach((p, v) => assert.ok(Math.abs(p - pv[v]!) < 1e-5));
});

test('pitchClassOf and guidanceOver: pitch classes of the vocabulary; only pitch may be guided over classes', () => {
  const pc = pitchClassOf(vocab);
  const values = vocab.values('pitch');
  assert.equal(pc.length, values.length);
  assert.equal(pc[values.indexOf('Note_Pitch_60')], 0);
  assert.equal(pc[values.indexOf('Note_Pitch_73')], 1);
  assert.equal(pc[values.indexOf('Note_Pitch_71')], 11);
  assert.equal(pc[values.indexOf(0)], 12, 'the padding value is a class of its own');
  assert.equal(samplingTable({ pitch: { guidanceOver: 'classes' } }).pitch.guidanceOver, 'classes');
  assert.throws(() => samplingTable({ chord: { guidanceOver: 'classes' } }), /^InputError: guidanceOver of chord: only the pitch family has one/);
  assert.throws(() => samplingTable({ pitch: { guidanceOver: 'octaves' as 'classes' } }), /^InputError: guidanceOver of pitch: expected values or classes, got "octaves"/);
});

test('guidance over pitch classes in generate: grammatical and seeded; the same as value-wise until the first pitch, then its own piece', async () => {
  await initBackend('wasm');
  const model = tinyModel(3, { emotionScale: 30 });
  const opts = { maxWords: 60, maxBars: 1000, stopAtEos: false, seed: 11, emotion: 'Q1' as const, guidance: 1 };
  const values = generate(model, vocab, { ...opts, sampling: { pitch: { guidance: 4 } } });
  const classes = generate(model, vocab, { ...opts, sampling: { pitch: { guidance: 4, guidanceOver: 'classes' } } });
  assert.deepEqual(generate(model, vocab, { ...opts, sampling: { pitch: { guidance: 4, guidanceOver: 'classes' } } }).words, classes.words, 'seeded');
  assert.deepEqual(checkWords(vocab, classes.words), []);
  let firstPitch = -1;
  for (let i = N_FAMILIES; i < values.words.length && firstPitch < 0; i += N_FAMILIES) {
    if (vocab.values('type')[values.words[i + FAMILY_INDEX.type] as number] === 'Note') firstPitch = i + FAMILY_INDEX.pitch;
  }
  assert.ok(firstPitch > 0);
  assert.deepEqual(classes.words.slice(0, firstPitch), values.words.slice(0, firstPitch));
  assert.notDeepEqual(classes.words, values.words, 'over classes is another piece');
  model.dispose();
});

test('guided generation away from neutral: w = 0 ignores the emotion, w = 3 follows it; grammatical, seeded, no tensor left', async () => {
  await initBackend('wasm');
  const model = tinyModel(3, { emotionScale: 30 }); // large, distinct emotion embeddings: the emotion matters
  const opts = { maxWords: 40, maxBars: 1000, stopAtEos: false, seed: 11, contrast: 'neutral' as const };
  const before = tf.memory().numTensors;
  const body = (w: Int32Array) => w.slice(N_FAMILIES); // all but the Emotion word
  const q1 = generate(model, vocab, { ...opts, emotion: 'Q1', guidance: 0 });
  assert.equal(tf.memory().numTensors, before, 'no tensor outlives a guided generation');
  const q3 = generate(model, vocab, { ...opts, emotion: 'Q3', guidance: 0 });
  assert.equal(q1.words[FAMILY_INDEX.emotion], 1);
  assert.equal(q3.words[FAMILY_INDEX.emotion], 3);
  assert.deepEqual(body(q1.words), body(q3.words), 'w = 0: only the neutral twin speaks, whatever the emotion');
  const g3 = generate(model, vocab, { ...opts, emotion: 'Q1', guidance: 3 });
  const again = generate(model, vocab, { ...opts, emotion: 'Q1', guidance: 3 });
  const plain = generate(model, vocab, { ...opts, emotion: 'Q1' });
  assert.deepEqual(g3.words, again.words, 'seeded');
  assert.notDeepEqual(body(g3.words), body(plain.words), 'w = 3 differs from plain sampling');
  assert.notDeepEqual(body(g3.words), body(q1.words), 'w = 3 differs from w = 0');
  for (const r of [q1, g3]) assert.deepEqual(checkWords(vocab, r.words), []);
  // A batch of guided pieces: piece 1 is the piece generated alone with the same rng.
  const [first] = generateBatch(model, vocab, { ...opts, emotion: 'Q1', guidance: 3 }, [new Rng(11), new Rng(12)]);
  assert.deepEqual(first!.words, g3.words);
  assert.throws(() => generate(model, vocab, { ...opts, emotion: 'Q1', guidance: -1 }), /^InputError: guidance: expected a number >= 0, got -1/);
  model.dispose();
});

test('guided generation away from the other quadrants: at w = 0 the requested emotion\'s own embedding plays no part', async () => {
  await initBackend('wasm');
  const model = tinyModel(5);
  const scale = (m: CPTransformer, rows: number[], by: number) => {
    const sd = m.stateDict();
    const emb = sd.get('word_emb_emotion.lut.weight')!;
    const d = emb.shape[1]!;
    for (const r of rows) for (let j = 0; j < d; j++) emb.data[r * d + j] = (emb.data[r * d + j] as number) * by;
    m.loadStateDict(sd);
  };
  scale(model, [1, 2, 3, 4], 30);
  const opts = { emotion: 'Q1' as const, maxWords: 40, maxBars: 1000, stopAtEos: false, seed: 2 };
  const w0 = generate(model, vocab, { ...opts, guidance: 0 });
  const w3 = generate(model, vocab, { ...opts, guidance: 3 });
  scale(model, [1], -1); // change Q1's embedding only
  assert.deepEqual(generate(model, vocab, { ...opts, guidance: 0 }).words.slice(N_FAMILIES), w0.words.slice(N_FAMILIES), 'w = 0: only Q2..Q4 decide');
  assert.notDeepEqual(generate(model, vocab, { ...opts, guidance: 3 }).words.slice(N_FAMILIES), w3.words.slice(N_FAMILIES), 'w = 3: Q1 matters');
  model.dispose();
});

test("emotionInput 'every': each fed word carries its row's emotion, so w = 0 away from neutral still ignores the emotion", async () => {
  await initBackend('wasm');
  const make = (emotionInput: 'first' | 'every') => tinyModel(9, { emotionInput });
  const first = make('first');
  const every = make('every');
  const opts = { emotion: 'Q2' as const, maxWords: 30, maxBars: 1000, stopAtEos: false, seed: 4 };
  const a = generate(first, vocab, opts);
  const b = generate(every, vocab, opts);
  assert.notDeepEqual(a.words, b.words, 'same weights, different inputs: different pieces');
  assert.deepEqual(checkWords(vocab, b.words), [], 'outputs keep emotion 0 outside the Emotion word');
  for (let t = 1; t < b.words.length / N_FAMILIES; t++) assert.equal(b.words[t * N_FAMILIES + FAMILY_INDEX.emotion], 0);
  const q1 = generate(every, vocab, { ...opts, emotion: 'Q1', guidance: 0, contrast: 'neutral' });
  const q4 = generate(every, vocab, { ...opts, emotion: 'Q4', guidance: 0, contrast: 'neutral' });
  assert.deepEqual(q1.words.slice(N_FAMILIES), q4.words.slice(N_FAMILIES));
  first.dispose();
  every.dispose();
});
