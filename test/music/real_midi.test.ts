/**
 * Real MIDI, committed: a few bars cut from POP909 and EMOPIA files (test/fixtures/midi/, made by
 * scripts/cut_midi_fixtures.ts; sources and licences in its README). Each file's compound words are compared with a
 * hand-checked table (`<name>.words.tsv`, one row per word, families by name, values as vocabulary strings), the
 * words decode to the file's notes on the grid (read independently with @tonejs/midi), and decoding then encoding
 * again gives the same words. A failure names the first differing row with both sides.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import tonejs from '@tonejs/midi';
import { FAMILIES, Vocab, midiToScore, scoreToMidi, scoreToWords, wordsToScore, type CompoundEvent, type Emotion } from '../../src/index.ts';

const DIR = fileURLToPath(new URL('../fixtures/midi/', import.meta.url));
const FIXTURES: ReadonlyArray<{ name: string; emotion: Emotion }> = [
  { name: 'pop909_002_bars21-22', emotion: 0 },
  { name: 'pop909_009_bars8-9', emotion: 0 },
  { name: 'emopia_Q2_1EDThWjNxOI_1_bars4-5', emotion: 2 },
  { name: 'emopia_Q3_NTI9ode6bRk_0_bars2-4', emotion: 3 },
];
const vocab = Vocab.fullGrid();

type Row = string[];
const toRows = (events: readonly CompoundEvent[]): Row[] => events.map((ev) => FAMILIES.map((f) => String(ev[f])));
const show = (row: Row | undefined): string => (row === undefined ? '(no word)' : FAMILIES.map((f, j) => `${f}=${row[j]}`).join(' '));

/** The table file: a header of the family names, then one row per word. */
function readTable(name: string): Row[] {
  const lines = readFileSync(join(DIR, `${name}.words.tsv`), 'utf8').split('\n').filter((l) => l !== '');
  assert.deepEqual(lines[0]?.split('\t'), [...FAMILIES], `${name}.words.tsv: the header names the families in order`);
  return lines.slice(1).map((l) => l.split('\t'));
}

/** Fails with the first differing row (as its line in the table) and both sides, not with a hash or a dump. */
function assertSameRows(got: Row[], want: Row[], what: string): void {
  const n = Math.max(got.length, want.length);
  for (let i = 0; i < n; i++) {
    const g = got[i];
    const w = want[i];
    if (g !== undefined && w !== undefined && g.join('\t') === w.join('\t')) continue;
    // Where it is: the bar (count of Bar words so far) and the last position.
    let bar = -1;
    let beat = '';
    for (const r of want.slice(0, i + 1)) {
      if (r[2] === 'Bar') bar++;
      else if (r[2]?.startsWith('Beat_')) beat = r[2];
    }
    assert.fail(
      `${what}: word ${i} (line ${i + 2} of the table, bar ${bar}${beat ? `, ${beat}` : ''}) differs\n` +
        `  expected: ${show(w)}\n  got:      ${show(g)}\n  (${want.length} words expected, ${got.length} got)`,
    );
  }
}

const readFixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(DIR, `${name}.mid`)));

function encode(bytes: Uint8Array, emotion: Emotion, what: string) {
  return scoreToWords(midiToScore(bytes, what), vocab, { emotion }, what);
}

/** numpy's rounding (halves to even), written out here so the expectation does not lean on the library's. */
function roundEven(x: number): number {
  const f = Math.floor(x);
  if (x - f !== 0.5) return Math.round(x);
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The notes the words should decode to, from the file read by another MIDI reader (@tonejs/midi): onset in 16th
 * positions from the first bar with a note, pitch, duration in 16ths (at most a bar), velocity to EMOPIA's even bins
 * (at least 40). A duration of 0 decodes as half a 16th, so it is written as 0.5.
 */
function expectedNotes(bytes: Uint8Array): string[] {
  const midi = new tonejs.Midi(bytes);
  const scale = 480 / midi.header.ppq;
  const raw = midi.tracks.flatMap((t) => t.notes.map((n) => ({ pitch: n.midi, start: n.ticks * scale, len: n.durationTicks * scale, velocity: Math.round(n.velocity * 127) })));
  const firstBar = Math.floor(Math.min(...raw.map((n) => roundEven(n.start / 120))) / 16);
  const notes = raw.map((n) => {
    const dur = roundEven(Math.min(n.len, 1920) / 120);
    // An odd velocity is as near to both even neighbours; the tie goes down, as argmin over the bins.
    const vel = Math.max(40, n.velocity - (n.velocity % 2));
    return { onset: roundEven(n.start / 120) - 16 * firstBar, pitch: n.pitch, dur: dur === 0 ? 0.5 : dur, vel };
  });
  notes.sort((a, b) => a.onset - b.onset || b.pitch - a.pitch || b.dur - a.dur || b.vel - a.vel);
  return notes.map((n) => `bar ${Math.floor(n.onset / 16)} pos ${n.onset % 16} pitch ${n.pitch} dur ${n.dur} vel ${n.vel}`);
}

test('the fixture folder holds exactly the listed files, each with its table', () => {
  const mids = readdirSync(DIR).filter((f) => f.endsWith('.mid')).sort();
  assert.deepEqual(mids, FIXTURES.map((f) => `${f.name}.mid`).sort());
  for (const f of FIXTURES) assert.ok(readTable(f.name).length > 10, `${f.name}: a table of words`);
});

for (const { name, emotion } of FIXTURES) {
  test(`${name}: encodes to the words of its table`, () => {
    const { events, stats } = encode(readFixture(name), emotion, name);
    assertSameRows(toRows(events), readTable(name), `${name}.mid encoded`);
    assert.equal(stats.outOfRange, 0);
  });

  test(`${name}: the words decode to the file's notes on the grid`, () => {
    const bytes = readFixture(name);
    const { words } = encode(bytes, emotion, name);
    const { score, emotion: decodedEmotion, skipped } = wordsToScore(words, vocab);
    assert.equal(skipped, 0);
    assert.equal(decodedEmotion, emotion);
    const got = score.notes
      .map((n) => ({ onset: n.start / 120, pitch: n.pitch, dur: (n.end - n.start) / 120, vel: n.velocity }))
      .sort((a, b) => a.onset - b.onset || b.pitch - a.pitch || b.dur - a.dur || b.vel - a.vel)
      .map((n) => `bar ${Math.floor(n.onset / 16)} pos ${n.onset % 16} pitch ${n.pitch} dur ${n.dur} vel ${n.vel}`);
    const want = expectedNotes(bytes);
    const i = want.findIndex((w, k) => got[k] !== w);
    assert.ok(i < 0 && got.length === want.length, `${name}: note ${i < 0 ? want.length : i} differs\n  expected: ${want[i] ?? '(none)'}\n  decoded:  ${got[i] ?? '(none)'}\n  (${want.length} notes expected, ${got.length} decoded)`);
  });

  test(`${name}: decoding to MIDI and encoding again gives the same words`, () => {
    const first = encode(readFixture(name), emotion, name);
    const midi = scoreToMidi(wordsToScore(first.words, vocab).score);
    const again = encode(midi, emotion, `${name} decoded`);
    assertSameRows(toRows(again.events), toRows(first.events), `${name}.mid decoded and encoded again`);
    assert.deepEqual(Array.from(again.words), Array.from(first.words));
  });
}

test('a changed table is reported as its first differing row, both sides', () => {
  const rows = readTable('pop909_002_bars21-22');
  const changed = rows.map((r) => [...r]);
  (changed[3] as Row)[4] = 'Note_Pitch_55';
  assert.throws(
    () => assertSameRows(changed, rows, 'x'),
    (err: Error) => /word 3 \(line 5 of the table, bar 0, Beat_0\) differs/.test(err.message) && /expected: .*pitch=Note_Pitch_54/.test(err.message) && /got: +.*pitch=Note_Pitch_55/.test(err.message),
  );
  assert.throws(() => assertSameRows(rows.slice(0, -1), rows, 'x'), /expected: .*type=EOS[^]*got: +\(no word\)/);
});
