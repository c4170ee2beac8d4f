/**
 * A fuzz campaign over MIDI files: `n` cases of (seed, index) through `encode` and `classify`, each in a worker
 * with a time and heap limit (pool.ts), and a report of what went wrong: crashes (an error other than InputError,
 * or a worker that died), cases slower than `slowMs`, timeouts and out-of-memory.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runPool, type Verdict } from './pool.ts';
import { describePlan, planCase, type CasePlan } from './midi_cases.ts';
import type { CaseResult } from './midi_handler.ts';

export interface CampaignOptions {
  n: number;
  seed: number;
  workers: number;
  /** A case over this is stopped and counted as a timeout. */
  timeLimitMs: number;
  /** A case whose encode or classify took longer than this (measured in its worker) is counted as slow. */
  slowMs: number;
  heapMb: number;
  /** Real MIDI clips to mutate besides the synthetic seeds. */
  clipFiles: string[];
  /** Notes of the biggest track a case may add (default 200k; a short run may want fewer). */
  bigTrack?: number;
  /** Called after each case with the count done and the failures so far. */
  onProgress?: (done: number, n: number, failures: readonly Failure[]) => void;
  /** Called for each failure as it happens. */
  onFailure?: (f: Failure) => void;
}

export interface Failure {
  kind: 'crash' | 'slow' | 'timeout' | 'oom';
  plan: CasePlan;
  what: string;
  ms: number;
  detail: string;
  stack?: string;
}

export interface CampaignReport {
  options: Omit<CampaignOptions, 'onProgress' | 'clipFiles'> & { clips: number };
  cases: number;
  seconds: number;
  crashes: number;
  slow: number;
  timeouts: number;
  oom: number;
  failures: Failure[];
  encode: { ok: number; rejected: number };
  classify: { ok: number; rejected: number };
  /** The most frequent rejection reasons (numbers blanked), with counts. */
  reasons: Array<[string, number]>;
  /** The slowest stage (encode or classify) of any case. */
  slowest: { ms: number; what: string };
  /** Percentiles over the cases that finished of their slower stage's time (ms). */
  msP50: number;
  msP99: number;
  /** The longest case: encode and classify together (ms). */
  caseMax: number;
}

/** The first `max` MIDI files of a folder of clips (sorted), or none when `dir` is undefined. */
export function clipFilesOf(dir: string | undefined, max: number): string[] {
  if (!dir) return [];
  return readdirSync(dir)
    .filter((f) => /\.midi?$/i.test(f))
    .sort()
    .slice(0, max)
    .map((f) => join(dir, f));
}

export async function runCampaign(opts: CampaignOptions): Promise<CampaignReport> {
  const plans = Array.from({ length: opts.n }, (_, i) => planCase(opts.seed, i, opts.clipFiles.length));
  const failures: Failure[] = [];
  const encode = { ok: 0, rejected: 0 };
  const classify = { ok: 0, rejected: 0 };
  const reasons = new Map<string, number>();
  const times: number[] = [];
  let slowest = { ms: 0, what: '' };
  let totalMax = 0;
  let done = 0;
  const t0 = Date.now();
  const fail = (kind: Failure['kind'], plan: CasePlan, ms: number, detail: string, stack?: string) => {
    const f: Failure = { kind, plan, what: describePlan(plan), ms, detail, ...(stack ? { stack } : {}) };
    failures.push(f);
    opts.onFailure?.(f);
  };
  await runPool(
    plans,
    { handler: new URL('./midi_handler.ts', import.meta.url), init: { clipFiles: opts.clipFiles, bigTrack: opts.bigTrack }, workers: opts.workers, timeLimitMs: opts.timeLimitMs, heapMb: opts.heapMb },
    (plan, _i, v: Verdict) => {
      done++;
      if (v.kind === 'timeout') fail('timeout', plan, v.ms, `stopped after ${v.ms} ms`);
      else if (v.kind === 'oom') fail('oom', plan, v.ms, `worker out of memory (heap limit ${opts.heapMb} MiB)`);
      else if (v.kind === 'died') fail('crash', plan, v.ms, `worker died: ${v.message}`);
      else if (v.kind === 'error') fail('crash', plan, v.ms, `${v.phase === 'prepare' ? 'building the case: ' : ''}${v.error.name}: ${v.error.message}`, v.error.stack);
      else {
        const r = v.result as CaseResult;
        const ms = Math.max(r.encode.ms, r.classify.ms);
        times.push(ms);
        totalMax = Math.max(totalMax, v.ms);
        if (ms > slowest.ms) slowest = { ms, what: describePlan(plan) };
        if (ms > opts.slowMs) {
          fail('slow', plan, ms, `encode ${r.encode.ms.toFixed(0)} ms (${r.encode.status}), classify ${r.classify.ms.toFixed(0)} ms (${r.classify.status}); ${r.bytes} bytes`);
        }
        for (const [name, s, tally] of [['encode', r.encode, encode], ['classify', r.classify, classify]] as const) {
          if (s.status === 'crash') fail('crash', plan, v.ms, `${name}: ${s.detail}`, s.stack);
          else {
            tally[s.status === 'ok' ? 'ok' : 'rejected']++;
            if (s.status === 'rejected') {
              const key = `${name}: ${s.detail.replace(/\d+/g, 'N').slice(0, 90)}`;
              reasons.set(key, (reasons.get(key) ?? 0) + 1);
            }
          }
        }
      }
      opts.onProgress?.(done, opts.n, failures);
    },
  );
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0;
  const count = (k: Failure['kind']) => failures.filter((f) => f.kind === k).length;
  const { onProgress: _p, onFailure: _f, clipFiles, ...rest } = opts;
  return {
    options: { ...rest, clips: clipFiles.length },
    cases: opts.n,
    seconds: (Date.now() - t0) / 1000,
    crashes: count('crash'),
    slow: count('slow'),
    timeouts: count('timeout'),
    oom: count('oom'),
    failures: failures.sort((a, b) => a.plan.index - b.plan.index),
    encode,
    classify,
    reasons: [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12),
    slowest,
    msP50: pct(0.5),
    msP99: pct(0.99),
    caseMax: totalMax,
  };
}

/** The report as text: one summary line, then the failures and the commonest rejections. */
export function formatReport(r: CampaignReport): string {
  const o = r.options;
  const lines = [
    `fuzz: ${r.cases} cases (seed ${o.seed}, ${o.clips} real clips, ${o.workers} worker${o.workers > 1 ? 's' : ''}, heap ${o.heapMb} MiB, limit ${o.timeLimitMs} ms) in ${r.seconds.toFixed(1)} s: ` +
      `${r.crashes} crashes, ${r.slow} over ${o.slowMs} ms, ${r.timeouts} timeouts, ${r.oom} out of memory`,
    `  encode: ${r.encode.ok} encoded, ${r.encode.rejected} rejected (InputError); classify: ${r.classify.ok} classified, ${r.classify.rejected} rejected`,
    `  time of the slower stage (encode or classify) per case: median ${r.msP50.toFixed(1)} ms, p99 ${r.msP99.toFixed(1)} ms, ` +
      `slowest ${r.slowest.ms.toFixed(0)} ms (${r.slowest.what}); longest case, both stages: ${r.caseMax.toFixed(0)} ms`,
  ];
  for (const f of r.failures.slice(0, 40)) lines.push(`  ${f.kind.toUpperCase()} ${f.what}: ${f.detail}`);
  if (r.failures.length > 40) lines.push(`  ... ${r.failures.length - 40} more`);
  if (r.reasons.length) lines.push('  commonest rejections:', ...r.reasons.map(([k, n]) => `    ${String(n).padStart(6)}  ${k}`));
  return `${lines.join('\n')}\n`;
}
