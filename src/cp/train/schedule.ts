/**
 * The learning-rate schedule: linear warm-up to the peak, then inverse-square-root decay
 * (lr = peak · sqrt(warmup / t) after the warm-up, as in "Attention is all you need").
 *
 * Why inverse-sqrt and not cosine: the rate at a step depends on the step alone, never on the planned
 * length of the run, so a run can be extended with `--resume --steps N` and still give exactly the same
 * updates as a run planned that long from the start (the 2 + 2 = 4 steps guarantee).
 */
export interface ScheduleConfig {
  /** The rate reached at the end of the warm-up. */
  peakLr: number;
  /** Steps of linear warm-up; 0 starts at the peak. */
  warmup: number;
}

/** The rate for the update with 0-based index `step` (the first update is step 0). */
export function learningRate(step: number, cfg: ScheduleConfig): number {
  const t = step + 1;
  const w = Math.max(cfg.warmup, 0);
  if (t <= w) return (cfg.peakLr * t) / w;
  return cfg.peakLr * Math.sqrt(Math.max(w, 1) / t);
}
