/**
 * `npm run bench -- train [--steps N] [--backend wasm|cpu] [--preset small] [--batch 4] [--seq 512]`:
 * training words per second (forward + backward + clipping + Adam, one full `Trainer.trainStep`) of the
 * compound-word Transformer for both attention kinds, next to the same model and step in PyTorch
 * (bench/cp_train_torch.py with Debian's python3-torch), and the ratios.
 *
 * Data: random words within the full-grid vocabulary, one clip of seq + 1 words per batch row, so every
 * step processes exactly batch x seq words (no padding). One warm-up step, then N timed steps (mean).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, trainingKernelsActive, type BackendName } from '../src/backend.ts';
import { makeConfig, type AttentionKind, type CPConfig, type PresetName } from '../src/cp/config.ts';
import { CPTransformer } from '../src/cp/model.ts';
import { Trainer } from '../src/cp/train/trainer.ts';
import type { Clip } from '../src/music/dataset.ts';
import { FAMILIES, N_FAMILIES, Vocab, type Family } from '../src/music/vocab.ts';
import { Rng } from '../src/random.ts';
import { machineLine, torchPython } from './_machine.ts';
import { benchCores, reportFigure } from './_harness.ts';
import { trainingStepper } from './_train_stepper.ts';

interface Args {
  steps: number;
  backend: BackendName;
  preset: PresetName;
  batch: number;
  seq: number;
}

function parseArgs(args: string[]): Args {
  const out: Args = { steps: 3, backend: 'wasm', preset: 'small', batch: 4, seq: 512 };
  for (let i = 0; i < args.length; i += 2) {
    const [k, v] = [args[i], args[i + 1]];
    if (k === '--steps') out.steps = Number(v);
    else if (k === '--backend') out.backend = v as BackendName;
    else if (k === '--preset') out.preset = v as PresetName;
    else if (k === '--batch') out.batch = Number(v);
    else if (k === '--seq') out.seq = Number(v);
    else throw new Error(`bench train: unknown argument '${k}' (expected --steps, --backend, --preset, --batch, --seq)`);
  }
  return out;
}

/** Random clips whose words are valid indices of every family (not music: only the amount of work matters). */
/** A randomly initialised model of `preset` over the full-grid vocabulary, and a Trainer on random clips (the set-up of the kernel benches). */
export function randomTrainer(a: { preset: PresetName; attention: AttentionKind; batch: number; seq: number }): { model: CPTransformer; trainer: Trainer } {
  const vocab = Vocab.fullGrid();
  const nClasses = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<Family, number>;
  const cfg = makeConfig(a.preset, nClasses, { attention: a.attention });
  const model = new CPTransformer(cfg, new Rng(0));
  const clips = randomClips(cfg, a.batch, a.seq + 1, new Rng(1));
  const trainer = new Trainer(model, clips, [], { seq: a.seq, batch: a.batch, seed: 0, peakLr: 1e-4, warmup: 10, clip: 3 });
  return { model, trainer };
}

export function randomClips(cfg: CPConfig, n: number, len: number, rng: Rng): Clip[] {
  return Array.from({ length: n }, (_, c) => {
    const words = new Int32Array(len * N_FAMILIES);
    for (let i = 0; i < words.length; i++) words[i] = rng.nextInt(cfg.nClasses[FAMILIES[i % N_FAMILIES] as Family]);
    return { name: `random_${c}`, emotion: 1, words };
  });
}

async function benchTs(cfg: CPConfig, a: Args): Promise<{ wordsPerSec: number; secPerStep: number }> {
  const model = new CPTransformer(cfg, new Rng(0));
  const clips = randomClips(cfg, a.batch, a.seq + 1, new Rng(1));
  const trainer = new Trainer(model, clips, [], { seq: a.seq, batch: a.batch, seed: 0, peakLr: 1e-4, warmup: 10, clip: 3 });
  const stepper = await trainingStepper(trainer, benchCores()); // 2 workers in the 2v2 setting
  try {
    await stepper.step(); // warm-up: kernel set-up, JIT
    const t0 = performance.now();
    for (let i = 0; i < a.steps; i++) await stepper.step();
    const secPerStep = (performance.now() - t0) / 1000 / a.steps;
    return { wordsPerSec: (a.batch * a.seq) / secPerStep, secPerStep };
  } finally {
    await stepper.close();
    trainer.dispose();
    model.dispose();
  }
}

function benchTorch(py: string, cfg: CPConfig, a: Args): { words_per_s: number; seconds_per_step: number; threads: number; torch: string } {
  const dir = mkdtempSync(join(tmpdir(), 'emopia-bench-train-'));
  try {
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ config: cfg, batch: a.batch, seq: a.seq, steps: a.steps, warmup: 1, seed: 0 }));
    const script = fileURLToPath(new URL('./cp_train_torch.py', import.meta.url));
    return JSON.parse(execFileSync(py, [script, spec], { encoding: 'utf8' }).trim());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[] = []): Promise<void> {
  const a = parseArgs(args);
  const backend = await initBackend(a.backend);
  const vocab = Vocab.fullGrid();
  const nClasses = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<Family, number>;
  const py = torchPython();
  for (const attention of ['linear', 'softmax'] as AttentionKind[]) {
    const cfg = makeConfig(a.preset, nClasses, { attention });
    const ts = await benchTs(cfg, a);
    let line = `train ${attention.padEnd(7)}: emopia-ts ${ts.wordsPerSec.toFixed(0)} words/s (${ts.secPerStep.toFixed(2)} s/step)`;
    if (py) {
      const t = benchTorch(py, cfg, a);
      line += ` | PyTorch ${t.torch} (${t.threads} thread${t.threads > 1 ? 's' : ''}) ${t.words_per_s.toFixed(0)} words/s (${t.seconds_per_step.toFixed(2)} s/step) | ratio ts/torch ${(ts.wordsPerSec / t.words_per_s).toFixed(2)}`;
      reportFigure({ key: `train ${attention}`, unit: 'words/s', ours: ts.wordsPerSec, torch: t.words_per_s, oursHow: `${backend}, ${benchCores()} worker(s)`, torchHow: `torch ${t.torch}, ${t.threads} thread(s)` });
    } else {
      line += ' | PyTorch not available';
      reportFigure({ key: `train ${attention}`, unit: 'words/s', ours: ts.wordsPerSec, oursHow: `${backend}, ${benchCores()} worker(s)` });
    }
    process.stdout.write(`${line}\n`);
  }
  const cfg = makeConfig(a.preset, nClasses);
  process.stdout.write(
    `  config: preset ${a.preset} (d ${cfg.dModel}, ${cfg.nLayers} layers, ${cfg.nHeads} heads, ff ${cfg.dFF}, dropout ${cfg.dropout}, chunk ${cfg.chunkSize}), ` +
      `full-grid vocabulary, batch ${a.batch}, seq ${a.seq}, ${a.steps} timed steps after 1 warm-up; step = forward + backward + clip_grad_norm(3) + Adam; matmul kernels ${trainingKernelsActive() ? 'ours (wasm SIMD, EMOPIA_KERNELS=tfjs for tfjs\'s)' : "tfjs's"}\n` +
      `  machine: ${machineLine(backend)}\n`,
  );
}
