/**
 * The hook the web studio draws from: generate's onWord hears each piece's words as they are written, and the
 * last call's words are the result's (without the appended EOS). Runs without a browser.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/backend.ts';
import { generate, generateBatch } from '../../src/cp/generate.ts';
import { N_FAMILIES } from '../../src/music/vocab.ts';
import { Rng } from '../../src/random.ts';
import { tinyModel, vocab } from '../helpers/tiny_model.ts';

before(async () => {
  await initBackend('cpu');
});

test('onWord gets the count and each piece\'s words so far; the last call holds the whole piece but its EOS', () => {
  const model = tinyModel(3, { noEos: true });
  try {
    const calls: Array<{ generated: number; lengths: number[]; last: number[][] }> = [];
    const piece = generate(model, vocab, {
      emotion: 'Q2', seed: 4, maxWords: 12, guidance: 1,
      onWord: (generated, pieces) => calls.push({ generated, lengths: pieces.map((p) => p.length), last: pieces.map((p) => [...(p[p.length - 1] ?? [])]) }),
    });
    assert.equal(calls.length, piece.generated);
    assert.deepEqual(calls.map((c) => c.generated), Array.from({ length: piece.generated }, (_, i) => i + 1));
    // One more word per call, after the prompt.
    assert.deepEqual(calls.map((c) => c.lengths[0]), Array.from({ length: piece.generated }, (_, i) => piece.promptLength + i + 1));
    const words = Array.from(piece.words);
    const n = words.length / N_FAMILIES;
    calls.forEach((c, i) => {
      const at = (piece.promptLength + i) * N_FAMILIES;
      assert.deepEqual(c.last[0], words.slice(at, at + N_FAMILIES), `word ${i}`);
    });
    assert.equal(calls.at(-1)?.lengths[0], n - 1, 'all words but the appended EOS');
  } finally {
    model.dispose();
  }
});

test('onWord in a batch: one array per piece, each piece\'s own words', () => {
  const model = tinyModel(5, { noEos: true });
  try {
    let seen: number[][][] = [];
    const rngs = [new Rng(1), new Rng(2)];
    const pieces = generateBatch(model, vocab, {
      emotion: 'Q4', maxWords: 6, guidance: 1,
      onWord: (_, ps) => (seen = ps.map((p) => p.map((w) => [...w]))),
    }, rngs);
    assert.equal(seen.length, 2);
    seen.forEach((ws, b) => assert.deepEqual(ws.flat(), Array.from((pieces[b] as { words: Int32Array }).words).slice(0, -N_FAMILIES)));
  } finally {
    model.dispose();
  }
});
