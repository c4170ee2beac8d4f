/**
 * One contract for every command: a bad value of a command-line option is a usage error (exit 2); a missing or
 * unusable input file is an input error (exit 1). Either way stderr is one line `emopia: <what>: <why>` that names
 * the option or the file, without a stack trace.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from './helpers/cli.ts';

let dir = '';
before(() => (dir = mkdtempSync(join(tmpdir(), 'emopia-contract-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the cases a few at a time (each is a process) and checks exit code and message. */
async function check(cases: Array<[string[], number, RegExp]>): Promise<void> {
  const results: CliResult[] = [];
  for (let i = 0; i < cases.length; i += 4) results.push(...(await Promise.all(cases.slice(i, i + 4).map(([args]) => runCli(args)))));
  results.forEach((r, i) => {
    const [args, code, re] = cases[i]!;
    const what = `emopia ${args.join(' ')}`;
    assert.equal(r.code, code, `${what}: exit code (stderr: ${r.stderr})`);
    assert.equal(r.stderr.split('\n').length, 2, `${what}: one line, got ${JSON.stringify(r.stderr)}`);
    assert.match(r.stderr, /^emopia: /, what);
    assert.match(r.stderr, re, what);
    assert.doesNotMatch(r.stderr, /\n\s+at /, what);
  });
}

const EMOTION = /^emopia: --emotion: expected Q1, Q2, Q3 or Q4, got 'Q9'\n$/;

test('a bad emotion (or other option value) is a usage error, exit 2, in every command that takes one', async () => {
  const none = join(dir, 'none.mid');
  await check([
    [['encode', none, '--emotion', 'Q9'], 2, EMOTION],
    [['generate', '--emotion', 'Q9', '-o', join(dir, 'o.mid')], 2, EMOTION],
    [['generate', '--emotion', 'q9', '--checkpoint', join(dir, 'none'), '-o', join(dir, 'o.mid')], 2, /^emopia: --emotion: expected Q1, Q2, Q3 or Q4, got 'q9'\n$/],
    [['generate', '--emotion', 'Q1', '--tempo-step', '0', '-o', join(dir, 'o.mid')], 2, /^emopia: --tempo-step: expected a number > 0 or none, got '0'\n$/],
    [['evaluate', '--tempo-step', 'fast'], 2, /^emopia: --tempo-step: expected a number > 0 or none, got 'fast'\n$/],
    [['generate', '--emotion', 'Q1', '--pitch-guidance-over', 'octaves', '-o', join(dir, 'o.mid')], 2, /^emopia: --pitch-guidance-over: expected one of values\|classes, got 'octaves'\n$/],
    [['evaluate', '--emotions', 'Q1,Q9'], 2, /^emopia: --emotions: expected quadrant names Q1, Q2, Q3 or Q4 separated by commas, got 'Q9'\n$/],
    [['train', '--data', join(dir, 'none'), '--out', join(dir, 'run'), '--steps', '1', '--emotion-input', 'x'], 2, /^emopia: --emotion-input: expected one of first\|every, got 'x'\n$/],
    [['train', '--data', join(dir, 'none'), '--out', join(dir, 'run'), '--steps', '1', '--emotion-dropout', '1'], 2, /^emopia: --emotion-dropout: expected a number >= 0 <= 0.9, got '1'\n$/],
    [['train', '--data', join(dir, 'none'), '--out', join(dir, 'run'), '--steps', '1', '--resume', '--emotion-dropout', '0.1'], 2, /^emopia: --emotion-dropout: a resumed run keeps its own; give it to a fresh or --init run\n$/],
    [['example', 'copy', '--steps', 'x'], 2, /^emopia: --steps: expected an integer >= 1, got 'x'\n$/],
    [['explain', 'masks', '--src-lengths', '0'], 2, /^emopia: --src-lengths: expected a comma-separated list of integers >= 1, got '0'\n$/],
    [['dataset', 'build', dir, '-o', join(dir, 'ds'), '--pedal', 'down'], 2, /^emopia: --pedal: expected one of ignore\|extend, got 'down'\n$/],
    [['torch-parity', join(dir, 'none.safetensors'), '--backend', 'gpu'], 2, /^emopia: --backend: expected one of wasm\|cpu\|tensorflow, got 'gpu'\n$/],
    [['classify', none, '--no-such-option'], 2, /^emopia: unknown option '--no-such-option' \(see --help\)\n$/],
  ]);
});

test('a missing input file or folder is an input error, exit 1, naming it, in every command that reads one', async () => {
  const p = (name: string) => join(dir, name);
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  await check([
    [['encode', p('none.mid')], 1, new RegExp(`^emopia: ${esc(p('none.mid'))}: no such file\\n$`)],
    [['decode', p('none.json'), '-o', p('o.mid')], 1, new RegExp(`^emopia: ${esc(p('none.json'))}: no such file\\n$`)],
    [['dataset', 'build', p('none'), '-o', p('ds')], 1, new RegExp(`^emopia: ${esc(p('none'))}: no such folder, expected a folder of MIDI files\\n$`)],
    [['dataset', 'stats', p('none')], 1, new RegExp(`^emopia: ${esc(p('none/index.json'))}: no such file \\(is this a dataset folder`)],
    [['torch-parity', p('none.safetensors')], 1, new RegExp(`^emopia: ${esc(p('none.safetensors'))}: no such file\\n$`)],
    [['classify', '--model', p('none'), p('none.mid')], 1, new RegExp(`^emopia: ${esc(p('none'))}: no such classifier`)],
    [['generate', '--checkpoint', p('none'), '--emotion', 'Q1', '-o', p('o.mid')], 1, new RegExp(`^emopia: ${esc(p('none'))}: no such checkpoint folder\\n$`)],
    [['evaluate', '--checkpoint', p('none')], 1, new RegExp(`^emopia: ${esc(p('none'))}: no such checkpoint folder\\n$`)],
    [['train', '--data', p('none'), '--out', p('run'), '--steps', '1'], 1, new RegExp(`^emopia: ${esc(p('none/index.json'))}: no such file`)],
    [['encode', p('none.mid'), '--vocab', p('none.json')], 1, new RegExp(`^emopia: ${esc(p('none'))}\\.(mid|json): no such file\\n$`)],
  ]);
  // classify goes on with the other files and then sums up: a line per bad file, then one summary line, exit 1.
  const r = await runCli(['classify', p('none.mid')]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `emopia: ${p('none.mid')}: no such file\nemopia: classify: 1 of 1 file could not be classified\n`);
});
