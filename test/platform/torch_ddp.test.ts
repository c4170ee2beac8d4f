/**
 * The whole loop out and back: `emopia dataset export` -> scripts/torch/train_ddp.py under torchrun with two
 * CPU processes (gloo, DistributedDataParallel) -> `emopia import` -> logits equal to PyTorch's. Checks that the
 * loss falls, that both processes hold the same gradients after each all-reduce, and that the imported model
 * gives the trained model's logits within 1e-4. Needs Debian's python3-torch (/usr/bin/python3); skipped without.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, initBackend } from '../../src/backend.ts';
import { FAMILIES, type Family } from '../../src/music/vocab.ts';
import { loadModel } from '../../src/platform/run_folder.ts';
import { runCli } from '../helpers/cli.ts';
import { maxAbsDiff } from '../helpers/close.ts';

const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch.distributed as d; assert d.is_gloo_available()']).status === 0;
const SCRIPT = fileURLToPath(new URL('../../scripts/torch/train_ddp.py', import.meta.url));

test('torchrun --nproc_per_node 2 (gloo) trains on an exported dataset; the checkpoint imports with equal logits', { skip: hasTorch ? false : 'python3-torch is not installed (/usr/bin/python3 cannot import torch)', timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'emopia-ddp-'));
  try {
    const midi = join(dir, 'midi');
    mkdirSync(midi);
    const fx = fileURLToPath(new URL('../fixtures/midi/', import.meta.url));
    for (const f of readdirSync(fx).filter((f) => f.endsWith('.mid'))) copyFileSync(join(fx, f), join(midi, f));
    assert.equal((await runCli(['dataset', 'build', midi, '-o', join(dir, 'ds'), '--vocab', 'observed', '--valid', '0'])).code, 0);
    const ex = await runCli(['dataset', 'export', join(dir, 'ds'), '-o', join(dir, 'ds.npz'), '--max-len', '64']);
    assert.equal(ex.code, 0, ex.stderr);
    // --redirects 1 --tee 1: Debian's torch 1.13 under Python 3.11 cannot parse the default 0 (see README).
    const r = spawnSync(PYTHON, ['-m', 'torch.distributed.run', '--redirects', '1', '--tee', '1', '--standalone', '--nproc_per_node', '2', SCRIPT,
      '--data', join(dir, 'ds.npz'), '--vocab', join(dir, 'ds', 'vocab.json'), '--preset', 'tiny', '--steps', '12', '--batch', '2',
      '--lr', '3e-3', '--warmup', '2', '--out', join(dir, 'out'), '--check-grads', '--dump-logits', join(dir, 'logits.json')],
    { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    const rows = readFileSync(join(dir, 'out', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss: number; grad_spread: number });
    assert.equal(rows.length, 12);
    assert.ok(rows.at(-1)!.loss < rows[0]!.loss - 0.1, `loss ${rows[0]!.loss} -> ${rows.at(-1)!.loss}`);
    assert.ok(rows.every((row) => row.grad_spread <= 1e-7), `gradient spread across processes: ${rows.map((x) => x.grad_spread)}`);
    assert.match(r.stdout, /train_ddp: 2 processes \(gloo\)/);

    const run = join(dir, 'run');
    const im = await runCli(['import', join(dir, 'out', 'model.pt'), '--config', join(dir, 'out', 'config.json'), '--vocab', join(dir, 'out', 'vocab.json'), '-o', run]);
    assert.equal(im.code, 0, im.stderr);
    await initBackend('wasm');
    const ref = JSON.parse(readFileSync(join(dir, 'logits.json'), 'utf8')) as { words: number[][]; next_type: number[]; logits: Record<Family, number[][]> };
    const { model } = loadModel(run);
    const T = ref.words.length;
    const out = model.forwardTrain(tf.tensor3d(ref.words.flat(), [1, T, 8], 'int32'), tf.tensor2d(ref.next_type, [1, T], 'int32'));
    for (const f of FAMILIES) assert.ok(maxAbsDiff(out[f].dataSync() as Float32Array, ref.logits[f].flat()) <= 1e-4, f);
    model.dispose();
    const g = await runCli(['generate', '--checkpoint', run, '--emotion', 'Q3', '--seed', '1', '--max-bars', '2', '-o', join(dir, 'x.mid')]);
    assert.equal(g.code, 0, g.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
