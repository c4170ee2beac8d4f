/**
 * The check every committed wasm module gets: the generated `src/kernels/<module>_wasm.ts` (or `generated`, a path
 * from the repository's root) is exactly what
 * `wasm/<dir>/build.sh` makes of its C source, where the compiler named in the module's header is installed
 * (skipped, saying how to rebuild, where it is not: a fresh CI machine has no clang). A module that needs one
 * clang (the fused product: clang-19) passes its name as `compilers`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

/** The first line of `clang --version` of the clang build.sh would use (the first of `compilers` found), or ''. */
function installedClang(compilers: readonly string[]): string {
  for (const cc of compilers) {
    try {
      return execFileSync(cc, ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
    } catch {
      // try the next name
    }
  }
  return '';
}

export function assertCommittedWasm(t: TestContext, dir: string, module: string, compilers: readonly string[] = ['clang-14', 'clang'], generated = `src/kernels/${module}_wasm.ts`): void {
  const committed = readFileSync(fileURLToPath(new URL(`../../${generated}`, import.meta.url)), 'utf8');
  const compiler = /^\/\/ Compiler: (.*)$/m.exec(committed)?.[1];
  assert.ok(compiler, 'the generated module names its compiler');
  const installed = installedClang(compilers);
  if (installed !== compiler) {
    t.skip(`needs ${compiler} (found as ${compilers.join(' or ')}: ${installed || 'none'}); rebuild with npm run build:wasm`);
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), `emopia-${module}-`));
  try {
    const out = join(tmp, `${module}_wasm.ts`);
    execFileSync('sh', [fileURLToPath(new URL(`../../wasm/${dir}/build.sh`, import.meta.url))], { env: { ...process.env, OUT: out }, stdio: 'ignore' });
    assert.equal(readFileSync(out, 'utf8'), committed);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
