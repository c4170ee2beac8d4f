/**
 * How a model's tempo moves within a piece, beside the real clips' (the figures behind the tempo's `maxStep`):
 *
 *   node --import tsx scripts/tempo_steps.ts RUN_DIR DATASET_DIR [--pieces 6] [--max-step x|none]...
 *
 * For each quadrant, `--pieces` pieces of 16 bars (seeds 100, 101, ...) with the run's generation.json, once per
 * `--max-step` (default: none and the run's own), and for the dataset's clips: the change from one tempo word to
 * the next (|log ratio|, given as the ratio at the median and the 90th percentile) and the spread of a piece's
 * tempo (max/min, median over pieces).
 */
import { initBackend } from '../src/backend.ts';
import { loadModel, readGenerationDefaults } from '../src/platform/run_folder.ts';
import { readDataset } from '../src/platform/dataset.ts';
import { generateBatch } from '../src/cp/generate.ts';
import { wordsToScore } from '../src/music/cp_tokenizer.ts';
import { FAMILY_INDEX, N_FAMILIES, type Vocab } from '../src/music/vocab.ts';
import { Rng } from '../src/random.ts';

const quantile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))] ?? NaN;

/** Tempo changes and spread of some pieces, each given as its sequence of tempos (BPM). */
function describe(tempoLists: number[][]): string {
  const steps: number[] = [];
  const spreads: number[] = [];
  for (const t of tempoLists) {
    if (t.length === 0) continue;
    for (let i = 1; i < t.length; i++) steps.push(Math.abs(Math.log(t[i]! / t[i - 1]!)));
    spreads.push(Math.max(...t) / Math.min(...t));
  }
  const words = tempoLists.reduce((s, t) => s + t.length, 0) / tempoLists.length;
  return `tempo words/piece ${words.toFixed(1)}, change median ${(Math.exp(quantile(steps, 0.5)) - 1).toFixed(3)} p90 ${(Math.exp(quantile(steps, 0.9)) - 1).toFixed(3)}, spread max/min median ${quantile(spreads, 0.5).toFixed(2)}`;
}

/** The tempo words (BPM) of a clip's words. */
function tempoWords(words: ArrayLike<number>, vocab: Vocab): number[] {
  const out: number[] = [];
  for (let i = 0; i < words.length / N_FAMILIES; i++) {
    const v = vocab.decode('tempo', words[i * N_FAMILIES + FAMILY_INDEX.tempo]!);
    if (typeof v === 'string' && v.startsWith('Tempo_')) out.push(Number(v.slice(6)));
  }
  return out;
}

async function main(): Promise<void> {
  const [run, data, ...rest] = process.argv.slice(2);
  if (!run || !data) throw new Error('usage: scripts/tempo_steps.ts RUN_DIR DATASET_DIR [--pieces N] [--max-step x|none]...');
  let pieces = 6;
  const steps: Array<number | undefined> = [];
  for (let i = 0; i < rest.length; i += 2) {
    if (rest[i] === '--pieces') pieces = Number(rest[i + 1]);
    else if (rest[i] === '--max-step') steps.push(rest[i + 1] === 'none' ? undefined : Number(rest[i + 1]));
    else throw new Error(`unknown argument '${rest[i]}'`);
  }
  await initBackend('wasm');
  const own = readGenerationDefaults(run);
  if (steps.length === 0) steps.push(undefined, own.sampling.tempo?.maxStep);
  const ds = readDataset(data);
  for (const q of [1, 2, 3, 4] as const) {
    const clips = [...ds.train, ...ds.valid].filter((c) => c.emotion === q);
    console.log(`Q${q} real (${clips.length} clips): ${describe(clips.map((c) => tempoWords(c.words, ds.vocab)))}`);
  }
  const { model, vocab } = loadModel(run);
  for (const maxStep of steps) {
    const sampling = { ...own.sampling, tempo: { ...own.sampling.tempo, maxStep } };
    for (const q of [1, 2, 3, 4] as const) {
      const rngs = Array.from({ length: pieces }, (_, i) => new Rng(100 + i));
      const res = generateBatch(model, vocab, { emotion: q, maxBars: 16, sampling, guidance: own.guidance, contrast: own.contrast, recall: own.recall }, rngs);
      const lists = res.map((r) => wordsToScore(r.words, vocab).score.tempos.map((t) => t.bpm));
      console.log(`Q${q} generated, maxStep ${maxStep ?? 'none'} (${pieces} pieces): ${describe(lists)}`);
    }
  }
  model.dispose();
}

main().catch((err: unknown) => {
  process.stderr.write(`tempo_steps: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
