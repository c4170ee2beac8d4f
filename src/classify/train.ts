/**
 * The version-1 model selection for the emotion classifier (no file system), kept for the browser bundle's API and
 * `evaluateRows`; the shipped classifier is now chosen by song-level cross-validation of recipes (cv.ts, recipe.ts):
 *   1. a small grid of logistic regressions and one-hidden-layer MLPs, each trained on the train rows (seed s)
 *      and checked on the validation rows every 25 epochs;
 *   2. the (configuration, epoch) with the lowest validation cross-entropy wins (cross-entropy rather than
 *      accuracy: on ~200 clips accuracy moves in steps of 0.5% and picks lucky spikes);
 *   3. the chosen configuration is retrained with `members` seeds (s, s+1, ...) for that many epochs, and the
 *      ensemble (probabilities averaged) is the classifier, scored on valid and, once, on test.
 */
import { accuracy, fromProbs, type Accuracy } from './classify.ts';
import { ensemble, predictProba, trainClassifier, type ClassifierJSON } from './model.ts';

export interface LabelledRows {
  X: Float64Array[];
  /** Quadrants 1..4. */
  y: number[];
}

export interface Candidate {
  hidden: number[];
  l2: number;
  lr: number;
  epochs: number;
}

export type Scored = Accuracy & { crossEntropy: number };

export interface SelectionResult {
  model: ClassifierJSON;
  chosen: Candidate & { epoch: number; seeds: number[] };
  /** The chosen single model's validation score during the search, and the ensemble's. */
  search: Scored;
  valid: Scored;
  test: Scored | null;
  train: Scored;
  tried: number;
}

/** The default grid: logistic regression at four L2 strengths, and MLPs of 16 and 32 hidden units at three. */
export function defaultGrid(): Candidate[] {
  const out: Candidate[] = [];
  for (const l2 of [1e-3, 1e-2, 3e-2, 1e-1]) out.push({ hidden: [], l2, lr: 0.02, epochs: 600 });
  for (const hidden of [[16], [32]]) for (const l2 of [1e-2, 3e-2, 1e-1]) out.push({ hidden, l2, lr: 0.01, epochs: 600 });
  return out;
}

export function evaluateRows(model: ClassifierJSON, rows: LabelledRows): Scored {
  let ce = 0;
  const pred = rows.X.map((x, i) => {
    const p = predictProba(model, x);
    ce -= Math.log(Math.max(1e-12, p[(rows.y[i] as number) - 1] as number));
    return fromProbs(p).quadrant;
  });
  return { ...accuracy(rows.y, pred), crossEntropy: rows.X.length ? ce / rows.X.length : NaN };
}

export function selectModel(
  train: LabelledRows, valid: LabelledRows, test: LabelledRows | null, featureNames: readonly string[],
  grid: readonly Candidate[], opts: { seed: number; members: number; every?: number },
  onCandidate?: (i: number, c: Candidate, best: Scored & { epoch: number }) => void,
): SelectionResult {
  const every = opts.every ?? 25;
  const labels = train.y.map((q) => q - 1);
  let best: { cand: Candidate; epoch: number; score: Scored } | null = null;
  grid.forEach((cand, i) => {
    let local: { epoch: number; score: Scored } | null = null;
    trainClassifier(train.X, labels, featureNames, {
      ...cand, seed: opts.seed, every,
      onCheckpoint: (epoch, model) => {
        const score = evaluateRows(model, valid);
        if (!local || score.crossEntropy < local.score.crossEntropy) local = { epoch, score };
      },
    });
    const l = local as { epoch: number; score: Scored } | null;
    if (!l) return;
    onCandidate?.(i, cand, { ...l.score, epoch: l.epoch });
    if (!best || l.score.crossEntropy < best.score.crossEntropy) best = { cand, epoch: l.epoch, score: l.score };
  });
  const b = best as { cand: Candidate; epoch: number; score: Scored } | null;
  if (!b) throw new RangeError('selectModel: empty grid, or fewer epochs than one checkpoint');
  const seeds = Array.from({ length: opts.members }, (_, k) => opts.seed + k);
  const model = ensemble(seeds.map((seed) => trainClassifier(train.X, labels, featureNames, { ...b.cand, epochs: b.epoch, seed })));
  return {
    model,
    chosen: { ...b.cand, epoch: b.epoch, seeds },
    search: b.score,
    valid: evaluateRows(model, valid),
    test: test ? evaluateRows(model, test) : null,
    train: evaluateRows(model, train),
    tried: grid.length,
  };
}
