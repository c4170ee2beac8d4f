/**
 * `npm run bench -- train_profile [--preset small] [--batch 4] [--seq 512] [--attention linear|softmax]`: where the
 * time of one training step goes, kernel by kernel (tf.profile over one `Trainer.trainStep` after a warm-up):
 * milliseconds and share of the step per kernel name, the rest (host work between kernels) as "outside
 * kernels", and for BatchMatMul its GFLOP/s by shape. EMOPIA_KERNELS=tfjs profiles tfjs's own kernels.
 */
import { initBackend, tf, trainingKernelsActive } from '../src/backend.ts';
import type { AttentionKind, PresetName } from '../src/cp/config.ts';
import { Trainer } from '../src/cp/train/trainer.ts';
import { machineLine } from './_machine.ts';
import { randomTrainer } from './train.ts';

interface Args {
  preset: PresetName;
  batch: number;
  seq: number;
  attention: AttentionKind;
}

function parseArgs(args: string[]): Args {
  const out: Args = { preset: 'small', batch: 4, seq: 512, attention: 'linear' };
  for (let i = 0; i < args.length; i += 2) {
    const [k, v] = [args[i], args[i + 1]];
    if (k === '--preset') out.preset = v as PresetName;
    else if (k === '--batch') out.batch = Number(v);
    else if (k === '--seq') out.seq = Number(v);
    else if (k === '--attention') out.attention = v as AttentionKind;
    else throw new Error(`bench train_profile: unknown argument '${k}' (expected --preset, --batch, --seq, --attention)`);
  }
  return out;
}

/** Multiply-adds x 2 of a BatchMatMul from its shapes: output [..., M, N], a holding M x K per batch element. */
function matmulFlops(inputShapes: number[][], outputShape: number[]): number {
  const a = inputShapes[0] ?? [];
  const M = outputShape[outputShape.length - 2] ?? 0;
  const N = outputShape[outputShape.length - 1] ?? 0;
  const batch = outputShape.slice(0, -2).reduce((p, x) => p * x, 1);
  const K = M === 0 ? 0 : ((a[a.length - 1] ?? 0) * (a[a.length - 2] ?? 0)) / M;
  return 2 * batch * M * N * K;
}

export async function run(args: string[] = []): Promise<void> {
  const a = parseArgs(args);
  const backend = await initBackend('wasm');
  const { model, trainer } = randomTrainer(a);
  try {
    trainer.trainStep(); // warm-up
    const t0 = performance.now();
    const info = await tf.profile(() => {
      trainer.trainStep();
    });
    const wall = performance.now() - t0;
    const byName = new Map<string, { ms: number; n: number }>();
    const mm = new Map<string, { ms: number; n: number; flops: number }>();
    let inKernels = 0;
    const scopes = new Map<string, { ms: number; n: number }>(); // custom gradients and named ops: they hold kernels
    for (const k of info.kernels) {
      const ms = Number(await k.kernelTimeMs);
      if (!tf.getKernel(k.name, 'wasm')) {
        const e = scopes.get(k.name) ?? { ms: 0, n: 0 };
        scopes.set(k.name, { ms: e.ms + ms, n: e.n + 1 });
        continue;
      }
      inKernels += ms;
      const e = byName.get(k.name) ?? { ms: 0, n: 0 };
      byName.set(k.name, { ms: e.ms + ms, n: e.n + 1 });
      if (k.name === 'BatchMatMul') {
        const key = `${k.inputShapes.map((s) => `[${s}]`).join('x')}`;
        const f = mm.get(key) ?? { ms: 0, n: 0, flops: 0 };
        mm.set(key, { ms: f.ms + ms, n: f.n + 1, flops: f.flops + matmulFlops(k.inputShapes, k.outputShapes[0] ?? []) });
      }
    }
    const out: string[] = [];
    out.push(`train_profile ${a.attention}: one step ${wall.toFixed(0)} ms (profiled), kernels ${inKernels.toFixed(0)} ms, outside kernels ${(wall - inKernels).toFixed(0)} ms (${((100 * (wall - inKernels)) / wall).toFixed(0)}%)`);
    for (const [name, e] of [...byName].sort((x, y) => y[1].ms - x[1].ms).slice(0, 25)) {
      out.push(`  ${name.padEnd(20)} ${e.ms.toFixed(1).padStart(8)} ms ${((100 * e.ms) / wall).toFixed(1).padStart(5)}%  (${e.n} calls)`);
    }
    for (const [name, e] of scopes) out.push(`  (scope ${name}: ${e.ms.toFixed(1)} ms over ${e.n} calls, its kernels counted above)`);
    out.push('  BatchMatMul by input shapes (flags not shown):');
    for (const [key, e] of [...mm].sort((x, y) => y[1].ms - x[1].ms).slice(0, 40)) {
      out.push(`    ${key.padEnd(34)} ${e.ms.toFixed(1).padStart(7)} ms ${String(e.n).padStart(4)} calls ${(e.flops / e.ms / 1e6).toFixed(1).padStart(6)} GFLOP/s`);
    }
    out.push(`  config: preset ${a.preset}, batch ${a.batch}, seq ${a.seq}; matmul kernels ${trainingKernelsActive() ? 'ours (wasm SIMD)' : "tfjs's"}`);
    out.push(`  machine: ${machineLine(backend)}`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    trainer.dispose();
    model.dispose();
  }
}
