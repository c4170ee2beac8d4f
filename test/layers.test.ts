// The layers of src/ (README, "Where things live"): every relative import goes from a folder to itself or to a folder
// below it. The test reads the sources as text, so it also catches a type-only import that runs upward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/**
 * What each layer may import (besides itself). `base` is the root's own modules (errors, random, backend); the
 * barrels `index.ts` and `browser.ts` sit on top and may import anything, and nothing imports them.
 */
const ALLOWED: Record<string, readonly string[]> = {
  kernels: [],
  base: ['kernels'],
  io: ['base'],
  core: ['base', 'io'],
  music: ['base', 'io'],
  classify: ['base', 'io', 'music'],
  cp: ['base', 'io', 'core', 'music'],
  examples: ['base', 'io', 'core'],
  evaluate: ['base', 'io', 'core', 'music', 'classify', 'cp'],
  platform: ['base', 'io', 'core', 'music', 'classify', 'cp', 'evaluate', 'examples'],
  cli: ['base', 'io', 'core', 'music', 'classify', 'cp', 'evaluate', 'examples', 'platform', 'barrel'],
  barrel: ['base', 'io', 'core', 'music', 'classify', 'cp', 'evaluate', 'examples', 'platform'],
};

function layerOf(rel: string): string {
  const parts = rel.split('/');
  if (parts.length === 1) return rel === 'index.ts' || rel === 'browser.ts' ? 'barrel' : 'base';
  return parts[0] ?? 'base';
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function relativeImports(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) found.push(m[1] as string);
  return found;
}

test('every folder of src/ is a known layer', () => {
  const layers = new Set(sources(SRC).map((f) => layerOf(relative(SRC, f))));
  for (const l of layers) assert.ok(l in ALLOWED, `src/${l}/ is not in the layer table of test/layers.test.ts`);
});

test('no import runs from a lower layer to a higher one', () => {
  const wrong: string[] = [];
  for (const file of sources(SRC)) {
    const from = layerOf(relative(SRC, file));
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const to = layerOf(relative(SRC, resolve(dirname(file), spec)));
      if (to !== from && !(ALLOWED[from] ?? []).includes(to)) wrong.push(`${relative(SRC, file)} (${from}) imports ${spec} (${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('browser-safe layers import no Node built-in', () => {
  const wrong: string[] = [];
  for (const file of sources(SRC)) {
    const layer = layerOf(relative(SRC, file));
    if (layer === 'platform' || layer === 'cli' || relative(SRC, file) === 'index.ts' || layer === 'base') continue;
    if (/from\s+'node:/.test(readFileSync(file, 'utf8'))) wrong.push(relative(SRC, file));
  }
  assert.deepEqual(wrong, []);
});

test('the layer check sees an upward import (self-test on a made-up line)', () => {
  assert.deepEqual(relativeImports("import { x } from '../cli/progress.ts';\nconst m = await import('./a.ts');"), ['../cli/progress.ts', './a.ts']);
  assert.equal(layerOf('cp/train/run.ts'), 'cp');
  assert.ok(!(ALLOWED.cp ?? []).includes(layerOf('cli/progress.ts')));
});
