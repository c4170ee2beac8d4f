/**
 * Where a process's first pieces spend their time, word by word: µs per word of the model's batch-1 generation
 * on the `wasm` engine, for the first piece of the process (split into its first word, words 1-50, 50-100, 100-200
 * and the rest)
 * and for the pieces after it. Shows the warm-up every `emopia generate` pays once: the first words run before
 * V8 has tiered the freshly compiled step up.
 *
 *   taskset -c 1 node --import tsx scripts/word_times.ts [RUN_DIR] [--words 300] [--pieces 3] [--guided]
 *
 * Unguided by default (one row, as `npm run bench -- generate`); --guided uses the run's own sampling settings.
 */
import { initBackend } from '../src/backend.ts';
import { loadModel, readGenerationDefaults } from '../src/platform/run_folder.ts';
import { resolveCheckpoint } from '../src/platform/default_model.ts';
import { generationSettings } from '../src/cp/generation_defaults.ts';
import { generate } from '../src/cp/generate.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const words = opt('--words', 300);
const pieces = opt('--pieces', 3);
const guided = args.includes('--guided');
const dir = resolveCheckpoint(args.find((a, i) => !a.startsWith('--') && !['--words', '--pieces'].includes(args[i - 1] ?? '')));

await initBackend('wasm');
const { model, vocab } = loadModel(dir);
const settings = guided ? generationSettings(readGenerationDefaults(dir), {}) : { guidance: 1 };
const us = (ms: number) => (ms * 1000).toFixed(0);
for (let p = 0; p < pieces; p++) {
  const times: number[] = [];
  let last = performance.now();
  const t0 = last;
  generate(model, vocab, {
    emotion: (['Q1', 'Q2', 'Q3', 'Q4'] as const)[p % 4] as 'Q1', seed: 1 + p, maxWords: words, maxBars: 1_000_000, stopAtEos: false, engine: 'wasm', ...settings,
    onWord: () => {
      const t = performance.now();
      times.push(t - last);
      last = t;
    },
  });
  const mean = (a: number, b: number) => times.slice(a, b).reduce((s, x) => s + x, 0) / Math.max(1, Math.min(b, times.length) - a);
  const total = (performance.now() - t0) / words;
  const split = p === 0 ? `; the first word ${us(mean(0, 1))} (opening, compiling and packing), words 1-50 ${us(mean(1, 50))}, 50-100 ${us(mean(50, 100))}, 100-200 ${us(mean(100, 200))}, 200-${words} ${us(mean(200, words))}` : '';
  console.log(`piece ${p + 1}: ${us(total)} µs per word over ${words} words (opening the stepper included)${split}`);
}
