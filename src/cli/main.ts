/**
 * The `emopia` command line. Each command lives in its own file under `commands/` and registers itself on the
 * program; this file only wires them up and turns errors into the one-line form
 * `emopia: <what>: <why>` with exit code 1 (bad input) or 2 (bad usage). `--debug` shows the stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { InputError, UsageError } from '../errors.ts';
import { registerAll } from './commands/index.ts';

export function buildProgram(): Command {
  const program = new Command('emopia')
    .description('Transformer with first-class masks, and EMOPIA emotion-conditioned piano music, in TypeScript')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--debug', 'show stack traces for errors')
    .exitOverride()
    .configureOutput(OUTPUT);
  registerAll(program);
  // Sub-commands inherit the error handling.
  for (const cmd of program.commands) propagate(cmd);
  return program;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Commander's own usage errors ("error: unknown option ...") in the project's one-line form. */
const OUTPUT = {
  writeErr: (s: string) => process.stderr.write(s),
  outputError: (s: string, write: (s: string) => void) => write(`${s.trimEnd().replace(/^error: /, 'emopia: ')} (see --help)\n`),
};

function propagate(cmd: Command): void {
  cmd.exitOverride();
  cmd.configureOutput(OUTPUT);
  for (const sub of cmd.commands) propagate(sub);
}

/** Runs the CLI with `argv` (as process.argv) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version output exit 0; every other commander error is a usage error, already printed.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    if (debug && err instanceof Error) process.stderr.write(`${err.stack ?? err.message}\n`);
    if (err instanceof UsageError) {
      process.stderr.write(`emopia: ${err.message}\n`);
      return 2;
    }
    if (err instanceof InputError) {
      process.stderr.write(`emopia: ${err.message}\n`);
      return 1;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`emopia: ${msg.split('\n')[0]}${debug ? '' : ' (run with --debug for details)'}\n`);
    return 1;
  }
}
