/**
 * The defaults of a training run (`emopia train` and `runTraining` alike), in one block. The CLI's option
 * defaults and help strings read this object; nothing else writes these numbers.
 */
import type { PresetName } from '../config.ts';

export const TRAIN_DEFAULTS = Object.freeze({
  /** Model size (config.ts PRESETS); its attention and emotion input unless --attention/--emotion-input. */
  preset: 'small' as PresetName,
  /** Windows per batch (EMOPIA 4). */
  batch: 4,
  /** Words per training window (EMOPIA 1024), capped at the model's maxLen - 1 (the tiny preset's 1023). */
  seq: 1024,
  /** Adam's peak learning rate, reached at the end of the warm-up (EMOPIA 1e-4). */
  lr: 1e-4,
  /** Steps of linear warm-up before the inverse-square-root decay. */
  warmup: 200,
  /** Seed of the initialisation, the window draws, the data order and dropout. */
  seed: 42069,
  /** Global gradient-norm limit of clip_grad_norm_ (EMOPIA 3). */
  clip: 3,
  /** Validation loss every this many steps (and at the end). */
  validEvery: 200,
  /** Checkpoint every this many steps (and at the end, and on Ctrl-C). */
  saveEvery: 200,
});

/** The default window for a model that reads at most `maxLen` words: EMOPIA's 1024, or maxLen - 1 when shorter. */
export function defaultSeq(maxLen: number): number {
  return Math.min(TRAIN_DEFAULTS.seq, maxLen - 1);
}
