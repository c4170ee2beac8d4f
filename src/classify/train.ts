/**
 * Model selection for the emotion classifier (no file system): a small grid of logistic regressions and MLPs,
 * each trained on the train rows with several seeds checked every few epochs; the configuration and epoch with
 * the best validation 4-quadrant accuracy (ties: lower validation cross-entropy) wins, and is then scored on test.
 */
import { accuracy, fromProbs, type Accuracy } from './classify.ts';
import { predictProba, trainClassifier, type ClassifierJSON } from './model.ts';

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
  seed: number;
}

export interface SelectionResult {
  model: ClassifierJSON;
  chosen: Candidate & { epoch: number };
  valid: Accuracy & { crossEntropy: number };
  test: Accuracy | null;
  train: Accuracy;
  tried: number;
}

/** The default grid: logistic regression at four L2 strengths, and one-hidden-layer MLPs of 16 and 32 units. */
export function defaultGrid(seed: number): Candidate[] {
  const out: Candidate[] = [];
  for (const l2 of [1e-3, 1e-2, 3e-2, 1e-1]) out.push({ hidden: [], l2, lr: 0.02, epochs: 600, seed });
  for (const hidden of [[16], [32]]) for (const l2 of [1e-2, 3e-2, 1e-1]) out.push({ hidden, l2, lr: 0.01, epochs: 600, seed });
  return out;
}

export function evaluateRows(model: ClassifierJSON, rows: LabelledRows): Accuracy & { crossEntropy: number } {
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
  grid: readonly Candidate[], onCandidate?: (i: number, c: Candidate, best: Accuracy & { crossEntropy: number; epoch: number }) => void,
): SelectionResult {
  let best: { model: ClassifierJSON; cand: Candidate; epoch: number; score: Accuracy & { crossEntropy: number } } | null = null;
  const better = (a: Accuracy & { crossEntropy: number }, b: Accuracy & { crossEntropy: number }) =>
    a.quadrant > b.quadrant + 1e-12 || (Math.abs(a.quadrant - b.quadrant) <= 1e-12 && a.crossEntropy < b.crossEntropy);
  grid.forEach((cand, i) => {
    let local: { epoch: number; score: Accuracy & { crossEntropy: number } } | null = null;
    trainClassifier(train.X, train.y.map((q) => q - 1), featureNames, {
      ...cand, every: 25,
      onCheckpoint: (epoch, model) => {
        const score = evaluateRows(model, valid);
        if (!local || better(score, local.score)) local = { epoch, score };
        if (!best || better(score, best.score)) best = { model, cand, epoch, score };
      },
    });
    if (local) onCandidate?.(i, cand, { ...(local as { score: Accuracy & { crossEntropy: number } }).score, epoch: (local as { epoch: number }).epoch });
  });
  if (!best) throw new Error('selectModel: empty grid');
  const b = best as { model: ClassifierJSON; cand: Candidate; epoch: number; score: Accuracy & { crossEntropy: number } };
  return {
    model: b.model,
    chosen: { ...b.cand, epoch: b.epoch },
    valid: b.score,
    test: test ? evaluateRows(b.model, test) : null,
    train: evaluateRows(b.model, train),
    tried: grid.length,
  };
}
