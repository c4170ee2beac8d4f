// The seeded generator: a seed or a saved state fixes the whole stream, forks are reproducible and differ from
// their parent, and the derived draws (integers, normals, shuffles, arrays) have the ranges and moments they
// promise. Statistical bounds are about 5 standard errors wide, so a correct generator fails them with
// probability below 1e-6 (and the seeds are fixed, so the outcome never changes between runs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadingRng, Rng, normalArray, uniformArray } from '../../src/random.ts';

const draw = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.next());

test('a seed fixes the stream; the saved state resumes it exactly; seeds are folded into 32 bits', () => {
  assert.deepEqual(draw(new Rng(42), 5), draw(new Rng(42), 5));
  assert.notDeepEqual(draw(new Rng(42), 5), draw(new Rng(43), 5));
  const rng = new Rng(7);
  draw(rng, 10);
  const saved = rng.state;
  assert.deepEqual(draw(Rng.fromState(saved), 20), draw(rng, 20));
  assert.deepEqual(draw(new Rng(-1), 3), draw(new Rng(2 ** 32 - 1), 3));
  assert.deepEqual(draw(new Rng(2 ** 32 + 5), 3), draw(new Rng(5), 3));
  assert.throws(() => new Rng(NaN), /expected a finite seed, got NaN/);
});

test('fork: reproducible, independent of the parent stream, and advances the parent', () => {
  const a = new Rng(1);
  const b = new Rng(1);
  const fa = a.fork();
  assert.deepEqual(draw(fa, 5), draw(b.fork(), 5));
  assert.deepEqual(draw(a, 5), draw(b, 5), 'parents stay in step');
  const parent = new Rng(1);
  const child = parent.fork();
  const fresh = new Rng(1);
  assert.notDeepEqual(draw(child, 5), draw(new Rng(1), 5), 'the child is not the parent stream');
  fresh.next();
  assert.deepEqual(draw(parent, 5), draw(fresh, 5), 'forking consumed exactly one draw of the parent');
});

test('next is in [0, 1) with mean 1/2 and variance 1/12; nextInt covers [0, n) evenly', () => {
  const rng = new Rng(3);
  const n = 100_000;
  const xs = draw(rng, n);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
  assert.ok(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / n), `mean ${mean}`);
  assert.ok(Math.abs(variance - 1 / 12) < 2e-3, `variance ${variance}`);
  const counts = new Array<number>(7).fill(0);
  for (let i = 0; i < 70_000; i++) counts[rng.nextInt(7)]!++;
  // Chi-square with 6 degrees of freedom: P(X > 36) < 1e-5.
  const chi2 = counts.reduce((s, c) => s + (c - 10_000) ** 2 / 10_000, 0);
  assert.ok(chi2 < 36, `chi2 ${chi2} for counts ${counts.join(',')}`);
  for (const bad of [0, -1, 2.5]) assert.throws(() => rng.nextInt(bad), /expected a positive integer/);
  const seeds = Array.from({ length: 1000 }, () => rng.nextSeed());
  assert.ok(seeds.every((s) => Number.isInteger(s) && s >= 0 && s < 2 ** 31 - 1));
});

test('normal: mean 0, variance 1, finite; normalArray scales by std; uniformArray stays within [lo, hi] (float32)', () => {
  const rng = new Rng(11);
  const n = 100_000;
  const xs = Array.from({ length: n }, () => rng.normal());
  assert.ok(xs.every(Number.isFinite));
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
  assert.ok(Math.abs(mean) < 5 / Math.sqrt(n), `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 5 * Math.sqrt(2 / n), `variance ${variance}`);
  const within1 = xs.filter((x) => Math.abs(x) < 1).length / n; // 0.6827 for a standard normal
  assert.ok(Math.abs(within1 - 0.6827) < 0.01, `P(|x| < 1) = ${within1}`);

  const scaled = normalArray(new Rng(11), 1000, 0.5);
  const plain = normalArray(new Rng(11), 1000);
  assert.ok(scaled instanceof Float32Array && scaled.length === 1000);
  scaled.forEach((v, i) => assert.equal(v, Math.fround(plain[i]! * 0.5)));
  const u = uniformArray(new Rng(5), 10_000, -0.25, 0.75);
  assert.ok(u.every((v) => v >= -0.25 && v <= 0.75));
  assert.ok(Math.min(...u) < -0.24 && Math.max(...u) > 0.74, 'the whole range is reached');
});

test('shuffle: a permutation in place, fixed by the seed, and every order reachable', () => {
  const items = [1, 2, 3, 4, 5, 6, 7, 8];
  const a = new Rng(9).shuffle(items.slice());
  assert.deepEqual(a, new Rng(9).shuffle(items.slice()));
  assert.deepEqual(a.slice().sort((x, y) => x - y), items);
  const arr = [1, 2, 3];
  assert.equal(new Rng(1).shuffle(arr), arr, 'in place');
  const rng = new Rng(2);
  const seen = new Map<string, number>();
  for (let i = 0; i < 6000; i++) {
    const key = rng.shuffle([0, 1, 2]).join('');
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  assert.equal(seen.size, 6, 'all 3! orders');
  for (const [order, count] of seen) assert.ok(Math.abs(count - 1000) < 5 * Math.sqrt(1000 * (5 / 6)), `${order}: ${count}`);
  assert.deepEqual(new Rng(1).shuffle([]), []);
});

test('LoadingRng: uniformArray and normalArray give zeros without drawing; any other draw throws', () => {
  const rng = new LoadingRng();
  assert.deepEqual(Array.from(uniformArray(rng, 4, -1, 1)), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(normalArray(rng, 3, 2)), [0, 0, 0]);
  assert.throws(() => rng.next(), /LoadingRng: a model built for loading drew a random number/);
  assert.throws(() => rng.normal(), /LoadingRng/);
  // A seeded Rng is untouched by the check: the same draws as before.
  assert.deepEqual(Array.from(uniformArray(new Rng(5), 3, 0, 1)), Array.from(Float32Array.from(draw(new Rng(5), 3))));
});
