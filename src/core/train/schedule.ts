/**
 * Learning-rate schedules, as functions of the step alone.
 *
 * - `learningRate`: linear warm-up to the peak, then inverse-square-root decay (lr = peak · sqrt(warmup / t)
 *   after the warm-up, as in "Attention is all you need"). The rate at a step depends on the step alone, never
 *   on the planned length of the run, so a run can be extended with `--resume --steps N` and still give exactly
 *   the same updates as a run planned that long from the start (the 2 + 2 = 4 steps guarantee). `emopia train`.
 * - `cosineLearningRate`: linear warm-up, then cosine decay to a floor at the last planned step, for runs whose
 *   length is fixed in advance (the copy task), where the slow last steps steady the result.
 */
export interface ScheduleConfig {
  /** The rate reached at the end of the warm-up. */
  peakLr: number;
  /** Steps of linear warm-up; 0 starts at the peak. */
  warmup: number;
}

/** The linear warm-up's rate at 1-based update t, or null once the warm-up is over. */
function warmupRate(t: number, cfg: ScheduleConfig): number | null {
  const w = Math.max(cfg.warmup, 0);
  return t <= w ? (cfg.peakLr * t) / w : null;
}

/** Warm-up then inverse-sqrt: the rate for the update with 0-based index `step` (the first update is step 0). */
export function learningRate(step: number, cfg: ScheduleConfig): number {
  const t = step + 1;
  return warmupRate(t, cfg) ?? cfg.peakLr * Math.sqrt(Math.max(cfg.warmup, 1) / t);
}

export interface CosineScheduleConfig extends ScheduleConfig {
  /** The planned number of updates: the rate reaches `finalLr` at the last one. */
  steps: number;
  /** The rate at the last step. */
  finalLr: number;
}

/** Warm-up then cosine decay to `finalLr`: the rate for the update with 0-based index `step`. */
export function cosineLearningRate(step: number, cfg: CosineScheduleConfig): number {
  const t = step + 1;
  const warm = warmupRate(t, cfg);
  if (warm !== null) return warm;
  const w = Math.max(cfg.warmup, 0);
  const progress = Math.min(1, (t - w) / Math.max(1, cfg.steps - w)); // 0 .. 1
  return cfg.finalLr + (cfg.peakLr - cfg.finalLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
