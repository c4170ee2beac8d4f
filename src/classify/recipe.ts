/**
 * A training recipe for the emotion classifier and the function that follows it: a 4-way network (logistic
 * regression when `hidden` is empty), optionally binary arousal and valence heads on the same standardised
 * features, and optionally boosted trees mixed in (model.ts says how the parts combine). Everything is seeded from
 * `recipe.seed`; the same rows and recipe give the same classifier.
 */
import { Rng } from '../random.ts';
import { trainBoosted, type BoostOptions } from './boost.ts';
import { CLASSIFIER_FORMAT, ensemble, trainClassifier, type ClassifierJSON } from './model.ts';

export interface Recipe {
  name: string;
  /** The 4-way network: hidden widths ([] = logistic regression), L2, Adam learning rate, full-batch epochs, seeds. */
  net: { hidden: number[]; l2: number; lr: number; epochs: number; members: number };
  /** Binary arousal and valence heads with the net's shape and training, their own L2; null for none. */
  heads: { l2: number } | null;
  /** Boosted trees on the raw features: `models` seeds, averaged, mixed in with `weight`; null for none. */
  boost: (BoostOptions & { models: number; weight: number }) | null;
  seed: number;
}

const LOGISTIC = { hidden: [], lr: 0.05, epochs: 300, members: 1 };
const BOOST: BoostOptions = { rounds: 200, depth: 2, lr: 0.05, minLeaf: 10, lambda: 1, bins: 32, subsample: 0.8, colsample: 0.5 };

/**
 * The candidates compared by song-level cross-validation (scripts/train_classifier.ts), simplest first:
 * the version-1 recipe (the logistic regression the old validation grid chose: L2 0.1, stopped at 25 epochs of
 * lr 0.02, 5 seeds), a converged logistic regression, the same with arousal/valence heads, and with boosted trees.
 */
export function candidateRecipes(seed: number): Recipe[] {
  return [
    { name: 'v1: logistic, early-stopped', net: { hidden: [], l2: 0.1, lr: 0.02, epochs: 25, members: 5 }, heads: null, boost: null, seed },
    { name: 'logistic l2 0.03', net: { ...LOGISTIC, l2: 0.03 }, heads: null, boost: null, seed },
    { name: 'logistic l2 0.1 + A/V heads', net: { ...LOGISTIC, l2: 0.1 }, heads: { l2: 0.1 }, boost: null, seed },
    { name: 'logistic + A/V heads + trees (1 seed)', net: { ...LOGISTIC, l2: 0.1 }, heads: { l2: 0.1 }, boost: { ...BOOST, models: 1, weight: 0.5 }, seed },
    { name: 'logistic + A/V heads + trees (3 seeds)', net: { ...LOGISTIC, l2: 0.1 }, heads: { l2: 0.1 }, boost: { ...BOOST, models: 3, weight: 0.5 }, seed },
  ];
}

/** Trains a classifier following the recipe on raw rows with quadrants 1..4. */
export function trainRecipe(X: readonly Float64Array[], quadrants: readonly number[], featureNames: readonly string[], recipe: Recipe): ClassifierJSON {
  const { hidden, l2, lr, epochs, members } = recipe.net;
  const seeds = Array.from({ length: members }, (_, k) => recipe.seed + k);
  const labels = quadrants.map((q) => q - 1);
  const model: ClassifierJSON = ensemble(seeds.map((seed) => trainClassifier(X, labels, featureNames, { hidden, l2, lr, epochs, seed })));
  if (!recipe.heads && !recipe.boost) return model;
  const out: ClassifierJSON = { ...model, format: CLASSIFIER_FORMAT, version: 2 };
  const { heads, boost } = recipe;
  if (heads) {
    const head = (y01: number[]) => seeds.flatMap((seed) => trainClassifier(X, y01, featureNames, { hidden, l2: heads.l2, lr, epochs, seed, classes: 2 }).members);
    out.arousal = head(quadrants.map((q) => (q === 1 || q === 2 ? 1 : 0)));
    out.valence = head(quadrants.map((q) => (q === 1 || q === 4 ? 1 : 0)));
  }
  if (boost) {
    const rng = new Rng(recipe.seed);
    out.boosted = Array.from({ length: boost.models }, () => trainBoosted(X, labels, 4, boost, rng.fork()));
    out.boostWeight = boost.weight;
  }
  return out;
}
