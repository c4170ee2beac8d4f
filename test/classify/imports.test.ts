/** The classifier stands alone: nothing under src/classify/ imports the generator (src/cp/) or what sits above it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const CLASSIFY = join(SRC, 'classify');

/** Every module specifier of a TypeScript file: static imports and re-exports, and dynamic import(). */
function specifiers(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(/\b(?:from|import)\s*\(?\s*'([^']+)'/g)) out.push(m[1] as string);
  return out;
}

test('specifiers finds static imports, type imports, re-exports and dynamic imports', () => {
  const code = "import { a } from './a.ts';\nimport type { B } from '../cp/b.ts';\nexport { c } from './c.ts';\nconst d = await import('../cp/d.ts');\nimport './e.ts';";
  assert.deepEqual(specifiers(code), ['./a.ts', '../cp/b.ts', './c.ts', '../cp/d.ts', './e.ts']);
});

test('no file under src/classify/ imports from src/cp/, src/evaluate/ or src/cli/', () => {
  const files = readdirSync(CLASSIFY, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length >= 10, `found the classifier's files (${files.length})`);
  const banned = ['cp', 'evaluate', 'cli'].map((d) => join(SRC, d));
  for (const f of files) {
    const file = join(CLASSIFY, f);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      for (const dir of banned) {
        assert.ok(!target.startsWith(dir + '/') && target !== dir, `src/classify/${f} imports ${spec} (src/${relative(SRC, target)})`);
      }
    }
  }
});
