/**
 * `emopia generate --checkpoint RUN_DIR --emotion Q1 -o OUT.mid`: piano music for a requested emotion from a
 * trained compound-word Transformer (src/cp/generate.ts), written as MIDI with tempo changes and chord markers.
 *
 * Everything that can be wrong with the input (checkpoint, emotion, prompt) is checked before anything is
 * written; each file is written atomically.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { tf, initBackend, type BackendName } from '../../backend.ts';
import { InputError, UsageError } from '../../errors.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import { FAMILIES, N_FAMILIES, type Emotion, type Family } from '../../music/vocab.ts';
import { midiToScore, scoreToMidi } from '../../music/midi_io.ts';
import { scoreToWords, wordsToScore } from '../../music/cp_tokenizer.ts';
import { loadModel } from '../../cp/checkpoint.ts';
import { resolveCheckpoint } from '../../cp/default_model.ts';
import { generateBatch, primeFor } from '../../cp/generate.ts';
import { disposeState, type CPTransformer } from '../../cp/model.ts';
import { FastStepper } from '../../cp/fast_step.ts';
import { Rng } from '../../random.ts';
import { parseBackend, parseEmotionOption, parseIntOption } from '../options.ts';
import { startProgress } from '../progress.ts';
import { parseChoice, readInput, refuseOverwritingInput } from './_music_io.ts';
import { addSamplingOptions, resolveSampling, type SamplingCliOptions } from './_sampling.ts';

interface GenerateCliOptions extends SamplingCliOptions {
  checkpoint?: string;
  emotion: Emotion;
  output: string;
  num: number;
  batch: number;
  seed: number;
  maxBars: number;
  maxWords?: number;
  prompt?: string;
  backend: BackendName;
  attentionCheck: 'step' | 'none';
  progress: boolean;
}

/** Output paths: one file, or N numbered files in a folder. */
function outputPaths(output: string, num: number, emotion: string, seed: number): string[] {
  const isMidiName = /\.midi?$/i.test(output);
  const isDir = (existsSync(output) && statSync(output).isDirectory()) || output.endsWith('/') || !isMidiName;
  if (!isDir) {
    if (num > 1) throw new UsageError('--output', `with --num ${num}, expected a folder, got the file name '${output}'`);
    return [output];
  }
  if (existsSync(output) && !statSync(output).isDirectory()) throw new InputError(output, 'expected a folder, got a file');
  return Array.from({ length: num }, (_, i) => join(output, `emopia_${emotion}_seed${seed}_${String(i + 1).padStart(3, '0')}.mid`));
}

/**
 * Step-by-step logits must equal one full forward pass over the fed words (a check of the loaded model and the
 * backend), for both engines generation may use: CPTransformer.step (batches) and FastStepper (one piece).
 */
function checkIncremental(model: CPTransformer, fed: number[][]): void {
  const T = fed.length;
  const full = tf.tidy(() => {
    const x = tf.tensor3d(fed.flat(), [1, T, N_FAMILIES], 'int32'); // (1, T, 8)
    return model.typeLogits(model.forwardHidden(x)).reshape([T, -1]); // (T, n_type)
  });
  const want = full.dataSync() as Float32Array;
  full.dispose();
  const nType = want.length / T;
  const diffs: Record<'tensor' | 'fast', number> = { tensor: 0, fast: 0 };
  const compare = (engine: 'tensor' | 'fast', t: number, got: ArrayLike<number>): void => {
    for (let j = 0; j < nType; j++) diffs[engine] = Math.max(diffs[engine], Math.abs((got[j] as number) - (want[t * nType + j] as number)));
  };
  let state = model.initState(1);
  try {
    for (let t = 0; t < T; t++) {
      const w = tf.tensor2d([fed[t] as number[]], [1, N_FAMILIES], 'int32'); // (1, 8)
      const r = model.step(w, state);
      w.dispose();
      state = r.state;
      const logits = tf.tidy(() => model.typeLogits(r.h)); // (1, n_type)
      compare('tensor', t, logits.dataSync());
      tf.dispose([logits, r.h]);
    }
  } finally {
    disposeState(state);
  }
  const fast = new FastStepper(model, 1);
  try {
    for (let t = 0; t < T; t++) {
      fast.feed([fed[t] as number[]]);
      compare('fast', t, fast.typeLogits());
    }
  } finally {
    fast.dispose();
  }
  for (const [engine, d] of Object.entries(diffs)) {
    if (!(d <= 1e-3)) throw new InputError('attention check', `${engine} step-by-step logits differ from the full pass by ${d} (expected <= 1e-3); the model or backend is unusable`);
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('generate')
    .description('generate piano music for an emotion (Q1..Q4) with a trained model; writes MIDI')
    .option('--checkpoint <run_dir>', 'run folder with model.safetensors, config.json, vocab.json (default: the shipped models/default)')
    .requiredOption('--emotion <Q1|Q2|Q3|Q4>', 'emotion quadrant: Q1 happy, Q2 tense, Q3 sad, Q4 calm', parseEmotionOption)
    .requiredOption('-o, --output <out.mid|folder>', 'MIDI file to write, or a folder for --num files')
    .option('--num <n>', 'number of pieces (written into the -o folder)', parseIntOption('num', 1, 10000), 1)
    .option('--batch <n>', 'pieces generated together (one batched step per word; faster per piece)', parseIntOption('batch', 1, 256), 8)
    .option('--seed <n>', 'sampling seed; the same seed gives the same files', parseIntOption('seed', 0), 0)
    .option('--max-bars <n>', 'stop after this many bars', parseIntOption('max-bars', 1), 32)
    .option('--max-words <n>', 'stop after this many generated words (default: no limit but the model length)', parseIntOption('max-words', 1));
  addSamplingOptions(cmd)
    .option('--prompt <in.mid>', 'continue this MIDI: its words are fed first, behind the requested emotion word')
    .option('--backend <name>', 'wasm (default), cpu, or tensorflow', parseBackend, 'wasm')
    .option('--attention-check <mode>', "'step' (default): check the loaded model's step-by-step logits against a full pass on the prime; 'none': skip", parseChoice('attention-check', ['step', 'none'] as const), 'step')
    .option('--no-progress', 'no progress output')
    .action(async (opts: GenerateCliOptions) => {
      const checkpoint = resolveCheckpoint(opts.checkpoint);
      const emotion: Emotion = opts.emotion; // parsed by parseEmotionOption: a bad value is a usage error (exit 2)
      const emotionName = `Q${emotion}`;
      const paths = outputPaths(opts.output, opts.num, emotionName, opts.seed);
      for (const p of paths) refuseOverwritingInput(p, [opts.prompt]);
      const { sampling, guidance, contrast } = resolveSampling(opts, checkpoint);
      await initBackend(opts.backend);
      const { model, vocab } = loadModel(checkpoint);
      try {
        let prompt: Int32Array | undefined;
        if (opts.prompt) {
          const score = midiToScore(readInput(opts.prompt), opts.prompt);
          prompt = scoreToWords(score, vocab, { emotion }, opts.prompt).words;
        }
        const fed = primeFor(vocab, emotion, prompt);
        if (opts.attentionCheck === 'step') checkIncremental(model, fed.slice(0, Math.min(fed.length, 64)));
        const master = new Rng(opts.seed);
        const rngs = paths.map(() => master.fork()); // piece i depends only on the seed and i
        for (let first = 0; first < paths.length; first += opts.batch) {
          const group = paths.slice(first, first + opts.batch);
          const t0 = Date.now();
          const total = opts.maxWords ?? model.config.maxLen - fed.length;
          const label = group.length > 1 ? `generate ${first + 1}-${first + group.length}/${paths.length}` : `generate ${first + 1}/${paths.length}`;
          const progress = opts.progress ? startProgress(label, total, 'words') : null;
          const results = generateBatch(model, vocab, {
            emotion, maxBars: opts.maxBars, maxWords: opts.maxWords, sampling, prompt, guidance, contrast,
            onWord: progress ? (n) => progress.update(n) : undefined,
          }, rngs.slice(first, first + group.length));
          progress?.stop();
          const secs = (Date.now() - t0) / 1000;
          const words = results.reduce((s, r) => s + r.generated, 0);
          for (const [j, r] of results.entries()) {
            const path = group[j] as string;
            const { score, skipped } = wordsToScore(r.words, vocab);
            writeFileAtomic(path, scoreToMidi(score));
            process.stderr.write(
              `emopia generate: ${path}: ${r.generated} words, ${r.bars} bars, ${score.notes.length} notes, stopped by ${r.stoppedBy}` +
                `${skipped ? `, ${skipped} words skipped` : ''}\n`,
            );
          }
          process.stderr.write(`emopia generate: ${words} words in ${secs.toFixed(1)} s (${(words / Math.max(secs, 1e-9)).toFixed(0)} words/s, batch ${group.length})\n`);
        }
      } finally {
        model.dispose();
      }
    });
}
