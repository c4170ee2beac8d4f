/**
 * The bench harness: every `npm run bench -- <name>` figure that has a PyTorch counterpart is measured at
 * equal resources, in child processes started by bench/run.ts:
 *   - 1v1: both sides pinned to one core (`taskset -c 1`), PyTorch with 1 thread and OPENBLAS_NUM_THREADS=1
 *     (Debian's pthread OpenBLAS starts a second thread even under torch.set_num_threads(1));
 *   - 2v2: both sides on cores 0 and 1, PyTorch with 2 threads, emopia-ts with 2 training workers where the
 *     bench trains.
 * Each repeat is one child process that measures emopia-ts and then PyTorch back to back, so every ratio
 * comes from one run; the parent prints min/median/max over the repeats of each side and of the ratio, with
 * the 1-minute load average of the runs beside every figure.
 *
 * A bench reports a pair with `reportFigure` (a line `@figure {json}` on stdout, which the parent collects)
 * and asks `benchCores()` how many threads/workers to use. Run directly (no parent), it uses one core.
 */
import os from 'node:os';

/** Environment variable that tells a child its core budget (1 or 2). */
export const CORES_ENV = 'EMOPIA_BENCH_CORES';
const FIGURE_PREFIX = '@figure ';

export interface Figure {
  /** What is measured, e.g. 'train linear'. */
  key: string;
  unit: string;
  /** emopia-ts and PyTorch, higher is better (words/s, tokens/s); torch absent when PyTorch is unavailable. */
  ours: number;
  torch?: number;
  /** How each side ran, e.g. 'wasm, 2 workers' and 'torch 2.x, 1 thread'. */
  oursHow: string;
  torchHow?: string;
  /** 1-minute load average when the figure was taken. */
  load: number;
}

export interface Stats {
  min: number;
  median: number;
  max: number;
}

/** min / median / max (the median of an even count is the mean of the middle two). */
export function stats(xs: readonly number[]): Stats {
  if (xs.length === 0) throw new RangeError('stats: expected at least one value, got none');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { min: s[0] as number, median, max: s[s.length - 1] as number };
}

/** The cores of each setting: 1v1 on core 1 (core 0 takes the system's interrupts), 2v2 on cores 0 and 1. */
export function coreList(cores: 1 | 2): string {
  return cores === 1 ? '1' : '0,1';
}

/**
 * The command line and environment of one child: `taskset -c <cores> <cmd> <args>` (unpinned when taskset is
 * missing), with the BLAS/OpenMP thread counts and the core budget set to `cores`.
 */
export function pinnedCommand(cmd: string, args: readonly string[], cores: 1 | 2, taskset: string | undefined, env: NodeJS.ProcessEnv): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
  const n = String(cores);
  const childEnv = { ...env, OPENBLAS_NUM_THREADS: n, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n, [CORES_ENV]: n };
  return taskset ? { file: taskset, args: ['-c', coreList(cores), cmd, ...args], env: childEnv } : { file: cmd, args: [...args], env: childEnv };
}

/** The core budget of this process: 1 or 2 (from the parent), 1 when run directly. */
export function benchCores(env: NodeJS.ProcessEnv = process.env): 1 | 2 {
  return env[CORES_ENV] === '2' ? 2 : 1;
}

export function reportFigure(f: Omit<Figure, 'load'>): void {
  const fig: Figure = { ...f, load: os.loadavg()[0] as number };
  process.stdout.write(`${FIGURE_PREFIX}${JSON.stringify(fig)}\n`);
}

/** Splits a child's stdout into its figures and its other lines. */
export function parseChildOutput(stdout: string): { figures: Figure[]; lines: string[] } {
  const figures: Figure[] = [];
  const lines: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith(FIGURE_PREFIX)) figures.push(JSON.parse(line.slice(FIGURE_PREFIX.length)) as Figure);
    else if (line.trim()) lines.push(line);
  }
  return { figures, lines };
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fmtStats = (s: Stats) => `${fmt(s.min)}/${fmt(s.median)}/${fmt(s.max)}`;

/** The summary lines of one setting ('1v1' or '2v2') over the repeats' figures, grouped by key in order of first appearance. */
export function summarize(setting: string, runs: ReadonlyArray<readonly Figure[]>): string[] {
  const keys = [...new Set(runs.flatMap((r) => r.map((f) => f.key)))];
  return keys.map((key) => {
    const figs = runs.map((r) => r.find((f) => f.key === key)).filter((f): f is Figure => f !== undefined);
    const f0 = figs[0] as Figure;
    const ours = stats(figs.map((f) => f.ours));
    const load = stats(figs.map((f) => f.load));
    let line = `${setting} ${key}: emopia-ts (${f0.oursHow}) ${fmtStats(ours)} ${f0.unit}`;
    const paired = figs.filter((f) => f.torch !== undefined);
    if (paired.length) {
      const torch = stats(paired.map((f) => f.torch as number));
      const ratio = stats(paired.map((f) => f.ours / (f.torch as number)));
      line += ` | PyTorch (${f0.torchHow}) ${fmtStats(torch)} ${f0.unit} | ratio ${fmtStats(ratio)}`;
    } else line += ' | PyTorch not available';
    return `${line} | min/median/max of ${figs.length} | load 1-min ${fmtStats(load)}`;
  });
}
