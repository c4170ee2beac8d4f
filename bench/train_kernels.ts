/**
 * `npm run bench -- train_kernels [--rounds N] [--preset small] [--batch 4] [--seq 512] [--attention linear|softmax] [--fma]`:
 * our matmul kernels against tfjs-backend-wasm's own on the same training step, alternating one step each in one
 * process (so that a shared machine's load hits both alike), with wall time and the process's CPU time per step
 * (min/median/max over the rounds). CPU time counts only the cycles this process got, which is the steadier
 * measure on a loaded machine; wall time is what a user waits. `--fma`: our product's fused multiply-add build
 * against its plain build instead (both ours; needs relaxed SIMD, so not with EMOPIA_FMA=0).
 */
import { initBackend, tf } from '../src/backend.ts';
import { setFusedProducts, setTrainingKernels, trainingProductBuild } from '../src/kernels/register.ts';
import type { AttentionKind, PresetName } from '../src/cp/config.ts';
import { machineLine } from './_machine.ts';
import { randomTrainer } from './train.ts';

interface Args {
  rounds: number;
  preset: PresetName;
  batch: number;
  seq: number;
  attention: AttentionKind;
  fma: boolean;
}

function parseArgs(args: string[]): Args {
  const out: Args = { rounds: 3, preset: 'small', batch: 4, seq: 512, attention: 'linear', fma: false };
  for (let i = 0; i < args.length; i += 2) {
    const [k, v] = [args[i], args[i + 1]];
    if (k === '--fma') {
      out.fma = true;
      i--;
    } else if (k === '--rounds') out.rounds = Number(v);
    else if (k === '--preset') out.preset = v as PresetName;
    else if (k === '--batch') out.batch = Number(v);
    else if (k === '--seq') out.seq = Number(v);
    else if (k === '--attention') out.attention = v as AttentionKind;
    else throw new Error(`bench train_kernels: unknown argument '${k}' (expected --rounds, --preset, --batch, --seq, --attention, --fma)`);
  }
  return out;
}

const spread = (xs: number[]): string => {
  const s = [...xs].sort((x, y) => x - y);
  return `${(s[0] ?? 0).toFixed(2)}/${(s[Math.floor(s.length / 2)] ?? 0).toFixed(2)}/${(s[s.length - 1] ?? 0).toFixed(2)}`;
};

export async function run(args: string[] = []): Promise<void> {
  const a = parseArgs(args);
  const backend = await initBackend('wasm');
  if (a.fma && trainingProductBuild(tf) !== 'fma') throw new Error('bench train_kernels --fma: the fused build is not set up here (EMOPIA_FMA=0, or relaxed SIMD does not validate)');
  const { model, trainer } = randomTrainer(a);
  const times = { ours: { wall: [] as number[], cpu: [] as number[] }, tfjs: { wall: [] as number[], cpu: [] as number[] } };
  // --fma: `ours` is the fused build, `tfjs` the plain one (both ours).
  const use = (mode: 'ours' | 'tfjs'): void => {
    if (a.fma) setFusedProducts(mode === 'ours');
    else setTrainingKernels(mode === 'ours');
  };
  try {
    for (const mode of ['ours', 'tfjs'] as const) {
      use(mode);
      trainer.trainStep(); // warm-up of each path
    }
    for (let r = 0; r < a.rounds; r++) {
      for (const mode of (r % 2 === 0 ? ['ours', 'tfjs'] : ['tfjs', 'ours']) as ('ours' | 'tfjs')[]) {
        use(mode);
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        trainer.trainStep();
        const wall = (performance.now() - t0) / 1000;
        const c = process.cpuUsage(c0);
        times[mode].wall.push(wall);
        times[mode].cpu.push((c.user + c.system) / 1e6);
      }
    }
  } finally {
    setTrainingKernels(true);
    setFusedProducts(true);
    trainer.dispose();
    model.dispose();
  }
  const words = a.batch * a.seq;
  const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN;
  const lines = (['ours', 'tfjs'] as const).map(
    (m) => `  ${a.fma ? (m === 'ours' ? 'ours, fused    ' : 'ours, plain    ') : m === 'ours' ? 'ours (wasm SIMD)' : "tfjs's         "}: s/step wall ${spread(times[m].wall)}, cpu ${spread(times[m].cpu)} (min/median/max); ${(words / med(times[m].cpu)).toFixed(0)} words per CPU-second (median)`,
  );
  process.stdout.write(
    `train_kernels ${a.attention}${a.fma ? ' --fma (fused multiply-add build vs plain build)' : ''}: ${a.rounds} alternating rounds after one warm-up step each\n${lines.join('\n')}\n` +
      `  speed-up of ${a.fma ? 'the fused build' : 'ours'} (median): wall ${(med(times.tfjs.wall) / med(times.ours.wall)).toFixed(2)}x, cpu ${(med(times.tfjs.cpu) / med(times.ours.cpu)).toFixed(2)}x\n` +
      `  config: preset ${a.preset}, batch ${a.batch}, seq ${a.seq}\n  machine: ${machineLine(backend)}\n`,
  );
}
