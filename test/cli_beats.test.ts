/** `emopia beats`: --json shape, the human summary, the sparse-piece fallback, and the error contract. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './helpers/cli.ts';
import { scoreToMidi } from '../src/music/midi_io.ts';
import { emptyScore } from '../src/music/score.ts';
import { steadyPiece } from './music/_beats.ts';

let dir = '';
before(() => (dir = mkdtempSync(join(tmpdir(), 'emopia-beats-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

test('beats --json prints one object with beats, downbeats, meter, tempo curve and confidence', async () => {
  const p = steadyPiece({ bpm: 100, meter: 4, bars: 8 });
  const file = join(dir, 'steady.mid');
  writeFileSync(file, scoreToMidi(p.score));
  const r = await runCli(['beats', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const o = JSON.parse(r.stdout) as { beats: number[]; downbeats: number[]; meter: number; tempo: Array<{ time: number; bpm: number }>; confidence: number; fallback?: string };
  assert.deepEqual(Object.keys(o).sort(), ['beats', 'confidence', 'downbeats', 'meter', 'tempo']);
  assert.equal(o.beats.length, 32);
  o.beats.forEach((b, i) => assert.ok(Math.abs(b - i * 0.6) <= 0.02, `beat ${i}: ${b}`));
  assert.deepEqual(o.downbeats.map((d) => Math.round(d * 10) / 10), [0, 2.4, 4.8, 7.2, 9.6, 12, 14.4, 16.8]);
  assert.equal(o.meter, 4);
  assert.equal(o.tempo.length, 32);
  assert.ok(Math.abs((o.tempo[5]?.bpm ?? 0) - 100) < 1);
  const text = await runCli(['beats', file]);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /32 beats, 8 downbeats, meter 4\/4/);
  assert.match(text.stdout, /tempo: 100\.\d BPM median/);
});

test('beats --downbeats hand places the same downbeats on a steady piece; the tagger is the default', async () => {
  const p = steadyPiece({ bpm: 90, meter: 4, bars: 12 });
  const file = join(dir, 'steady90.mid');
  writeFileSync(file, scoreToMidi(p.score));
  // POP909 song 101's fixture is a piece where the two models disagree (the tagger's downbeats a beat earlier), so
  // the default can be told apart.
  const song = fileURLToPath(new URL('./fixtures/pop909/101.mid', import.meta.url));
  const runs = [[file], [file, '--downbeats', 'hand'], [file, '--downbeats', 'tagger'], [song], [song, '--downbeats', 'hand'], [song, '--downbeats', 'tagger']];
  const [byDefault, hand, tagger, songDefault, songHand, songTagger] = await Promise.all(runs.map((args) => runCli(['beats', ...args, '--json'])));
  for (const r of [byDefault, hand, tagger, songDefault, songHand, songTagger]) assert.equal(r?.code, 0, r?.stderr);
  const down = (r: typeof hand): number[] => (JSON.parse(r?.stdout ?? '') as { downbeats: number[] }).downbeats;
  assert.deepEqual(down(byDefault), down(tagger));
  assert.equal(down(hand).length, 12);
  down(hand).forEach((d, i) => assert.ok(Math.abs(d - (p.downbeats[i] as number)) < 0.02, `hand downbeat ${i}: ${d}`));
  assert.deepEqual(down(songDefault), down(songTagger));
  assert.notDeepEqual(down(songTagger), down(songHand));
});

test('a sparse piece gets the file grid and a one-line warning, exit 0', async () => {
  const s = emptyScore();
  s.tempos = [{ tick: 0, bpm: 120 }];
  s.notes = [{ pitch: 60, velocity: 80, start: 0, end: 480 }, { pitch: 64, velocity: 80, start: 960, end: 1440 }];
  const file = join(dir, 'sparse.mid');
  writeFileSync(file, scoreToMidi(s));
  const r = await runCli(['beats', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.split('\n').length, 2);
  assert.match(r.stderr, /^emopia beats: warning: .*too sparse to track: 2 onset events/);
  const o = JSON.parse(r.stdout) as { beats: number[]; downbeats: number[]; fallback: string };
  assert.deepEqual(o.beats, [0, 0.5, 1, 1.5]);
  assert.deepEqual(o.downbeats, [0]);
  assert.match(o.fallback, /too sparse/);
});

test('beats errors: missing file and no notes exit 1, bad usage exits 2, one line each', async () => {
  const empty = join(dir, 'empty.mid');
  writeFileSync(empty, scoreToMidi(emptyScore()));
  const cases: Array<[string[], number, RegExp]> = [
    [['beats', join(dir, 'nope.mid')], 1, /nope\.mid: no such file/],
    [['beats', empty], 1, /no notes to track/],
    [['beats'], 2, /missing required argument/],
    [['beats', 'evaluate'], 2, /expected --data/],
    [['beats', 'evaluate', '--data', dir, '--split', 'train'], 2, /--split: expected one of dev\|test\|all/],
    [['beats', join(dir, 'nope.mid'), '--downbeats', 'learned'], 2, /--downbeats: expected one of hand\|tagger/],
    [['beats', 'evaluate', '--data', dir], 1, /no POP909 song/],
    [['beats', 'evaluate', '--data', dir, '--songs', '9-3'], 2, /--songs: expected a range FIRST-LAST of positive integers \(e\.g\. 601-909\), got '9-3'/],
    [['beats', 'evaluate', '--data', fileURLToPath(new URL('./fixtures/pop909', import.meta.url)), '--split', 'dev', '--songs', '200-300'], 1, /no annotated song numbered 200-300 in the dev split/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  results.forEach((r, i) => {
    const [args, code, re] = cases[i]!;
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.split('\n').length, 2, `${args.join(' ')}: ${JSON.stringify(r.stderr)}`);
    assert.match(r.stderr, re);
  });
});

const POP909 = '../shared/data/pop909';
test('beats evaluate --json on two dev songs (needs the shared data)', { skip: existsSync(join(POP909, 'annotations')) ? false : `no POP909 at ${POP909}` }, async () => {
  const r = await runCli(['beats', 'evaluate', '--data', POP909, '--split', 'dev', '--limit', '2', '--json', '--no-progress']);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout) as { split: string; summary: { pieces: number; beatF: { mean: number } }; songs: Array<{ id: number; beatF: number }> };
  assert.equal(o.split, 'dev');
  assert.equal(o.summary.pieces, 2);
  assert.ok(o.songs.every((s) => s.id <= 300 && s.beatF >= 0 && s.beatF <= 1));
  assert.ok(Math.abs(o.summary.beatF.mean - (o.songs[0]!.beatF + o.songs[1]!.beatF) / 2) < 1e-12);
});

test('beats evaluate --excerpt 30 --json reports the excerpt and each song\'s annotated and tracked meter (needs the shared data)', { skip: existsSync(join(POP909, 'annotations')) ? false : `no POP909 at ${POP909}` }, async () => {
  const r = await runCli(['beats', 'evaluate', '--data', POP909, '--split', 'dev', '--limit', '2', '--excerpt', '30', '--json', '--no-progress']);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout) as { excerpt: number; summary: { meterAccuracy: number }; songs: Array<{ meter: number; refMeter: number }> };
  assert.equal(o.excerpt, 30);
  assert.ok(o.songs.every((s) => (s.refMeter === 3 || s.refMeter === 4) && (s.meter === 3 || s.meter === 4)));
  assert.equal(o.summary.meterAccuracy, o.songs.filter((s) => s.meter === s.refMeter).length / 2);
});

test('beats evaluate --songs picks songs by number and says how many the downbeat tagger was fitted on', async () => {
  const fixtures = fileURLToPath(new URL('./fixtures/pop909', import.meta.url));
  const args = ['beats', 'evaluate', '--data', fixtures, '--split', 'dev', '--songs', '102-102', '--no-progress'];
  const [json, hand, text] = await Promise.all([runCli([...args, '--json']), runCli([...args, '--json', '--downbeats', 'hand']), runCli(args)]);
  for (const r of [json, hand, text]) assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(json.stdout) as { range: number[]; taggerFitted: number; songs: Array<{ id: number }> };
  assert.deepEqual(o.range, [102, 102]);
  assert.deepEqual(o.songs.map((s) => s.id), [102]);
  // Song 102 is among the tagger's training songs (TAGGER_SONGS); with the hand cues nothing was fitted on it.
  assert.equal(o.taggerFitted, 1);
  assert.equal((JSON.parse(hand.stdout) as { taggerFitted: number }).taggerFitted, 0);
  assert.match(text.stdout, /dev \(seed 1, songs 102-102\): 1 songs/);
  assert.match(text.stdout, /note: the downbeat tagger was fitted on 1 of these songs \(POP909 1-\d+\); their downbeat F is not held out/);
});
