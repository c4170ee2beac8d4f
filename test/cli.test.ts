// The `emopia` program as a whole (unknown commands, --help, --version, commander's usage errors) and the
// shared CLI helpers: option parsers and progress lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runCli } from './helpers/cli.ts';
import { UsageError } from '../src/errors.ts';
import { parseBackend, parseFloatOption, parseIntList, parseIntOption } from '../src/cli/options.ts';
import { startProgress } from '../src/cli/progress.ts';

test('unknown command is a usage error: exit 2, no stack trace', async () => {
  const r = await runCli(['no-such-command']);
  assert.equal(r.code, 2);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('--help exits 0 and lists the program', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: emopia/);
});

test('--version prints the package version', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.match(pkg.version, /^\d+\.\d+\.\d+/);
  assert.equal(r.stdout.trim(), pkg.version);
});

test("commander's own usage errors are one line in the project's form, exit 2", async () => {
  for (const args of [['explain', 'masks', '--bogus'], ['train', '--data', 'x'], ['no-such-command']]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^emopia: .+ \(see --help\)\n$/, `one line for ${args.join(' ')}: ${JSON.stringify(r.stderr)}`);
  }
});

test('option parsers: values in range pass, anything else is a UsageError naming the option and the value', () => {
  const int = parseIntOption('steps', 1, 10);
  assert.equal(int('7'), 7);
  for (const bad of ['', ' ', '0', '11', '2.5', 'x']) {
    assert.throws(() => int(bad), (e: unknown) => e instanceof UsageError && e.message === `--steps: expected an integer >= 1 <= 10, got '${bad}'`, `'${bad}'`);
  }
  const float = parseFloatOption('lr', 0);
  assert.equal(float('1e-3'), 1e-3);
  for (const bad of ['', '-1', 'NaN', 'Infinity']) assert.throws(() => float(bad), UsageError, `'${bad}'`);
  assert.deepEqual(parseIntList('lengths', 1)('2, 4'), [2, 4]);
  for (const bad of ['2,,4', '2,0', '']) assert.throws(() => parseIntList('lengths', 1)(bad), /--lengths: expected a comma-separated list of integers >= 1/, `'${bad}'`);
  assert.equal(parseBackend('cpu'), 'cpu');
  assert.throws(() => parseBackend('gpu'), /--backend: expected one of wasm\|cpu\|tensorflow, got 'gpu'/);
});

test('progress without a terminal: the first update, then at most one line per 5 s, and the final state once', () => {
  const stderr = process.stderr as NodeJS.WriteStream & { isTTY?: boolean };
  const [write, tty] = [stderr.write, stderr.isTTY];
  const lines: string[] = [];
  stderr.isTTY = false;
  stderr.write = ((s: string) => (lines.push(s), true)) as typeof stderr.write;
  try {
    const p = startProgress('work', 3, 'steps');
    p.update(1, 'loss 2');
    p.update(2, 'loss 1'); // within 5 s of the last line: not written
    p.update(3, 'loss 0.5');
    p.stop();
    const once = startProgress('once', 1, 'files');
    once.update(1);
    once.stop(); // its last state was already written
  } finally {
    stderr.write = write;
    stderr.isTTY = tty;
  }
  assert.equal(lines.length, 3, JSON.stringify(lines));
  assert.match(lines[0]!, /^work: 1\/3 steps, [\d.]+\/s, ETA (\d+s|\?), loss 2\n$/);
  assert.match(lines[1]!, /^work: 3\/3 steps, .*, loss 0\.5\n$/);
  assert.match(lines[2]!, /^once: 1\/1 files, /);
});
