/**
 * Scoring a classifier on labelled feature rows (no file system): 4-quadrant, arousal and valence accuracy and
 * the mean cross-entropy of the true quadrant, as the cross-validation (cv.ts) and the training scripts report it.
 */
import { at } from './indexing.ts';
import { accuracy, fromProbs, type Accuracy } from './classify.ts';
import { predictProba, type ClassifierJSON } from './model.ts';

export interface LabelledRows {
  X: Float64Array[];
  /** Quadrants 1..4. */
  y: number[];
}

export type Scored = Accuracy & { crossEntropy: number };

/** Accuracy of `model` on `rows` and the mean cross-entropy of their true quadrants (NaN when there are none). */
export function evaluateRows(model: ClassifierJSON, rows: LabelledRows): Scored {
  let ce = 0;
  const pred = rows.X.map((x, i) => {
    const p = predictProba(model, x);
    ce -= Math.log(Math.max(1e-12, at(p, at(rows.y, i) - 1)));
    return fromProbs(p).quadrant;
  });
  return { ...accuracy(rows.y, pred), crossEntropy: rows.X.length ? ce / rows.X.length : NaN };
}
