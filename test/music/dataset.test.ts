/** Clip names, the song-level split, `dataset build` / `readDataset` with skipped files, and the music CLI commands. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  InputError,
  Vocab,
  buildDataset,
  datasetStats,
  emotionFromName,
  encodeFile,
  readDataset,
  songOf,
  splitBySong,
} from '../../src/index.ts';
import { runCli } from '../helpers/cli.ts';
import { chord, midiBytes } from './_midi.ts';

function clipBytes(root: number, bars: number): Uint8Array {
  const notes = [];
  for (let b = 0; b < bars; b++) notes.push(...chord([root, root + 4, root + 7], b * 1920, b * 1920 + 960, 60 + b), { pitch: root + 12, start: b * 1920 + 480, end: b * 1920 + 720 });
  return midiBytes([{ notes }], { tempos: [{ tick: 0, bpm: 120 }] });
}

/** A folder of clips named as EMOPIA's, one other file, and bad files. */
function makeCorpus(): string {
  const dir = mkdtempSync(join(tmpdir(), 'emopia-corpus-'));
  const good: Array<[string, number, number]> = [
    ['Q1_songA_0.mid', 60, 2], ['Q1_songA_1.mid', 62, 3], ['Q2_songB_0.mid', 50, 4], ['Q3_songC_0.mid', 57, 1],
    ['Q3_songC_2.mid', 55, 2], ['Q4_songD_0.mid', 65, 5], ['Q4_songE_1.mid', 67, 2],
  ];
  for (const [name, root, bars] of good) writeFileSync(join(dir, name), clipBytes(root, bars));
  mkdirSync(join(dir, 'more'));
  writeFileSync(join(dir, 'more', 'tune.MID'), clipBytes(48, 2));
  writeFileSync(join(dir, 'empty.mid'), new Uint8Array(0));
  writeFileSync(join(dir, 'text.mid'), new TextEncoder().encode('not a midi file'));
  writeFileSync(join(dir, 'silent.mid'), midiBytes([{ events: [] }]));
  writeFileSync(join(dir, 'drums.mid'), midiBytes([{ notes: [{ pitch: 36, start: 0, end: 60, channel: 9 }, { pitch: 38, start: 480, end: 540, channel: 9 }] }]));
  writeFileSync(join(dir, 'notes.txt'), 'ignored');
  return dir;
}

test('names: emotion from the Q prefix, song from Q<k>_<song>_<clip>', () => {
  const table: Array<[string, number, string]> = [
    ['Q1_0vLPYiPN7qY_0.mid', 1, '0vLPYiPN7qY'],
    ['dir/Q4_a_b_c_12.mid', 4, 'a_b_c'],
    ['Q5_x_1.mid', 0, 'Q5_x_1'],
    ['001.mid', 0, '001'],
  ];
  for (const [name, emo, song] of table) {
    assert.equal(emotionFromName(name), emo, name);
    assert.equal(songOf(name), song, name);
  }
});

test('splitBySong keeps the clips of a song together and is fixed by the seed', () => {
  const names = ['Q1_a_0', 'Q1_a_1', 'Q1_b_0', 'Q2_c_0', 'Q2_c_1', 'Q2_c_2', 'Q3_d_0', 'Q4_e_0', 'Q4_f_0', 'Q4_g_0'];
  const v1 = splitBySong(names, 0.3, 5);
  assert.deepEqual([...v1].sort(), [...splitBySong(names, 0.3, 5)].sort());
  const songs = new Set([...v1].map(songOf));
  assert.equal(songs.size, 2, '30% of 7 songs rounds to 2');
  for (const n of names) assert.equal(v1.has(n), songs.has(songOf(n)), n);
  assert.equal(splitBySong(names, 0, 5).size, 0);
  assert.equal(new Set([...splitBySong(names, 0.01, 5)].map(songOf)).size, 1, 'a positive fraction holds out at least one song');
  assert.equal(new Set([...splitBySong(names, 1, 5)].map(songOf)).size, 7);
  const seeds = new Set([1, 2, 3, 4, 5, 6].map((s) => [...splitBySong(names, 0.3, s)].sort().join()));
  assert.ok(seeds.size > 1, 'different seeds give different splits');
});

test('dataset build: words, index, vocab, song-level split, skipped files with reasons; readDataset reads it back', async () => {
  const dir = makeCorpus();
  const out = join(mkdtempSync(join(tmpdir(), 'emopia-ds-')), 'ds');
  try {
    const skips: string[] = [];
    const { index } = await buildDataset(dir, out, { valid: 0.4, seed: 1, onSkip: (f, r) => skips.push(`${f}: ${r}`) });
    assert.deepEqual(readdirSync(out).sort(), ['index.json', 'vocab.json', 'words.u16']);
    assert.deepEqual(index.skipped, [
      { file: 'drums.mid', reason: 'no notes to encode (only drums: 2 notes on channel 10, dropped)' },
      { file: 'empty.mid', reason: 'empty file (0 bytes), expected a standard MIDI file' },
      { file: 'silent.mid', reason: 'no notes to encode' },
      { file: 'text.mid', reason: "not a standard MIDI file: expected header 'MThd', got 'not '" },
    ]);
    assert.equal(skips.length, 4);
    const s = index.summary;
    assert.equal(s.files, 12);
    assert.equal(s.clips, 8);
    assert.equal(s.skipped, 4);
    assert.equal(s.train + s.valid, 8);
    assert.equal(s.notes, 4 * (2 + 3 + 4 + 1 + 2 + 5 + 2 + 2));
    // Clips of one song are all in train or all in valid; the 40% of 6 songs is 2 songs.
    const splitOfSong = new Map<string, string>();
    for (const c of index.clips) {
      assert.equal(splitOfSong.get(c.song) ?? c.split, c.split, `song ${c.song} straddles the split`);
      splitOfSong.set(c.song, c.split);
    }
    assert.equal([...splitOfSong.values()].filter((x) => x === 'valid').length, 2);

    const ds = readDataset(out);
    assert.ok(ds.vocab.equals(Vocab.fullGrid()));
    const all = [...ds.train, ...ds.valid];
    assert.deepEqual(all.map((c) => c.name).sort(), ['Q1_songA_0', 'Q1_songA_1', 'Q2_songB_0', 'Q3_songC_0', 'Q3_songC_2', 'Q4_songD_0', 'Q4_songE_1', 'tune']);
    for (const c of all) {
      const source = index.clips.find((e) => e.name === c.name)!.source;
      const direct = encodeFile(readFileSync(join(dir, source)), source);
      assert.deepEqual(Array.from(c.words), Array.from(direct.words), c.name);
      assert.equal(c.emotion, emotionFromName(source));
    }
    const stats = datasetStats(ds);
    assert.deepEqual(stats.perEmotion.map((e) => e.clips), [1, 2, 1, 2, 2]);
    assert.equal(stats.words, s.words);
    assert.equal(stats.histograms.type.find((h) => h.value === 'Note')!.count, s.notes);
    assert.equal(stats.histograms.type.find((h) => h.value === 'EOS')!.count, 8);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(out, '..'), { recursive: true, force: true });
  }
});

test('observed and file vocabularies; a build with no usable file fails and leaves the old folder as it was', async () => {
  const dir = makeCorpus();
  const parent = mkdtempSync(join(tmpdir(), 'emopia-ds-'));
  const out = join(parent, 'ds');
  try {
    const { vocab } = await buildDataset(dir, out, { vocab: 'observed' });
    assert.equal(vocab.size('type'), 4, 'type keeps its 4 values');
    assert.equal(vocab.size('emotion'), 5, 'emotion keeps its 5 values');
    assert.equal(vocab.size('tempo'), 3, '0, CONTI and Tempo_119');
    assert.ok(readDataset(out).vocab.equals(vocab));
    // A vocabulary without Note_Pitch_50: the clip that uses it is skipped with the reason.
    const values = Vocab.fullGrid().toJSON().values;
    const small = Vocab.fromValues({ ...values, pitch: values.pitch.filter((v) => v !== 'Note_Pitch_50') });
    const r = await buildDataset(dir, out, { vocab: small });
    assert.deepEqual(r.index.skipped.at(-1), { file: 'Q2_songB_0.mid', reason: 'value "Note_Pitch_50" of family pitch is not in the vocabulary' });
    const before = readFileSync(join(out, 'index.json'), 'utf8');
    const bad = mkdtempSync(join(tmpdir(), 'emopia-bad-'));
    writeFileSync(join(bad, 'x.mid'), new Uint8Array(3));
    await assert.rejects(buildDataset(bad, out), (e: unknown) => e instanceof InputError && /no usable MIDI file \(1 skipped; first: x\.mid: not a standard MIDI file/.test(e.message));
    assert.equal(readFileSync(join(out, 'index.json'), 'utf8'), before);
    assert.deepEqual(readdirSync(parent), ['ds'], 'no temporary folder is left behind');
    await assert.rejects(buildDataset(join(parent, 'missing'), out), /missing: no such folder, expected a folder of MIDI files/);
    const none = mkdtempSync(join(tmpdir(), 'emopia-none-'));
    await assert.rejects(buildDataset(none, out), /no \.mid or \.midi files in this folder/);
    rmSync(none, { recursive: true, force: true });
    rmSync(bad, { recursive: true, force: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(parent, { recursive: true, force: true });
  }
});

test('readDataset: a folder that is not a dataset, malformed clip entries, and a words file that is too short', async () => {
  const dir = makeCorpus();
  const parent = mkdtempSync(join(tmpdir(), 'emopia-ds-'));
  const out = join(parent, 'ds');
  try {
    assert.throws(() => readDataset(parent), /index\.json: no such file \(is this a dataset folder/);
    await buildDataset(dir, out, {});
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    const withClips = (clips: unknown) => writeFileSync(join(out, 'index.json'), JSON.stringify({ ...index, clips }));
    withClips({});
    assert.throws(() => readDataset(out), /index\.json: expected "clips": a list, got \{\}/);
    withClips([index.clips[0], null]);
    assert.throws(() => readDataset(out), /index\.json: clip 1: expected \{name, emotion 0\.\.4, split 'train'\|'valid', offset, length\}, got null/);
    withClips([{ ...index.clips[0], emotion: 7 }]);
    assert.throws(() => readDataset(out), /index\.json: clip 0: expected .*"emotion":7/);
    withClips(index.clips);
    assert.equal(readDataset(out).train.length + readDataset(out).valid.length, 8);
    const words = readFileSync(join(out, 'words.u16'));
    writeFileSync(join(out, 'words.u16'), words.subarray(0, 100));
    assert.throws(() => readDataset(out), /words\.u16: clip \S+ needs words \d+\.\.\d+, the file has 6/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(parent, { recursive: true, force: true });
  }
});

test('CLI: encode, decode, dataset build and stats; bad input exits 1 with one line, bad usage 2', async () => {
  const dir = makeCorpus();
  const work = mkdtempSync(join(tmpdir(), 'emopia-cli-'));
  try {
    const enc = await runCli(['encode', join(dir, 'Q2_songB_0.mid'), '-o', join(work, 'a.json')]);
    assert.equal(enc.code, 0, enc.stderr);
    const a = JSON.parse(readFileSync(join(work, 'a.json'), 'utf8'));
    assert.deepEqual(a.families, ['tempo', 'chord', 'barbeat', 'type', 'pitch', 'duration', 'velocity', 'emotion']);
    assert.equal(a.vocab, 'full-grid@1');
    assert.deepEqual(a.words[0], [0, 0, 0, 1, 0, 0, 0, 2]);
    assert.deepEqual(a.events[1], ['0', '0', 'Bar', 'Metrical', '0', '0', '0', '0']);
    assert.equal(a.words.length, a.events.length);
    const dec = await runCli(['decode', join(work, 'a.json'), '-o', join(work, 'a.mid')]);
    assert.equal(dec.code, 0, dec.stderr);
    const enc2 = await runCli(['encode', join(work, 'a.mid'), '--emotion', 'Q2']);
    assert.deepEqual(JSON.parse(enc2.stdout).words, a.words);

    const bad = await runCli(['encode', join(dir, 'text.mid')]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, `emopia: ${join(dir, 'text.mid')}: not a standard MIDI file: expected header 'MThd', got 'not '\n`);
    const usage = await runCli(['dataset', 'build', dir, '-o', join(work, 'ds'), '--valid', '2']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--valid: expected a number >= 0 <= 1, got '2'/);

    const build = await runCli(['dataset', 'build', dir, '-o', join(work, 'ds'), '--seed', '3']);
    assert.equal(build.code, 0, build.stderr);
    assert.match(build.stdout, /^wrote .*ds: 8 clips \(\d+ train, \d+ valid\) from 12 files, \d+ words, 84 notes$/m);
    assert.match(build.stdout, /^files skipped: 4 \(listed with their reasons in index\.json\)$/m);
    // One warning line per skipped file, naming it, on stderr.
    const warnings = build.stderr.split('\n').filter((l) => l.includes('warning'));
    assert.equal(warnings.length, 4, build.stderr);
    assert.ok(warnings.includes('emopia dataset build: warning: skipped drums.mid: no notes to encode (only drums: 2 notes on channel 10, dropped)'), build.stderr);
    const stats = await runCli(['dataset', 'stats', join(work, 'ds')]);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /^8 clips, \d+ words$/m);
    assert.match(stats.stdout, /^Q4 +2 +\d+/m);
    assert.match(stats.stdout, /^ {2}type +4\/4: /m);

    const none = mkdtempSync(join(tmpdir(), 'emopia-none-'));
    writeFileSync(join(none, 'a.mid'), new Uint8Array(0));
    const fail = await runCli(['dataset', 'build', none, '-o', join(work, 'ds2')]);
    assert.equal(fail.code, 1);
    assert.match(fail.stderr, /a\.mid: empty file/);
    assert.match(fail.stderr, /^emopia: .*: no usable MIDI file \(1 skipped/m);
    assert.doesNotMatch(fail.stderr, /\n\s+at /);
    assert.equal(existsSync(join(work, 'ds2')), false);
    rmSync(none, { recursive: true, force: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
});
