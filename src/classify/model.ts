/**
 * The emotion classifier's model: standardised features -> a small MLP (no hidden layer = multinomial logistic
 * regression) -> softmax over the four quadrants Q1..Q4; several such members (e.g. seeds) average their
 * probabilities. Version 2 adds two optional parts:
 *   - binary heads for arousal (outputs [low, high]) and valence ([negative, positive]), trained on their own as
 *     the EMOPIA paper does; their marginals give m(q) = P(arousal of q) * P(valence of q), and the quadrant
 *     probabilities become the normalised geometric mean sqrt(p4(q) * m(q));
 *   - boosted trees on the raw features (boost.ts), whose probabilities are mixed in linearly with `boostWeight`.
 * Plain TypeScript on Float64Arrays (a few thousand weights; tfjs would only add set-up and tensors to release),
 * trained full-batch with Adam, cross-entropy and L2, seeded. The saved form is one small JSON object
 * (`ClassifierJSON`); no file system here.
 */
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import { addAt, addScaled, at } from './indexing.ts';
import { boostedProba, parseBoosted, type BoostedJSON } from './boost.ts';

export const CLASSIFIER_FORMAT = 'emopia-ts/emotion-classifier';
export const QUADRANTS = ['Q1', 'Q2', 'Q3', 'Q4'] as const;

export interface DenseLayer {
  /** Row-major [in][out]. */
  weight: number[][];
  bias: number[];
}

export interface ClassifierJSON {
  format: typeof CLASSIFIER_FORMAT;
  /** 1: `members` only; 2: also the optional heads and trees below. */
  version: 1 | 2;
  features: string[];
  /** Feature standardisation: (x - mean) / std. */
  mean: number[];
  std: number[];
  /** Each member is a list of layers (hidden layers use ReLU; the last gives 4 logits); probabilities are averaged. */
  members: DenseLayer[][];
  /** Version 2, both or neither: binary networks (2 outputs each: [low, high] arousal, [negative, positive] valence). */
  arousal?: DenseLayer[][];
  valence?: DenseLayer[][];
  /** Version 2: boosted-tree models on the raw features (probabilities averaged), mixed in with weight boostWeight. */
  boosted?: BoostedJSON[];
  boostWeight?: number;
  /** How it was trained and how it scored (free-form, for the record). */
  training?: Record<string, unknown>;
}

export interface TrainOptions {
  /** Hidden layer widths; [] = logistic regression. */
  hidden: number[];
  /** L2 penalty on weights (not biases), added to the mean cross-entropy as l2/2 * sum w^2. */
  l2: number;
  epochs: number;
  lr: number;
  seed: number;
  /** Number of classes (outputs of the last layer); 4 (the quadrants) unless given. */
  classes?: number;
  /** Called every `every` epochs with the model so far (for model selection on a validation set). */
  onCheckpoint?: (epoch: number, model: ClassifierJSON) => void;
  every?: number;
}

/** Means and standard deviations of the columns (std 1 where a column is constant). */
export function standardizer(X: readonly Float64Array[]): { mean: number[]; std: number[] } {
  const d = X[0]?.length ?? 0;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const x of X) for (let j = 0; j < d; j++) addAt(mean, j, at(x, j) / X.length);
  for (const x of X) for (let j = 0; j < d; j++) addAt(std, j, (at(x, j) - at(mean, j)) ** 2 / X.length);
  return { mean, std: std.map((v) => (v > 1e-12 ? Math.sqrt(v) : 1)) };
}

function softmaxInPlace(z: Float64Array): Float64Array {
  let m = -Infinity;
  for (const v of z) m = Math.max(m, v);
  let s = 0;
  for (let i = 0; i < z.length; i++) s += z[i] = Math.exp(at(z, i) - m);
  for (let i = 0; i < z.length; i++) z[i] = at(z, i) / s;
  return z;
}

/** Forward pass on one standardised row; returns the activations of every layer (input first, probabilities last). */
function forward(layers: readonly DenseLayer[], x: Float64Array): Float64Array[] {
  const acts = [x];
  let h = x;
  layers.forEach((L, li) => {
    const out = Float64Array.from(L.bias);
    h.forEach((hi, i) => {
      if (hi !== 0) addScaled(out, hi, at(L.weight, i));
    });
    if (li < layers.length - 1) for (let j = 0; j < out.length; j++) out[j] = Math.max(0, at(out, j));
    else softmaxInPlace(out);
    acts.push(out);
    h = out;
  });
  return acts;
}

function standardize(model: Pick<ClassifierJSON, 'mean' | 'std'>, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(model.mean, (m, j) => (at(x, j) - m) / at(model.std, j));
}

/** The mean output probabilities of networks on one standardised row. */
function meanOutput(members: readonly DenseLayer[][], z: Float64Array): number[] {
  const n = members[0]?.[members[0].length - 1]?.bias.length ?? 0;
  const p = new Array<number>(n).fill(0);
  for (const layers of members) {
    const acts = forward(layers, z);
    at(acts, acts.length - 1).forEach((v, j) => addAt(p, j, v / members.length));
  }
  return p;
}

/**
 * Quadrant probabilities from the 4-way ones and the two binary marginals: the normalised geometric mean of
 * p4(q) and P(arousal of q) * P(valence of q), with P(high arousal) = `high` and P(positive valence) = `positive`.
 */
export function combineMarginals(p4: readonly number[], high: number, positive: number): number[] {
  const m = [high * positive, high * (1 - positive), (1 - high) * (1 - positive), (1 - high) * positive];
  const g = p4.map((p, q) => Math.sqrt(p * at(m, q)));
  const s = g.reduce((a, b) => a + b, 0);
  return s > 0 ? g.map((v) => v / s) : [...p4];
}

/** The four quadrant probabilities of a raw feature vector (see the file comment for how the parts combine). */
export function predictProba(model: ClassifierJSON, features: ArrayLike<number>): number[] {
  if (features.length !== model.features.length) throw new InputError('features', `expected ${model.features.length} values, got ${features.length}`);
  const z = standardize(model, features);
  let p = meanOutput(model.members, z);
  if (model.arousal?.length && model.valence?.length) {
    p = combineMarginals(p, at(meanOutput(model.arousal, z), 1), at(meanOutput(model.valence, z), 1));
  }
  const w = model.boostWeight ?? 0;
  const trees = model.boosted ?? [];
  if (trees.length && w > 0) {
    const b = new Array<number>(QUADRANTS.length).fill(0);
    for (const t of trees) boostedProba(t, features).forEach((v, j) => addAt(b, j, v / trees.length));
    p = p.map((v, j) => (1 - w) * v + w * at(b, j));
  }
  return p;
}

/** One classifier whose members are all the given classifiers' members (same features and standardisation). */
export function ensemble(models: readonly ClassifierJSON[]): ClassifierJSON {
  const first = models[0];
  if (!first) throw new RangeError('ensemble: no models');
  for (const m of models) {
    if (m.features.join() !== first.features.join() || m.mean.join() !== first.mean.join() || m.std.join() !== first.std.join()) {
      throw new RangeError('ensemble: members must share features and standardisation');
    }
  }
  return { ...first, members: models.flatMap((m) => m.members) };
}

/**
 * Trains a classifier on raw feature rows and labels 0..3 (0..classes-1 with `opts.classes`: the result's
 * members then have that many outputs, for use as a version-2 head). Deterministic for a given seed.
 */
export function trainClassifier(X: readonly Float64Array[], y: readonly number[], featureNames: readonly string[], opts: TrainOptions): ClassifierJSON {
  if (X.length === 0 || X.length !== y.length) throw new InputError('training set', `expected as many labels as rows, got ${y.length} and ${X.length}`);
  const wrong = X.findIndex((x) => x.length !== featureNames.length);
  if (wrong >= 0) throw new InputError('training set', `expected rows of ${featureNames.length} features (one per name), row ${wrong} has ${X[wrong]?.length}`);
  const classes = opts.classes ?? QUADRANTS.length;
  const bad = y.findIndex((k) => !Number.isInteger(k) || k < 0 || k >= classes);
  if (bad >= 0) throw new InputError('training set', `expected labels 0..${classes - 1}, label ${bad} is ${y[bad]}`);
  const { mean, std } = standardizer(X);
  const Z = X.map((x) => standardize({ mean, std }, x));
  const rng = new Rng(opts.seed);
  const sizes = [featureNames.length, ...opts.hidden, classes];
  const layers: DenseLayer[] = sizes.slice(0, -1).map((nin, l) => {
    const nout = at(sizes, l + 1);
    const scale = Math.sqrt(2 / (nin + nout)); // Glorot normal
    return { weight: Array.from({ length: nin }, () => Array.from({ length: nout }, () => rng.normal() * scale)), bias: new Array<number>(nout).fill(0) };
  });
  // Gradient buffers and Adam's two moments, each shaped as the layers' weights and biases.
  const grads = layers.map((L) => ({ w: L.weight.map((r) => new Float64Array(r.length)), b: new Float64Array(L.bias.length) }));
  const m1 = layers.map((L) => ({ w: L.weight.map((r) => new Float64Array(r.length)), b: new Float64Array(L.bias.length) }));
  const m2 = layers.map((L) => ({ w: L.weight.map((r) => new Float64Array(r.length)), b: new Float64Array(L.bias.length) }));
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const snapshot = (epoch: number): ClassifierJSON => ({
    format: CLASSIFIER_FORMAT, version: 1, features: [...featureNames], mean, std,
    members: [layers.map((L) => ({ weight: L.weight.map((r) => [...r]), bias: [...L.bias] }))], training: { epoch },
  });
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    for (const g of grads) {
      g.w.forEach((r) => r.fill(0));
      g.b.fill(0);
    }
    Z.forEach((z, n) => {
      const acts = forward(layers, z);
      // dL/dlogits = p - onehot, averaged over rows.
      let delta = Float64Array.from(at(acts, acts.length - 1));
      delta[at(y, n)] = at(delta, at(y, n)) - 1;
      for (let l = layers.length - 1; l >= 0; l--) {
        const a = at(acts, l);
        const g = at(grads, l);
        a.forEach((ai, i) => {
          if (ai !== 0) addScaled(at(g.w, i), ai, delta, Z.length);
        });
        addScaled(g.b, 1, delta, Z.length);
        if (l > 0) {
          const W = at(layers, l).weight;
          const prev = new Float64Array(a.length);
          for (let i = 0; i < a.length; i++) {
            if (at(a, i) <= 0) continue; // ReLU gradient
            const row = at(W, i);
            let s = 0;
            for (let j = 0; j < delta.length; j++) s += at(row, j) * at(delta, j);
            prev[i] = s;
          }
          delta = prev;
        }
      }
    });
    const c1 = 1 - b1 ** epoch;
    const c2 = 1 - b2 ** epoch;
    const adam = (p: number[], g: ArrayLike<number>, s1: Float64Array, s2: Float64Array, decay: boolean) => {
      for (let j = 0; j < p.length; j++) {
        const gj = at(g, j) + (decay ? opts.l2 * at(p, j) : 0);
        s1[j] = b1 * at(s1, j) + (1 - b1) * gj;
        s2[j] = b2 * at(s2, j) + (1 - b2) * gj * gj;
        p[j] = at(p, j) - ((opts.lr * (at(s1, j) / c1)) / (Math.sqrt(at(s2, j) / c2) + eps));
      }
    };
    layers.forEach((L, l) => {
      L.weight.forEach((row, i) => adam(row, at(at(grads, l).w, i), at(at(m1, l).w, i), at(at(m2, l).w, i), true));
      adam(L.bias, at(grads, l).b, at(m1, l).b, at(m2, l).b, false);
    });
    if (opts.onCheckpoint && epoch % (opts.every ?? 50) === 0) opts.onCheckpoint(epoch, snapshot(epoch));
  }
  return snapshot(opts.epochs);
}

/** Checks a classifier read from JSON; throws InputError naming the first problem. */
export function parseClassifier(json: unknown, what = 'classifier'): ClassifierJSON {
  const o = json as Partial<ClassifierJSON> | null;
  if (typeof o !== 'object' || o === null || o.format !== CLASSIFIER_FORMAT || (o.version !== 1 && o.version !== 2)) {
    const got = (o as { format?: unknown; version?: unknown } | null) ?? null;
    throw new InputError(what, `expected format '${CLASSIFIER_FORMAT}' version 1 or 2, got ${JSON.stringify(got?.format ?? null)} version ${JSON.stringify(got?.version ?? null)}`);
  }
  const d = Array.isArray(o.features) ? o.features.length : -1;
  const nums = (v: unknown, n: number): v is number[] => Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (d <= 0 || !o.features?.every((x) => typeof x === 'string')) throw new InputError(what, 'expected "features": a non-empty list of names');
  if (!nums(o.mean, d) || !nums(o.std, d) || !o.std.every((s) => s > 0)) throw new InputError(what, `expected "mean" and "std": ${d} finite numbers each (std > 0)`);
  const networks = (list: unknown, name: string, label: string, outputs: number) => {
    if (!Array.isArray(list) || list.length === 0) throw new InputError(what, `expected "${name}": a non-empty list of layer lists`);
    list.forEach((layers: unknown, k) => {
      if (!Array.isArray(layers) || layers.length === 0) throw new InputError(what, `${label} ${k}: expected a non-empty list of layers`);
      let nin = d;
      (layers as Partial<DenseLayer>[]).forEach((L, l) => {
        const nout = Array.isArray(L?.bias) ? L.bias.length : -1;
        if (nout <= 0 || !nums(L.bias, nout) || !Array.isArray(L.weight) || L.weight.length !== nin || !L.weight.every((r) => nums(r, nout))) {
          throw new InputError(what, `${label} ${k} layer ${l}: expected weight [${nin}][n] and bias [n] of finite numbers`);
        }
        nin = nout;
      });
      if (nin !== outputs) throw new InputError(what, `${label} ${k}: expected the last layer to give ${outputs} outputs, got ${nin}`);
    });
  };
  networks(o.members, 'members', 'member', QUADRANTS.length);
  const extras = o.arousal !== undefined || o.valence !== undefined || o.boosted !== undefined || o.boostWeight !== undefined;
  if (extras && o.version !== 2) throw new InputError(what, 'expected version 2 for "arousal", "valence", "boosted" or "boostWeight", got version 1');
  if ((o.arousal === undefined) !== (o.valence === undefined)) throw new InputError(what, 'expected "arousal" and "valence" heads together, got only one');
  if (o.arousal !== undefined) networks(o.arousal, 'arousal', 'arousal head', 2);
  if (o.valence !== undefined) networks(o.valence, 'valence', 'valence head', 2);
  if ((o.boosted === undefined) !== (o.boostWeight === undefined)) throw new InputError(what, 'expected "boosted" and "boostWeight" together, got only one');
  if (o.boosted !== undefined) {
    const w = o.boostWeight;
    if (typeof w !== 'number' || !(w >= 0 && w <= 1)) throw new InputError(what, `expected "boostWeight" in [0, 1], got ${JSON.stringify(w)}`);
    if (!Array.isArray(o.boosted) || o.boosted.length === 0) throw new InputError(what, 'expected "boosted": a non-empty list of boosted-tree models');
    o.boosted.forEach((b, k) => {
      if (parseBoosted(b, d, `${what}: boosted ${k}`).classes !== QUADRANTS.length) throw new InputError(what, `boosted ${k}: expected ${QUADRANTS.length} classes, got ${b.classes}`);
    });
  }
  return o as ClassifierJSON;
}
