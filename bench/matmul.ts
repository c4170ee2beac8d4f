/**
 * `npm run bench -- matmul [--reps N]`: GFLOP/s of the matrix products of a `small` training step (their shapes
 * and transpose flags), for our wasm kernel inside tfjs's heap (`shared`, the default), our kernel in its own
 * memory with operands copied in and out (`copy`), tfjs-backend-wasm's own BatchMatMul, and PyTorch's
 * torch.matmul (OpenBLAS) on the same shapes when Debian's python3-torch is there. `fma` is our kernel's fused
 * multiply-add build (what training's products run on where relaxed SIMD validates; `-` where it is not set up).
 * Each figure is the best of N timed calls after a warm-up, interleaved between the variants so that the
 * machine's load hits them alike.
 */
import { execFileSync } from 'node:child_process';
import { initBackend, tf, withTrainingProducts } from '../src/backend.ts';
import { registerTrainingKernels, setTrainingKernels, trainingProductBuild } from '../src/kernels/register.ts';
import { machineLine, torchPython } from './_machine.ts';

/** [batch, M, K, N, transposeA, transposeB]: the products of a `small` step (d 256, ff 1024, 1024 words per pass, chunk 128, head 64). */
const SHAPES: [number, number, number, number, boolean, boolean][] = [
  [1, 1024, 256, 256, false, false], // q/k/v/out projections
  [1, 1024, 256, 1024, false, false], // feed-forward in
  [1, 1024, 1024, 256, false, false], // feed-forward out
  [1, 1024, 256, 256, false, true], // projection gradient wrt input (dy W^T)
  [1, 256, 1024, 256, true, false], // projection gradient wrt weight (x^T dy)
  [1, 1024, 1024, 256, false, true], // feed-forward gradient wrt input
  [1, 256, 1024, 1024, true, false], // feed-forward gradient wrt weight
  [1, 128, 64, 128, false, false], // attention chunk Q K^T (2-D per head and chunk)
  [1, 128, 128, 65, false, false], // attention chunk scores x [V | 1]
  [16, 128, 64, 128, false, true], // the same batched with a transpose flag
];

const PY = `
import json, sys, time, torch
torch.set_num_threads(1)
out = []
for b, m, k, n, ta, tb, reps in json.loads(sys.argv[1]):
    a = torch.randn(b, k, m) if ta else torch.randn(b, m, k)
    c = torch.randn(b, n, k) if tb else torch.randn(b, k, n)
    f = lambda: torch.matmul(a.transpose(1, 2) if ta else a, c.transpose(1, 2) if tb else c)
    f()
    best = 1e9
    for _ in range(reps):
        t = time.perf_counter(); f(); best = min(best, time.perf_counter() - t)
    out.append(2 * b * m * n * k / best / 1e9)
print(json.dumps({"gflops": out, "torch": torch.__version__}))
`;

function best(f: () => void, reps: number): number {
  f();
  let b = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    b = Math.min(b, performance.now() - t0);
  }
  return b;
}

export async function run(args: string[] = []): Promise<void> {
  const reps = args[0] === '--reps' ? Number(args[1]) : 5;
  const backend = await initBackend('wasm');
  const rows: string[] = [];
  const py = torchPython();
  let torch: { gflops: number[]; torch: string } | null = null;
  if (py) torch = JSON.parse(execFileSync(py, ['-c', PY, JSON.stringify(SHAPES.map((s) => [...s, reps]))], { encoding: 'utf8' }).trim());
  for (const [i, [B, M, K, N, ta, tb]] of SHAPES.entries()) {
    const a = tf.randomNormal(B === 1 ? (ta ? [K, M] : [M, K]) : ta ? [B, K, M] : [B, M, K]);
    const b = tf.randomNormal(B === 1 ? (tb ? [N, K] : [K, N]) : tb ? [B, N, K] : [B, K, N]);
    const once = (): void => tf.matMul(a, b, ta, tb).dispose();
    const ms = { shared: Infinity, fma: Infinity, copy: Infinity, tfjs: Infinity };
    for (let round = 0; round < 3; round++) {
      await registerTrainingKernels(tf, 'shared');
      ms.shared = Math.min(ms.shared, best(once, reps));
      if (trainingProductBuild(tf) === 'fma') ms.fma = Math.min(ms.fma, withTrainingProducts(() => best(once, reps)));
      await registerTrainingKernels(tf, 'copy');
      ms.copy = Math.min(ms.copy, best(once, reps));
      setTrainingKernels(false);
      ms.tfjs = Math.min(ms.tfjs, best(once, reps));
      setTrainingKernels(true);
    }
    await registerTrainingKernels(tf, 'shared');
    const gf = (t: number): string => (t === Infinity ? '-' : ((2 * B * M * N * K) / t / 1e6).toFixed(1)).padStart(6);
    const label = `${B > 1 ? `${B}x` : ''}[${M},${K}]x[${K},${N}]${ta ? ' tA' : ''}${tb ? ' tB' : ''}`;
    rows.push(`${label.padEnd(30)} ours ${gf(ms.shared)} | fma ${gf(ms.fma)} | ours+copy ${gf(ms.copy)} | tfjs ${gf(ms.tfjs)} | PyTorch ${torch ? (torch.gflops[i] ?? 0).toFixed(1).padStart(6) : '     -'} GFLOP/s`);
    tf.dispose([a, b]);
  }
  process.stdout.write(`${rows.join('\n')}\n  best of ${reps} calls x 3 interleaved rounds; PyTorch ${torch ? `${torch.torch}, 1 thread` : 'not available'}\n  machine: ${machineLine(backend)}\n`);
}
