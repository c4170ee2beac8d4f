/**
 * The sampling rules on hand-made distributions: each logits processor on a small example computed by hand,
 * nucleus sets, temperature, the draw order, the grammar mask, seeded determinism, purity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/random.ts';
import { Vocab, FAMILY_INDEX, barWord, type Family } from '../../src/music/vocab.ts';
import { typeAllowedValues } from '../../src/music/grammar.ts';
import {
  EMOPIA_SAMPLING, MAX_NOTES_AT_ONSET, START_LAYOUT, advanceLayout, allowOnly, allowedTypes, allowedValues, drawValue, withoutPitches, nucleusSample, nucleusSet,
  processLogits, sampleLogits, sampleType, sampleWord, samplingRules, samplingTable, softmaxWithTemperature, weightedSample,
  tempoWithinStep, withTemperature,
} from '../../src/cp/sampling.ts';
import { assertClose } from '../helpers/close.ts';

test('nucleus keeps up to and including the first index where the cumulative sum exceeds p', () => {
  const probs = [0.1, 0.4, 0.2, 0.3]; // sorted: 1 (0.4), 3 (0.7), 2 (0.9), 0 (1.0)
  assert.deepEqual(nucleusSet(probs, 0.3), [1]);
  assert.deepEqual(nucleusSet(probs, 0.5), [1, 3]);
  assert.deepEqual(nucleusSet(probs, 0.65), [1, 3]);
  assert.deepEqual(nucleusSet(probs, 0.85), [1, 3, 2]);
  assert.deepEqual(nucleusSet(probs, 0.95), [1, 3, 2, 0]);
  assert.deepEqual(nucleusSet(probs, 1), [1, 3, 2, 0]);
  // Ties keep index order; unnormalised weights behave as their normalised form.
  assert.deepEqual(nucleusSet([2, 2, 1], 0.5), [0, 1]);
});

test('nucleus sampling never leaves the kept set and follows its renormalised weights', () => {
  const probs = [0.05, 0.5, 0.05, 0.4];
  const rng = new Rng(3);
  const counts = [0, 0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[nucleusSample(probs, 0.8, rng)]! += 1;
  assert.equal(counts[0], 0);
  assert.equal(counts[2], 0);
  // Kept {1, 3} renormalised: 0.5/0.9 and 0.4/0.9. Binomial std at n=20000 is ~0.0035; allow 5 sigma.
  assert.ok(Math.abs(counts[1]! / n - 5 / 9) < 0.018, `P(1) = ${counts[1]! / n}`);
});

test('softmax with temperature: closed form, max subtracted (no overflow), input untouched', () => {
  const logits = Float32Array.from([0, Math.log(3)]);
  assertClose(softmaxWithTemperature(logits, 1), [0.25, 0.75], 1e-7, 't=1');
  // t=2: weights 1 and sqrt(3).
  assertClose(softmaxWithTemperature(logits, 2), [1 / (1 + Math.sqrt(3)), Math.sqrt(3) / (1 + Math.sqrt(3))], 1e-7, 't=2');
  assertClose(softmaxWithTemperature([1000, 1000 + Math.log(3)], 1), [0.25, 0.75], 1e-7, 'large logits');
  assert.deepEqual(Array.from(logits), [0, Math.fround(Math.log(3))]);
});

test('weighted sampling matches its weights and skips zero weights', () => {
  const rng = new Rng(5);
  const counts = [0, 0, 0];
  for (let i = 0; i < 10000; i++) counts[weightedSample([1, 0, 3], rng)]! += 1;
  assert.equal(counts[1], 0);
  assert.ok(Math.abs(counts[2]! / 10000 - 0.75) < 0.025, `P(2) = ${counts[2]! / 10000}`);
});

test('sampleLogits: allowed values only, seeded determinism, a single allowed value is returned as is', () => {
  const logits = [5, 0, 4, -1, 3];
  const draw = (seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: 50 }, () => sampleLogits(logits, { temperature: 1, topP: null }, rng, [1, 3, 4]));
  };
  const a = draw(11);
  assert.deepEqual(a, draw(11));
  assert.notDeepEqual(a, draw(12));
  assert.ok(a.every((i) => [1, 3, 4].includes(i)));
  assert.equal(sampleLogits(logits, { temperature: 1, topP: 0.9 }, new Rng(1), [2]), 2);
  // Top-p 0.5 on [5, 0, 4]: softmax puts 0.73 on index 0, which alone exceeds 0.5.
  const rng = new Rng(2);
  for (let i = 0; i < 20; i++) assert.equal(sampleLogits([5, 0, 4], { temperature: 1, topP: 0.5 }, rng), 0);
});

test("EMOPIA's table with overrides; bad values are one-line errors", () => {
  assert.deepEqual(EMOPIA_SAMPLING.duration, { temperature: 2, topP: 0.9 });
  assert.deepEqual(EMOPIA_SAMPLING.velocity, { temperature: 5, topP: null });
  const t = samplingTable({ pitch: { temperature: 0.5 }, barbeat: { topP: 0.95 } });
  assert.deepEqual(t.pitch, { temperature: 0.5, topP: 0.9 });
  assert.deepEqual(t.barbeat, { temperature: 1.2, topP: 0.95 });
  assert.deepEqual(t.chord, { temperature: 1, topP: 0.99 });
  assert.throws(() => samplingTable({ pitch: { temperature: 0 } }), /temperature of pitch: expected a number > 0, got 0/);
  assert.throws(() => samplingTable({ tempo: { topP: 1.5 } }), /top-p of tempo: expected a number in \(0, 1\], got 1.5/);
});

test('allowOnly (the grammar mask) and withTemperature: logits in, logits out, input untouched', () => {
  const logits = Float64Array.from([1, 2, 3]);
  assert.deepEqual([...allowOnly([0, 2])(logits)], [1, -Infinity, 3]);
  assert.deepEqual([...allowOnly([])(logits)], [-Infinity, -Infinity, -Infinity]);
  assert.throws(() => allowOnly([3])(logits), /allowOnly: expected indices in 0\.\.2, got 3/);
  assert.deepEqual([...withTemperature(2)(Float64Array.from([2, -4, -Infinity]))], [1, -2, -Infinity]);
  assert.deepEqual([...withTemperature(0.5)(logits)], [2, 4, 6]);
  // The pipeline runs in order on a float64 copy: mask {1, 2}, then t = 0.5.
  const f32 = Float32Array.from([1, 2, 3]);
  assert.deepEqual([...processLogits(f32, [allowOnly([1, 2]), withTemperature(0.5)])], [-Infinity, 4, 6]);
  assert.deepEqual([...processLogits(f32, [])], [1, 2, 3]);
  assert.deepEqual([...logits], [1, 2, 3]);
  assert.deepEqual([...f32], [1, 2, 3]);
});

test('drawValue: one possible value costs no draw; otherwise weighted in index order, or top-p in descending order', () => {
  const rng = new Rng(4);
  const before = rng.state;
  assert.equal(drawValue([-Infinity, 0.5, -Infinity], 0.9, rng), 1);
  assert.equal(rng.state, before, 'no draw for a single possible value');
  assert.throws(() => drawValue([-Infinity, -Infinity], null, rng), /^InputError: sampling: no value is allowed$/);
  for (let seed = 0; seed < 30; seed++) {
    const u = new Rng(seed).next();
    // Weighted, index order: P = [0, 0.25, 0.75] -> index 1 when u < 0.25.
    assert.equal(drawValue([-Infinity, 0, Math.log(3)], null, new Rng(seed)), u < 0.25 ? 1 : 2, `seed ${seed}`);
    // Top-p 0.65 over P = [0.1, 0.4, 0.2, 0.3] keeps 1 (0.4) then 3 (0.3): drawn in that order over a total of 0.7.
    const p = drawValue([0.1, 0.4, 0.2, 0.3].map(Math.log), 0.65, new Rng(seed));
    assert.equal(p, u * 0.7 < 0.4 ? 1 : 3, `seed ${seed}`);
  }
  // sampleLogits is the pipeline: mask, temperature, draw. t = 0.5 on [0, ln 3] squares the weights: [1, 9] / 10.
  for (let seed = 0; seed < 30; seed++) {
    const u = new Rng(seed).next();
    assert.equal(sampleLogits([5, 0, Math.log(3)], { temperature: 0.5, topP: null }, new Rng(seed), [1, 2]), u < 0.1 ? 1 : 2, `seed ${seed}`);
  }
});

const grid = Vocab.fullGrid();
const EOS = grid.encode('type', 'EOS');
const METRICAL = grid.encode('type', 'Metrical');
const NOTE = grid.encode('type', 'Note');
const BAR = grid.encode('barbeat', 'Bar');
const beat = (k: number) => grid.encode('barbeat', `Beat_${k}`);

test('the grammar mask: types after the layout, tempo and chord after the bar-beat', () => {
  assert.deepEqual(allowedTypes(grid, START_LAYOUT, true), [EOS, METRICAL]);
  assert.deepEqual(allowedTypes(grid, { afterBeat: true, lastPos: 2, tempo: 0, onsetPitches: [] }, true), [EOS, METRICAL, NOTE]);
  assert.deepEqual(allowedTypes(grid, { afterBeat: true, lastPos: 2, tempo: 0, onsetPitches: [] }, false), [METRICAL, NOTE]);
  const g = typeAllowedValues(grid);
  const zeroTempo = grid.encode('tempo', 0);
  const zeroChord = grid.encode('chord', 0);
  assert.deepEqual(allowedValues(grid, g, 'Metrical', 'tempo', BAR), [zeroTempo]);
  assert.deepEqual(allowedValues(grid, g, 'Metrical', 'chord', BAR), [zeroChord]);
  const beatTempos = allowedValues(grid, g, 'Metrical', 'tempo', beat(0));
  assert.equal(beatTempos.length, grid.size('tempo') - 1, 'a Beat word: CONTI or a tempo, never 0');
  assert.ok(!beatTempos.includes(zeroTempo) && beatTempos.includes(grid.encode('tempo', 'CONTI')));
  assert.deepEqual(allowedValues(grid, g, 'Note', 'tempo'), [zeroTempo]);
  assert.equal(allowedValues(grid, g, 'Note', 'pitch').length, grid.size('pitch') - 1, 'every pitch but 0');
  assert.throws(() => allowedValues(grid, g, 'Metrical', 'chord'), /needs its bar-beat/);
  // The layout: a Bar word starts a bar, a Beat word moves the position, a Note word adds its pitch to the onset's.
  const word = (type: number, barbeat: number) => Object.assign(new Array<number>(8).fill(0), { [FAMILY_INDEX.type]: type, [FAMILY_INDEX.barbeat]: barbeat });
  const note = (pitch: number) => Object.assign(word(NOTE, 0), { [FAMILY_INDEX.pitch]: pitch });
  const at5 = advanceLayout(START_LAYOUT, grid, word(METRICAL, beat(5)));
  assert.deepEqual(at5, { afterBeat: true, lastPos: 5, tempo: 0, onsetPitches: [] });
  const twoNotes = advanceLayout(advanceLayout(at5, grid, note(7)), grid, note(3));
  assert.deepEqual(twoNotes, { afterBeat: true, lastPos: 5, tempo: 0, onsetPitches: [7, 3] });
  assert.deepEqual(at5.onsetPitches, [], 'the layout before is not changed');
  assert.deepEqual(advanceLayout(twoNotes, grid, word(METRICAL, beat(6))).onsetPitches, [], 'a Beat word opens a new onset');
  assert.deepEqual(advanceLayout(twoNotes, grid, word(METRICAL, BAR)), { afterBeat: false, lastPos: -1, tempo: 0, onsetPitches: [] });
  // A full onset takes no more Note words; a struck pitch is not allowed again at the same onset.
  const full = { afterBeat: true, lastPos: 2, tempo: 0, onsetPitches: Array.from({ length: MAX_NOTES_AT_ONSET }, (_, i) => i + 1) };
  assert.deepEqual(allowedTypes(grid, full, true), [EOS, METRICAL]);
  assert.deepEqual(allowedTypes(grid, { ...full, onsetPitches: full.onsetPitches.slice(1) }, false), [METRICAL, NOTE]);
  assert.deepEqual(withoutPitches([1, 2, 3, 4], [3, 1]), [2, 4]);
  // A Beat word's tempo becomes the current tempo, which a Bar word and a CONTI keep.
  const withTempo = Object.assign(word(METRICAL, beat(2)), { [FAMILY_INDEX.tempo]: grid.encode('tempo', 'Tempo_80') });
  const at2 = advanceLayout(START_LAYOUT, grid, withTempo);
  assert.equal(at2.tempo, 80);
  const contiAt6 = Object.assign(word(METRICAL, beat(6)), { [FAMILY_INDEX.tempo]: grid.encode('tempo', 'CONTI') });
  assert.equal(advanceLayout(advanceLayout(at2, grid, word(METRICAL, BAR)), grid, contiAt6).tempo, 80);
});

test("the tempo's maxStep: only tempos within the step of the current one (and CONTI) can come out", () => {
  const values = grid.values('tempo');
  const allowed = allowedValues(grid, typeAllowedValues(grid), 'Metrical', 'tempo', beat(0));
  const near = tempoWithinStep(values, allowed, 80, 0.1).map((i) => values[i]);
  // 80/1.1 = 72.7 .. 88: the tempo family's 74, 77, 80, 83, 86 (3 BPM apart from 32), and CONTI.
  assert.deepEqual(near, ['CONTI', 'Tempo_74', 'Tempo_77', 'Tempo_80', 'Tempo_83', 'Tempo_86']);
  assert.equal(tempoWithinStep(values, allowed, 0, 0.1), allowed, 'no tempo yet: any');
  assert.equal(tempoWithinStep(values, allowed, 80, undefined), allowed, 'no maxStep: any (EMOPIA)');
  // In sampleWord: logits peaked on Tempo_140 give the nearest allowed tempo's neighbourhood instead.
  const rules = samplingRules(grid, { tempo: { temperature: 1, topP: null, maxStep: 0.1 } }, true);
  const peakTempo = grid.encode('tempo', 'Tempo_140');
  for (let seed = 0; seed < 20; seed++) {
    const w = sampleWord(rules, METRICAL, (f) => {
      const l = new Float32Array(grid.size(f));
      if (f === 'barbeat') l[beat(4)] = 50;
      if (f === 'tempo') l[peakTempo] = 50;
      return l;
    }, { afterBeat: true, lastPos: 2, tempo: 80, onsetPitches: [] }, new Rng(seed));
    assert.ok(near.includes(values[w[FAMILY_INDEX.tempo]!] as string), `seed ${seed}: ${values[w[FAMILY_INDEX.tempo]!]}`);
  }
  assert.throws(() => samplingTable({ pitch: { maxStep: 0.1 } }), /maxStep of pitch: only the tempo family has one/);
  assert.throws(() => samplingTable({ tempo: { maxStep: 0 } }), /maxStep of tempo: expected a number > 0/);
});

test('sampleType and sampleWord: the grammar decides, the peaked logits choose, and the draws are counted', () => {
  const rules = samplingRules(grid, {}, true);
  // Type logits: Emotion and Note are high but not allowed at the start; EOS e^-5 against Metrical: top-p 0.9 keeps Metrical.
  const typeLogits = Float32Array.from([0, 100, 5, 100]);
  assert.equal(sampleType(rules, typeLogits, START_LAYOUT, new Rng(1)), METRICAL);
  assert.equal(sampleType(rules, typeLogits, { afterBeat: true, lastPos: 0, tempo: 0, onsetPitches: [] }, new Rng(1)), NOTE);
  const peaked = (f: Family, i: number) =>
    Float32Array.from({ length: grid.size(f) }, (_, j) => (j === i ? 50 : 0));
  const draws = (rng: Rng, seed: number) => {
    const ref = new Rng(seed);
    for (let k = 0; k < 10; k++) if (ref.state === rng.state) return k;
    else ref.next();
    return -1;
  };
  // A Bar word: one draw (Bar or not); tempo and chord can only be 0, so they take it without a draw.
  let rng = new Rng(7);
  const bar = sampleWord(rules, METRICAL, (f) => peaked(f, f === 'barbeat' ? BAR : 3), { afterBeat: true, lastPos: 2, tempo: 0, onsetPitches: [] }, rng);
  assert.deepEqual(bar, barWord(grid));
  assert.equal(draws(rng, 7), 1);
  // A Beat word after Beat_2: Bar or not, which later Beat, tempo, chord: four draws.
  rng = new Rng(7);
  const b = sampleWord(rules, METRICAL, (f) => peaked(f, f === 'barbeat' ? beat(4) : f === 'tempo' ? 5 : 7), { afterBeat: true, lastPos: 2, tempo: 0, onsetPitches: [] }, rng);
  assert.deepEqual(b, [5, 7, beat(4), METRICAL, 0, 0, 0, 0]);
  assert.equal(draws(rng, 7), 4);
  // A passed position never comes out, however likely: the later Beats share the mass.
  const back = sampleWord(rules, METRICAL, (f) => peaked(f, f === 'barbeat' ? beat(1) : 5), { afterBeat: true, lastPos: 2, tempo: 0, onsetPitches: [] }, new Rng(3));
  const pos = grid.decode('barbeat', back[FAMILY_INDEX.barbeat] as number);
  assert.ok(String(pos).startsWith('Beat_') && Number(String(pos).slice(5)) > 2, `bar-beat ${pos}`);
  // A Note word: pitch, duration, velocity; emotion stays 0 even where its logits point elsewhere.
  rng = new Rng(7);
  const note = sampleWord(rules, NOTE, (f) => peaked(f, f === 'pitch' ? 10 : f === 'duration' ? 3 : f === 'emotion' ? 2 : 4), { afterBeat: true, lastPos: 0, tempo: 0, onsetPitches: [] }, rng);
  assert.deepEqual(note, [0, 0, 0, NOTE, 10, 3, 4, 0]);
  assert.equal(draws(rng, 7), 3);
});
