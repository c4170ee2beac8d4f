/** `emopia generate` through the real binary: seeded output is byte-identical MIDI; bad input is one line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend.ts';
import { midiToScore } from '../../src/music/midi_io.ts';
import { saveModel } from '../../src/platform/run_folder.ts';
import { GENERATION_DEFAULTS } from '../../src/cp/generation_defaults.ts';
import { runCli } from '../helpers/cli.ts';
import { tinyModel, vocab } from '../helpers/tiny_model.ts';

test('emopia generate: files, determinism, prompt, and one-line errors that leave outputs untouched', async () => {
  await initBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'emopia-gen-'));
  try {
    const model = tinyModel(1, { noEos: true }); // keeps going to --max-words
    const run = join(dir, 'run');
    saveModel(run, model, vocab);
    model.dispose();
    const common = ['generate', '--checkpoint', run, '--emotion', 'Q3', '--max-words', '40', '--temperature', 'pitch=1.5', '--top-p', 'velocity=0.8', '--no-progress'];
    const [a, b, many] = await Promise.all([
      runCli([...common, '--seed', '5', '-o', join(dir, 'a.mid')]),
      runCli([...common, '--seed', '5', '-o', join(dir, 'b.mid')]),
      runCli([...common, '--seed', '5', '--num', '2', '-o', join(dir, 'many')]),
    ]);
    for (const r of [a, b, many]) assert.equal(r.code, 0, r.stderr);
    const bytesA = readFileSync(join(dir, 'a.mid'));
    assert.deepEqual(bytesA, readFileSync(join(dir, 'b.mid')), 'same seed, same bytes');
    const files = readdirSync(join(dir, 'many')).sort();
    assert.deepEqual(files, ['emopia_Q3_seed5_001.mid', 'emopia_Q3_seed5_002.mid']);
    assert.notDeepEqual(readFileSync(join(dir, 'many', files[0]!)), readFileSync(join(dir, 'many', files[1]!)));
    // Piece 1 of a batch of 2 is the piece generated alone with the same seed.
    assert.deepEqual(readFileSync(join(dir, 'many', files[0]!)), bytesA);
    const score = midiToScore(bytesA);
    assert.ok(score.notes.length > 0, 'the piece has notes');
    assert.match(a.stderr, /a\.mid: \d+ words, \d+ bars, \d+ notes, stopped by (maxWords|maxBars)/);

    // Continue a piece.
    const cont = await runCli([...common, '--seed', '1', '--prompt', join(dir, 'a.mid'), '-o', join(dir, 'cont.mid')]);
    assert.equal(cont.code, 0, cont.stderr);
    assert.ok(midiToScore(readFileSync(join(dir, 'cont.mid'))).notes.length >= score.notes.length);

    // Bad input: one line, exit 1 (input) or 2 (usage), and the existing output is untouched.
    const out = join(dir, 'keep.mid');
    writeFileSync(out, 'keep');
    const broken = join(dir, 'broken');
    mkdirSync(broken);
    for (const f of ['config.json', 'vocab.json']) copyFileSync(join(run, f), join(broken, f));
    writeFileSync(join(broken, 'model.safetensors'), 'garbage');
    const cases: Array<[string[], number, RegExp]> = [
      [['--checkpoint', run, '--emotion', 'Q5'], 2, /^emopia: --emotion: expected Q1, Q2, Q3 or Q4, got 'Q5'\n$/],
      [['--checkpoint', join(dir, 'nope'), '--emotion', 'Q1'], 1, /^emopia: .*nope: no such checkpoint folder\n$/],
      [['--checkpoint', broken, '--emotion', 'Q1'], 1, /^emopia: .*model\.safetensors: .+\n$/],
      [['--checkpoint', run, '--emotion', 'Q1', '--prompt', join(run, 'config.json')], 1, /^emopia: .*config\.json: .*MIDI.*\n$/],
      [['--checkpoint', run, '--emotion', 'Q1', '--guidance=-1'], 2, /^emopia: --guidance: expected a number >= 0, got '-1'\n$/],
      [['--checkpoint', run, '--emotion', 'Q1', '--contrast', 'all'], 2, /^emopia: --contrast: expected one of others\|neutral, got 'all'\n$/],
      [['--checkpoint', run, '--emotion', 'Q1', '--top-p', 'pitch=2'], 2, /^emopia: --top-p: expected a number in \(0, 1\] for pitch, got '2'\n$/],
      [['--checkpoint', run, '--emotion', 'Q1', '--recall', '0.3'], 2, /^emopia: --recall: expected share,bonus with share in \[0, 1\] and bonus >= 0 \(e\.g\. 0\.3,2\.5\), or none, got '0\.3'\n$/],
      [['--checkpoint', run, '--emotion', 'Q1', '--num', '2'], 2, /^emopia: --output: with --num 2, expected a folder/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(['generate', ...args, '-o', out, '--no-progress'])));
    results.forEach((r, i) => {
      const [args, code, re] = cases[i]!;
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    });
    assert.equal(readFileSync(out, 'utf8'), 'keep');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('emopia generate\'s progress counts bars out of --max-bars (words beside), or words out of --max-words when given', async () => {
  await initBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'emopia-gen-progress-'));
  try {
    const model = tinyModel(1, { noEos: true });
    const run = join(dir, 'run');
    saveModel(run, model, vocab);
    model.dispose();
    const [bars, words] = await Promise.all([
      runCli(['generate', '--checkpoint', run, '--emotion', 'Q2', '--seed', '3', '--max-bars', '3', '-o', join(dir, 'bars.mid')]),
      runCli(['generate', '--checkpoint', run, '--emotion', 'Q2', '--seed', '3', '--max-words', '12', '-o', join(dir, 'words.mid')]),
    ]);
    assert.equal(bars.code, 0, bars.stderr);
    assert.equal(words.code, 0, words.stderr);
    // stderr is not a terminal here: log lines, the last one the final state.
    const done = /bars\.mid: (\d+) words, 3 bars, \d+ notes, stopped by maxBars/.exec(bars.stderr);
    assert.ok(done, bars.stderr);
    const progressLines = bars.stderr.split('\n').filter((l) => l.startsWith('generate 1/1: '));
    assert.match(progressLines.at(-1) ?? '', new RegExp(`^generate 1/1: 3/3 bars, [\\d.]+/s, ETA 0s, ${done[1]} words$`));
    assert.match(words.stderr, /^generate 1\/1: 12\/12 words, [\d.]+\/s, ETA 0s$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('generate and evaluate show the library\'s defaults, and --guidance its contrast and cost', async () => {
  const [gen, ev] = await Promise.all([runCli(['generate', '--help']), runCli(['evaluate', '--help'])]);
  assert.equal(gen.code, 0, gen.stderr);
  assert.equal(ev.code, 0, ev.stderr);
  const flat = (s: string) => s.replace(/\s+/g, ' ');
  const g = flat(gen.stdout);
  const e = flat(ev.stdout);
  const d = GENERATION_DEFAULTS;
  for (const [opt, v] of [['--max-bars <n>', d.maxBars], ['--num <n>', d.num], ['--batch <n>', d.batch], ['--seed <n>', d.seed]] as const) {
    assert.match(g, new RegExp(`${opt} (?:(?! --).)*\\(default: ${v}\\)`), `generate ${opt}`);
  }
  assert.match(e, new RegExp(`--max-bars <n> (?:(?! --).)*\\(default: ${d.evaluateMaxBars}\\)`));
  assert.match(e, new RegExp(`--per-emotion <n> (?:(?! --).)*\\(default: ${d.perEmotion}\\)`));
  assert.match(e, /--emotions <list> (?:(?! --).)*\(default: "Q1,Q2,Q3,Q4"\)/);
  for (const help of [g, e]) {
    assert.match(help, /away from those of the --contrast, below 1 pulls them towards it \(0.5: halfway\), at 4x the work per word away from others, 2x away from neutral \(default: the model's own, else 1\)/);
    assert.match(help, /\(default: the model's own, else others\)/);
  }
});
