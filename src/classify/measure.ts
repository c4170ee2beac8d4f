/**
 * Classification and musical statistics of one score on EMOPIA's grid, for generated pieces and real clips alike
 * (the evaluation of a generator, src/evaluate/, measures each of its pieces with this).
 */
import { InputError } from '../errors.ts';
import type { Score } from '../music/score.ts';
import { fromProbs } from './classify.ts';
import { clipFeatures } from './features.ts';
import { predictProba, type ClassifierJSON } from './model.ts';
import { pieceStats, type PieceStats } from './stats.ts';
import { classifierScore } from './timing.ts';

/** Classification and statistics of one score on EMOPIA's grid; null when it has no note in range. */
export function measure(classifier: ClassifierJSON, score: Score): { classified: 1 | 2 | 3 | 4; probs: number[]; stats: PieceStats } | null {
  let q: Score;
  try {
    q = classifierScore(score);
  } catch (err) {
    if (err instanceof InputError) return null; // no note in range
    throw err;
  }
  const probs = predictProba(classifier, clipFeatures(q));
  return { classified: fromProbs(probs).quadrant, probs, stats: pieceStats(q) };
}
