/** The music library stays free of Node built-ins (all but its *_node.ts files), so that it can run in a browser. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

test('the music library (all but *_node.ts) imports no Node built-in, so it runs in a browser', () => {
  const dir = fileURLToPath(new URL('../../src/music/', import.meta.url));
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('_node.ts'));
  assert.ok(files.includes('midi_io.ts') && files.includes('cp_tokenizer.ts') && files.includes('dataset.ts'));
  for (const f of files) {
    const src = readFileSync(dir + f, 'utf8');
    const imports = [...src.matchAll(/from '([^']+)'/g)].map((m) => m[1] as string);
    const node = imports.filter((m) => m.startsWith('node:') || ['fs', 'path', 'os', 'child_process'].includes(m) || m.endsWith('_node.ts') || m.includes('/io/atomic'));
    assert.deepEqual(node, [], `${f} imports ${node.join(', ')}`);
    assert.doesNotMatch(src, /\bprocess\.|\bBuffer\b/, `${f} uses a Node global`);
  }
});
