/**
 * Whether two engines write the same seeded pieces: for every emotion and seeds 3, 5 and 7, a 200-word piece of
 * the model through the library on the `wasm` engine and on the `tensor` engine, compared word by word. An engine
 * change can flip a sampled value only when a draw lands within float rounding of a boundary; this counts how
 * often that happens on a real model (the model card's "Engines" line).
 *
 *   node --import tsx scripts/engines_same.ts [RUN_DIR]      # default: models/default
 */
import { initBackend } from '../src/backend.ts';
import { generate } from '../src/cp/generate.ts';
import { DEFAULT_MODEL_DIR } from '../src/platform/default_model.ts';
import { loadModel } from '../src/platform/run_folder.ts';
import { FAMILIES } from '../src/music/vocab.ts';

await initBackend('wasm');
const dir = process.argv[2] ?? DEFAULT_MODEL_DIR;
const { model, vocab } = loadModel(dir);
let same = 0;
let n = 0;
for (const emotion of ['Q1', 'Q2', 'Q3', 'Q4'] as const) {
  for (const seed of [3, 5, 7]) {
    const a = generate(model, vocab, { emotion, seed, maxWords: 200, engine: 'wasm' });
    const b = generate(model, vocab, { emotion, seed, maxWords: 200, engine: 'tensor' });
    const equal = a.words.length === b.words.length && a.words.every((w, i) => w === b.words[i]);
    n++;
    if (equal) same++;
    console.log(`${emotion} seed ${seed}: ${a.words.length / FAMILIES.length} words, ${equal ? 'the same' : 'DIFFERENT'}`);
  }
}
model.dispose();
console.log(`${dir}: ${same} of ${n} pieces the same words on wasm and tensor`);
