/**
 * Beat decoding by dynamic programming (Ellis 2007): the best chain of beats maximises the onset strength at the
 * beats minus a cost alpha * log(interval / period)^2 for each interval that strays from the period. The period
 * may change along the piece (a local tempo curve, one period per frame).
 */

export interface DpOptions {
  /** Weight of tempo consistency against onset strength (the envelope is scaled to unit mean at events). */
  alpha: number;
}

export const DEFAULT_DP: DpOptions = { alpha: 50 };

/**
 * The beat frames of the best chain over frames [from, to] of `env`, given the beat period (frames) at each frame.
 * O((to - from) * period): each frame looks back between half a period and two periods.
 */
export function decodeBeats(env: Float64Array, period: Float64Array, from: number, to: number, opts: DpOptions = DEFAULT_DP): number[] {
  const n = to - from + 1;
  if (n <= 0) return [];
  const score = new Float64Array(n);
  const back = new Int32Array(n).fill(-1);
  // cost[d]: the penalty of an interval of d frames, recomputed only when the period changes.
  let cost = new Float64Array(0);
  let costTau = NaN;
  for (let i = 0; i < n; i++) {
    const t = from + i;
    const tau = period[t] as number;
    const maxD = Math.round(1.5 * tau);
    if (tau !== costTau) {
      cost = new Float64Array(maxD + 1);
      for (let d = 1; d <= maxD; d++) cost[d] = opts.alpha * Math.log(d / tau) ** 2;
      costTau = tau;
    }
    const lo = Math.max(0, i - maxD);
    const hi = i - Math.max(1, Math.round(tau / 1.5));
    let best = -Infinity;
    let arg = -1;
    for (let p = lo; p <= hi; p++) {
      const v = (score[p] as number) - (cost[i - p] as number);
      if (v > best) {
        best = v;
        arg = p;
      }
    }
    // The first beats have no full window behind them: they may start the chain.
    if (arg < 0 || (i < 2 * tau && best < 0)) {
      best = 0;
      arg = -1;
    }
    score[i] = (env[t] as number) + best;
    back[i] = arg;
  }
  // End on the best beat within the last period.
  const lastTau = period[to] as number;
  let end = n - 1;
  for (let i = Math.max(0, n - 1 - Math.round(lastTau)); i < n; i++) if ((score[i] as number) > (score[end] as number)) end = i;
  const frames: number[] = [];
  for (let i = end; i >= 0; i = back[i] as number) frames.push(from + i);
  return frames.reverse();
}
