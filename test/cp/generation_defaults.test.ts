// The generation defaults in layers: the library's object, a run folder's generation.json (parsed with one-line
// errors), the command line's flags on top.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend.ts';
import { midiToScore } from '../../src/music/midi_io.ts';
import { saveModel, readGenerationDefaults } from '../../src/platform/run_folder.ts';
import { GENERATION_DEFAULTS, checkPerQuadrant, generationSettings, mergeSampling, parseGenerationDefaults, settingsForQuadrant } from '../../src/cp/generation_defaults.ts';
import { EMOPIA_SAMPLING } from '../../src/cp/sampling.ts';
import { generate } from '../../src/cp/generate.ts';
import { runCli } from '../helpers/cli.ts';
import { tinyModel, vocab } from '../helpers/tiny_model.ts';

test('parseGenerationDefaults: valid files, and what is wrong with the others', () => {
  assert.deepEqual(parseGenerationDefaults({ sampling: { velocity: { temperature: 1 } }, guidance: 2, why: 'notes' }, 'g'), { sampling: { velocity: { temperature: 1 } }, guidance: 2 });
  assert.deepEqual(parseGenerationDefaults({}, 'g'), { sampling: {} });
  assert.throws(() => parseGenerationDefaults([], 'g.json'), /^InputError: g\.json: expected an object \{sampling\?, guidance\?, contrast\?, recall\?\}, got \[\]/);
  assert.throws(() => parseGenerationDefaults({ contrast: 'Q3' }, 'g.json'), /expected "contrast" to be "others" or "neutral", got "Q3"/);
  assert.deepEqual(parseGenerationDefaults({ contrast: 'neutral' }, 'g'), { sampling: {}, contrast: 'neutral' });
  assert.throws(() => parseGenerationDefaults({ sampling: { loudness: {} } }, 'g.json'), /unknown family 'loudness'/);
  assert.throws(() => parseGenerationDefaults({ sampling: { pitch: { temperature: 0 } } }, 'g.json'), /^InputError: g\.json: temperature of pitch: expected a number > 0, got 0/);
  assert.throws(() => parseGenerationDefaults({ sampling: { pitch: { topP: 2 } } }, 'g.json'), /top-p of pitch: expected a number in \(0, 1\], got 2/);
  assert.throws(() => parseGenerationDefaults({ guidance: 'lots' }, 'g.json'), /expected "guidance" to be a number >= 0, got "lots"/);
});

test('mergeSampling: the command line wins field by field', () => {
  const base = { velocity: { temperature: 1, topP: 0.9 }, duration: { temperature: 1 } };
  const over = { velocity: { temperature: 2 }, pitch: { topP: null } };
  assert.deepEqual(mergeSampling(base, over), { pitch: { topP: null }, duration: { temperature: 1 }, velocity: { temperature: 2, topP: 0.9 } });
});

test('generationSettings: flags over the model\'s generation.json over the library\'s defaults', () => {
  assert.equal(GENERATION_DEFAULTS.sampling, EMOPIA_SAMPLING);
  assert.deepEqual([GENERATION_DEFAULTS.guidance, GENERATION_DEFAULTS.contrast, GENERATION_DEFAULTS.maxBars, GENERATION_DEFAULTS.evaluateMaxBars], [1, 'others', 32, 16]);
  assert.ok(Object.isFrozen(GENERATION_DEFAULTS) && Object.isFrozen(GENERATION_DEFAULTS.quadrants));
  assert.deepEqual(generationSettings({ sampling: {} }), { sampling: {}, guidance: 1, contrast: 'others', recall: { share: 0, bonus: 0 }, perQuadrant: {} });
  const model = { sampling: { velocity: { temperature: 1 } }, guidance: 2 };
  assert.deepEqual(generationSettings(model), { sampling: { velocity: { temperature: 1 } }, guidance: 2, contrast: 'others', recall: { share: 0, bonus: 0 }, perQuadrant: {} });
  assert.deepEqual(
    generationSettings(model, { sampling: { velocity: { topP: null } }, guidance: 1, contrast: 'neutral' }),
    { sampling: { velocity: { temperature: 1, topP: null } }, guidance: 1, contrast: 'neutral', recall: { share: 0, bonus: 0 }, perQuadrant: {} },
  );
  assert.deepEqual(generationSettings({ sampling: {}, contrast: 'neutral' }, { guidance: undefined }), { sampling: {}, guidance: 1, contrast: 'neutral', recall: { share: 0, bonus: 0 }, perQuadrant: {} });
  // recall: the flag's over the model's over none
  const withRecall = { sampling: {}, recall: { share: 0.3, bonus: 2 } };
  assert.deepEqual(generationSettings(withRecall).recall, { share: 0.3, bonus: 2 });
  assert.deepEqual(generationSettings(withRecall, { recall: { share: 0, bonus: 0 } }).recall, { share: 0, bonus: 0 });
});

test('perQuadrant: per-quadrant sampling over the sampling, checked; a flag on a family field, or --recall, wins over them', () => {
  const json = {
    sampling: { pitch: { guidance: 5 }, chord: { guidance: 5 } }, recall: { share: 0.15, bonus: 30 },
    perQuadrant: { Q1: { sampling: { pitch: { guidance: 3 } } }, Q4: { sampling: { pitch: { guidance: 2, temperature: 0.9 } }, recall: { share: 0.1 } } },
  };
  const model = parseGenerationDefaults(json, 'g.json');
  assert.deepEqual(model.perQuadrant, json.perQuadrant);
  const samplingOf = (s: ReturnType<typeof generationSettings>, q: 1 | 2 | 3 | 4) => settingsForQuadrant(s.sampling, s.recall, s.perQuadrant, q).sampling;
  const m = generationSettings(model);
  assert.deepEqual(samplingOf(m, 1), { pitch: { guidance: 3 }, chord: { guidance: 5 } });
  assert.deepEqual(samplingOf(m, 2), model.sampling);
  assert.deepEqual(samplingOf(m, 4), { pitch: { guidance: 2, temperature: 0.9 }, chord: { guidance: 5 } });
  assert.deepEqual(settingsForQuadrant(m.sampling, m.recall, m.perQuadrant, 4).recall, { share: 0.1, bonus: 30 });
  // --family-guidance pitch=4 on the command line: every quadrant's pitch guidance is the flag's; Q4 keeps its temperature.
  const s = generationSettings(model, { sampling: { pitch: { guidance: 4 } } });
  assert.deepEqual(s.perQuadrant, { Q4: { sampling: { pitch: { temperature: 0.9 } }, recall: { share: 0.1 } } });
  assert.deepEqual(samplingOf(s, 1), { pitch: { guidance: 4 }, chord: { guidance: 5 } });
  assert.deepEqual(samplingOf(s, 4), { pitch: { guidance: 4, temperature: 0.9 }, chord: { guidance: 5 } });
  // --recall on the command line: every quadrant's recall is the flag's.
  const r = generationSettings(model, { recall: { share: 0.3, bonus: 2 } });
  assert.deepEqual(settingsForQuadrant(r.sampling, r.recall, r.perQuadrant, 4).recall, { share: 0.3, bonus: 2 });
  assert.throws(() => parseGenerationDefaults({ perQuadrant: { Q5: {} } }, 'g.json'), /^InputError: g\.json: "perQuadrant": .*unknown quadrant 'Q5' \(expected Q1, Q2, Q3 or Q4\)/);
  assert.throws(() => parseGenerationDefaults({ perQuadrant: { Q1: { sampling: { pitch: { guidance: -1 } } } } }, 'g.json'), /^InputError: g\.json: "perQuadrant": .*expected a number >= 0, got -1/);
  assert.throws(() => parseGenerationDefaults({ perQuadrant: { Q1: { sampling: { melody: {} } } } }, 'g.json'), /unknown family 'melody'/);
  assert.throws(() => parseGenerationDefaults({ perQuadrant: [] }, 'g.json'), /expected an object of quadrants Q1-Q4, got \[\]/);
  assert.throws(() => checkPerQuadrant({ Q2: { sampling: 3 } }), /expected families in Q2's "sampling", got 3/);
});

test('emopia generate uses the run folder\'s generation.json unless a flag overrides it', async () => {
  await initBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'emopia-gendef-'));
  try {
    const model = tinyModel(2, { noEos: true, emotionScale: 30 }); // keeps going; emotions that matter
    const run = join(dir, 'run');
    saveModel(run, model, vocab);
    model.dispose();
    assert.deepEqual(readGenerationDefaults(run), { sampling: {} }, 'no file, no overrides');
    // guidance 0 in the folder: the neutral twin alone decides, so Q1 and Q3 give the same notes.
    writeFileSync(join(run, 'generation.json'), JSON.stringify({ guidance: 0, contrast: 'neutral' }));
    const gen = (q: string, extra: string[] = []) => runCli(['generate', '--checkpoint', run, '--emotion', q, '--max-words', '30', '--seed', '4', '--no-progress', '-o', join(dir, `${q}${extra.length}.mid`), ...extra]);
    const [a, b, c] = await Promise.all([gen('Q1'), gen('Q3'), gen('Q3', ['--guidance', '1'])]);
    for (const r of [a, b, c]) assert.equal(r.code, 0, r.stderr);
    const notes = (f: string) => midiToScore(readFileSync(join(dir, f))).notes;
    assert.deepEqual(notes('Q10.mid'), notes('Q30.mid'));
    assert.notDeepEqual(notes('Q32.mid'), notes('Q30.mid'), '--guidance 1 overrides the folder');
    writeFileSync(join(run, 'generation.json'), '{"guidance": -2}');
    const bad = await gen('Q1');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^emopia: .*generation\.json: expected "guidance" to be a number >= 0, got -2\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('generate with perQuadrant sampling: a piece of that quadrant is the piece with the overrides in its sampling; other quadrants unchanged', async () => {
  await initBackend('wasm');
  const model = tinyModel(5, { noEos: true });
  const sampling = { pitch: { guidance: 3 }, velocity: { guidance: 2 } };
  const perQuadrant = { Q3: { sampling: { pitch: { guidance: 1.5, temperature: 0.3 } } } };
  const base = { maxBars: 6, maxWords: 300, seed: 5 };
  const q3 = generate(model, vocab, { ...base, emotion: 'Q3', sampling, perQuadrant });
  assert.deepEqual(q3.words, generate(model, vocab, { ...base, emotion: 'Q3', sampling: { pitch: { guidance: 1.5, temperature: 0.3 }, velocity: { guidance: 2 } } }).words);
  assert.notDeepEqual(q3.words, generate(model, vocab, { ...base, emotion: 'Q3', sampling }).words, 'the override changed the Q3 piece');
  assert.deepEqual(generate(model, vocab, { ...base, emotion: 'Q2', sampling, perQuadrant }).words, generate(model, vocab, { ...base, emotion: 'Q2', sampling }).words);
  model.dispose();
});
