/**
 * Regressions of issue 14 (hardening): a tiny file that asked for minutes of work and all the memory, outputs
 * that replaced their own inputs or a user's folder, and size limits checked only after reading everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, buildDataset, readDataset, chordsPerBeat, encodeFile, midiToScore, recogniseChords, scoreToEvents, type Note } from '../../src/index.ts';
import { readInputFile } from '../../src/platform/read.ts';
import { runCli } from '../helpers/cli.ts';
import { chord, midiBytes } from './_midi.ts';

/** The 37-byte file of the issue: one note held for 2^28 - 1 ticks at 1 tick per beat. */
function heldNoteFile(): Uint8Array {
  const track = [0x00, 0x90, 60, 64, 0xff, 0xff, 0xff, 0x7f, 0x80, 60, 64, 0x00, 0xff, 0x2f, 0x00];
  const head = [0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 0, 0, 1, 0, 1];
  return Uint8Array.from([...head, 0x4d, 0x54, 0x72, 0x6b, 0, 0, 0, track.length, ...track]);
}

test('a note held for 2^28 beats encodes at once as one bar with a capped duration (it exhausted memory)', () => {
  const bytes = heldNoteFile();
  assert.equal(bytes.length, 37);
  const score = midiToScore(bytes, 'held.mid');
  assert.equal(score.notes[0]!.end, (2 ** 28 - 1) * 480);
  const { stats, words } = encodeFile(bytes, 'held.mid');
  assert.equal(stats.bars, 1);
  assert.equal(stats.notes, 1);
  // Emotion, Bar, Metrical (chord of the held C: none, a single pitch class), Note, Bar, EOS.
  assert.equal(words.length / 8, 6);
});

test('chords up to a tick are the prefix of the full walk, pairs of beats included', () => {
  // Eight bars of changing triads with some long notes, so the 1-beat/2-beat pairing matters.
  const notes: Note[] = [];
  const roots = [60, 65, 67, 62, 57, 64, 60, 67];
  const asNotes = (xs: ReturnType<typeof chord>): Note[] => xs.map((n) => ({ pitch: n.pitch, start: n.start, end: n.end, velocity: n.velocity ?? 80 }));
  roots.forEach((r, b) => notes.push(...asNotes(chord([r, r + 4, r + 7], b * 1920, b * 1920 + 1440, 70)), ...asNotes(chord([r + 3], b * 1920 + 480, b * 1920 + 960))));
  notes.push({ pitch: 36, start: 0, end: 8 * 1920, velocity: 60 });
  const full = chordsPerBeat(notes);
  const fullMarkers = recogniseChords(notes);
  for (const until of [0, 1, 479, 480, 960, 1000, 1920, 5000, 7680, 100000]) {
    const part = chordsPerBeat(notes, until);
    const beats = Math.min(full.length, Math.ceil(until / 960) * 2);
    assert.deepEqual(part, full.slice(0, beats), `until ${until}`);
    assert.deepEqual(recogniseChords(notes, until), fullMarkers.filter((m) => m.tick < beats * 480), `markers until ${until}`);
  }
  assert.ok(new Set(fullMarkers.map((m) => m.text)).size >= 4, 'the piece has chords to compare');
});

test('a walk from a later beat gives the full walk\'s markers after it, and the chord in force at its start', () => {
  const notes: Note[] = [];
  [60, 65, 67, 62, 57, 64, 60, 67].forEach((r, b) => notes.push(...[r, r + 4, r + 7].map((pitch) => ({ pitch, start: b * 1920 + (b % 3) * 480, end: b * 1920 + 1920, velocity: 70 }))));
  const full = recogniseChords(notes);
  const beats = chordsPerBeat(notes);
  for (const from of [960, 1920, 2880, 5760, 9600]) {
    const part = recogniseChords(notes, Infinity, from);
    assert.equal(part[0]!.tick, from);
    assert.equal(part[0]!.text, full.filter((m) => m.tick <= from).at(-1)!.text, `state at ${from}`);
    assert.deepEqual(part.slice(1), full.filter((m) => m.tick > from), `markers after ${from}`);
    assert.deepEqual(chordsPerBeat(notes, Infinity, from), beats.slice(from / 480));
  }
});

test('a piece after 2^28 empty beats encodes at once, to the words of the same piece at the start', () => {
  // At 2 ticks per beat: C major for 2 beats, A minor for 2, a D for 4; 2^28 beats are 2^29 ticks, reached
  // through text events every 2^27 ticks (a delta-time has at most 28 bits).
  const piece = (shift: number) =>
    midiBytes(
      [{ notes: [...chord([60, 64, 67], shift, shift + 4), ...chord([57, 60, 64], shift + 4, shift + 8), { pitch: 50, start: shift + 8, end: shift + 16 }], events: [1, 2, 3].map((k) => ({ tick: (k * shift) / 4, event: { deltaTime: 0, type: 'text', text: 'x', meta: true } as const })) }],
      { ticksPerBeat: 2 },
    );
  const near = encodeFile(piece(0), 'near.mid');
  for (const shift of [24, 2 ** 29]) {
    const e = encodeFile(piece(shift), 'x.mid');
    assert.deepEqual(Array.from(e.words), Array.from(near.words), `shift ${shift}`);
    assert.equal(e.stats.leadingBarsRemoved, shift / 8);
  }
  const texts = scoreToEvents(midiToScore(piece(0), 'near.mid')).events.map((ev) => ev.chord);
  assert.ok(texts.includes('C_M') && texts.includes('A_m'), `chords recognised: ${texts.join(' ')}`);
});

test('reading stops at the size limit: a regular file by its size, a device or FIFO while reading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'emopia-read-'));
  try {
    const f = join(dir, 'big.mid');
    writeFileSync(f, new Uint8Array(1000).fill(7));
    assert.equal(readInputFile(f, { maxBytes: 1000 }).length, 1000);
    assert.throws(() => readInputFile(f, { maxBytes: 999 }), (e: unknown) => e instanceof InputError && e.message === `${f}: file too large: 1000 bytes, the limit is 999`);
    // /dev/zero never ends: it must stop right after the limit.
    assert.throws(() => readInputFile('/dev/zero', { maxBytes: 3 << 20 }), /\/dev\/zero: file too large: more than 3145728 bytes, the limit is 3145728/);
    // A FIFO fed 5000 bytes: read whole under a larger limit, refused under a smaller one.
    const fifo = join(dir, 'pipe.mid');
    execFileSync('mkfifo', [fifo]);
    const feed = `head -c 5000 /dev/zero > '${fifo}'`;
    for (const [limit, ok] of [[6000, true], [4999, false]] as const) {
      const child = execFileSync('sh', ['-c', `(${feed}) >/dev/null 2>&1 </dev/null & echo $!`]);
      assert.ok(Number(String(child).trim()) > 0);
      if (ok) assert.equal(readInputFile(fifo, { maxBytes: limit }).length, 5000);
      else assert.throws(() => readInputFile(fifo, { maxBytes: limit }), /file too large: more than 4999 bytes/);
    }
    assert.throws(() => readInputFile(dir), /is a directory, expected a file/);
    assert.throws(() => readInputFile(join(dir, 'nope.mid')), /nope\.mid: no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function clip(root: number): Uint8Array {
  return midiBytes([{ notes: [...chord([root, root + 4, root + 7], 0, 960), ...chord([root + 2], 960, 1920)] }]);
}

test('dataset build replaces only a new, empty or dataset folder; a user folder or the input folder is refused untouched', async () => {
  const root = mkdtempSync(join(tmpdir(), 'emopia-out-'));
  try {
    const input = join(root, 'midi');
    mkdirSync(input);
    writeFileSync(join(input, 'Q1_a_0.mid'), clip(60));
    writeFileSync(join(input, 'Q2_b_0.mid'), clip(62));
    const mine = join(root, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'thesis.txt'), 'precious');
    // Everything under root, with sizes: a refused build changes nothing anywhere.
    const tree = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tree(join(d, e.name)).map((x) => `${e.name}/${x}`) : [`${e.name} ${readFileSync(join(d, e.name)).length}`]));
    const refused = async (out: string, re: RegExp) => {
      const before = tree(root);
      await assert.rejects(buildDataset(input, out), (e: unknown) => e instanceof InputError && re.test(e.message), out);
      assert.deepEqual(tree(root), before, `nothing changed after refusing ${out}`);
    };
    await refused(input, /not empty \(2 entries, e\.g\. 'Q1_a_0\.mid'\) and not a dataset; building would replace the whole folder/);
    await refused(mine, /not empty \(1 entries, e\.g\. 'thesis\.txt'\) and not a dataset/);
    await refused(join(input, 'Q1_a_0.mid'), /exists and is not a folder/);
    assert.equal(readFileSync(join(mine, 'thesis.txt'), 'utf8'), 'precious');
    assert.equal(readdirSync(input).length, 2);

    // New, empty, or an earlier dataset: written (replaced).
    const ds = join(root, 'ds');
    assert.equal((await buildDataset(input, ds)).index.clips.length, 2);
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await buildDataset(input, empty);
    writeFileSync(join(input, 'Q3_c_0.mid'), clip(57));
    assert.equal((await buildDataset(input, ds)).index.clips.length, 3);
    assert.deepEqual(readdirSync(ds).sort(), ['index.json', 'vocab.json', 'words.u16']);
    // A dataset folder the user has put other files in is theirs now.
    writeFileSync(join(ds, 'notes.md'), 'mine');
    await refused(ds, /a dataset, but it also holds 1 other entry \(e\.g\. 'notes\.md'\)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('encode/decode/generate refuse to write over their own input (exit 2), by path or through a link; dataset build into the input exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'emopia-self-'));
  try {
    const mid = join(dir, 'x.mid');
    const bytes = clip(60);
    writeFileSync(mid, bytes);
    linkSync(mid, join(dir, 'link.mid'));
    const enc = await runCli(['encode', mid, '-o', join(dir, '.', 'x.mid')]);
    assert.equal(enc.code, 2, enc.stderr);
    assert.match(enc.stderr, /^emopia: --output: '.*x\.mid' is the input file '.*x\.mid'; writing it would overwrite the input, expected another file\n$/);
    const viaLink = await runCli(['encode', mid, '-o', join(dir, 'link.mid')]);
    assert.equal(viaLink.code, 2, viaLink.stderr);
    assert.deepEqual(new Uint8Array(readFileSync(mid)), bytes, 'the input is untouched');

    assert.equal((await runCli(['encode', mid, '-o', join(dir, 'x.json')])).code, 0);
    const json = readFileSync(join(dir, 'x.json'));
    const dec = await runCli(['decode', join(dir, 'x.json'), '-o', join(dir, 'x.json')]);
    assert.equal(dec.code, 2, dec.stderr);
    assert.match(dec.stderr, /^emopia: --output: .* is the input file/);
    assert.deepEqual(readFileSync(join(dir, 'x.json')), json);

    const gen = await runCli(['generate', '--emotion', 'Q1', '--prompt', mid, '-o', join(dir, 'link.mid')]);
    assert.equal(gen.code, 2, gen.stderr);
    assert.match(gen.stderr, /^emopia: --output: .*link\.mid' is the input file '.*x\.mid'; writing it would overwrite the input/);

    const build = await runCli(['dataset', 'build', dir, '-o', dir]);
    assert.equal(build.code, 1, build.stderr);
    assert.match(build.stderr, /^emopia: .*: not empty \(\d+ entries, e\.g\. '.*'\) and not a dataset; building would replace the whole folder/);
    assert.equal(build.stderr.trim().split('\n').length, 1);
    assert.deepEqual(new Uint8Array(readFileSync(mid)), bytes);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one poisoned file does not lose a dataset build: the held note encodes, a corrupt file is skipped with its reason', async () => {
  const root = mkdtempSync(join(tmpdir(), 'emopia-poison-'));
  try {
    const input = join(root, 'midi');
    mkdirSync(input);
    writeFileSync(join(input, 'Q1_a_0.mid'), clip(60));
    writeFileSync(join(input, 'Q2_held_0.mid'), heldNoteFile());
    const cut = heldNoteFile().slice(0, 30);
    cut[21] = 30 - 22; // a consistent chunk length, so the cut falls inside an event
    writeFileSync(join(input, 'Q3_cut_0.mid'), cut);
    const skips: string[] = [];
    const { index } = await buildDataset(input, join(root, 'ds'), { onSkip: (file, reason) => skips.push(`${file}: ${reason}`) });
    assert.deepEqual(index.clips.map((c) => c.name), ['Q1_a_0', 'Q2_held_0']);
    assert.deepEqual(skips, ['Q3_cut_0.mid: corrupt MIDI data in track 0: the event runs past the end of its track chunk (event at byte 26)']);
    assert.equal(index.summary.skipped, 1);
    assert.deepEqual(index.skipped, [{ file: 'Q3_cut_0.mid', reason: skips[0]!.slice('Q3_cut_0.mid: '.length) }]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('reading a dataset first finishes a build that was killed between its two renames', async () => {
  const root = mkdtempSync(join(tmpdir(), 'emopia-swap-'));
  try {
    const input = join(root, 'midi');
    mkdirSync(input);
    writeFileSync(join(input, 'Q1_a_0.mid'), clip(60));
    const ds = join(root, 'ds');
    await buildDataset(input, ds);
    writeFileSync(join(input, 'Q2_b_0.mid'), clip(62));
    await buildDataset(input, join(root, 'next'));
    // What a kill between the renames leaves: the old dataset moved to .old, the new one complete beside it, nothing
    // at the name (test/platform/atomic.test.ts kills a real process there).
    const gone = spawnSync(process.execPath, ['-e', '']).pid as number;
    const pending = join(root, `.ds.tmp-${gone}-0123abcd`);
    renameSync(ds, `${pending}.old`);
    renameSync(join(root, 'next'), pending);
    const notes: string[] = [];
    const data = readDataset(ds, (l) => notes.push(l));
    assert.equal(data.train.length + data.valid.length, 2, 'the new build (two clips) is in place');
    assert.equal(notes.length, 1, notes.join('\n'));
    assert.match(notes[0] as string, /finished a replacement that a killed process left half done/);
    assert.deepEqual(readdirSync(root).sort(), ['ds', 'midi']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
