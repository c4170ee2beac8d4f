/**
 * `npm run bench -- <name> [--repeat N] [--cores 1|2|both] [--verbose] [args]`: runs bench/<name>.ts, which
 * exports `run(args)`, at equal resources against PyTorch (bench/_harness.ts): 1 core against 1 core and 2
 * cores against 2 cores, each repeat in its own pinned child process, then min/median/max of each side and
 * of the ratio over the repeats, with the machine and the 1-minute load beside every figure.
 * The child's own lines (configuration, details) are shown for the first repeat of each setting, or for
 * every repeat with --verbose.
 */
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../src/errors.ts';
import { CORES_ENV, parseChildOutput, pinnedCommand, summarize, type Figure } from './_harness.ts';
import { machineLine, findTaskset } from './_machine.ts';

const dir = fileURLToPath(new URL('.', import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));
const [name, ...rest] = process.argv.slice(2);
if (!name || !names.includes(name)) {
  process.stderr.write(`emopia bench: expected one of ${names.join(', ') || '(none yet)'}, got '${name ?? ''}'\n`);
  process.exit(2);
}

async function child(args: string[]): Promise<void> {
  const mod = (await import(`./${name}.ts`)) as { run: (args: string[]) => Promise<void> };
  await mod.run(args);
}

interface HarnessArgs {
  repeat: number;
  cores: Array<1 | 2>;
  verbose: boolean;
  args: string[];
}

function parseHarness(argv: string[]): HarnessArgs {
  const out: HarnessArgs = { repeat: 1, cores: [1, 2], verbose: false, args: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--repeat') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new UsageError('--repeat', `expected an integer >= 1, got '${argv[i] ?? ''}'`);
      out.repeat = n;
    } else if (a === '--cores') {
      const v = argv[++i];
      if (v === '1') out.cores = [1];
      else if (v === '2') out.cores = [2];
      else if (v === 'both') out.cores = [1, 2];
      else throw new UsageError('--cores', `expected 1, 2 or both, got '${v ?? ''}'`);
    } else if (a === '--verbose') out.verbose = true;
    else out.args.push(a);
  }
  return out;
}

async function parent(argv: string[]): Promise<void> {
  const h = parseHarness(argv);
  const taskset = findTaskset();
  const ncpu = os.cpus().length;
  const bi = h.args.indexOf('--backend');
  const backend = bi >= 0 ? (h.args[bi + 1] ?? 'wasm') : 'wasm';
  process.stdout.write(
    `bench ${name}: ${h.repeat} repeat(s) per setting; 1v1 = both sides on core 1 (PyTorch 1 thread, OPENBLAS_NUM_THREADS=1), ` +
      `2v2 = both on cores 0,1 (PyTorch 2 threads, emopia-ts 2 training workers where it trains)` +
      `${taskset ? ', pinned with taskset' : '; taskset not found: NOT pinned'}\n`,
  );
  const summaries: string[] = [];
  for (const cores of h.cores) {
    const setting = `${cores}v${cores}`;
    if (cores > ncpu) {
      summaries.push(`${setting}: skipped (this machine has ${ncpu} core${ncpu > 1 ? 's' : ''})`);
      continue;
    }
    const runs: Figure[][] = [];
    for (let r = 0; r < h.repeat; r++) {
      const cmd = pinnedCommand(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), name as string, ...h.args], cores, taskset, process.env);
      const res = spawnSync(cmd.file, cmd.args, { env: cmd.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
      const { figures, lines } = parseChildOutput(res.stdout ?? '');
      if (r === 0 || h.verbose) {
        process.stdout.write(`[${setting} run ${r + 1}/${h.repeat}]\n${lines.map((l) => `  ${l}\n`).join('')}`);
      }
      if (res.status !== 0) {
        process.exitCode = res.status ?? 1;
        throw new Error(`the ${setting} child exited with ${res.status ?? res.signal}`);
      }
      for (const f of figures) {
        const ratio = f.torch ? ` ratio ${(f.ours / f.torch).toFixed(3)}` : '';
        process.stdout.write(`  ${setting} run ${r + 1}: ${f.key}: emopia-ts ${f.ours.toFixed(1)}${f.torch ? `, PyTorch ${f.torch.toFixed(1)}` : ''} ${f.unit}${ratio}, load ${f.load.toFixed(2)}\n`);
      }
      runs.push(figures);
    }
    summaries.push(`machine: ${machineLine(backend)}`, ...summarize(setting, runs));
  }
  process.stdout.write(`summary (min/median/max; ratio = emopia-ts / PyTorch, higher is better):\n${summaries.map((l) => `  ${l}\n`).join('')}`);
}

try {
  if (process.env[CORES_ENV]) await child(rest);
  else await parent(rest);
} catch (err) {
  // Bad arguments and unusable input are one line, like the CLI's; BENCH_DEBUG=1 shows the stack.
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`emopia bench ${name}: ${process.env.BENCH_DEBUG ? (e.stack ?? e.message) : e.message.split('\n')[0]}\n`);
  process.exitCode = e instanceof UsageError ? 2 : (typeof process.exitCode === 'number' && process.exitCode !== 0 ? process.exitCode : 1);
}
