/**
 * `npm run bench -- <name> [args]`: runs bench/<name>.ts, which exports `run(args)`. Each bench prints its
 * configuration and machine beside every figure, and the same work timed in PyTorch when available.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../src/errors.ts';

const dir = fileURLToPath(new URL('.', import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));
const [name, ...args] = process.argv.slice(2);
if (!name || !names.includes(name)) {
  process.stderr.write(`emopia bench: expected one of ${names.join(', ') || '(none yet)'}, got '${name ?? ''}'\n`);
  process.exit(2);
}
const mod = (await import(`./${name}.ts`)) as { run: (args: string[]) => Promise<void> };
try {
  await mod.run(args);
} catch (err) {
  // Bad arguments and unusable input are one line, like the CLI's; BENCH_DEBUG=1 shows the stack.
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`emopia bench ${name}: ${process.env.BENCH_DEBUG ? (e.stack ?? e.message) : e.message.split('\n')[0]}\n`);
  process.exitCode = e instanceof UsageError ? 2 : 1;
}
