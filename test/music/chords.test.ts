/** The chord recogniser: constructed chords, per-beat choice and merging, marker parsing, and chorder's goldens on EMOPIA. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chordFromMarker, chordName, chordOf, chordsPerBeat, midiToScore, recogniseChords, type Note } from '../../src/index.ts';

const held = (pitches: number[], start = 0, end = 480): Note[] => pitches.map((pitch) => ({ pitch, velocity: 80, start, end }));
const name = (notes: Note[], start = 0, end = 480) => chordName(chordOf(notes, start, end).chord);

test('chords of constructed one-beat windows (lowest note is the bass)', () => {
  const table: Array<[string, number[], string]> = [
    ['C-E-G', [60, 64, 67], 'C_M'],
    ['C-Eb-G', [60, 63, 67], 'C_m'],
    ['B-D-F', [59, 62, 65], 'B_o'],
    ['C-E-G#', [60, 64, 68], 'C_+'],
    ['C-E-G-Bb', [60, 64, 67, 70], 'C_7'],
    ['C-E-G-B', [60, 64, 67, 71], 'C_M7'],
    ['A-C-E-G', [57, 60, 64, 67], 'A_m7'],
    ['C-D-G', [60, 62, 67], 'C_sus2'],
    ['C-F-G', [60, 65, 67], 'C_sus4'],
    ['B-D-F-G# (diminished seventh over B)', [59, 62, 65, 68], 'B_o7'],
    ['E-G-C (first inversion: the bass is dropped from the name)', [52, 55, 60], 'C_M'],
    ['C under E-G-B', [48, 64, 67, 71], 'C_M7'],
    ['F#-A#-C#', [66, 70, 73], 'F#_M'],
    ['a single held C (as chorder: a major triad on it)', [60], 'C_M'],
    ['nothing', [], 'N_N'],
  ];
  for (const [what, pitches, expected] of table) assert.equal(name(held(pitches)), expected, what);
});

test('short notes are not enough for a chord, and need a bass sounding 1/8 of the window', () => {
  // Three 50-tick notes: score 3*10*50 = 1500 < 10*480.
  assert.equal(name(held([60, 64, 67], 0, 50)), 'N_N');
  // E and G in five octaves, 59 ticks each: the profile passes the threshold (2*10*5*59 = 5900 >= 4800), but no
  // single pitch sounds 60 ticks (1/8 of 480), so there is no bass and no chord.
  const notes = held([40, 52, 64, 76, 88, 43, 55, 67, 79, 91], 0, 59);
  assert.equal(chordOf(notes, 0, 480).score, 5900);
  assert.equal(name(notes), 'N_N');
});

test('one chord per beat: two one-beat chords win over the two-beat window when both score well', () => {
  const notes = [...held([60, 64, 67], 0, 480), ...held([55, 59, 62], 480, 960)];
  assert.deepEqual(chordsPerBeat(notes).map(chordName), ['C_M', 'G_M']);
  // A C chord across two beats with a passing D in the second beat stays C for both beats.
  const passing = [...held([48, 64, 67], 0, 960), { pitch: 62, velocity: 80, start: 480, end: 540 }];
  assert.deepEqual(chordsPerBeat(passing).map(chordName), ['C_M', 'C_M']);
});

test('recogniseChords merges repeats, one marker per change, at beat ticks', () => {
  const notes = [...held([60, 64, 67], 0, 1920), ...held([55, 59, 62], 1920, 2880), ...held([57, 60, 64], 2880, 3840)];
  assert.deepEqual(recogniseChords(notes).map((m) => [m.tick, m.text]), [[0, 'C_M'], [1920, 'G_M'], [2880, 'A_m']]);
});

test('chord markers in our form or CP analyzer form', () => {
  const table: Array<[string, string | null]> = [
    ['C_M', 'C_M'],
    ['A#_/o7_E', 'A#_/o7'],
    ['G#_sus4', 'G#_sus4'],
    ['N_N', 'N_N'],
    ['N_N_N', 'N_N'],
    ['D_+_D', 'D_+'],
    ['global_bpm_120', null],
    ['Verse', null],
    ['H_M', null],
  ];
  for (const [text, expected] of table) assert.equal(chordFromMarker(text), expected, text);
});

test('the same chords as chorder on every EMOPIA clip (set EMOPIA_DIR; goldens from scripts/fixtures/chorder_goldens.py)', (t) => {
  const dir = process.env.EMOPIA_DIR;
  if (!dir) {
    t.skip("set EMOPIA_DIR=path/to/emopia, the folder of EMOPIA's 1078 MIDI clips");
    return;
  }
  const golden = JSON.parse(readFileSync(new URL('../fixtures/chorder_emopia.json', import.meta.url), 'utf8')) as { chords: Record<string, [number, string]> };
  const names = Object.keys(golden.chords);
  assert.equal(names.length, 1078);
  const differ: string[] = [];
  for (const name of names) {
    const chords = chordsPerBeat(midiToScore(readFileSync(join(dir, name)), name).notes);
    const text = chords.map((c) => (c ? `${c.root}_${c.quality}_${c.bass}` : 'None')).join('\n');
    const hash = createHash('sha1').update(text).digest('hex').slice(0, 16);
    if (chords.length !== golden.chords[name]?.[0] || hash !== golden.chords[name]?.[1]) differ.push(name);
  }
  assert.deepEqual(differ, [], `${differ.length} clips get other chords than chorder's`);
});
