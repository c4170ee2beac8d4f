/** A random-init `tiny` CP model on the full-grid vocabulary, adjusted so that tests can see what they check. */
import { Rng } from '../../src/random.ts';
import { FAMILIES, Vocab, type Family } from '../../src/music/vocab.ts';
import { makeConfig, type EmotionInput } from '../../src/cp/config.ts';
import { CPTransformer } from '../../src/cp/model.ts';

export const vocab = Vocab.fullGrid();
export const classes = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<Family, number>;

export interface TinyOptions {
  /** An untrained model samples EOS at once; a very negative EOS bias keeps it going to the word limit. */
  noEos?: boolean;
  /** Multiplies the emotion embeddings so that the requested emotion visibly changes the pieces. */
  emotionScale?: number;
  emotionInput?: EmotionInput;
}

export function tinyModel(seed: number, opts: TinyOptions = {}): CPTransformer {
  const model = new CPTransformer(makeConfig('tiny', classes, opts.emotionInput ? { emotionInput: opts.emotionInput } : {}), new Rng(seed));
  if (!opts.noEos && opts.emotionScale === undefined) return model;
  const sd = model.stateDict();
  if (opts.noEos) sd.get('proj_type.bias')!.data[vocab.encode('type', 'EOS')] = -30;
  if (opts.emotionScale !== undefined) {
    const emb = sd.get('word_emb_emotion.lut.weight')!;
    for (let i = 0; i < emb.data.length; i++) emb.data[i] = (emb.data[i] as number) * opts.emotionScale;
  }
  model.loadStateDict(sd);
  return model;
}
