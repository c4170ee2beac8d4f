/**
 * Classifying pieces with a trained classifier, and scoring predictions: 4-quadrant accuracy, and arousal
 * (Q1,Q2 high vs Q3,Q4 low) and valence (Q1,Q4 positive vs Q2,Q3 negative) accuracy of the same predictions,
 * as the EMOPIA paper reports them.
 */
import type { Score } from '../music/score.ts';
import { addAt, at } from './indexing.ts';
import { scoreFeatures } from './features.ts';
import { predictProba, QUADRANTS, type ClassifierJSON } from './model.ts';

export type Quadrant = (typeof QUADRANTS)[number];

export interface Classification {
  /** 1..4 */
  quadrant: 1 | 2 | 3 | 4;
  name: Quadrant;
  /** P(Q1..Q4). */
  probs: number[];
  /** P(high arousal) = P(Q1) + P(Q2); P(positive valence) = P(Q1) + P(Q4). */
  arousal: number;
  valence: number;
}

export function fromProbs(probs: readonly number[]): Classification {
  let k = 0;
  for (let i = 1; i < probs.length; i++) if (at(probs, i) > at(probs, k)) k = i;
  const p = (i: number) => at(probs, i);
  return { quadrant: (k + 1) as 1 | 2 | 3 | 4, name: at(QUADRANTS, k), probs: [...probs], arousal: p(0) + p(1), valence: p(0) + p(3) };
}

/** The classification of a score (any score: it is put on EMOPIA's grid first). InputError when it has no notes. */
export function classifyScore(model: ClassifierJSON, score: Score, what = 'score'): Classification {
  return fromProbs(predictProba(model, scoreFeatures(score, what)));
}

export const isHighArousal = (q: number) => q === 1 || q === 2;
export const isPositiveValence = (q: number) => q === 1 || q === 4;

export interface Accuracy {
  n: number;
  quadrant: number;
  arousal: number;
  valence: number;
}

/** Accuracies of predicted quadrants (1..4) against true ones; a null prediction (nothing to classify) is a miss. */
export function accuracy(truth: readonly number[], predicted: ReadonlyArray<number | null>): Accuracy {
  const n = truth.length;
  let q = 0;
  let a = 0;
  let v = 0;
  truth.forEach((t, i) => {
    const p = predicted[i] ?? null;
    if (p === null) return;
    if (t === p) q++;
    if (isHighArousal(t) === isHighArousal(p)) a++;
    if (isPositiveValence(t) === isPositiveValence(p)) v++;
  });
  return { n, quadrant: n ? q / n : NaN, arousal: n ? a / n : NaN, valence: n ? v / n : NaN };
}

/** Confusion matrix counts[true-1][pred-1]. */
export function confusion(truth: readonly number[], predicted: readonly number[]): number[][] {
  const m = QUADRANTS.map(() => [0, 0, 0, 0]);
  truth.forEach((t, i) => addAt(at(m, t - 1), at(predicted, i) - 1, 1));
  return m;
}
