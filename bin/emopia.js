#!/usr/bin/env node
// The `emopia` command: runs the compiled CLI in dist/ (plain JavaScript, no TypeScript at start-up).
// dist/ is built by `npm run build`, which `npm ci` and `npm pack` run through the `prepare` script.
let main;
try {
  ({ main } = await import('../dist/cli/main.js'));
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/cli/main.js')) throw err;
  process.stderr.write('emopia: dist/: not built; run `npm run build` (or `npm ci`) in the emopia-ts folder\n');
  process.exit(1);
}
process.exitCode = await main(process.argv);
