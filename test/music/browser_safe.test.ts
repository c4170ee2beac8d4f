/** The music library stays free of Node built-ins (all but its *_node.ts files), so that it can run in a browser. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The npm packages the music library may use: midi-file parses and writes bytes with no Node API. */
const BROWSER_PACKAGES = ['midi-file'];

test('the music library (all but *_node.ts) and everything it imports use no Node built-in, so it runs in a browser', () => {
  const src = fileURLToPath(new URL('../../src/', import.meta.url));
  const music = join(src, 'music');
  const entry = readdirSync(music).filter((f) => f.endsWith('.ts') && !f.endsWith('_node.ts'));
  assert.ok(entry.includes('midi_io.ts') && entry.includes('cp_tokenizer.ts') && entry.includes('dataset.ts'));
  // Follow relative imports, so that a helper outside src/music that reaches for node:fs is caught too.
  const todo = entry.map((f) => join(music, f));
  const seen = new Set<string>();
  while (todo.length) {
    const file = todo.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const name = relative(src, file);
    const text = readFileSync(file, 'utf8');
    for (const m of [...text.matchAll(/from '([^']+)'/g)].map((x) => x[1] as string)) {
      if (m.startsWith('.')) {
        assert.ok(!m.endsWith('_node.ts'), `${name} imports ${m}`);
        todo.push(join(dirname(file), m));
      } else assert.ok(BROWSER_PACKAGES.includes(m), `${name} imports ${m}`);
    }
    assert.doesNotMatch(text, /\bprocess\.|\bBuffer\b/, `${name} uses a Node global`);
  }
  assert.ok(seen.has(join(src, 'errors.ts')) && seen.has(join(src, 'random.ts')), 'the walk reaches the helpers outside src/music');
});
