/**
 * Generation with a random-init tiny model: seeded runs are identical, every piece follows the tokenizer's
 * layout and decodes to MIDI, limits hold, no tensor outlives a run; checkpoint files round-trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, initBackend } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import { Vocab, FAMILIES, FAMILY_INDEX } from '../../src/music/vocab.ts';
import { checkWords } from '../../src/music/grammar.ts';
import { wordsToScore } from '../../src/music/cp_tokenizer.ts';
import { midiToScore, scoreToMidi } from '../../src/music/midi_io.ts';
import { makeConfig, type AttentionKind } from '../../src/cp/config.ts';
import { CPTransformer } from '../../src/cp/model.ts';
import { generate, generateBatch, promptFor } from '../../src/cp/generate.ts';
import { MAX_NOTES_AT_ONSET } from '../../src/cp/sampling.ts';
import { loadModel, saveModel } from '../../src/platform/run_folder.ts';

const vocab = Vocab.fullGrid();
const classes = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<(typeof FAMILIES)[number], number>;
const tinyModel = (attention: AttentionKind, seed = 1) => new CPTransformer(makeConfig('tiny', classes, { attention }), new Rng(seed));

for (const attention of ['linear', 'softmax'] as const) {
  test(`${attention}: seeded generation is deterministic, follows the layout and decodes to MIDI`, async () => {
    await initBackend('wasm');
    const model = tinyModel(attention);
    const before = tf.memory().numTensors;
    // An untrained model samples EOS early; EOS is masked here so that pieces reach maxWords.
    const opts = { emotion: 'Q2' as const, maxWords: 60, maxBars: 1000, stopAtEos: false };
    const a = generate(model, vocab, { ...opts, seed: 7 });
    assert.equal(tf.memory().numTensors, before, 'no tensor outlives a generation');
    const b = generate(model, vocab, { ...opts, seed: 7 });
    const c = generate(model, vocab, { ...opts, seed: 8 });
    assert.equal(a.generated, 60);
    const d = generate(model, vocab, { emotion: 'Q2', seed: 7 }); // EMOPIA's sampling table, EOS allowed
    assert.equal(d.stoppedBy, 'eos');
    assert.equal(d.words.length / 8, d.promptLength + d.generated + 1);
    assert.deepEqual(checkWords(vocab, d.words), []);
    assert.deepEqual(a.words, b.words);
    assert.notDeepEqual(a.words, c.words);
    for (const r of [a, c]) {
      assert.ok(r.generated <= 60);
      assert.equal(r.words.length / 8, r.promptLength + r.generated + 1, 'prompt, generated, EOS');
      assert.deepEqual(checkWords(vocab, r.words), [], 'the piece follows the layout');
      // First word: Emotion Q2; then the Bar word of the prompt.
      assert.equal(vocab.decode('type', r.words[FAMILY_INDEX.type]!), 'Emotion');
      assert.equal(vocab.decode('emotion', r.words[FAMILY_INDEX.emotion]!), 2);
      assert.equal(vocab.decode('barbeat', r.words[8 + FAMILY_INDEX.barbeat]!), 'Bar');
      const { score, emotion, skipped } = wordsToScore(r.words, vocab);
      assert.equal(skipped, 0);
      assert.equal(emotion, 2);
      const back = midiToScore(scoreToMidi(score));
      assert.equal(back.notes.length, score.notes.length);
      if (r === a) {
        // Chord values become markers and tempo values tempo changes, and both survive the MIDI file.
        assert.ok(score.markers.length > 0 && score.tempos.length > 1, `${score.markers.length} markers, ${score.tempos.length} tempos`);
        assert.deepEqual(back.markers.map((m) => m.text), score.markers.map((m) => m.text));
        assert.equal(back.tempos.length, score.tempos.length);
      }
    }
    model.dispose();
  });
}

test('limits: maxBars closes the piece with a Bar and EOS; stopAtEos=false runs to maxWords', async () => {
  await initBackend('wasm');
  const model = tinyModel('linear', 2);
  const r = generate(model, vocab, { emotion: 'Q1', seed: 3, maxBars: 2, stopAtEos: false, sampling: { type: { temperature: 3, topP: null } } });
  assert.equal(r.stoppedBy, 'maxBars');
  assert.equal(r.bars, 2);
  const n = r.words.length / 8;
  const typeAt = (i: number) => vocab.decode('type', r.words[i * 8 + FAMILY_INDEX.type]!);
  assert.equal(typeAt(n - 1), 'EOS');
  assert.equal(vocab.decode('barbeat', r.words[(n - 2) * 8 + FAMILY_INDEX.barbeat]!), 'Bar');
  let barWords = 0;
  for (let i = 0; i < n; i++) if (typeAt(i) === 'Metrical' && vocab.decode('barbeat', r.words[i * 8 + FAMILY_INDEX.barbeat]!) === 'Bar') barWords++;
  assert.equal(barWords, 3, 'the prompt Bar, one more bar, and the closing Bar');
  const w = generate(model, vocab, { emotion: 'Q1', seed: 3, maxWords: 25, maxBars: 1000, stopAtEos: false });
  assert.equal(w.stoppedBy, 'maxWords');
  const short = new CPTransformer(makeConfig('tiny', classes, { maxLen: 12 }), new Rng(2));
  const m = generate(short, vocab, { emotion: 'Q1', seed: 3, maxBars: 1000, stopAtEos: false });
  assert.equal(m.stoppedBy, 'maxLen');
  assert.equal(m.words.length / 8, 12 + 1, 'maxLen words fed, then EOS');
  short.dispose();
  assert.equal(w.generated, 25);
  assert.deepEqual(checkWords(vocab, w.words), []);
  model.dispose();
});

test('a prompt is fed behind the requested emotion word, without its own Emotion word and EOS', async () => {
  await initBackend('wasm');
  const model = tinyModel('linear', 4);
  const first = generate(model, vocab, { emotion: 'Q3', seed: 1, maxWords: 20, maxBars: 1000, stopAtEos: false });
  assert.equal(first.generated, 20);
  const fed = promptFor(vocab, 'Q4', first.words);
  assert.equal(fed.length, first.words.length / 8 - 1, 'EOS removed, Emotion word replaced');
  assert.equal(vocab.decode('emotion', fed[0]![FAMILY_INDEX.emotion]!), 4);
  assert.deepEqual(fed.slice(1).flat(), Array.from(first.words.slice(8, -8)));
  const cont = generate(model, vocab, { emotion: 'Q4', seed: 1, maxWords: 20, maxBars: 1000, stopAtEos: false, prompt: first.words });
  assert.equal(cont.generated, 20);
  assert.equal(cont.promptLength, fed.length);
  assert.deepEqual(Array.from(cont.words.slice(8, cont.promptLength * 8)), fed.slice(1).flat());
  assert.deepEqual(checkWords(vocab, cont.words), []);
  assert.throws(() => generate(model, vocab, { emotion: 'Q5' as 'Q1', maxWords: 3 }), /emotion: expected Q1, Q2, Q3 or Q4, got 'Q5'/);
  // A prompt index outside its family's vocabulary is an InputError, not a crash in the model's lookup.
  const bad = first.words.slice(0, 16);
  bad[8 + FAMILY_INDEX.pitch] = vocab.size('pitch');
  assert.throws(() => generate(model, vocab, { emotion: 'Q4', maxWords: 3, prompt: bad }), new RegExp(`^InputError: prompt: word 1: expected a pitch index in 0\\.\\.${vocab.size('pitch') - 1}, got ${vocab.size('pitch')}$`));
  model.dispose();
});

test('checkpoint: F32 round trip is exact, F16 is close, missing and corrupt files are one-line errors', async () => {
  await initBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'emopia-ckpt-'));
  try {
    const model = tinyModel('softmax', 6);
    const run = join(dir, 'run');
    saveModel(run, model, vocab);
    const loaded = loadModel(run);
    assert.deepEqual(loaded.config, model.config);
    assert.ok(loaded.vocab.equals(vocab));
    const [sa, sb] = [model.stateDict(), loaded.model.stateDict()];
    assert.deepEqual([...sb.keys()], [...sa.keys()]);
    for (const [k, t] of sa) assert.deepEqual(sb.get(k)!.data, t.data, k);
    const g1 = generate(model, vocab, { emotion: 'Q1', seed: 5, maxWords: 15, stopAtEos: false });
    const g2 = generate(loaded.model, loaded.vocab, { emotion: 'Q1', seed: 5, maxWords: 15, stopAtEos: false });
    assert.equal(g1.generated, 15);
    assert.deepEqual(g1.words, g2.words);
    loaded.model.dispose();

    const half = join(dir, 'half');
    saveModel(half, model, vocab, { dtype: 'F16' });
    const h = loadModel(half);
    for (const [k, t] of h.model.stateDict()) {
      const ref = sa.get(k)!.data;
      let m = 0;
      t.data.forEach((v, i) => (m = Math.max(m, Math.abs(v - ref[i]!) / Math.max(1, Math.abs(ref[i]!)))));
      assert.ok(m < 1e-3, `${k}: F16 relative error ${m}`);
    }
    h.model.dispose();
    model.dispose();

    assert.throws(() => loadModel(join(dir, 'nope')), /nope: no such checkpoint folder/);
    const cfgText = readFileSync(join(run, 'config.json'), 'utf8');
    writeFileSync(join(run, 'config.json'), '{"dModel": 3');
    assert.throws(() => loadModel(run), /config\.json: not valid JSON/);
    writeFileSync(join(run, 'config.json'), cfgText.replace('"nHeads": 2', '"nHeads": 0'));
    assert.throws(() => loadModel(run), /config\.json: expected nHeads to be a positive integer, got 0/);
    writeFileSync(join(run, 'config.json'), cfgText);
    writeFileSync(join(run, 'model.safetensors'), 'not a safetensors file');
    assert.throws(() => loadModel(run), /model\.safetensors: /);
    rmSync(join(run, 'vocab.json'));
    assert.throws(() => loadModel(run), /vocab\.json: no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('batched generation: each piece equals the same piece generated alone; stopped pieces stay stopped', async () => {
  await initBackend('wasm');
  const model = tinyModel('linear', 8);
  const opts = { emotion: 'Q4' as const, maxWords: 30, maxBars: 3, sampling: { type: { temperature: 2 } } };
  const before = tf.memory().numTensors;
  const batch = generateBatch(model, vocab, opts, [new Rng(1), new Rng(2), new Rng(3)]);
  assert.equal(tf.memory().numTensors, before);
  for (const [i, r] of batch.entries()) {
    const alone = generate(model, vocab, { ...opts, rng: new Rng(i + 1) });
    assert.deepEqual(r.words, alone.words, `piece ${i}`);
    assert.equal(r.stoppedBy, alone.stoppedBy);
    assert.deepEqual(checkWords(vocab, r.words), []);
  }
  assert.ok(new Set(batch.map((r) => r.generated)).size > 1 || new Set(batch.map((r) => r.stoppedBy)).size > 1, 'pieces stop at different points');
  model.dispose();
});

test('one onset: at most MAX_NOTES_AT_ONSET notes, never the same pitch twice, even when the model wants nothing else', async () => {
  await initBackend('wasm');
  // A model that always wants another Note, and always the same pitch: without the onset rules the piece would
  // stay on its first onset and strike one key until maxWords.
  const model = tinyModel('linear', 4);
  const sd = model.stateDict();
  const bias = (name: string) => {
    const t = sd.get(name);
    assert.ok(t, name);
    return t.data;
  };
  bias('proj_type.bias')[vocab.encode('type', 'Note')] = 60;
  const C4 = vocab.encode('pitch', 'Note_Pitch_60');
  bias('proj_pitch.bias')[C4] = 60;
  model.loadStateDict(sd);
  const r = generate(model, vocab, { emotion: 'Q3', seed: 5, maxWords: 120, maxBars: 1000, stopAtEos: false });
  assert.deepEqual(checkWords(vocab, r.words), []);
  const onsets: number[][] = [];
  for (let i = 0; i < r.words.length / 8; i++) {
    const type = vocab.decode('type', r.words[i * 8 + FAMILY_INDEX.type]!);
    if (type === 'Metrical') onsets.push([]);
    else if (type === 'Note') onsets.at(-1)!.push(r.words[i * 8 + FAMILY_INDEX.pitch]!);
  }
  const last = onsets.pop(); // maxWords may cut it short
  assert.ok(last && last.length <= MAX_NOTES_AT_ONSET && new Set(last).size === last.length);
  const withNotes = onsets.filter((o) => o.length > 0);
  assert.ok(withNotes.length >= 5, `${withNotes.length} onsets with notes`);
  for (const o of withNotes) {
    assert.equal(o.length, MAX_NOTES_AT_ONSET, 'the model wants notes: each onset fills up to the limit, no further');
    assert.equal(new Set(o).size, o.length, 'no key struck twice at one onset');
    assert.equal(o[0], C4, "the onset's first note is the model's favourite");
  }
  model.dispose();
});
