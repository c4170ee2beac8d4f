/**
 * Song-level cross-validation of a training recipe, for choosing one without touching the test clips: the clips'
 * songs are dealt into k folds (songs shuffled with the seed, largest first, each to the fold that keeps the
 * per-quadrant counts most even), each fold is held out once, and the held-out predictions of all folds (and of
 * `reps` different fold deals) are scored together.
 */
import { songOf, emotionFromName } from '../music/dataset.ts';
import { Rng } from '../random.ts';
import { addAt, at, entry } from './indexing.ts';
import { trainRecipe, type Recipe } from './recipe.ts';
import { evaluateRows, type Scored } from './scoring.ts';

/** Fold index 0..k-1 of every clip; clips of one song share a fold. */
export function songFolds(names: readonly string[], k: number, seed: number): number[] {
  const bySong = new Map<string, number[]>();
  names.forEach((n, i) => bySong.set(songOf(n), [...(bySong.get(songOf(n)) ?? []), i]));
  const songs = new Rng(seed).shuffle([...bySong.keys()].sort());
  songs.sort((a, b) => entry(bySong, b).length - entry(bySong, a).length); // stable
  const count = Array.from({ length: k }, () => [0, 0, 0, 0]);
  const fold = new Array<number>(names.length).fill(0);
  for (const song of songs) {
    const idx = entry(bySong, song);
    const add = [0, 0, 0, 0];
    for (const i of idx) addAt(add, Math.max(0, emotionFromName(at(names, i)) - 1), 1);
    let best = 0;
    let bestCost = Infinity;
    for (let f = 0; f < k; f++) {
      // Growth of the sum of squared per-quadrant counts: the fold that stays most even.
      const row = at(count, f);
      const cost = add.reduce((s, a, q) => s + (at(row, q) + a) ** 2 - at(row, q) ** 2, 0);
      if (cost < bestCost) [bestCost, best] = [cost, f];
    }
    add.forEach((a, q) => addAt(at(count, best), q, a));
    for (const i of idx) fold[i] = best;
  }
  return fold;
}

/** Held-out scores of a recipe over k song-level folds, repeated with `reps` fold deals (seeds seed, seed+1, ...). */
export function crossValidate(
  names: readonly string[], X: readonly Float64Array[], featureNames: readonly string[], recipe: Recipe,
  opts: { k: number; reps: number; seed: number },
): Scored {
  const y = names.map(emotionFromName);
  const folds: Scored[] = [];
  for (let r = 0; r < opts.reps; r++) {
    const fold = songFolds(names, opts.k, opts.seed + r);
    for (let f = 0; f < opts.k; f++) {
      const tr = names.map((_, i) => i).filter((i) => fold[i] !== f);
      const te = names.map((_, i) => i).filter((i) => fold[i] === f);
      if (!tr.length || !te.length) continue;
      const model = trainRecipe(tr.map((i) => at(X, i)), tr.map((i) => at(y, i)), featureNames, recipe);
      folds.push(evaluateRows(model, { X: te.map((i) => at(X, i)), y: te.map((i) => at(y, i)) }));
    }
  }
  return poolScores(folds);
}

/** Scores of disjoint row sets pooled into one (each weighted by its rows); n is the total. */
export function poolScores(parts: readonly Scored[]): Scored {
  const n = parts.reduce((s, p) => s + p.n, 0);
  const w = (key: 'quadrant' | 'arousal' | 'valence' | 'crossEntropy') => (n ? parts.reduce((s, p) => s + p[key] * p.n, 0) / n : NaN);
  return { n, quadrant: w('quadrant'), arousal: w('arousal'), valence: w('valence'), crossEntropy: w('crossEntropy') };
}
