/** The words file of `emopia encode` / `decode`: its one-word-per-line form, and each malformed part named. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWordsJson, wordsJson } from '../../src/cli/commands/_music_io.ts';
import { FAMILIES, Vocab, midiToScore, scoreToWords } from '../../src/index.ts';
import { chord, midiBytes } from './_midi.ts';

const grid = Vocab.fullGrid();

test('words file: written one word per line, read back to the same words and vocabulary', () => {
  const { words, events } = scoreToWords(midiToScore(midiBytes([{ notes: chord([60, 64, 67], 0, 480) }])), grid, { emotion: 1 });
  const text = wordsJson(grid, words, events, { emotion: 1 });
  assert.match(text, /^"words": \[\n\[0,0,0,1,0,0,0,1\],\n\[0,0,1,2,0,0,0,0\],$/m);
  const parsed = parseWordsJson(JSON.parse(text), 'a.json');
  assert.deepEqual(Array.from(parsed.words), Array.from(words));
  assert.ok(parsed.vocab.equals(grid));
  // An inline vocabulary (not the full grid) is written inline and read back.
  const small = Vocab.fromValues({ ...grid.toJSON().values, velocity: [0, 'Note_Velocity_80'] });
  const w2 = scoreToWords(midiToScore(midiBytes([{ notes: chord([60], 0, 480) }])), small);
  const back = parseWordsJson(JSON.parse(wordsJson(small, w2.words, w2.events, {})), 'b.json');
  assert.ok(back.vocab.equals(small));
});

test('words file: each malformed part is named', () => {
  const ok = { families: [...FAMILIES], vocab: 'full-grid@1', words: [[0, 0, 0, 1, 0, 0, 0, 1]] };
  const cases: Array<[unknown, RegExp]> = [
    [[1, 2], /a\.json: expected "families"/],
    [{ ...ok, families: ['pitch'] }, /a\.json: expected "families": \[tempo,chord,barbeat,type,pitch,duration,velocity,emotion\], got \["pitch"\]/],
    [{ ...ok, vocab: 'remi' }, /a\.json: vocab: expected 'full-grid@1' or an inline vocabulary, got 'remi'/],
    [{ families: ok.families, words: ok.words }, /a\.json: vocab: expected 'full-grid@1' or an inline vocabulary object, got null/],
    [{ ...ok, words: 'x' }, /a\.json: expected "words": a list of words of 8 integers/],
    [{ ...ok, words: [[0, 0, 0]] }, /a\.json: word 0: expected 8 integers, got \[0,0,0\]/],
    [{ ...ok, words: [[0, 0, 0, 1, 0, 0, 0, 1], [0, 0, 0, 9, 0, 0, 0, 0]] }, /a\.json: word 1: type index 9 is outside the vocabulary \(size 4\)/],
  ];
  for (const [json, re] of cases) assert.throws(() => parseWordsJson(json, 'a.json'), re);
});
