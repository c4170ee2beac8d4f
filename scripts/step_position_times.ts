/**
 * What a word of batch-1 generation costs at each position of a piece, for linear and softmax attention: the
 * `wasm` engine on a random `small` model with half-precision-rounded weights (as `npm run bench -- generate`),
 * `--pieces` pieces of `--words` words each, and per position the fastest of the pieces (the minimum, so that a
 * shared machine's interruptions drop out), averaged over windows of positions. Softmax attention's cost grows
 * with the key/value cache; linear attention's does not, so their difference is the cache's cost.
 *
 *   taskset -c 1 node --import tsx scripts/step_position_times.ts [--pieces 10] [--words 600] [--attention linear|softmax]
 *
 * (both kinds without --attention).
 */
import { initBackend, tf } from '../src/backend.ts';
import { Rng } from '../src/random.ts';
import { FAMILIES, Vocab } from '../src/music/vocab.ts';
import { ATTENTION_KINDS, makeConfig } from '../src/cp/config.ts';
import { CPTransformer } from '../src/cp/model.ts';
import { generate } from '../src/cp/generate.ts';
import { float16ToFloat32, float32ToFloat16 } from '../src/io/safetensors.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const pieces = opt('--pieces', 10);
const words = opt('--words', 600);
const only = args.includes('--attention') ? args[args.indexOf('--attention') + 1] : undefined;
if (only !== undefined && !(ATTENTION_KINDS as readonly string[]).includes(only)) throw new Error(`--attention: expected linear or softmax, got '${only}'`);
const windows = ([[0, 50], [100, 150], [250, 300], [words - 50, words], [0, Math.min(300, words)]] as Array<[number, number]>)
  .filter(([a, b], i, all) => a >= 0 && b <= words && all.findIndex((w) => w[0] === a && w[1] === b) === i);

await initBackend('wasm');
const vocab = Vocab.fullGrid();
const nClasses = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<(typeof FAMILIES)[number], number>;
for (const attention of ATTENTION_KINDS.filter((a) => only === undefined || a === only)) {
  const model = new CPTransformer(makeConfig('small', nClasses, { attention }), new Rng(1));
  for (const v of model.parameters()) {
    const r = tf.tensor(float16ToFloat32(float32ToFloat16(v.dataSync() as Float32Array)), v.shape);
    v.assign(r);
    r.dispose();
  }
  const opts = { emotion: 'Q1' as const, maxBars: 1_000_000, stopAtEos: false, engine: 'wasm' as const };
  generate(model, vocab, { ...opts, seed: 1, maxWords: 20 }); // warm-up: compile and pack
  const fastest = new Array<number>(words).fill(Infinity);
  for (let p = 0; p < pieces; p++) {
    let last = performance.now();
    let k = 0;
    generate(model, vocab, {
      ...opts, seed: 1 + p, maxWords: words,
      onWord: () => {
        const t = performance.now();
        if (k < words) fastest[k] = Math.min(fastest[k] as number, t - last);
        k++;
        last = performance.now();
      },
    });
  }
  const us = ([a, b]: [number, number]) => ((1000 * fastest.slice(a, b).reduce((s, x) => s + x, 0)) / (b - a)).toFixed(0);
  console.log(`${attention}: µs per word (fastest of ${pieces} pieces), ${windows.map((w) => `words ${w[0]}-${w[1]} ${us(w)}`).join(', ')}`);
  model.dispose();
}
