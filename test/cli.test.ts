import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runCli } from './helpers/cli.ts';

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
