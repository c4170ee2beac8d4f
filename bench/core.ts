/**
 * `npm run bench -- core [--backend wasm|cpu] [--steps N] [--batch B] [--seq T] [--no-torch]`: forward +
 * backward tokens per second of a Transformer encoder stack (src/core/transformer.ts), and the same work in
 * PyTorch on this machine (bench/core_torch.py, with the harness's thread count: 1 in 1v1, 2 in 2v2) when /usr/bin/python3 can
 * import torch, with the ratio.
 *
 * One step = encoder forward on random input [B,T,d], loss = mean(out * w) for a fixed random w, and the
 * gradients of every parameter (no optimizer update). Steps are timed after one warm-up step.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tf, initBackend, type BackendName } from '../src/backend.ts';
import { Rng, normalArray } from '../src/random.ts';
import { TransformerEncoder, type LayerConfig } from '../src/core/transformer.ts';
import { UsageError } from '../src/errors.ts';
import { parseBackend, parseIntOption } from '../src/cli/options.ts';
import { machineLine, torchPython } from './_machine.ts';
import { benchCores, reportFigure } from './_harness.ts';

interface BenchConfig {
  dModel: number;
  nhead: number;
  numLayers: number;
  dimFeedforward: number;
  batch: number;
  seq: number;
  activation: 'relu' | 'gelu';
  normFirst: boolean;
  steps: number;
  warmup: number;
}

const DEFAULTS: BenchConfig = { dModel: 256, nhead: 4, numLayers: 4, dimFeedforward: 1024, batch: 4, seq: 256, activation: 'relu', normFirst: false, steps: 3, warmup: 1 };

function parseArgs(args: string[]): { cfg: BenchConfig; backend: BackendName; torch: boolean } {
  const cfg = { ...DEFAULTS };
  let backend: BackendName = 'wasm';
  let torch = true;
  const int = (flag: string, v: string | undefined): number => parseIntOption(flag.slice(2), 1)(v ?? '');
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--backend') backend = parseBackend(args[++i] ?? '');
    else if (a === '--steps') cfg.steps = int(a, args[++i]);
    else if (a === '--batch') cfg.batch = int(a, args[++i]);
    else if (a === '--seq') cfg.seq = int(a, args[++i]);
    else if (a === '--no-torch') torch = false;
    else throw new UsageError(`argument '${a}'`, 'expected --backend, --steps, --batch, --seq or --no-torch');
  }
  return { cfg, backend, torch };
}

function describe(c: BenchConfig): string {
  return `encoder d_model ${c.dModel}, ${c.numLayers} layers, ${c.nhead} heads, ff ${c.dimFeedforward}, ${c.activation}, ${c.normFirst ? 'norm-first' : 'post-norm'}, batch ${c.batch} x seq ${c.seq}, no mask, fp32; forward+backward (all parameter gradients), ${c.steps} timed steps after ${c.warmup} warm-up`;
}

/** Mean seconds per forward+backward step of our encoder. */
function timeOurs(c: BenchConfig): number {
  const rng = new Rng(0);
  const layer: LayerConfig = { dModel: c.dModel, nhead: c.nhead, dimFeedforward: c.dimFeedforward, dropout: 0, activation: c.activation, normFirst: c.normFirst, layerNormEps: 1e-5 };
  const encoder = new TransformerEncoder(layer, c.numLayers, rng);
  const x = tf.tensor3d(normalArray(rng, c.batch * c.seq * c.dModel), [c.batch, c.seq, c.dModel]); // (B, T, d)
  const w = tf.tensor3d(normalArray(rng, c.batch * c.seq * c.dModel), [c.batch, c.seq, c.dModel]); // (B, T, d)
  const vars = encoder.parameters();
  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.mul(encoder.forward(x), w)) as tf.Scalar, vars);
    value.dataSync(); // wait for the work
    for (const g of Object.values(grads)) g.dataSync();
    value.dispose();
    tf.dispose(grads);
  };
  try {
    for (let i = 0; i < c.warmup; i++) step();
    const t0 = performance.now();
    for (let i = 0; i < c.steps; i++) step();
    return (performance.now() - t0) / 1000 / c.steps;
  } finally {
    x.dispose();
    w.dispose();
    encoder.dispose();
  }
}

function timeTorch(c: BenchConfig): { seconds: number; threads: number; version: string } | string {
  const py = torchPython();
  if (!py) return 'PyTorch not available (no python3 that can import torch)';
  const script = fileURLToPath(new URL('./core_torch.py', import.meta.url));
  const arg = JSON.stringify({ d_model: c.dModel, nhead: c.nhead, num_layers: c.numLayers, dim_feedforward: c.dimFeedforward, batch: c.batch, seq: c.seq, activation: c.activation, norm_first: c.normFirst, steps: c.steps, warmup: c.warmup, threads: benchCores() });
  try {
    const out = execFileSync(py, [script, arg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const r = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { ms_per_step_mean: number; threads: number; torch: string };
    return { seconds: r.ms_per_step_mean / 1000, threads: r.threads, version: r.torch };
  } catch (err) {
    return `PyTorch run failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

export async function run(args: string[]): Promise<void> {
  const { cfg, backend, torch } = parseArgs(args);
  await initBackend(backend);
  const tokens = cfg.batch * cfg.seq;
  console.log(`config: ${describe(cfg)}`);
  console.log(`machine: ${machineLine(backend)}`);
  const ours = timeOurs(cfg);
  console.log(`emopia-ts (${backend}): ${(tokens / ours).toFixed(0)} tokens/s (${(ours * 1000).toFixed(0)} ms/step)`);
  const t = torch ? timeTorch(cfg) : 'skipped (--no-torch)';
  if (typeof t === 'string') {
    reportFigure({ key: 'core encoder', unit: 'tokens/s', ours: tokens / ours, oursHow: backend });
    console.log(`pytorch: ${t}`);
    return;
  }
  reportFigure({ key: 'core encoder', unit: 'tokens/s', ours: tokens / ours, torch: tokens / t.seconds, oursHow: backend, torchHow: `torch ${t.version}, ${t.threads} thread(s)` });
  console.log(`pytorch ${t.version} (CPU, ${t.threads} thread): ${(tokens / t.seconds).toFixed(0)} tokens/s (${(t.seconds * 1000).toFixed(0)} ms/step)`);
  const slower = ours >= t.seconds;
  const factor = slower ? ours / t.seconds : t.seconds / ours;
  console.log(`ratio: emopia-ts is ${(t.seconds / ours).toFixed(3)}x PyTorch's speed (${factor.toFixed(1)}x ${slower ? 'slower' : 'faster'})`);
}
