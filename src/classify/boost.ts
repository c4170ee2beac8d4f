/**
 * Gradient-boosted regression trees for K-class softmax (a small XGBoost-style learner, plain TypeScript):
 * every round fits one depth-limited tree per class to the gradient and Hessian of the cross-entropy at the current
 * logits; split gains and leaf values are the second-order ones with an L2 penalty `lambda` on leaf values, and
 * leaves are shrunk by `lr`. Candidate thresholds are the feature's quantiles on the training rows (`bins` of them);
 * each round draws a seeded subsample of rows and each tree a subsample of features. Works on raw (unstandardised)
 * features; the saved form is plain JSON: a tree is a leaf value or [feature, threshold, left, right], going left
 * when x[feature] <= threshold.
 */
import { InputError } from '../errors.ts';
import type { Rng } from '../random.ts';
import { addAt, at } from './indexing.ts';

export type TreeJSON = number | [number, number, TreeJSON, TreeJSON];

export interface BoostedJSON {
  classes: number;
  /** rounds[r][k]: the tree of round r for class k; logits are the sums over rounds. */
  rounds: TreeJSON[][];
}

export interface BoostOptions {
  rounds: number;
  depth: number;
  lr: number;
  /** Fewest training rows in a leaf. */
  minLeaf: number;
  /** L2 penalty on leaf values. */
  lambda: number;
  /** Quantile thresholds per feature. */
  bins: number;
  /** Share of rows drawn for each round, and of features for each tree. */
  subsample: number;
  colsample: number;
}

export function treeValue(t: TreeJSON, x: ArrayLike<number>): number {
  let n = t;
  while (typeof n !== 'number') n = at(x, n[0]) <= n[1] ? n[2] : n[3];
  return n;
}

function softmax(z: ArrayLike<number>): number[] {
  let m = -Infinity;
  for (let i = 0; i < z.length; i++) m = Math.max(m, at(z, i));
  const e = Array.from(z, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Class probabilities of one raw feature row. */
export function boostedProba(b: BoostedJSON, x: ArrayLike<number>): number[] {
  const z = new Float64Array(b.classes);
  for (const round of b.rounds) round.forEach((t, k) => addAt(z, k, treeValue(t, x)));
  return softmax(z);
}

/** Sorted distinct quantile thresholds of one column. */
function thresholds(col: readonly number[], bins: number): number[] {
  const v = [...col].sort((a, b) => a - b);
  const t: number[] = [];
  for (let b = 1; b < bins; b++) {
    const q = at(v, Math.floor((b * v.length) / bins));
    if (!t.length || q > at(t, t.length - 1)) t.push(q);
  }
  return t;
}

/**
 * Per bin of one feature, the sums of the rows' gradients and Hessians and the row count. The inner loop of
 * training: like `addScaled` (indexing.ts) its reads are unchecked, the bin of every row being below `nb` by
 * construction, because checked reads made training several times slower.
 */
function binSums(bins: Uint8Array, nb: number, rows: readonly number[], g: Float64Array, h: Float64Array): { gs: Float64Array; hs: Float64Array; cs: Int32Array } {
  const gs = new Float64Array(nb);
  const hs = new Float64Array(nb);
  const cs = new Int32Array(nb);
  for (const i of rows) {
    const b = bins[i] as number;
    gs[b] = (gs[b] as number) + (g[i] as number);
    hs[b] = (hs[b] as number) + (h[i] as number);
    cs[b] = (cs[b] as number) + 1;
  }
  return { gs, hs, cs };
}

/** Trains on raw rows and labels 0..classes-1; deterministic for a given generator state. */
export function trainBoosted(X: readonly ArrayLike<number>[], y: readonly number[], classes: number, o: BoostOptions, rng: Rng): BoostedJSON {
  const N = X.length;
  if (N === 0 || N !== y.length) throw new InputError('training set', `expected as many labels as rows, got ${y.length} and ${N}`);
  const bad = y.findIndex((k) => !Number.isInteger(k) || k < 0 || k >= classes);
  if (bad >= 0) throw new InputError('training set', `expected labels 0..${classes - 1}, label ${bad} is ${y[bad]}`);
  const D = at(X, 0).length;
  const thr: number[][] = [];
  const bin: Uint8Array[] = []; // bin[j][i]: number of thresholds of feature j below x_i[j]
  for (let j = 0; j < D; j++) {
    const t = thresholds(X.map((x) => at(x, j)), Math.min(o.bins, 256));
    thr.push(t);
    bin.push(Uint8Array.from(X, (x) => {
      let k = 0;
      while (k < t.length && at(x, j) > at(t, k)) k++;
      return k;
    }));
  }
  const g = new Float64Array(N);
  const h = new Float64Array(N);
  const build = (rows: number[], depth: number, feats: number[]): TreeJSON => {
    let G = 0;
    let H = 0;
    for (const i of rows) {
      G += at(g, i);
      H += at(h, i);
    }
    const leaf = (-G / (H + o.lambda)) * o.lr;
    if (depth === 0 || rows.length < 2 * o.minLeaf) return leaf;
    const parent = (G * G) / (H + o.lambda);
    let best = { gain: 1e-9, f: -1, b: -1 };
    for (const j of feats) {
      const nb = at(thr, j).length + 1;
      const { gs, hs, cs } = binSums(at(bin, j), nb, rows, g, h);
      let gl = 0;
      let hl = 0;
      let cl = 0;
      for (let b = 0; b < nb - 1; b++) {
        gl += at(gs, b);
        hl += at(hs, b);
        cl += at(cs, b);
        if (cl < o.minLeaf || rows.length - cl < o.minLeaf) continue;
        const gain = (gl * gl) / (hl + o.lambda) + ((G - gl) * (G - gl)) / (H - hl + o.lambda) - parent;
        if (gain > best.gain) best = { gain, f: j, b };
      }
    }
    if (best.f < 0) return leaf;
    const left: number[] = [];
    const right: number[] = [];
    const bj = at(bin, best.f);
    for (const i of rows) (at(bj, i) <= best.b ? left : right).push(i);
    return [best.f, at(at(thr, best.f), best.b), build(left, depth - 1, feats), build(right, depth - 1, feats)];
  };
  const logits = Array.from({ length: N }, () => new Float64Array(classes));
  const rounds: TreeJSON[][] = [];
  for (let r = 0; r < o.rounds; r++) {
    const P = logits.map(softmax);
    const rows = Array.from({ length: N }, (_, i) => i).filter(() => rng.next() < o.subsample);
    const round: TreeJSON[] = [];
    for (let k = 0; k < classes; k++) {
      for (let i = 0; i < N; i++) {
        const p = at(at(P, i), k);
        g[i] = p - (y[i] === k ? 1 : 0);
        h[i] = Math.max(1e-6, p * (1 - p));
      }
      const feats = Array.from({ length: D }, (_, j) => j).filter(() => rng.next() < o.colsample);
      const tree = build(rows, o.depth, feats.length ? feats : [rng.nextInt(D)]);
      round.push(tree);
      for (let i = 0; i < N; i++) addAt(at(logits, i), k, treeValue(tree, at(X, i)));
    }
    rounds.push(round);
  }
  return { classes, rounds };
}

/** Checks boosted trees read from JSON against the number of features; throws InputError naming the problem. */
export function parseBoosted(json: unknown, features: number, what: string): BoostedJSON {
  const o = json as Partial<BoostedJSON> | null;
  const classes = o?.classes;
  if (typeof o !== 'object' || o === null || typeof classes !== 'number' || !Number.isInteger(classes) || classes < 2 || !Array.isArray(o.rounds)) {
    throw new InputError(what, 'expected boosted trees: {"classes": K >= 2, "rounds": [[tree per class], ...]}');
  }
  const okTree = (t: unknown, depth: number): boolean => {
    if (typeof t === 'number') return Number.isFinite(t);
    if (!Array.isArray(t) || t.length !== 4 || depth > 64) return false;
    const [f, thr, l, r] = t as unknown[];
    return typeof f === 'number' && Number.isInteger(f) && f >= 0 && f < features && typeof thr === 'number' && Number.isFinite(thr) && okTree(l, depth + 1) && okTree(r, depth + 1);
  };
  o.rounds.forEach((round, r) => {
    if (!Array.isArray(round) || round.length !== classes || !round.every((t) => okTree(t, 0))) {
      throw new InputError(what, `boosted round ${r}: expected ${classes} trees of leaf numbers and [feature < ${features}, threshold, left, right]`);
    }
  });
  return o as BoostedJSON;
}
