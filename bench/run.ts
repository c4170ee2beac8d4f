/**
 * `npm run bench -- <name> [args]`: runs bench/<name>.ts, which exports `run(args)`. Each bench prints its
 * configuration and machine beside every figure, and the same work timed in PyTorch when available.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
await mod.run(args);
