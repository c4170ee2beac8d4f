// Bar recall (src/cp/recall.ts): a recalled bar's values get a logit bonus while a new bar is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/backend.ts';
import { FAMILY_INDEX, N_FAMILIES } from '../../src/music/vocab.ts';
import { checkWords } from '../../src/music/grammar.ts';
import { generate } from '../../src/cp/generate.ts';
import { checkPerQuadrant, parseGenerationDefaults, settingsForQuadrant } from '../../src/cp/generation_defaults.ts';
import { START_LAYOUT, advanceLayout } from '../../src/cp/sampling.ts';
import { openRecall, recallActive, recallLogits, recalledValues, recallWord } from '../../src/cp/recall.ts';
import { Rng } from '../../src/random.ts';
import { tinyModel, vocab } from '../helpers/tiny_model.ts';

const enc = (f: Parameters<typeof vocab.encode>[0], v: Parameters<typeof vocab.encode>[1]) => vocab.encode(f, v);
/** A word of FAMILIES order from named values (the rest 0). */
function word(type: string, fields: Record<string, string | number> = {}): number[] {
  const w = new Array<number>(N_FAMILIES).fill(0);
  w[FAMILY_INDEX.type] = enc('type', type);
  for (const [f, v] of Object.entries(fields)) w[FAMILY_INDEX[f as 'pitch']] = enc(f as 'pitch', v);
  return w;
}
const values = (f: 'pitch' | 'barbeat' | 'chord' | 'duration' | 'velocity' | 'type', xs: number[]) => xs.map((i) => vocab.values(f)[i]);

test('recalledValues: what an earlier bar implies at each point of the new bar', () => {
  const bar = word('Metrical', { barbeat: 'Bar' });
  const pitches = vocab.values('pitch');
  const [p1, p2] = [pitches[5], pitches[9]] as [string, string];
  const dur = vocab.values('duration')[3] as string;
  const vel = vocab.values('velocity')[7] as string;
  const chord = vocab.values('chord').find((v) => typeof v === 'string' && v.includes('_m')) as string;
  const beat4 = word('Metrical', { barbeat: 'Beat_4', chord });
  const bar1 = [bar, beat4, word('Note', { pitch: p1, duration: dur, velocity: vel }), word('Note', { pitch: p2 }), word('Metrical', { barbeat: 'Beat_12' })];
  const state = openRecall({ share: 1, bonus: 2 });
  const rng = new Rng(3);
  for (const w of bar1) recallWord(state, vocab, w, rng);
  recallWord(state, vocab, bar, rng); // bar 2 starts: with share 1 it recalls bar 1 (the only one back)
  assert.ok(state.source);
  let layout = [...bar1, bar].reduce((l, w) => advanceLayout(l, vocab, w), START_LAYOUT);
  // After the Bar: a Metrical word at Beat_4 with bar 1's chord there.
  assert.deepEqual(values('type', recalledValues(state, vocab, 'type', layout, [])), ['Metrical']);
  assert.deepEqual(values('barbeat', recalledValues(state, vocab, 'barbeat', layout, word('Metrical'))), ['Beat_4']);
  assert.deepEqual(values('chord', recalledValues(state, vocab, 'chord', layout, word('Metrical', { barbeat: 'Beat_4' }))), [chord]);
  // At Beat_4: two notes to strike, then (one struck) the other.
  layout = advanceLayout(layout, vocab, beat4);
  assert.deepEqual(values('type', recalledValues(state, vocab, 'type', layout, [])), ['Note']);
  assert.deepEqual(values('pitch', recalledValues(state, vocab, 'pitch', layout, word('Note'))), [p1, p2]);
  // Duration and velocity stay the model's own.
  assert.deepEqual(recalledValues(state, vocab, 'duration', layout, word('Note', { pitch: p1 })), []);
  assert.deepEqual(recalledValues(state, vocab, 'velocity', layout, word('Note', { pitch: p1 })), []);
  layout = advanceLayout(layout, vocab, word('Note', { pitch: p1 }));
  assert.deepEqual(values('pitch', recalledValues(state, vocab, 'pitch', layout, word('Note'))), [p2]);
  layout = advanceLayout(layout, vocab, word('Note', { pitch: p2 }));
  assert.deepEqual(values('type', recalledValues(state, vocab, 'type', layout, [])), ['Metrical'], 'the onset is complete');
  assert.deepEqual(values('barbeat', recalledValues(state, vocab, 'barbeat', layout, word('Metrical'))), ['Beat_12']);
  // A bar that went its own way (Beat_6, which bar 1 has not): nothing implied there, the next onset still Beat_12.
  const off = advanceLayout(layout, vocab, word('Metrical', { barbeat: 'Beat_6' }));
  assert.deepEqual(recalledValues(state, vocab, 'type', off, []), []);
  assert.deepEqual(recalledValues(state, vocab, 'pitch', off, word('Note')), []);
  assert.deepEqual(values('barbeat', recalledValues(state, vocab, 'barbeat', off, word('Metrical'))), ['Beat_12']);
  // After bar 1's last onset: Bar.
  const end = advanceLayout(layout, vocab, word('Metrical', { barbeat: 'Beat_12' }));
  assert.deepEqual(values('barbeat', recalledValues(state, vocab, 'barbeat', end, word('Metrical'))), ['Bar']);
  // The bonus lands on those values only, on a copy.
  const logits = new Float32Array(vocab.size('pitch'));
  const out = recallLogits(state, vocab, 'pitch', advanceLayout(layout, vocab, word('Metrical', { barbeat: 'Beat_4' })), word('Note'), logits);
  assert.notEqual(out, logits);
  assert.deepEqual([...out].flatMap((x, i) => (x ? [[pitches[i], x]] : [])), [[p1, 2], [p2, 2]]);
  assert.ok(logits.every((x) => x === 0));
  // Without a recalled bar nothing is implied and the logits come back as they were.
  const none = openRecall({ share: 0, bonus: 2 });
  for (const w of [...bar1, bar]) recallWord(none, vocab, w, rng);
  assert.equal(none.source, null);
  assert.equal(recallLogits(none, vocab, 'pitch', layout, word('Note'), logits), logits);
});

/** Each bar's notes as "position:pitch" strings (sorted), bars in order. */
function barsOf(ws: Int32Array): string[][] {
  const bars: string[][] = [];
  let pos = -1;
  for (let i = 0; i < ws.length; i += N_FAMILIES) {
    const w = Array.from(ws.subarray(i, i + N_FAMILIES));
    const type = vocab.values('type')[w[FAMILY_INDEX.type] as number];
    const bb = vocab.values('barbeat')[w[FAMILY_INDEX.barbeat] as number];
    if (type === 'Metrical' && bb === 'Bar') bars.push([]);
    else if (type === 'Metrical') pos = Number(String(bb).slice(5));
    else if (type === 'Note') bars[bars.length - 1]?.push(`${pos}:${w[FAMILY_INDEX.pitch]}`);
  }
  return bars.map((b) => b.sort());
}

test('generate with recall: off changes nothing; share 1 with an overwhelming bonus copies the first bar into every bar', async () => {
  await initBackend('wasm');
  const model = tinyModel(5, { noEos: true });
  const opts = { maxBars: 6, maxWords: 400, seed: 7, emotion: 'Q2' as const };
  const plain = generate(model, vocab, opts);
  // Off (share 0, or no bonus): the same words, the same random stream.
  assert.deepEqual(generate(model, vocab, { ...opts, recall: { share: 0, bonus: 3 } }).words, plain.words);
  assert.deepEqual(generate(model, vocab, { ...opts, recall: { share: 0.5, bonus: 0 } }).words, plain.words);
  // Share 1, bonus 1e4: bar 2 recalls bar 1, bar 3 bar 1 or 2, ...: every bar is bar 1 again: the same onsets and
  // pitches (the notes of one onset in any order: every pitch still to strike there gets the same bonus).
  const copied = generate(model, vocab, { ...opts, recall: { share: 1, bonus: 1e4 } });
  assert.deepEqual(checkWords(vocab, copied.words), [], "the words keep the layout");
  const bars = barsOf(copied.words).slice(0, -1); // the last is the closing Bar's (empty)
  assert.ok(bars.length >= 4, `expected at least 4 bars, got ${bars.length}`);
  assert.ok((bars[0] ?? []).length > 0, 'the first bar has notes');
  for (const [i, b] of bars.entries()) assert.deepEqual(b, bars[0], `bar ${i + 1}`);
  const plainBars = barsOf(plain.words).slice(0, -1);
  assert.ok(plainBars.some((b) => JSON.stringify(b) !== JSON.stringify(plainBars[0])), 'without recall the bars differ');
  // A moderate setting is as reproducible as any seeded piece, and different from the plain one.
  const some = { ...opts, recall: { share: 0.5, bonus: 2.5 } };
  assert.deepEqual(generate(model, vocab, some).words, generate(model, vocab, some).words);
  assert.notDeepEqual(generate(model, vocab, some).words, plain.words);
  model.dispose();
});

test('recall options: checked in generation.json and in generate', async () => {
  assert.deepEqual(parseGenerationDefaults({ recall: { share: 0.3, bonus: 2.5 } }, 'g.json').recall, { share: 0.3, bonus: 2.5 });
  assert.throws(() => parseGenerationDefaults({ recall: { share: 1.5, bonus: 2 } }, 'g.json'), /^InputError: g\.json: "recall": expected a share in \[0, 1\], got 1\.5/);
  assert.throws(() => parseGenerationDefaults({ recall: [0.3, 2] }, 'g.json'), /expected "recall" to be \{share, bonus\}/);
  await initBackend('wasm');
  const model = tinyModel(5);
  assert.throws(() => generate(model, vocab, { emotion: 'Q1', maxWords: 5, recall: { share: 0.5, bonus: -1 } }), /expected a bonus >= 0, got -1/);
  model.dispose();
});

test('recall share per quadrant (perQuadrant): each piece takes its requested quadrant\'s share; checked in generation.json', async () => {
  const base = { share: 0.2, bonus: 30 };
  const perQ = { Q1: { recall: { share: 0 } }, Q2: { recall: { share: 0.5 } }, Q3: { recall: { share: 1 } }, Q4: { recall: { share: 0.25 } } };
  assert.deepEqual(settingsForQuadrant({}, base, perQ, 2).recall, { share: 0.5, bonus: 30 });
  assert.deepEqual(settingsForQuadrant({}, base, perQ, 3).recall, { share: 1, bonus: 30 });
  assert.deepEqual(settingsForQuadrant({}, base, {}, 4).recall, { share: 0.2, bonus: 30 });
  assert.equal(recallActive(settingsForQuadrant({}, base, perQ, 1).recall), false);
  assert.equal(recallActive(settingsForQuadrant({}, { share: 0, bonus: 30 }, { Q3: { recall: { share: 0.1 } } }, 3).recall), true);
  assert.deepEqual(parseGenerationDefaults({ recall: base, perQuadrant: perQ }, 'g.json').perQuadrant, perQ);
  assert.throws(() => parseGenerationDefaults({ recall: base, perQuadrant: { Q5: { recall: { share: 0.1 } } } }, 'g.json'),
    /^InputError: g\.json: "perQuadrant": .*unknown quadrant 'Q5' \(expected Q1, Q2, Q3 or Q4\)/);
  assert.throws(() => parseGenerationDefaults({ recall: base, perQuadrant: { Q1: { recall: { share: 0.1 }, melody: 1 } } }, 'g.json'), /expected \{sampling\?, recall\?\} for Q1/);
  assert.throws(() => parseGenerationDefaults({ recall: base, perQuadrant: { Q2: { recall: { share: 2 } } } }, 'g.json'), /Q2's "recall": expected a share in \[0, 1\], got 2/);
  assert.throws(() => checkPerQuadrant({ Q4: { recall: { share: 'x' } } }, {}, base), /Q4's "recall": expected a share in \[0, 1\], got x/);
  // generate: a Q2 piece with the per-quadrant shares is the piece with Q2's share alone, and so for Q1 (share 0: off).
  await initBackend('wasm');
  const model = tinyModel(5, { noEos: true });
  const opts = { maxBars: 6, maxWords: 400, seed: 11 };
  const strong = { share: 0.2, bonus: 1e4 };
  const q2 = generate(model, vocab, { ...opts, emotion: 'Q2', recall: strong, perQuadrant: perQ });
  assert.deepEqual(q2.words, generate(model, vocab, { ...opts, emotion: 'Q2', recall: { share: 0.5, bonus: 1e4 } }).words);
  assert.notDeepEqual(q2.words, generate(model, vocab, { ...opts, emotion: 'Q2' }).words, 'recall changed the Q2 piece');
  assert.deepEqual(generate(model, vocab, { ...opts, emotion: 'Q1', recall: strong, perQuadrant: perQ }).words, generate(model, vocab, { ...opts, emotion: 'Q1' }).words);
  model.dispose();
});
