/**
 * The fuzz campaign over MIDI files (scripts/fuzz/): mutated synthetic files, and real clips when EMOPIA_DIR is
 * set, through `encode` and `classify`, each case in a worker with a time and heap limit.
 *
 *   npm run fuzz -- --n 10000 [--seed 1] [--workers 1] [--slow-ms 2000] [--time-limit-ms 10000] [--heap-mb 512]
 *                  [--clips 20] [--save DIR] [--case I] [--json]
 *
 * `--case I` rebuilds case I of the seed and prints its plan and result; `--save DIR` writes the file of every
 * failing case there. Exit 0 when there is no crash, slow case, timeout or out-of-memory; 1 otherwise.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { clipFilesOf, formatReport, runCampaign } from './fuzz/campaign.ts';
import { buildCase, describePlan, planCase } from './fuzz/midi_cases.ts';
import { init, run } from './fuzz/midi_handler.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    workers: { type: 'string', default: '1' },
    'slow-ms': { type: 'string', default: '2000' },
    'time-limit-ms': { type: 'string', default: '10000' },
    'heap-mb': { type: 'string', default: '512' },
    clips: { type: 'string', default: '20' },
    save: { type: 'string' },
    case: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const int = (name: keyof typeof values): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`fuzz: --${name}: expected an integer >= 0, got '${String(values[name])}'\n`);
    process.exit(2);
  }
  return n;
};

const emopiaDir = process.env.EMOPIA_DIR;
const clipFiles = clipFilesOf(emopiaDir, int('clips'));
if (!emopiaDir) process.stderr.write('fuzz: EMOPIA_DIR is not set: synthetic seeds only\n');

const clipBytes = () => clipFiles.map((f) => new Uint8Array(readFileSync(f)));

if (values.case !== undefined) {
  // One case, in this process, without limits: for a debugger or a profile.
  const plan = planCase(int('seed'), int('case'), clipFiles.length);
  init({ clipFiles });
  const c = buildCase(plan, clipBytes());
  const t0 = performance.now();
  const r = run(c);
  process.stdout.write(`${describePlan(plan)}: ${c.bytes.length} bytes, ${(performance.now() - t0).toFixed(0)} ms\n${JSON.stringify(r, null, 1)}\n`);
  if (values.save) {
    mkdirSync(values.save, { recursive: true });
    writeFileSync(join(values.save, c.name), c.bytes);
  }
  process.exit(0);
}

const t0 = Date.now();
const report = await runCampaign({
  n: int('n'),
  seed: int('seed'),
  workers: Math.max(1, int('workers')),
  slowMs: int('slow-ms'),
  timeLimitMs: int('time-limit-ms'),
  heapMb: int('heap-mb'),
  clipFiles,
  onProgress: (done, n, failures) => {
    if (done % 250 === 0 || done === n) {
      const count = (k: string) => failures.filter((f) => f.kind === k).length;
      process.stderr.write(`fuzz: ${done}/${n} cases, ${((Date.now() - t0) / 1000).toFixed(0)} s: ${count('crash')} crashes, ${count('slow')} slow, ${count('timeout')} timeouts, ${count('oom')} out of memory\n`);
    }
  },
  onFailure: (f) => process.stderr.write(`fuzz: ${f.kind.toUpperCase()} ${f.what}: ${f.detail}\n`),
});
process.stdout.write(values.json ? `${JSON.stringify(report, null, 1)}\n` : formatReport(report));
if (values.save) {
  mkdirSync(values.save, { recursive: true });
  for (const f of report.failures) {
    const c = buildCase(f.plan, clipBytes());
    writeFileSync(join(values.save, `${f.kind}_${c.name}`), c.bytes);
  }
}
process.exit(report.crashes + report.slow + report.timeouts + report.oom === 0 ? 0 : 1);
