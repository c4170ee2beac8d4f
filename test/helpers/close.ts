/** Numeric comparison helpers with explicit tolerances. */
import assert from 'node:assert/strict';

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, `length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, what = 'values'): void {
  const d = maxAbsDiff(actual, expected);
  assert.ok(d <= atol, `${what}: max abs diff ${d} > ${atol}`);
}
