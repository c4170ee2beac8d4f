/** `emopia classify` and `emopia evaluate` through the real binary: outputs, a tiny model, and bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, tf } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import { Vocab, FAMILIES } from '../../src/music/vocab.ts';
import { emptyScore, type Note } from '../../src/music/score.ts';
import { scoreToMidi } from '../../src/music/midi_io.ts';
import { makeConfig } from '../../src/cp/config.ts';
import { CPTransformer } from '../../src/cp/model.ts';
import { saveModel } from '../../src/platform/run_folder.ts';
import { evaluateConditioning } from '../../src/evaluate/conditioning.ts';
import { loadClassifier } from '../../src/platform/classifier.ts';
import { STAT_KEYS } from '../../src/classify/stats.ts';
import { runCli } from '../helpers/cli.ts';

/** A small piece: a triad per beat for `bars` bars, pitches around `base`. */
function pieceMidi(base: number, minor: boolean, bars: number, velocity: number): Uint8Array {
  const s = emptyScore();
  const notes: Note[] = [];
  for (let b = 0; b < bars * 4; b++) {
    const root = base + [0, 5, 7, 0][b % 4]!;
    for (const iv of [0, minor ? 3 : 4, 7]) notes.push({ pitch: root + iv, velocity, start: b * 480, end: b * 480 + 400 });
  }
  s.notes = notes;
  s.tempos = [{ tick: 0, bpm: 120 }];
  return scoreToMidi(s);
}

/** A tiny random-init CP model that does not stop at once (EOS logit pushed down, as the generate tests do). */
function tinyRun(dir: string): { model: CPTransformer; vocab: Vocab } {
  const vocab = Vocab.fullGrid();
  const classes = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<(typeof FAMILIES)[number], number>;
  const model = new CPTransformer(makeConfig('tiny', classes), new Rng(2));
  const sd = model.stateDict();
  sd.get('proj_type.bias')!.data[vocab.encode('type', 'EOS')] = -30;
  model.loadStateDict(sd);
  saveModel(dir, model, vocab);
  return { model, vocab };
}

test('emopia classify: text and JSON output, probabilities summing to 1, per-file errors, bad classifiers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'emopia-cls-'));
  try {
    const a = join(dir, 'a.mid');
    const b = join(dir, 'b.mid');
    writeFileSync(a, pieceMidi(60, false, 4, 100));
    writeFileSync(b, pieceMidi(45, true, 4, 50));
    const bad = join(dir, 'bad.mid');
    writeFileSync(bad, 'MThd garbage');
    const empty = join(dir, 'empty.mid');
    writeFileSync(empty, scoreToMidi(emptyScore()));
    const corrupt = join(dir, 'corrupt');
    mkdirSync(corrupt);
    writeFileSync(join(corrupt, 'classifier.json'), '{"format": "emopia-ts/emotion-classifier", "version": 1, "features": [');
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ format: 'emopia-ts/emotion-classifier', version: 1, features: ['x'], mean: [0], std: [1], members: [] }));

    const [text, json, mixed, noModel, badModel, wrongModel, none] = await Promise.all([
      runCli(['classify', a, b]),
      runCli(['classify', '--json', a, b]),
      runCli(['classify', '--json', a, bad, join(dir, 'missing.mid'), empty, b]),
      runCli(['classify', '--model', join(dir, 'nope'), a]),
      runCli(['classify', '--model', corrupt, a]),
      runCli(['classify', '--model', wrong, a]),
      runCli(['classify']),
    ]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /a\.mid: Q[1-4] \((happy|tense|sad|calm)\)  Q1 0\.\d{3}  Q2 0\.\d{3}  Q3 0\.\d{3}  Q4 0\.\d{3}$/);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as Array<{ file: string; quadrant: string; probabilities: Record<string, number>; arousal: number; valence: number }>;
    assert.deepEqual(rows.map((r) => r.file), [a, b]);
    for (const r of rows) {
      const p = r.probabilities;
      assert.ok(Math.abs(p.Q1! + p.Q2! + p.Q3! + p.Q4! - 1) < 1e-9);
      const best = Object.entries(p).sort((x, y) => y[1] - x[1])[0]![0];
      assert.equal(r.quadrant, best, 'the quadrant is the most probable one');
      assert.ok(Math.abs(r.arousal - (p.Q1! + p.Q2!)) < 1e-9 && Math.abs(r.valence - (p.Q1! + p.Q4!)) < 1e-9);
      // The text output shows the same quadrant.
      assert.match(text.stdout, new RegExp(`${r.file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${r.quadrant} `));
    }
    // Bad files: one line each on stderr, the good ones still classified, exit 1 at the end.
    assert.equal(mixed.code, 1);
    const out = JSON.parse(mixed.stdout) as Array<{ file: string; quadrant?: string; error?: string }>;
    assert.deepEqual(out.map((r) => r.file), [a, bad, join(dir, 'missing.mid'), empty, b]);
    assert.deepEqual(out.map((r) => r.quadrant ?? null), [rows[0]!.quadrant, null, null, null, rows[1]!.quadrant]);
    const errs = mixed.stderr.trim().split('\n');
    assert.equal(errs.length, 4);
    assert.match(errs[0]!, /^emopia: .*bad\.mid: .*MIDI/);
    assert.match(errs[1]!, /^emopia: .*missing\.mid: no such file$/);
    assert.match(errs[2]!, /^emopia: .*empty\.mid: no notes/);
    assert.equal(errs[3], 'emopia: classify: 3 of 5 files could not be classified');
    // Classifier missing or corrupt: one line, exit 1.
    for (const [r, re] of [[noModel, /nope: no such classifier/], [badModel, /classifier\.json: corrupt classifier: not valid JSON/], [wrongModel, /wrong\.json: expected "members"/]] as const) {
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stdout, '');
    }
    assert.equal(none.code, 2, 'no file: usage error');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('evaluate on a tiny random-init model: rows sum to the pieces generated; statistics; seeded; no leaks', async () => {
  await initBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'emopia-eval-'));
  try {
    const run = join(dir, 'run');
    const { model, vocab } = tinyRun(run);
    const before = tf.memory().numTensors;
    const classifier = loadClassifier();
    const opts = { perEmotion: 2, seed: 3, maxWords: 40, quadrants: [1, 3] as Array<1 | 2 | 3 | 4> };
    const r = evaluateConditioning(model, vocab, classifier, opts);
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
    assert.deepEqual(evaluateConditioning(model, vocab, classifier, opts).confusion, r.confusion, 'same seed, same result');
    const batched = evaluateConditioning(model, vocab, classifier, { ...opts, batch: 2 });
    assert.deepEqual(batched.pieces.map((p) => [p.seed, p.words, p.notes]), r.pieces.map((p) => [p.seed, p.words, p.notes]), 'batching gives the same pieces');
    model.dispose();
    assert.equal(r.pieces.length, 4);
    r.confusion.forEach((row, i) => assert.equal(row.reduce((x, y) => x + y, 0) + r.noNotes[i]!, 2));
    const right = r.pieces.filter((p) => p.classified === p.requested).length;
    assert.equal(r.accuracy.quadrant, right / 4);
    // Arousal (Q1,Q2 high) and valence (Q1,Q4 positive) by hand; a piece without notes is a miss.
    const agree = (side: (q: number) => boolean) => r.pieces.filter((p) => p.classified !== null && side(p.classified) === side(p.requested)).length / 4;
    assert.equal(r.accuracy.arousal, agree((q) => q <= 2));
    assert.equal(r.accuracy.valence, agree((q) => q === 1 || q === 4));
    for (const p of r.pieces) assert.ok(p.words <= 40);

    // The CLI: text, JSON, SVG, real statistics from a folder of two hand-made "EMOPIA" clips.
    const real = join(dir, 'real');
    mkdirSync(real);
    writeFileSync(join(real, 'Q1_song_0.mid'), pieceMidi(60, false, 2, 90));
    writeFileSync(join(real, 'Q3_other_1.mid'), pieceMidi(48, true, 2, 50));
    const svg = join(dir, 'chart.svg');
    const common = ['evaluate', '--checkpoint', run, '--per-emotion', '2', '--max-words', '30', '--seed', '1', '--real', real, '--no-progress'];
    const [t, j, badQ, badCls, badRun, badReal] = await Promise.all([
      runCli([...common, '--svg', svg]),
      runCli([...common, '--json']),
      runCli([...common, '--emotions', 'Q1,Q5']),
      runCli([...common, '--classifier', join(dir, 'none')]),
      runCli(['evaluate', '--checkpoint', join(dir, 'nope'), '--per-emotion', '1', '--no-progress']),
      runCli(['evaluate', '--checkpoint', run, '--per-emotion', '1', '--real', join(dir, 'no-real'), '--no-progress']),
    ]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /confusion matrix \(rows: requested quadrant, columns: classified\)/);
    for (const q of ['Q1', 'Q2', 'Q3', 'Q4']) assert.match(t.stdout, new RegExp(`\\n  ${q} +(\\d+ +){5}2\\n`), `${q} row totals 2`);
    assert.match(t.stdout, /conditioning accuracy \(n=8\): 4Q \d\.\d{3}  arousal \d\.\d{3}  valence \d\.\d{3}/);
    assert.match(t.stdout, /note density \(notes\/s\)/);
    assert.equal(j.code, 0, j.stderr);
    const res = JSON.parse(j.stdout);
    assert.equal(res.confusion.length, 4);
    res.confusion.forEach((row: number[], i: number) => assert.equal(row.reduce((x, y) => x + y, 0) + res.noNotes[i], 2));
    assert.equal(res.pieces.length, 8);
    assert.deepEqual(res.real.clips, { Q1: 1, Q2: 0, Q3: 1, Q4: 0 });
    // Real statistics of the hand-made clips: 24 notes.
    // Quantized: durations 400 -> 360 ticks, so the last note ends at 7.75 beats = 3.875 s at 120 BPM.
    assert.ok(Math.abs(res.real.stats.Q1.noteDensity.mean - 24 / 3.875) < 1e-9);
    assert.equal(res.real.stats.Q1.tempo, undefined, 'tempo is in the structure statistics, on the beat grid');
    assert.equal(res.real.stats.Q1.meanVelocity.mean, 90);
    assert.equal(res.real.stats.Q3.meanVelocity.mean, 50);
    assert.equal(res.real.stats.Q3.minorShare.mean, 1);
    for (const k of STAT_KEYS) assert.ok(k in res.stats.Q1);
    const chart = readFileSync(svg, 'utf8');
    assert.match(chart, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(chart, /<\/svg>\n$/);
    assert.equal((chart.match(/font-weight="bold">[^<]+<\/text>/g) ?? []).length, 1 + STAT_KEYS.length, 'title + one panel per statistic');
    assert.ok(!/NaN|undefined/.test(chart));
    // A bad option value: one line, exit 2 (usage); bad input: one line, exit 1.
    assert.equal(badQ.code, 2, badQ.stderr);
    assert.match(badQ.stderr, /^emopia: --emotions: expected quadrant names Q1, Q2, Q3 or Q4 .*got 'Q5'\n$/);
    for (const [r, re] of [[badCls, /^emopia: .*none: no such classifier/], [badRun, /^emopia: .*nope: no such checkpoint folder\n$/], [badReal, /^emopia: .*no-real: no such folder/]] as const) {
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
