/** Boosted trees, arousal/valence heads, the version-2 classifier format, recipes and song-level folds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boostedProba, parseBoosted, trainBoosted, treeValue, type BoostOptions } from '../../src/classify/boost.ts';
import { combineMarginals, parseClassifier, predictProba, trainClassifier } from '../../src/classify/model.ts';
import { trainRecipe, type Recipe } from '../../src/classify/recipe.ts';
import { crossValidate, poolScores, songFolds } from '../../src/classify/cv.ts';
import { songOf } from '../../src/music/dataset.ts';
import { Rng } from '../../src/random.ts';

const ALL_ROWS: BoostOptions = { rounds: 1, depth: 1, lr: 1, minLeaf: 1, lambda: 0, bins: 32, subsample: 1, colsample: 1 };

test('one boosting round on a threshold: the stump splits at 4 with Newton leaves -+2', () => {
  // x = 0..9, class 1 when x >= 5. At logits 0: p = 1/2, g = p - y = +-1/2, h = 1/4; leaf = -G/H = -+2.
  const X = Array.from({ length: 10 }, (_, i) => [i]);
  const y = X.map(([x]) => (x! >= 5 ? 1 : 0));
  const b = trainBoosted(X, y, 2, ALL_ROWS, new Rng(1));
  assert.deepEqual(b.rounds, [[[0, 4, 2, -2], [0, 4, -2, 2]]]);
  assert.equal(treeValue([0, 4, 2, -2], [4]), 2, 'x <= threshold goes left');
  const p = boostedProba(b, [7]);
  assert.ok(Math.abs(p[1]! - 1 / (1 + Math.exp(-4))) < 1e-12);
  assert.ok(Math.abs(p[0]! + p[1]! - 1) < 1e-12);
});

test('depth-2 boosted trees learn XOR, which no linear model can; same seed, same trees', () => {
  const rng = new Rng(3);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < 200; i++) {
    const a = rng.next() * 2 - 1;
    const c = rng.next() * 2 - 1;
    X.push([a, c, rng.normal()]);
    y.push(a > 0 !== c > 0 ? 1 : 0);
  }
  const opts: BoostOptions = { rounds: 30, depth: 2, lr: 0.3, minLeaf: 5, lambda: 1, bins: 32, subsample: 0.8, colsample: 1 };
  const b = trainBoosted(X, y, 2, opts, new Rng(9));
  const grid = [[0.5, 0.5], [-0.5, 0.5], [0.5, -0.5], [-0.5, -0.5]].map(([a, c]) => [a!, c!, 0]);
  assert.deepEqual(grid.map((x) => (boostedProba(b, x)[1]! > 0.5 ? 1 : 0)), [0, 1, 1, 0]);
  assert.deepEqual(trainBoosted(X, y, 2, opts, new Rng(9)), b);
  assert.deepEqual(parseBoosted(JSON.parse(JSON.stringify(b)), 3, 'trees'), b);
  assert.throws(() => parseBoosted(b, 2, 'trees'), /trees: boosted round \d+: expected 2 trees of leaf numbers and \[feature < 2/);
  assert.throws(() => parseBoosted({ classes: 1, rounds: [] }, 3, 'trees'), /"classes": K >= 2/);
  assert.throws(() => trainBoosted(X, y.map((k) => k + 1), 2, opts, new Rng(1)), /expected labels 0\.\.1, label \d+ is 2/);
});

test('marginals combine with the 4-way probabilities by normalised geometric mean', () => {
  // Uniform p4, P(high arousal) 0.8, P(positive) 0.5: m = [.4, .4, .1, .1], sqrt ratio 2 -> [1/3, 1/3, 1/6, 1/6].
  const p = combineMarginals([0.25, 0.25, 0.25, 0.25], 0.8, 0.5);
  [1 / 3, 1 / 3, 1 / 6, 1 / 6].forEach((v, i) => assert.ok(Math.abs(p[i]! - v) < 1e-12));
  // A certain 4-way model stays certain.
  assert.deepEqual(combineMarginals([0, 0, 1, 0], 0.9, 0.9), [0, 0, 1, 0]);
});

/** Blobs per quadrant in 2-D: x = valence (+ for Q1, Q4), y = arousal (+ for Q1, Q2), plus a noise column. */
function quadrantRows(n: number, seed: number): { names: string[]; X: Float64Array[]; y: number[] } {
  const rng = new Rng(seed);
  const names: string[] = [];
  const X: Float64Array[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const q = (i % 4) + 1;
    const v = q === 1 || q === 4 ? 1 : -1;
    const a = q <= 2 ? 1 : -1;
    X.push(Float64Array.from([2 * v + 0.5 * rng.normal(), 2 * a + 0.5 * rng.normal(), rng.normal()]));
    y.push(q);
    names.push(`Q${q}_song${Math.floor(i / 8)}_${i % 8}`);
  }
  return { names, X, y };
}

const RECIPE: Recipe = {
  name: 'test',
  net: { hidden: [], l2: 0.01, lr: 0.05, epochs: 100, members: 2 },
  heads: { l2: 0.01 },
  boost: { rounds: 20, depth: 2, lr: 0.1, minLeaf: 3, lambda: 1, bins: 16, subsample: 0.8, colsample: 1, models: 2, weight: 0.5 },
  seed: 5,
};

test('a version-2 recipe: binary heads, trees; right on separable quadrants; JSON round trip; malformed parts refused', () => {
  const tr = quadrantRows(80, 1);
  const te = quadrantRows(40, 2);
  const m = trainRecipe(tr.X, tr.y, ['v', 'a', 'noise'], RECIPE);
  assert.equal(m.version, 2);
  assert.equal(m.members.length, 2);
  assert.equal(m.arousal?.length, 2);
  assert.equal(m.arousal?.[0]?.[0]?.bias.length, 2, 'binary head');
  assert.equal(m.boosted?.length, 2);
  const back = parseClassifier(JSON.parse(JSON.stringify(m)));
  te.X.forEach((x, i) => {
    const p = predictProba(back, x);
    assert.ok(Math.abs(p.reduce((s, v) => s + v, 0) - 1) < 1e-12);
    assert.equal(p.indexOf(Math.max(...p)) + 1, te.y[i]);
  });
  assert.deepEqual(trainRecipe(tr.X, tr.y, ['v', 'a', 'noise'], RECIPE), m, 'seeded');
  // A binary valence network alone: [P(negative), P(positive)], decided by the first column.
  const head = trainClassifier(tr.X, tr.y.map((q) => (q === 1 || q === 4 ? 1 : 0)), ['v', 'a', 'noise'], { hidden: [], l2: 0.01, lr: 0.05, epochs: 100, seed: 1, classes: 2 });
  const pos = predictProba(head, [2, -2, 0]);
  assert.equal(pos.length, 2);
  assert.ok(pos[1]! > 0.9 && predictProba(head, [-2, 2, 0])[1]! < 0.1);
  const bad = (patch: Record<string, unknown>) => () => parseClassifier({ ...m, ...patch });
  assert.throws(bad({ version: 1 }), /expected version 2 for "arousal"/);
  assert.throws(bad({ version: 3 }), /version 1 or 2, got "emopia-ts\/emotion-classifier" version 3/);
  assert.throws(bad({ valence: undefined }), /"arousal" and "valence" heads together/);
  assert.throws(bad({ arousal: m.members }), /arousal head 0: expected the last layer to give 2 outputs, got 4/);
  assert.throws(bad({ boostWeight: 2 }), /"boostWeight" in \[0, 1\], got 2/);
  assert.throws(bad({ boosted: [{ classes: 2, rounds: [] }] }), /boosted 0: expected 4 classes, got 2/);
  assert.throws(bad({ boosted: [{ classes: 4, rounds: [[0, 0, 0, [7, 0, 1, 2]]] }] }), /boosted 0: boosted round 0: expected 4 trees/);
});

test('song-level folds keep songs whole and quadrants even; CV pools every clip once per deal', () => {
  const { names, X } = quadrantRows(96, 3); // 12 songs of 8 clips, 2 clips per quadrant each
  const fold = songFolds(names, 4, 1);
  const foldOfSong = new Map<string, number>();
  names.forEach((n, i) => {
    const f = foldOfSong.get(songOf(n));
    if (f !== undefined) assert.equal(fold[i], f, `${n} with its song`);
    foldOfSong.set(songOf(n), fold[i]!);
  });
  for (let f = 0; f < 4; f++) assert.equal(fold.filter((g) => g === f).length, 24, `fold ${f}: 3 songs`);
  assert.notDeepEqual(songFolds(names, 4, 2), fold, 'another seed, another deal');
  const s = crossValidate(names, X, ['v', 'a', 'noise'], { ...RECIPE, boost: null }, { k: 4, reps: 2, seed: 1 });
  assert.equal(s.n, 192);
  assert.equal(s.quadrant, 1, 'separable blobs');
  const pooled = poolScores([{ n: 1, quadrant: 1, arousal: 1, valence: 0, crossEntropy: 0.25 }, { n: 3, quadrant: 0, arousal: 1, valence: 1, crossEntropy: 0.75 }]);
  assert.deepEqual(pooled, { n: 4, quadrant: 0.25, arousal: 1, valence: 0.75, crossEntropy: 0.625 });
});
