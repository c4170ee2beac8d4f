/**
 * The fuzz harness (scripts/fuzz/): its limits catch a case that loops, exhausts its heap or throws; and a short
 * seeded campaign of mutated MIDI files through encode and classify has no crash, timeout or out-of-memory.
 * The long campaign is `npm run fuzz -- --n 10000` (README).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPool, type Verdict } from '../../scripts/fuzz/pool.ts';
import { clipFilesOf, formatReport, runCampaign } from '../../scripts/fuzz/campaign.ts';
import { buildCase, planCase } from '../../scripts/fuzz/midi_cases.ts';

test('the pool: a loop is a timeout, a growing heap is out of memory, a throw is an error, and the next job still runs', async () => {
  const verdicts: Verdict[] = [];
  const jobs = ['a', 'loop', 'b', 'oom', 'c', 'throw', 'd'];
  await runPool(jobs, { handler: new URL('./bad_handler.ts', import.meta.url), workers: 1, timeLimitMs: 3000, heapMb: 48 }, (_job, i, v) => (verdicts[i] = v));
  assert.deepEqual(verdicts.map((v) => v.kind), ['done', 'timeout', 'done', 'oom', 'done', 'error', 'done']);
  assert.deepEqual(verdicts.filter((v) => v.kind === 'done').map((v) => (v as { result: unknown }).result), ['done a', 'done b', 'done c', 'done d']);
  const err = verdicts[5] as Extract<Verdict, { kind: 'error' }>;
  assert.equal(err.error.name, 'TypeError');
  assert.equal(err.error.message, 'a bug');
});

test('cases are a function of (seed, index): the same plan and bytes twice, different ones for another index', () => {
  const a = buildCase(planCase(3, 17, 0), [], 2000);
  const b = buildCase(planCase(3, 17, 0), [], 2000);
  assert.deepEqual(a.plan, b.plan);
  assert.deepEqual(a.bytes, b.bytes);
  const others = new Set([18, 19, 20, 21].map((i) => Buffer.from(buildCase(planCase(3, i, 0), [], 2000).bytes).toString('hex')));
  assert.equal(others.size, 4);
  assert.ok(!others.has(Buffer.from(a.bytes).toString('hex')));
});

test('a short seeded campaign: no crash, no timeout, no out-of-memory', async (t) => {
  const dir = process.env.EMOPIA_DIR;
  if (!dir) t.diagnostic('EMOPIA_DIR is not set: synthetic seeds only (real clips are mutated when it is set)');
  const report = await runCampaign({ n: 48, seed: 14, workers: 1, timeLimitMs: 10_000, slowMs: 10_000, heapMb: 512, clipFiles: clipFilesOf(dir, 4), bigTrack: 20_000 });
  const text = formatReport(report);
  assert.equal(report.cases, 48);
  assert.equal(report.crashes + report.timeouts + report.oom, 0, text);
  // Both outcomes happen: files that encode and files refused with an InputError.
  assert.ok(report.encode.ok > 0 && report.encode.rejected > 0, text);
  assert.equal(report.encode.ok + report.encode.rejected, 48, text);
  assert.equal(report.classify.ok + report.classify.rejected, 48, text);
});
