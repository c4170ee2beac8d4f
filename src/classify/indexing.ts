/**
 * The classifier's one style for indexed access under `noUncheckedIndexedAccess`: `at(xs, i)` reads an element
 * that must exist and `addAt(xs, i, v)` adds to one, each throwing a RangeError that names the index and the
 * length when it does not, instead of a cast (`xs[i] as number`) or an assertion (`xs[i]!`) that would let an
 * undefined through as NaN. `entry(map, key)` does the same for a Map. Loops that need no index use for-of.
 */

/** xs[i], which must exist. */
export function at<T>(xs: ArrayLike<T>, i: number): T {
  const v = xs[i];
  if (v === undefined) throw new RangeError(`index ${i} is outside 0..${xs.length - 1}`);
  return v;
}

/** xs[i] += v, where xs[i] must exist (the same arithmetic as `+=`). */
export function addAt(xs: { [i: number]: number; readonly length: number }, i: number, v: number): void {
  xs[i] = at(xs, i) + v;
}

/** map.get(key), which must exist. */
export function entry<K, V>(map: ReadonlyMap<K, V>, key: K): V {
  const v = map.get(key);
  if (v === undefined) throw new RangeError(`no entry for key ${String(key)}`);
  return v;
}

/**
 * out[j] += (a * x[j]) / divisor for every j < out.length: the one numeric kernel of the classifier's training
 * and prediction (forward and backward passes). Its lengths are checked once and its reads inside are not, on
 * purpose: a checked read per element (`at`) made training four to eight times slower.
 */
export function addScaled(out: Float64Array, a: number, x: ArrayLike<number>, divisor = 1): void {
  if (x.length < out.length) throw new RangeError(`addScaled: ${out.length} outputs, only ${x.length} inputs`);
  if (divisor === 1) for (let j = 0; j < out.length; j++) out[j] = (out[j] as number) + a * (x[j] as number);
  else for (let j = 0; j < out.length; j++) out[j] = (out[j] as number) + (a * (x[j] as number)) / divisor;
}
