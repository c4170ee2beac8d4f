/** The pure pieces of the bench harness (bench/_harness.ts): statistics, pinned commands, figure lines and summaries. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CORES_ENV, benchCores, coreList, parseChildOutput, pinnedCommand, stats, summarize, type Figure } from '../../bench/_harness.ts';

test('stats: min, median (middle value, or mean of the middle two) and max, whatever the order', () => {
  assert.deepEqual(stats([3]), { min: 3, median: 3, max: 3 });
  assert.deepEqual(stats([5, 1, 3]), { min: 1, median: 3, max: 5 });
  assert.deepEqual(stats([4, 1, 10, 2]), { min: 1, median: 3, max: 10 });
  assert.throws(() => stats([]), RangeError);
});

test('pinnedCommand: taskset on core 1 for 1v1 and cores 0,1 for 2v2, with every BLAS/OpenMP thread count set', () => {
  const one = pinnedCommand('/usr/bin/node', ['--import', 'tsx', 'bench/run.ts', 'train'], 1, '/usr/bin/taskset', { PATH: '/bin', OPENBLAS_NUM_THREADS: '8' });
  assert.equal(one.file, '/usr/bin/taskset');
  assert.deepEqual(one.args, ['-c', '1', '/usr/bin/node', '--import', 'tsx', 'bench/run.ts', 'train']);
  assert.equal(one.env.OPENBLAS_NUM_THREADS, '1', 'overrides an inherited value');
  assert.equal(one.env.OMP_NUM_THREADS, '1');
  assert.equal(one.env.MKL_NUM_THREADS, '1');
  assert.equal(one.env[CORES_ENV], '1');
  assert.equal(one.env.PATH, '/bin');
  const two = pinnedCommand('py', ['x.py'], 2, '/usr/bin/taskset', {});
  assert.deepEqual(two.args, ['-c', '0,1', 'py', 'x.py']);
  assert.equal(two.env.OPENBLAS_NUM_THREADS, '2');
  assert.equal(benchCores(two.env), 2);
  assert.equal(coreList(1), '1');
  // Without taskset the command runs as is (the bench says it is not pinned); the thread counts still apply.
  const bare = pinnedCommand('py', ['x.py'], 1, undefined, {});
  assert.deepEqual([bare.file, bare.args], ['py', ['x.py']]);
  assert.equal(bare.env.OPENBLAS_NUM_THREADS, '1');
  assert.equal(benchCores({}), 1, 'a bench run directly uses one core');
});

const fig = (ours: number, torch: number | undefined, load: number): Figure => ({ key: 'train linear', unit: 'words/s', ours, ...(torch === undefined ? {} : { torch }), oursHow: 'wasm, 1 worker(s)', torchHow: 'torch 2, 1 thread(s)', load });

test('a child\'s figure lines are collected and its other lines kept', () => {
  const f = fig(900, 3000, 1.5);
  const { figures, lines } = parseChildOutput(`config: x\n@figure ${JSON.stringify(f)}\n\nmachine: y\n`);
  assert.deepEqual(figures, [f]);
  assert.deepEqual(lines, ['config: x', 'machine: y']);
});

test('summarize: each ratio from its own run, then min/median/max of each side, of the ratios and of the load', () => {
  // Ratios per run 0.3, 0.25, 0.2: the median ratio (0.25) is not median(ours) / median(torch) (900/3000 = 0.3).
  const runs = [[fig(900, 3000, 1)], [fig(1000, 4000, 2)], [fig(800, 4000, 4)]];
  const [line] = summarize('1v1', runs);
  assert.equal(
    line,
    '1v1 train linear: emopia-ts (wasm, 1 worker(s)) 800/900/1000 words/s | PyTorch (torch 2, 1 thread(s)) 3000/4000/4000 words/s | ratio 0.20/0.25/0.30 | min/median/max of 3 | load 1-min 1.00/2.00/4.00',
  );
  assert.match(summarize('2v2', [[fig(5, undefined, 0.5)]])[0] as string, /emopia-ts \(wasm, 1 worker\(s\)\) 5.00\/5.00\/5.00 words\/s \| PyTorch not available \| min\/median\/max of 1/);
});
