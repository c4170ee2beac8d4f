/**
 * The model's inputs under its `emotionInput` setting (config.ts). With `every`, each input word carries the
 * piece's emotion in its emotion family; with `first` (EMOPIA), words are fed as they are. Training (batches.ts)
 * and generation (generate.ts) both go through here, so the two always agree.
 */
import { FAMILY_INDEX, N_FAMILIES } from '../music/vocab.ts';
import type { EmotionInput } from './config.ts';

/**
 * Sets the emotion family of words [from, to) of a flat n*8 buffer to `emotion` (an emotion-family index) when
 * `mode` is `every`; in place.
 */
export function conditionInputs(mode: EmotionInput, words: Int32Array, emotion: number, from = 0, to = words.length / N_FAMILIES): void {
  if (mode !== 'every') return;
  for (let t = from; t < to; t++) words[t * N_FAMILIES + FAMILY_INDEX.emotion] = emotion;
}

/** One word (8 indices) as the model should read it in a piece of emotion index `emotion`. */
export function conditionWord(mode: EmotionInput, word: readonly number[], emotion: number): number[] {
  if (mode !== 'every') return word as number[];
  const w = word.slice();
  w[FAMILY_INDEX.emotion] = emotion;
  return w;
}
