/** Small statistics over plain number lists, shared by the feature files: mean, standard deviation, quantile, Pearson correlation. */
import { at } from './indexing.ts';

/** The mean (0 for an empty list); summed from the first element on, in one loop without a callback. */
export function mean(xs: readonly number[]): number {
  if (!xs.length) return 0;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i] as number;
  return s / xs.length;
}

/** Population standard deviation (0 for an empty list), without a list of squared deviations. */
export function std(xs: readonly number[]): number {
  if (!xs.length) return 0;
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += ((xs[i] as number) - m) ** 2;
  return Math.sqrt(s / xs.length);
}

/** The element at rank round(p * (n - 1)) of the sorted list (no interpolation); 0 for an empty list. */
export function quantile(xs: readonly number[], p: number): number {
  if (!xs.length) return 0;
  // A typed array sorts numbers in ascending order natively (much faster than a comparator on 200k notes).
  const s = Float64Array.from(xs).sort();
  const i = Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))));
  return at(s, i);
}

/** Pearson correlation of two equally long lists; 0 when either is constant. */
export function pearson(a: readonly number[], b: readonly number[]): number {
  const ma = mean(a);
  const mb = mean(b);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (at(a, i) - ma) * (at(b, i) - mb);
    da += (at(a, i) - ma) ** 2;
    db += (at(b, i) - mb) ** 2;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : 0;
}
