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
import { initBackend, type BackendName } from '../../backend.ts';
import { InputError, UsageError } from '../../errors.ts';
import { writeFileAtomic } from '../../platform/atomic.ts';
import type { Emotion } from '../../music/vocab.ts';
import { midiToScore, scoreToMidi } from '../../music/midi_io.ts';
import { scoreToWords, wordsToScore } from '../../music/cp_tokenizer.ts';
import { loadModel } from '../../platform/run_folder.ts';
import { resolveCheckpoint } from '../../platform/default_model.ts';
import { generateBatch, promptFor } from '../../cp/generate.ts';
import { GENERATION_DEFAULTS } from '../../cp/generation_defaults.ts';
import { autoEngines, checkIncremental } from '../../cp/engine.ts';
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

export function register(program: Command): void {
  const cmd = program
    .command('generate')
    .description('generate piano music for an emotion (Q1..Q4) with a trained model; writes MIDI')
    .option('--checkpoint <run_dir>', 'run folder with model.safetensors, config.json, vocab.json (default: the shipped models/default)')
    .requiredOption('--emotion <Q1|Q2|Q3|Q4>', 'emotion quadrant: Q1 happy, Q2 tense, Q3 sad, Q4 calm', parseEmotionOption)
    .requiredOption('-o, --output <out.mid|folder>', 'MIDI file to write, or a folder for --num files')
    .option('--num <n>', 'number of pieces (written into the -o folder)', parseIntOption('num', 1, 10000), GENERATION_DEFAULTS.num)
    .option('--batch <n>', 'pieces generated together (one batched step per word; faster per piece, each piece the same as alone)', parseIntOption('batch', 1, 256), GENERATION_DEFAULTS.batch)
    .option('--seed <n>', 'sampling seed; the same seed gives the same files', parseIntOption('seed', 0), GENERATION_DEFAULTS.seed)
    .option('--max-bars <n>', 'stop after this many bars', parseIntOption('max-bars', 1), GENERATION_DEFAULTS.maxBars)
    .option('--max-words <n>', 'stop after this many generated words (default: no limit but the model length)', parseIntOption('max-words', 1));
  addSamplingOptions(cmd)
    .option('--prompt <in.mid>', 'continue this MIDI: its words are the prompt, fed behind the requested emotion word')
    .option('--backend <name>', 'wasm (default), cpu, or tensorflow', parseBackend, 'wasm')
    .option('--attention-check <mode>', "'step' (default): check the generating engine's step-by-step logits against a full pass on the prompt; 'none': skip", parseChoice('attention-check', ['step', 'none'] as const), 'step')
    .option('--no-progress', 'no progress output')
    .action(async (opts: GenerateCliOptions) => {
      const checkpoint = resolveCheckpoint(opts.checkpoint);
      const emotion: Emotion = opts.emotion; // parsed by parseEmotionOption: a bad value is a usage error (exit 2)
      const emotionName = `Q${emotion}`;
      const paths = outputPaths(opts.output, opts.num, emotionName, opts.seed);
      for (const p of paths) refuseOverwritingInput(p, [opts.prompt]);
      const { sampling, guidance, contrast, recall, perQuadrant } = resolveSampling(opts, checkpoint);
      await initBackend(opts.backend);
      const { model, vocab } = loadModel(checkpoint);
      try {
        let prompt: Int32Array | undefined;
        if (opts.prompt) {
          const score = midiToScore(readInput(opts.prompt), opts.prompt);
          prompt = scoreToWords(score, vocab, { emotion }, opts.prompt).words;
        }
        const fed = promptFor(vocab, emotion, prompt);
        if (opts.attentionCheck === 'step') checkIncremental(model, fed.slice(0, Math.min(fed.length, 64)), undefined, autoEngines());
        const master = new Rng(opts.seed);
        const rngs = paths.map(() => master.fork()); // piece i depends only on the seed and i
        for (let first = 0; first < paths.length; first += opts.batch) {
          const group = paths.slice(first, first + opts.batch);
          const t0 = Date.now();
          const label = group.length > 1 ? `generate ${first + 1}-${first + group.length}/${paths.length}` : `generate ${first + 1}/${paths.length}`;
          // A piece ends at --max-bars (or EOS) long before the model's length in words, so without --max-words the
          // bar counts the bars (words beside it); with --max-words, the words.
          const byWords = opts.maxWords !== undefined;
          const progress = opts.progress ? (byWords ? startProgress(label, opts.maxWords as number, 'words') : startProgress(label, opts.maxBars, 'bars')) : null;
          const results = generateBatch(model, vocab, {
            emotion, maxBars: opts.maxBars, maxWords: opts.maxWords, sampling, perQuadrant, prompt, guidance, contrast, recall,
            onWord: progress ? (n, _pieces, bars) => (byWords ? progress.update(n) : progress.update(bars, `${n} words`)) : undefined,
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
