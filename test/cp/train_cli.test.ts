/** `emopia train` through the real binary: the run folder, one-line errors that overwrite nothing, NaN stop, Ctrl-C and --resume. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_ARGS, runCli } from '../helpers/cli.ts';
import { Vocab, fullGridValues } from '../../src/music/vocab.ts';
import { twoPieces, writeDataset } from './train_data.ts';

const tmp = mkdtempSync(join(tmpdir(), 'emopia-train-cli-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const vocab = Vocab.fullGrid();
const clips = twoPieces(vocab);
const ds = join(tmp, 'ds');
writeDataset(ds, vocab, clips, [clips[0]!]);
const tiny = ['--preset', 'tiny', '--seq', '64', '--batch', '2', '--warmup', '2', '--no-progress'];

/** Every file of a folder with its bytes, to show that nothing was overwritten. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));
}

function oneLineError(stderr: string, re: RegExp): void {
  const lines = stderr.trim().split('\n').filter((l) => l.startsWith('emopia: '));
  assert.equal(lines.length, 1, `one error line, got: ${stderr}`);
  assert.match(lines[0]!, re);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}

test('emopia train writes a complete run folder; bad input exits 1 with one line and overwrites nothing', async () => {
  const run = join(tmp, 'run');
  const ok = await runCli(['train', '--data', ds, '--out', run, '--steps', '3', '--valid-every', '2', '--save-every', '2', ...tiny]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^step 3\/3, train loss \d+\.\d+, valid loss \d+\.\d+, saved to /);
  assert.deepEqual(readdirSync(run).sort(), ['config.json', 'model.safetensors', 'optimizer.safetensors', 'train-log.jsonl', 'train-state.json', 'vocab.json']);
  const rows = readFileSync(join(run, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(rows.map((r) => `${r.kind}${r.step}`), ['train1', 'train2', 'valid2', 'train3', 'valid3']);
  const row = rows[0] as { loss: number; losses: Record<string, number>; lr: number; wordsPerSec: number };
  assert.equal(Object.keys(row.losses).length, 8);
  assert.ok(Math.abs(row.loss - Object.values(row.losses).reduce((a, b) => a + b, 0) / 8) < 1e-4, 'loss = mean of the family losses');
  assert.ok(row.lr > 0 && row.wordsPerSec > 0);
  const before = snapshot(run);

  // The run folder exists: refused without --resume.
  const again = await runCli(['train', '--data', ds, '--out', run, '--steps', '3', ...tiny]);
  assert.equal(again.code, 1);
  oneLineError(again.stderr, /already exists and is not empty; pass --resume/);

  // A dataset whose vocabulary differs from the run's.
  const values = fullGridValues();
  values.velocity = values.velocity.filter((v) => v !== 'Note_Velocity_128');
  const other = Vocab.fromValues(values);
  const ds2 = join(tmp, 'ds-other-vocab');
  writeDataset(ds2, other, twoPieces(other));
  const mismatch = await runCli(['train', '--data', ds2, '--out', run, '--steps', '5', '--resume', ...tiny]);
  assert.equal(mismatch.code, 1);
  oneLineError(mismatch.stderr, /vocabulary differs from the run's/);

  // Missing and empty datasets.
  const missing = await runCli(['train', '--data', join(tmp, 'nope'), '--out', join(tmp, 'r2'), '--steps', '1', ...tiny]);
  assert.equal(missing.code, 1);
  oneLineError(missing.stderr, /nope.*index\.json/);
  const empty = join(tmp, 'ds-empty');
  writeDataset(empty, vocab, []);
  const none = await runCli(['train', '--data', empty, '--out', join(tmp, 'r2'), '--steps', '1', ...tiny]);
  assert.equal(none.code, 1);
  oneLineError(none.stderr, /expected at least one clip, got none/);
  assert.equal(existsSync(join(tmp, 'r2')), false, 'no run folder was created');

  // --resume of a folder that is not there, --init from one that is not a run.
  const noRun = await runCli(['train', '--data', ds, '--out', join(tmp, 'no-run'), '--steps', '2', '--resume', ...tiny]);
  assert.equal(noRun.code, 1);
  oneLineError(noRun.stderr, /no such run folder to resume/);
  const noInit = await runCli(['train', '--data', ds, '--out', join(tmp, 'r4'), '--steps', '2', '--init', join(tmp, 'nope'), ...tiny]);
  assert.equal(noInit.code, 1);
  oneLineError(noInit.stderr, /nope: no such checkpoint folder/);
  assert.equal(existsSync(join(tmp, 'r4')), false, 'no run folder was created');

  // Usage errors exit 2.
  const both = await runCli(['train', '--data', ds, '--out', join(tmp, 'r3'), '--steps', '1', '--epochs', '1', ...tiny]);
  assert.equal(both.code, 2);
  oneLineError(both.stderr, /--steps\/--epochs: expected one of them, got both/);
  assert.deepEqual(snapshot(run), before, 'the run folder is untouched');
});

test('emopia train: a non-finite loss stops with one line and keeps the last good checkpoint', async () => {
  const run = join(tmp, 'nan');
  // An absurd rate sends the weights to ~1e30 after one Adam step; the next loss is not finite.
  const r = await runCli(['train', '--data', ds, '--out', run, '--steps', '10', '--save-every', '1', ...tiny, '--lr', '1e30', '--warmup', '0']);
  assert.equal(r.code, 1);
  oneLineError(r.stderr, /training stopped: the training loss is (NaN|Infinity) at step 2; .* keeps the checkpoint of step 1/);
  const state = JSON.parse(readFileSync(join(run, 'train-state.json'), 'utf8')) as { step: number };
  assert.equal(state.step, 1);
});

test('emopia train: Ctrl-C (SIGINT) finishes the step, saves and exits 0; --resume continues from there', async () => {
  const run = join(tmp, 'sigint');
  const child = spawn(process.execPath, [...CLI_ARGS, 'train', '--data', ds, '--out', run, '--steps', '100000', '--save-every', '100000', ...tiny], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  const code = await new Promise<number>((resolve) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/^training /m.test(stderr) && !child.killed) setTimeout(() => child.kill('SIGINT'), 300);
    });
    child.on('close', (c) => resolve(c ?? -1));
  });
  assert.equal(code, 0, stderr);
  const m = /^interrupted at step (\d+)\/100000, .*saved to .*; continue with --resume$/m.exec(stdout);
  assert.ok(m, stdout);
  const state = JSON.parse(readFileSync(join(run, 'train-state.json'), 'utf8')) as { step: number };
  assert.equal(state.step, Number(m[1]));
  // Ctrl-C may come before the first step ends (two training workers take a moment to start): then step 0, no row.
  const rows = readFileSync(join(run, 'train-log.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '');
  assert.equal(rows.length, state.step, 'one log row per step done');
  const more = await runCli(['train', '--data', ds, '--out', run, '--steps', String(state.step + 1), '--resume', ...tiny]);
  assert.equal(more.code, 0, more.stderr);
  assert.match(more.stdout, new RegExp(`^step ${state.step + 1}/${state.step + 1}`));
});

test('emopia train --preset tiny without --seq takes the preset model\'s longest window; too long a --seq is a usage error; progress lines come from the run', async () => {
  // The tiny preset reads at most 1024 words, so its default window is 1023 (EMOPIA's 1024 does not fit).
  const run = join(tmp, 'tiny-default-seq');
  const ok = await runCli(['train', '--data', ds, '--out', run, '--preset', 'tiny', '--steps', '2', '--batch', '2']);
  assert.equal(ok.code, 0, ok.stderr);
  const state = JSON.parse(readFileSync(join(run, 'train-state.json'), 'utf8')) as { settings: { seq: number; batch: number; peakLr: number; warmup: number; seed: number; clip: number } };
  assert.deepEqual(state.settings, { seq: 1023, batch: 2, seed: 42069, peakLr: 1e-4, warmup: 200, clip: 3 });
  // stderr is not a terminal here: the progress bar writes log lines, the last one at the end.
  assert.match(ok.stderr, /^train: 2\/2 steps, [\d.]+\/s, ETA 0s, step 2 loss \d+\.\d{3} \d+ words\/s$/m);
  const quiet = await runCli(['train', '--data', ds, '--out', join(tmp, 'tiny-quiet'), '--preset', 'tiny', '--steps', '1', '--no-progress']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /^train: /m);

  const long = await runCli(['train', '--data', ds, '--out', join(tmp, 'tiny-long'), '--preset', 'tiny', '--seq', '1024', '--steps', '1']);
  assert.equal(long.code, 2);
  oneLineError(long.stderr, /--seq: expected at most 1023 \(the model's maxLen 1024 minus 1\), got 1024/);
  assert.equal(existsSync(join(tmp, 'tiny-long')), false, 'no run folder was created');

  const help = await runCli(['train', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout.replace(/\s+/g, ' '), /--seq <n> words per training window \(default: 1024, or the model's maxLen - 1 when shorter: 1023 for tiny\)/);
  assert.match(help.stdout.replace(/\s+/g, ' '), /--batch <n> windows per batch \(default: 4\)/);
});
