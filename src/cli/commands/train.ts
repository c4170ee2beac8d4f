/**
 * `emopia train --data DATASET_DIR --preset small --out RUN_DIR`: trains the compound-word Transformer on a
 * dataset folder, with validation and checkpoints every N steps, exact --resume, --init from another run,
 * and Ctrl-C that saves before exiting. The loop itself is src/platform/train_run.ts.
 */
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { initBackend, type BackendName } from '../../backend.ts';
import { UsageError } from '../../errors.ts';
import { ATTENTION_KINDS, EMOTION_INPUTS, PRESET_NAMES, PRESETS } from '../../cp/config.ts';
import { TRAIN_DEFAULTS } from '../../cp/train/defaults.ts';
import { runTraining, type RunOptions } from '../../platform/train_run.ts';
import { readDataset } from '../../platform/dataset.ts';
import { parseBackend, parseFloatOption, parseIntOption } from '../options.ts';
import { startProgress, type Progress } from '../progress.ts';
import { parseChoice } from './_music_io.ts';

/** Commander's options: RunOptions' own fields as parsed, plus the dataset folder, the backend and --no-progress. */
interface TrainCliOptions extends Pick<RunOptions, 'out' | 'preset' | 'attention' | 'emotionInput' | 'emotionDropout' | 'steps' | 'epochs' | 'batch' | 'seq' | 'lr' | 'warmup' | 'seed' | 'resume' | 'init' | 'half' | 'validEvery' | 'saveEvery' | 'workers'> {
  data: string;
  backend: BackendName;
  progress: boolean;
}

const D = TRAIN_DEFAULTS;

/** One training worker per core this process may use (at most one per window of the batch); wasm only. */
export function defaultWorkers(backend: BackendName, batch: number): number {
  return backend === 'wasm' ? Math.max(1, Math.min(availableParallelism(), batch)) : 1;
}

export function register(program: Command): void {
  program
    .command('train')
    .description('train the compound-word Transformer on a dataset folder; checkpoints into a run folder')
    .requiredOption('--data <dataset_dir>', 'dataset folder made by `emopia dataset build`')
    .requiredOption('--out <run_dir>', 'run folder: model.safetensors, config.json, vocab.json, optimizer state, train-log.jsonl')
    .option('--preset <name>', `model size: ${PRESET_NAMES.join(', ')}`, parseChoice('preset', PRESET_NAMES), D.preset)
    .option('--steps <n>', 'train until this many updates in total (counting those before --resume)', parseIntOption('steps', 1))
    .option('--epochs <n>', 'train for this many passes over the training windows (instead of --steps)', parseIntOption('epochs', 1))
    .option('--batch <n>', 'windows per batch', parseIntOption('batch', 1), D.batch)
    .option('--seq <n>', `words per training window (default: ${D.seq}, or the model's maxLen - 1 when shorter: ${PRESETS.tiny.maxLen - 1} for tiny)`, parseIntOption('seq', 2))
    .option('--lr <rate>', 'peak learning rate of Adam', parseFloatOption('lr', 0), D.lr)
    .option('--warmup <n>', 'steps of linear warm-up, then inverse-square-root decay', parseIntOption('warmup', 0), D.warmup)
    .option('--seed <n>', 'seed of initialisation, window draws, data order and dropout', parseIntOption('seed', 0), D.seed)
    .option('--attention <kind>', `attention: ${ATTENTION_KINDS.join('|')} (default: the preset's; ${D.preset}: ${PRESETS[D.preset].attention})`, parseChoice('attention', ATTENTION_KINDS))
    .option('--emotion-input <where>', `where the model reads the emotion: first (EMOPIA: the Emotion word only) or every (also each input word's emotion family) (default: the preset's or --init run's; ${D.preset}: ${PRESETS[D.preset].emotionInput})`, parseChoice('emotion-input', EMOTION_INPUTS))
    .option('--emotion-dropout <p>', 'share of training windows read with the neutral Emotion word 0 instead of their emotion, 0 to 0.9: teaches the model to play without an emotion, for guidance with --contrast neutral (default 0)', parseFloatOption('emotion-dropout', 0, 0.9))
    .option('--resume', "continue the run in --out exactly where its last checkpoint left it (with the run's own settings)")
    .option('--init <run_dir>', "start from another run's weights (e.g. pre-training, then fine-tuning) with a fresh optimizer")
    .option('--backend <name>', 'wasm (default), cpu, or tensorflow (needs @tensorflow/tfjs-node)', parseBackend, 'wasm')
    .option('--valid-every <n>', 'validation loss every n steps (and at the end)', parseIntOption('valid-every', 1), D.validEvery)
    .option('--save-every <n>', 'checkpoint every n steps (and at the end, and on Ctrl-C)', parseIntOption('save-every', 1), D.saveEvery)
    .option('--workers <n>', 'worker threads sharing each batch, each with its own replica of the model; the update equals one worker\'s to float rounding (default: the cores this process may use, at most --batch; 1 with another backend than wasm)', parseIntOption('workers', 1))
    .option('--half', 'write checkpoints in 16 bits (weights F16, Adam moments BF16): for runs committed between sessions')
    .option('--no-progress', 'no progress bar')
    .action(async (opts: TrainCliOptions) => {
      if (opts.steps !== undefined && opts.epochs !== undefined) throw new UsageError('--steps/--epochs', 'expected one of them, got both');
      if (opts.steps === undefined && opts.epochs === undefined) throw new UsageError('--steps/--epochs', 'expected one of them (how long to train), got neither');
      if (opts.resume && opts.emotionInput) throw new UsageError('--emotion-input', 'a resumed run keeps its own; give it to a fresh or --init run');
      if (opts.resume && opts.emotionDropout !== undefined) throw new UsageError('--emotion-dropout', 'a resumed run keeps its own; give it to a fresh or --init run');
      if (opts.resume && opts.init) throw new UsageError('--resume/--init', 'expected at most one of them: --resume continues --out, --init starts a new run from other weights');
      await initBackend(opts.backend);
      const data = readDataset(opts.data);
      const stop = { stopped: false };
      const onSigint = () => {
        if (stop.stopped) {
          process.stderr.write('emopia: interrupted again; exiting without saving (the last checkpoint is kept)\n');
          process.exit(130);
        }
        stop.stopped = true;
        process.stderr.write('\nemopia: stopping after this step and saving (Ctrl-C again to quit at once)\n');
      };
      process.on('SIGINT', onSigint);
      let bar: Progress | undefined;
      try {
        const { data: dataDir, backend, progress, ...run } = opts;
        run.workers ??= defaultWorkers(backend, opts.batch ?? TRAIN_DEFAULTS.batch);
        const onProgress: RunOptions['onProgress'] = ({ done, total, train }) => {
          bar ??= startProgress('train', total, 'steps');
          if (train) bar.update(done, `step ${train.step} loss ${train.loss.toFixed(3)} ${(train.words / train.seconds).toFixed(0)} words/s`);
        };
        const r = await runTraining({ ...run, data, dataDir, stop, note: (line) => process.stderr.write(`${line}\n`), ...(progress ? { onProgress } : {}) });
        bar?.stop();
        bar = undefined;
        const parts = [`step ${r.step}/${r.totalSteps}`];
        if (r.lastTrain) parts.push(`train loss ${r.lastTrain.loss.toFixed(4)}`);
        if (r.lastValid) parts.push(`valid loss ${r.lastValid.loss.toFixed(4)}`);
        if (r.savedStep !== undefined) parts.push(`saved to ${opts.out}`);
        process.stdout.write(`${r.interrupted ? 'interrupted at ' : ''}${parts.join(', ')}${r.interrupted ? '; continue with --resume' : ''}\n`);
      } finally {
        bar?.stop();
        process.off('SIGINT', onSigint);
      }
    });
}
