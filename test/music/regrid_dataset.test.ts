/**
 * Beat-true datasets and the CLI of `--grid`: `dataset build --grid annotations` on the two POP909-like fixtures of
 * test/fixtures/pop909 (made by scripts/make_pop909_fixtures.ts: every note on an 8th of the annotated beats), and
 * the contract of the new options (bad usage exits 2, a file without annotations exits 1).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDataset, readDataset } from '../../src/platform/dataset.ts';
import { datasetStats } from '../../src/music/dataset.ts';
import { emptyScore } from '../../src/music/score.ts';
import { scoreToMidi } from '../../src/music/midi_io.ts';
import { runCli } from '../helpers/cli.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/pop909/', import.meta.url));
const ANNOTATIONS = join(FIXTURES, 'annotations');
let dir = '';
before(() => (dir = mkdtempSync(join(tmpdir(), 'emopia-regrid-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

test('dataset build --grid annotations: beat-true clips, every onset on an 8th, tempo words from the beats, grid recorded', async () => {
  const ann = await buildDataset(FIXTURES, join(dir, 'ann'), { grid: 'annotations', annotations: ANNOTATIONS, valid: 0 });
  const file = await buildDataset(FIXTURES, join(dir, 'file'), { valid: 0 });
  assert.equal(ann.index.summary.clips, 2);
  assert.equal(ann.index.summary.skipped, 0);
  // 101 has a one-beat pickup, 102 one 2-beat bar.
  assert.deepEqual(ann.index.grid, { mode: 'annotations', annotations: ANNOTATIONS, stretchedBars: 1, clipsIn3: 0, clipsWithPickup: 1 });
  assert.equal(file.index.grid, undefined, 'a --grid file dataset has no grid record (its index is as before)');
  // Every note is kept either way.
  assert.equal(ann.index.summary.notes, file.index.summary.notes);
  const a = datasetStats(readDataset(join(dir, 'ann'))).structure;
  const f = datasetStats(readDataset(join(dir, 'file'))).structure;
  // On the annotated beats every onset is on an 8th, except in 102's stretched 2-beat bar (2 beats over 16
  // positions: its off-beat 8ths fall on positions 4 and 12, still even): all of them.
  assert.equal(a.onsetsOn8ths, 1);
  // On the file's 120 BPM grid, which follows neither song's beats, many are not.
  assert.ok(f.onsetsOn8ths < 0.8, `file grid: ${f.onsetsOn8ths}`);
  // Tempo: the file grid has one tempo (120 BPM, bin 119); beat-true words carry 80-100 BPM.
  assert.equal(f.tempoClasses, 1);
  assert.ok(a.tempoClasses >= 4, `${a.tempoClasses} tempo classes`);
  const tempos = datasetStats(readDataset(join(dir, 'ann'))).histograms.tempo.filter((h) => h.count > 0 && String(h.value).startsWith('Tempo_'));
  // 101 drifts from 90 to 80 BPM, 102 is at 100 BPM (bins 98 and 101 alternate to keep its clock), and 102's
  // 2-beat bar holds 4 CP beats in 1.2 s: 200 BPM (bins 200 and 206 as the clock catches up).
  for (const t of tempos) {
    const bpm = Number(String(t.value).slice(6));
    assert.ok((bpm >= 77 && bpm <= 104) || (bpm >= 197 && bpm <= 206), `tempo ${t.value}`);
  }
  assert.ok(tempos.some((t) => Number(String(t.value).slice(6)) >= 197));
});

test('dataset build --grid annotations skips a file without annotations and lists it; the CLI says so', async () => {
  const src = join(dir, 'src');
  cpSync(FIXTURES, src, { recursive: true });
  copyFileSync(join(FIXTURES, '101.mid'), join(src, '103.mid')); // no annotations/103/
  const r = await runCli(['dataset', 'build', src, '-o', join(dir, 'skip'), '--grid', 'annotations', '--annotations', join(src, 'annotations')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 clips .* from 3 files/);
  assert.match(r.stdout, /^files skipped: 1/m);
  assert.match(r.stdout, /^ {2}skipped 103\.mid: no beat annotations: expected .*103[\\/]beat_midi\.txt$/m);
  assert.match(r.stdout, /^grid: annotations from .*; 1 bars stretched/m);
  assert.match(r.stderr, /warning: skipped 103\.mid: no beat annotations/);
  const index = JSON.parse(readFileSync(join(dir, 'skip', 'index.json'), 'utf8'));
  assert.equal(index.grid.mode, 'annotations');
  assert.deepEqual(index.skipped.map((s: { file: string }) => s.file), ['103.mid']);
});

test('encode --grid annotations then decode: the decoded file plays the notes at the annotated timing', async () => {
  const words = join(dir, '102.json');
  const mid = join(dir, '102.mid');
  const enc = await runCli(['encode', join(FIXTURES, '102.mid'), '--grid', 'annotations', '--annotations', ANNOTATIONS, '-o', words]);
  assert.equal(enc.code, 0, enc.stderr);
  const json = JSON.parse(readFileSync(words, 'utf8'));
  // The first position of the first bar carries 102's 100 BPM (bin 101): a tempo word, not the file's 120.
  assert.equal(json.events[2][0], 'Tempo_101');
  assert.equal(json.events[2][2], 'Beat_0');
  const dec = await runCli(['decode', words, '-o', mid]);
  assert.equal(dec.code, 0, dec.stderr);
  const { midiToScore } = await import('../../src/music/midi_io.ts');
  const { secondsAt } = await import('../../src/music/time_map.ts');
  const decoded = midiToScore(readFileSync(mid));
  const original = midiToScore(readFileSync(join(FIXTURES, '102.mid')));
  assert.equal(decoded.notes.length, original.notes.length);
  // The first beat is at 0.8 s in the original and bar 0 starts there in the decoded file.
  const ds = secondsAt(decoded.tempos);
  const os = secondsAt(original.tempos);
  const on = (s: typeof decoded, sec: (t: number) => number, shift: number) => s.notes.map((n) => sec(n.start) - shift).sort((x, y) => x - y);
  const got = on(decoded, ds, 0);
  const want = on(original, os, 0.8);
  const worst = Math.max(...got.map((g, i) => Math.abs(g - (want[i] as number))));
  assert.ok(worst < 0.03, `worst onset error ${(worst * 1000).toFixed(1)} ms`);
});

test('CLI contract of --grid: a bad value or a missing --annotations is exit 2, a file without annotations exit 1', async () => {
  const mid = join(FIXTURES, '101.mid');
  const cases: Array<[string[], number, RegExp]> = [
    [['encode', mid, '--grid', 'bars'], 2, /^emopia: --grid: expected one of file\|beats\|annotations, got 'bars'\n$/],
    [['dataset', 'build', FIXTURES, '-o', join(dir, 'x'), '--grid', 'bars'], 2, /^emopia: --grid: expected one of file\|beats\|annotations, got 'bars'\n$/],
    [['encode', mid, '--grid', 'annotations'], 2, /^emopia: --grid annotations: expected --annotations DIR/],
    [['encode', mid, '--annotations', ANNOTATIONS], 2, /^emopia: --annotations: only with --grid annotations, got --grid file\n$/],
    [['encode', mid, '--downbeats', 'tagger'], 2, /^emopia: --downbeats: only with --grid beats, got --grid file\n$/],
    [['dataset', 'build', FIXTURES, '-o', join(dir, 'x'), '--grid', 'annotations', '--annotations', ANNOTATIONS, '--downbeats', 'tagger'], 2, /^emopia: --downbeats: only with --grid beats, got --grid annotations\n$/],
    [['encode', mid, '--grid', 'beats', '--downbeats', 'learned'], 2, /^emopia: --downbeats: expected one of hand\|tagger, got 'learned'\n$/],
    [['evaluate', '--grid', 'file', '--downbeats', 'tagger'], 2, /^emopia: --downbeats: only with --grid beats, got --grid file\n$/],
    [['encode', mid, '--grid', 'annotations', '--annotations', dir], 1, /^emopia: .*101\.mid: no beat annotations: expected .*101[\\/]beat_midi\.txt\n$/],
    [['encode', mid, '--grid', 'annotations', '--annotations', join(dir, 'none')], 1, /^emopia: .*none: no such folder, expected a folder of beat annotations/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  results.forEach((r, i) => {
    const [args, code, re] = cases[i]!;
    assert.equal(r.code, code, `emopia ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
  });
});

test('--grid beats through the CLI: tracked beats, the grid recorded; a piece too sparse to track gets the file grid and one warning', async () => {
  const sparse = join(dir, 'sparse.mid');
  const s = emptyScore();
  s.notes = [{ pitch: 60, velocity: 80, start: 0, end: 480 }, { pitch: 64, velocity: 80, start: 960, end: 1440 }];
  writeFileSync(sparse, scoreToMidi(s));
  const [enc, few, built, encHand, builtHand, encTagger] = await Promise.all([
    runCli(['encode', join(FIXTURES, '101.mid'), '--grid', 'beats']),
    runCli(['encode', sparse, '--grid', 'beats']),
    runCli(['dataset', 'build', FIXTURES, '-o', join(dir, 'tracked'), '--grid', 'beats', '--valid', '0']),
    runCli(['encode', join(FIXTURES, '101.mid'), '--grid', 'beats', '--downbeats', 'hand']),
    runCli(['dataset', 'build', FIXTURES, '-o', join(dir, 'tracked-hand'), '--grid', 'beats', '--downbeats', 'hand', '--valid', '0']),
    runCli(['encode', join(FIXTURES, '101.mid'), '--grid', 'beats', '--downbeats', 'tagger']),
  ]);
  assert.equal(enc.code, 0, enc.stderr);
  assert.equal(enc.stderr, '');
  const words = JSON.parse(enc.stdout) as { grid?: { mode: string; meter: number; fallback?: string; downbeats?: string }; words: unknown[] };
  assert.equal(words.grid?.mode, 'beats');
  assert.equal(words.grid?.downbeats, 'tagger');
  assert.equal(words.grid?.fallback, undefined);
  assert.equal(few.code, 0, few.stderr);
  assert.match(few.stderr, /^emopia encode: warning: .*sparse\.mid: too sparse to track: .*the file's own grid is used\n$/);
  assert.equal((JSON.parse(few.stdout) as { grid?: { fallback?: string } }).grid?.fallback?.startsWith('too sparse'), true);
  assert.equal(built.code, 0, built.stderr);
  const index = JSON.parse(readFileSync(join(dir, 'tracked', 'index.json'), 'utf8')) as { grid?: { mode: string; clipsOnFileGrid?: number; downbeats?: string }; clips: unknown[] };
  assert.equal(index.grid?.mode, 'beats');
  assert.equal(index.grid?.clipsOnFileGrid, 0);
  assert.equal(index.clips.length, 2);
  assert.equal(index.grid?.downbeats, 'tagger');
  assert.match(built.stdout, /grid: beats \(downbeats by tagger\)/);
  // The tagger is the default: naming it changes nothing.
  assert.equal(encTagger.code, 0, encTagger.stderr);
  assert.deepEqual(JSON.parse(encTagger.stdout), JSON.parse(enc.stdout));
  // --downbeats hand: the same beats (only the downbeats may move), and the choice recorded.
  assert.equal(encHand.code, 0, encHand.stderr);
  const hand = JSON.parse(encHand.stdout) as { grid?: { mode: string; downbeats?: string }; words: unknown[] };
  assert.equal(hand.grid?.mode, 'beats');
  assert.equal(hand.grid?.downbeats, 'hand');
  // Song 101's fixture is one where the models disagree: the same notes, other bar lines.
  assert.notDeepEqual(hand.words, words.words);
  assert.equal(builtHand.code, 0, builtHand.stderr);
  assert.match(builtHand.stdout, /grid: beats \(downbeats by hand\)/);
  const indexHand = JSON.parse(readFileSync(join(dir, 'tracked-hand', 'index.json'), 'utf8')) as { grid?: { downbeats?: string }; clips: unknown[] };
  assert.equal(indexHand.grid?.downbeats, 'hand');
  assert.equal(indexHand.clips.length, 2);
});
