/** The vocabulary (sizes, EMOPIA's order, vocab.json), the bins, the special words, and the word grammar. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FAMILIES,
  InputError,
  Vocab,
  barWord,
  checkWords,
  emotionWord,
  eosWord,
  makeEvent,
  defaultPrompt,
  roundHalfEven,
  tempoBin,
  typeAllowedValues,
  velocityBin,
} from '../../src/index.ts';

const grid = Vocab.fullGrid();

test('full-grid vocabulary sizes per family', () => {
  assert.deepEqual(FAMILIES, ['tempo', 'chord', 'barbeat', 'type', 'pitch', 'duration', 'velocity', 'emotion']);
  assert.deepEqual(grid.sizes(), [67, 135, 18, 4, 87, 18, 46, 5]);
});

test("values follow EMOPIA's sort: 0 first, then strings lexicographically", () => {
  assert.deepEqual(grid.values('barbeat').slice(0, 6), [0, 'Bar', 'Beat_0', 'Beat_1', 'Beat_10', 'Beat_11']);
  assert.deepEqual(grid.values('type'), ['EOS', 'Emotion', 'Metrical', 'Note']);
  assert.deepEqual(grid.values('emotion'), [0, 1, 2, 3, 4]);
  assert.deepEqual(grid.values('tempo').slice(0, 4), [0, 'CONTI', 'Tempo_101', 'Tempo_104']);
  assert.deepEqual(grid.values('duration').slice(0, 4), [0, 'Note_Duration_0', 'Note_Duration_1080', 'Note_Duration_120']);
  assert.deepEqual(grid.values('velocity').slice(0, 3), [0, 'Note_Velocity_100', 'Note_Velocity_102']);
  // Indices EMOPIA's dictionary shows: pitch 1 is Note_Pitch_100, CONTI sits at chord index 45.
  assert.equal(grid.decode('pitch', 1), 'Note_Pitch_100');
  assert.equal(grid.encode('chord', 'CONTI'), 45);
  assert.deepEqual(grid.values('chord').slice(0, 4), [0, 'A#_+', 'A#_/o7', 'A#_7']);
  assert.equal(grid.values('chord').at(-1), 'N_N');
});

test('encode/decode by family name, with InputError for unknown values and indices', () => {
  assert.equal(grid.decode('pitch', grid.encode('pitch', 'Note_Pitch_60')), 'Note_Pitch_60');
  assert.throws(() => grid.encode('pitch', 'Note_Pitch_108'), InputError);
  assert.throws(() => grid.decode('type', 4), /expected an index in 0\.\.3, got 4/);
  assert.throws(() => grid.encode('emotion', '1'), InputError, 'emotion values are numbers, not strings');
});

test('special words built by name', () => {
  assert.deepEqual(emotionWord(grid, 'Q3'), [0, 0, 0, 1, 0, 0, 0, 3]);
  assert.deepEqual(barWord(grid), [0, 0, 1, 2, 0, 0, 0, 0]);
  assert.deepEqual(eosWord(grid), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(defaultPrompt(grid, 2), [[0, 0, 0, 1, 0, 0, 0, 2], [0, 0, 1, 2, 0, 0, 0, 0]]);
  assert.throws(() => emotionWord(grid, 'Q5' as 'Q1'), /expected Q1, Q2, Q3 or Q4, got 'Q5'/);
});

test('vocab.json round trip and equality', () => {
  const json = JSON.parse(JSON.stringify(grid.toJSON()));
  const back = Vocab.fromJSON(json);
  assert.ok(back.equals(grid));
  assert.equal(back.id(), 'full-grid@1');
  assert.ok(Vocab.fromJSON('full-grid@1').equals(grid));
  const small = Vocab.fromValues({ ...grid.toJSON().values, velocity: [0, 'Note_Velocity_64', 'Note_Velocity_40'] });
  assert.deepEqual(small.values('velocity'), [0, 'Note_Velocity_40', 'Note_Velocity_64']);
  assert.equal(small.equals(grid), false);
  assert.equal(small.id(), null);
  assert.throws(() => Vocab.fromJSON({ ...json, format: 'other' }), /expected format 'emopia-ts\/vocab'/);
  assert.throws(() => Vocab.fromJSON({ ...json, families: ['tempo'] }), /expected families/);
  assert.throws(() => Vocab.fromJSON({ ...json, values: { ...json.values, pitch: [0, 0] } }), /distinct values/);
});

test('bins: numpy rounding, tempo and velocity bins', () => {
  const rounding: Array<[number, number]> = [[0.5, 0], [1.5, 2], [2.5, 2], [-0.5, 0], [2.4, 2], [2.6, 3]];
  for (const [x, y] of rounding) assert.equal(roundHalfEven(x), y, `round(${x})`);
  const tempos: Array<[number, number]> = [[120, 119], [121, 122], [120.5, 119], [10, 32], [500, 224], [33.5, 32]];
  for (const [bpm, bin] of tempos) assert.equal(tempoBin(bpm), bin, `tempo ${bpm}`);
  const vels: Array<[number, number]> = [[1, 40], [41, 40], [42, 42], [43, 42], [127, 126], [100, 100]];
  for (const [v, bin] of vels) assert.equal(velocityBin(v), bin, `velocity ${v}`);
});

test('typeAllowedValues masks what each word type may carry', () => {
  const a = typeAllowedValues(grid);
  assert.deepEqual(a.Note.tempo, [0]);
  assert.equal(a.Note.pitch.length, 86);
  assert.ok(!a.Note.pitch.includes(0));
  assert.deepEqual(a.Note.type, [3]);
  assert.deepEqual(a.EOS.pitch, [0]);
  assert.deepEqual(a.Emotion.emotion, [0, 1, 2, 3, 4]);
  assert.equal(a.Metrical.barbeat.length, 17);
  assert.equal(a.Metrical.tempo.length, 67);
  assert.deepEqual(a.Metrical.pitch, [0]);
});

test('checkWords accepts the layout and names each break of it', () => {
  const ev = (t: Parameters<typeof makeEvent>[0], f: Parameters<typeof makeEvent>[1] = {}) => grid.encodeEvent(makeEvent(t, f));
  const good = [
    ev('Emotion', { emotion: 1 }),
    ev('Metrical', { barbeat: 'Bar' }),
    ev('Metrical', { tempo: 'Tempo_119', chord: 'C_M', barbeat: 'Beat_0' }),
    ev('Note', { pitch: 'Note_Pitch_60', duration: 'Note_Duration_480', velocity: 'Note_Velocity_80' }),
    ev('Metrical', { barbeat: 'Bar' }),
    ev('EOS'),
  ];
  assert.deepEqual(checkWords(grid, good.flat()), []);
  const bad = [good[1], good[3], good[2], ev('Metrical', { tempo: 'CONTI', chord: 'CONTI', barbeat: 'Beat_0' })].flat() as number[];
  const problems = checkWords(grid, bad);
  assert.deepEqual(problems, [
    'word 0: expected the Emotion word first, got Metrical',
    'word 1: Note word without a Beat word before it in its bar',
    'word 3: Beat_0 does not follow Beat_0',
    'word 3: expected EOS last',
  ]);
  assert.deepEqual(checkWords(grid, []), ['word 0: expected the Emotion word first, got no words']);
});
