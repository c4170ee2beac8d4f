/** The classifier's indexed-access helpers: checked reads that name the index, and the unchecked kernel's arithmetic. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addAt, addScaled, at, entry } from '../../src/classify/indexing.ts';
import { Rng } from '../../src/random.ts';

test('at reads an element that exists and throws a RangeError naming the index otherwise', () => {
  assert.equal(at([3, 4, 5], 2), 5);
  assert.equal(at(new Float64Array([0.5]), 0), 0.5);
  assert.equal(at('abc', 1), 'b');
  assert.throws(() => at([3, 4, 5], 3), { name: 'RangeError', message: 'index 3 is outside 0..2' });
  assert.throws(() => at([], 0), { name: 'RangeError', message: 'index 0 is outside 0..-1' });
  assert.throws(() => at([1], -1), RangeError);
  assert.throws(() => at([1], 0.5), RangeError);
});

test('addAt adds in place as += does, and refuses a missing index', () => {
  const xs = [1, 2];
  addAt(xs, 1, 0.1);
  assert.deepEqual(xs, [1, 2 + 0.1]);
  const f = new Float64Array(2);
  addAt(f, 0, 0.1);
  addAt(f, 0, 0.2);
  assert.equal(f[0], 0.1 + 0.2);
  assert.throws(() => addAt(xs, 2, 1), { name: 'RangeError', message: 'index 2 is outside 0..1' });
  assert.deepEqual(xs, [1, 2.1], 'nothing written on a missing index');
});

test('entry reads a Map entry that exists and throws a RangeError naming the key otherwise', () => {
  const m = new Map([['a', [1]]]);
  assert.deepEqual(entry(m, 'a'), [1]);
  assert.throws(() => entry(m, 'b'), { name: 'RangeError', message: 'no entry for key b' });
});

test('addScaled gives bit for bit out[j] += (a * x[j]) / divisor, and checks the lengths', () => {
  const rng = new Rng(4);
  for (const divisor of [1, 3, 787]) {
    const out = Float64Array.from({ length: 9 }, () => rng.normal());
    const x = Array.from({ length: 9 }, () => rng.normal());
    const a = rng.normal();
    const expected = Float64Array.from(out, (o, j) => o + (a * (x[j] ?? NaN)) / divisor);
    addScaled(out, a, x, divisor);
    assert.deepEqual(out, expected);
  }
  assert.throws(() => addScaled(new Float64Array(3), 1, [1, 2]), { name: 'RangeError', message: 'addScaled: 3 outputs, only 2 inputs' });
});
