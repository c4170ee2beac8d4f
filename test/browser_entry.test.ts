/**
 * The browser entry (`emopia-ts/browser`, src/browser.ts) and everything it imports use no Node built-in and
 * no Node global, so that a bundler can ship it to a web page; src/index.ts is that API plus the file helpers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as browser from '../src/browser.ts';
import * as node from '../src/index.ts';

/** npm packages that run in a browser: tfjs and its wasm backend (MIDI bytes are read and written by our own smf.ts). */
const BROWSER_PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm'];
const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** package.json's "browser" map (a bundler for the browser takes the value's file where the key's is imported). */
const BROWSER_MAP = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { browser: Record<string, string> }).browser;
const asBrowser = (file: string): string => {
  const to = BROWSER_MAP[`./${relative(ROOT, file)}`];
  return to === undefined ? file : join(ROOT, to);
};

/** Every source file reachable from `entry` through relative imports (as a browser bundle has them), with the packages each imports. */
function importGraph(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const todo = [entry];
  while (todo.length) {
    const file = todo.pop() as string;
    if (graph.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/(?:from|import) '([^']+)'/g)].map((x) => x[1] as string);
    graph.set(file, specs.filter((m) => !m.startsWith('.')));
    for (const m of specs) if (m.startsWith('.')) todo.push(asBrowser(join(dirname(file), m)));
  }
  return graph;
}

test('src/browser.ts reaches no Node built-in, no Node-only package and no Node global', () => {
  const graph = importGraph(join(SRC, 'browser.ts'));
  for (const [file, packages] of graph) {
    const name = relative(SRC, file);
    for (const p of packages) assert.ok(BROWSER_PACKAGES.includes(p), `${name} imports ${p}`);
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    assert.doesNotMatch(code, /\bprocess\.|\bBuffer\b|\brequire\(/, `${name} uses a Node global`);
  }
  assert.ok(graph.has(join(SRC, 'tfjs_load_browser.ts')) && !graph.has(join(SRC, 'tfjs_load.ts')), 'the browser takes tfjs_load_browser.ts for tfjs_load.ts');
  for (const f of ['cp/run_folder.ts', 'cp/generate.ts', 'music/midi_io.ts', 'music/cp_tokenizer.ts', 'music/dataset.ts', 'music/chords.ts', 'errors.ts', 'random.ts', 'evaluate/conditioning.ts', 'core/transformer.ts']) {
    assert.ok(graph.has(join(SRC, f)), `the walk reaches ${f}`);
  }
});

test('the Node API is the browser API plus the file helpers', () => {
  for (const name of Object.keys(browser)) assert.ok(name in node, `index.ts re-exports ${name}`);
  const extra = Object.keys(node).filter((n) => !(n in browser)).sort();
  assert.deepEqual(extra, ['CLASSIFIER_FILE', 'DEFAULT_CLASSIFIER_DIR', 'DEFAULT_MODEL_DIR', 'buildDataset', 'listMidiFiles', 'loadClassifier', 'loadModel', 'loadRun', 'lockRun', 'readDataset', 'readGenerationDefaults', 'readModelMeta', 'runTraining', 'saveModel', 'saveRun']);
});
