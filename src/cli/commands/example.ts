/**
 * `emopia example copy`: trains the copy task of PyTorch's nn.Transformer tutorial (src/examples/copy_task.ts)
 * from scratch on the CPU, printing progress, then reports the exact-sequence accuracy of greedy decoding on
 * fresh random sequences.
 */
import type { Command } from 'commander';
import { initBackend, type BackendName } from '../../backend.ts';
import { COPY_DEFAULTS, evaluateCopy, evaluationRng, trainCopyTask, type CopyTaskConfig } from '../../examples/copy_task.ts';
import { parseBackend, parseFloatOption, parseIntOption } from '../options.ts';
import { startProgress } from '../progress.ts';

interface CopyOptions {
  steps: number;
  seed: number;
  batch: number;
  lr: number;
  maxLen: number;
  eval: number;
  backend: BackendName;
  json?: boolean;
}

export function register(program: Command): void {
  const example = program.command('example').description('small end-to-end examples of the Transformer');
  example
    .command('copy')
    .description('train the nn.Transformer tutorial\'s copy task (random digits -> the same digits), then decode greedily')
    .option('--steps <n>', 'training steps', parseIntOption('steps', 1), COPY_DEFAULTS.steps)
    .option('--seed <n>', 'random seed (model, data, evaluation)', parseIntOption('seed', 0), COPY_DEFAULTS.seed)
    .option('--batch <n>', 'sequences per step', parseIntOption('batch', 1), COPY_DEFAULTS.batch)
    .option('--lr <x>', 'Adam learning rate after warm-up', parseFloatOption('lr', 0), COPY_DEFAULTS.lr)
    .option('--max-len <n>', 'longest digit sequence', parseIntOption('max-len', 1, 64), COPY_DEFAULTS.maxLen)
    .option('--eval <n>', 'fresh sequences to evaluate on', parseIntOption('eval', 1), COPY_DEFAULTS.evalSequences)
    .option('--backend <name>', 'tensor backend: wasm|cpu', parseBackend, 'wasm' as BackendName)
    .option('--json', 'print the result as one JSON object')
    .action(async (o: CopyOptions) => {
      await initBackend(o.backend);
      const cfg: CopyTaskConfig = { ...COPY_DEFAULTS, steps: o.steps, seed: o.seed, batch: o.batch, lr: o.lr, maxLen: o.maxLen, evalSequences: o.eval };
      const t0 = Date.now();
      const progress = startProgress('copy: training', cfg.steps, 'steps');
      let avg = NaN;
      const { model, losses } = trainCopyTask(cfg, (step, loss) => {
        avg = Number.isNaN(avg) ? loss : 0.95 * avg + 0.05 * loss; // smoothed for display
        progress.update(step, `loss ${avg.toFixed(4)}`);
      });
      progress.stop();
      const trainSeconds = (Date.now() - t0) / 1000;
      try {
        const t1 = Date.now();
        const ev = evaluateCopy(model, evaluationRng(cfg.seed), cfg.evalSequences);
        const evalSeconds = (Date.now() - t1) / 1000;
        const result = {
          accuracy: ev.accuracy,
          correct: ev.correct,
          total: ev.total,
          final_loss: losses.at(-1) ?? NaN,
          train_seconds: trainSeconds,
          eval_seconds: evalSeconds,
          steps: cfg.steps,
          batch: cfg.batch,
          seed: cfg.seed,
          backend: o.backend,
          parameters: model.numParameters(),
        };
        if (o.json) {
          process.stdout.write(`${JSON.stringify(result)}\n`);
        } else {
          process.stdout.write(
            `exact-sequence accuracy: ${(100 * ev.accuracy).toFixed(1)}% (${ev.correct}/${ev.total} fresh sequences of ${cfg.minLen}-${cfg.maxLen} digits, greedy decoding)\n` +
              `trained ${cfg.steps} steps x ${cfg.batch} sequences in ${trainSeconds.toFixed(1)} s (${model.numParameters()} parameters, backend ${o.backend}, seed ${cfg.seed}); final loss ${result.final_loss.toFixed(4)}\n`,
          );
        }
      } finally {
        model.dispose();
      }
    });
}
