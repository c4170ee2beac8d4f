/**
 * The shipped default model (models/default): it loads as the `small` preset on the full-grid vocabulary,
 * generates a grammatical piece of the requested length for a fixed seed (the same piece twice), and the
 * README's first command works without --checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend.ts';
import { loadModel } from '../../src/platform/run_folder.ts';
import { makeConfig } from '../../src/cp/config.ts';
import { DEFAULT_MODEL_DIR, resolveCheckpoint } from '../../src/platform/default_model.ts';
import { generate } from '../../src/cp/generate.ts';
import { checkWords } from '../../src/music/grammar.ts';
import { wordsToScore } from '../../src/music/cp_tokenizer.ts';
import { midiToScore } from '../../src/music/midi_io.ts';
import { FAMILIES, Vocab } from '../../src/music/vocab.ts';
import { runCli } from '../helpers/cli.ts';

test('the default model loads as the small preset and generates a 4-bar Q3 piece, the same for the same seed', async () => {
  await initBackend('wasm');
  assert.equal(resolveCheckpoint(undefined), DEFAULT_MODEL_DIR);
  const { model, config, vocab } = loadModel(DEFAULT_MODEL_DIR);
  try {
    const full = Vocab.fullGrid();
    for (const f of FAMILIES) assert.deepEqual(vocab.values(f), full.values(f), `family ${f} is the full grid`);
    const classes = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<(typeof FAMILIES)[number], number>;
    const small = makeConfig('small', classes);
    assert.equal(config.dModel, small.dModel);
    assert.equal(config.nLayers, small.nLayers);
    assert.equal(config.attention, 'softmax');
    assert.equal(model.numParameters(), 3_552_380);

    const a = generate(model, vocab, { emotion: 'Q3', seed: 3, maxBars: 4 });
    const b = generate(model, vocab, { emotion: 'Q3', seed: 3, maxBars: 4 });
    assert.deepEqual(a.words, b.words, 'same seed, same words');
    assert.equal(a.stoppedBy, 'maxBars');
    assert.equal(a.bars, 4);
    assert.deepEqual(checkWords(vocab, a.words), [], 'the words follow the grammar');
    const { score, emotion } = wordsToScore(a.words, vocab);
    assert.equal(emotion, 3, 'the piece carries the requested emotion word');
    assert.ok(score.notes.length >= 4, `a trained model plays notes in 4 bars, got ${score.notes.length}`);
    const end = Math.max(...score.notes.map((n) => n.start));
    assert.ok(end < 4 * 4 * score.ticksPerBeat, 'every note starts within the 4 bars (4/4)');
    for (const n of score.notes) assert.ok(n.pitch >= 22 && n.pitch <= 107, `piano pitch, got ${n.pitch}`);
  } finally {
    model.dispose();
  }
});

test('the README command: `emopia generate --emotion Q1 -o happy.mid` without --checkpoint writes MIDI', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'emopia-default-'));
  try {
    const out = join(dir, 'happy.mid');
    const r = await runCli(['generate', '--emotion', 'Q1', '-o', out, '--max-bars', '2', '--no-progress']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /happy\.mid: \d+ words, [12] bars, \d+ notes/);
    assert.ok(midiToScore(readFileSync(out)).notes.length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
