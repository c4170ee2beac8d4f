/**
 * Beat-tracking scores by mir_eval's rules (`mir_eval.beat.f_measure`): both lists lose the times before 5 s, a
 * tracked beat counts when it is matched one-to-one to an annotated beat at most 70 ms away, and the F-measure is
 * the harmonic mean of precision and recall (0 when either list is empty after trimming).
 */

/** mir_eval's defaults: the +-70 ms window and the 5 s of beats ignored at the start. */
export const F_WINDOW = 0.07;
export const MIN_BEAT_TIME = 5;

export interface FMeasureOptions {
  window?: number;
  minTime?: number;
}

/**
 * The size of a largest one-to-one matching of `ref` to `est` (both sorted ascending) where a pair is at most
 * `window` apart. On a line with a fixed window the greedy walk in order is a maximum matching, which is what
 * mir_eval's bipartite matching finds.
 */
export function countMatches(ref: readonly number[], est: readonly number[], window: number): number {
  let i = 0;
  let j = 0;
  let hits = 0;
  while (i < ref.length && j < est.length) {
    const r = ref[i] as number;
    const e = est[j] as number;
    if (e < r - window) j++;
    else if (e > r + window) i++;
    else {
      hits++;
      i++;
      j++;
    }
  }
  return hits;
}

/** The beat F-measure of `est` against `ref` (seconds, ascending). */
export function beatFMeasure(ref: readonly number[], est: readonly number[], opts: FMeasureOptions = {}): number {
  const minTime = opts.minTime ?? MIN_BEAT_TIME;
  const r = ref.filter((t) => t >= minTime);
  const e = est.filter((t) => t >= minTime);
  if (r.length === 0 || e.length === 0) return 0;
  const hits = countMatches(r, e, opts.window ?? F_WINDOW);
  if (hits === 0) return 0;
  const precision = hits / e.length;
  const recall = hits / r.length;
  return (2 * precision * recall) / (precision + recall);
}

/** The tempo of a beat list in BPM: 60 over the median inter-beat interval (0 with fewer than two beats). */
export function medianTempo(beats: readonly number[]): number {
  const d: number[] = [];
  for (let i = 1; i < beats.length; i++) d.push((beats[i] as number) - (beats[i - 1] as number));
  if (d.length === 0) return 0;
  d.sort((a, b) => a - b);
  const m = d.length >> 1;
  const med = d.length % 2 === 1 ? (d[m] as number) : ((d[m - 1] as number) + (d[m] as number)) / 2;
  return med > 0 ? 60 / med : 0;
}

/** True when the tracked tempo is within `tolerance` (default 4%) of the annotated one (both as medianTempo). */
export function tempoMatches(ref: readonly number[], est: readonly number[], tolerance = 0.04): boolean {
  const r = medianTempo(ref);
  const e = medianTempo(est);
  return r > 0 && e > 0 && Math.abs(e - r) <= tolerance * r;
}
