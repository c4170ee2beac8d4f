/**
 * The published package, tried as a new user would: `npm pack` of a fresh dist/ build, the tarball installed into
 * a new temporary project (removed afterwards), and there the library imported from plain Node (no tsx), the installed `emopia`
 * bin run, a TypeScript consumer type-checked against the shipped declarations, and the browser entry bundled
 * for a browser. Skipped only when `npm` itself is missing. Needs the dependencies from the npm cache or registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/cli.ts';
import { initBackend, loadModel, generate, wordsToScore, scoreToMidi, DEFAULT_MODEL_DIR } from '../src/index.ts';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const hasNpm = spawnSync(npm, ['--version'], { encoding: 'utf8' }).status === 0;
const NPM_QUIET = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

/** What a consumer does with the library: the default model, a short seeded piece, MIDI bytes. */
const SEED = 11;
const MAX_WORDS = 24;

interface PackedFile {
  path: string;
  size: number;
}

/** Files that belong in the repository but not in the package. */
const NOT_SHIPPED = [/^test\//, /^src\//, /^bench\//, /^scripts\//, /^data\//, /fixtures?\//, /^models\/training\//, /optimizer\.safetensors$/, /train-state\.json$/, /train-log\.jsonl$/, /\.test\.[jt]s$/, /^tsconfig/, /^\.ci\//];
const SHIPPED = [
  'package.json', 'README.md', 'LICENSE', 'bin/emopia.js',
  'dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'dist/browser.js', 'dist/browser.d.ts', 'dist/cli/main.js',
  'models/default/model.safetensors', 'models/default/config.json', 'models/default/vocab.json', 'models/default/generation.json',
  'models/default/LICENSE.md', 'models/default/README.md', 'models/classifier/classifier.json', 'models/classifier/LICENSE.md',
];

const CONSUMER_JS = `
import { initBackend, loadModel, generate, wordsToScore, scoreToMidi, DEFAULT_MODEL_DIR } from 'emopia-ts';
import * as browser from 'emopia-ts/browser';
await initBackend('wasm');
const { model, vocab } = loadModel(DEFAULT_MODEL_DIR);
const piece = generate(model, vocab, { emotion: 'Q1', seed: ${SEED}, maxWords: ${MAX_WORDS} });
const midi = scoreToMidi(wordsToScore(piece.words, vocab).score);
model.dispose();
console.log(JSON.stringify({ dir: DEFAULT_MODEL_DIR, words: Array.from(piece.words), midi: Buffer.from(midi).toString('base64'), browserGenerate: typeof browser.generate, browserLoadModel: typeof browser.loadModel }));
`;

const CONSUMER_TS = `
import { writeFileSync } from 'node:fs';
import { initBackend, loadModel, generate, wordsToScore, scoreToMidi, DEFAULT_MODEL_DIR, type GenerateResult } from 'emopia-ts';
import { modelFromParts, parseSafetensors, type ModelParts } from 'emopia-ts/browser';

await initBackend();
const { model, vocab } = loadModel(DEFAULT_MODEL_DIR);
const piece: GenerateResult = generate(model, vocab, { emotion: 'Q3', seed: 1, maxBars: 4 });
const midi: Uint8Array = scoreToMidi(wordsToScore(piece.words, vocab).score);
writeFileSync('sad.mid', midi);
export const fromBytes = (parts: ModelParts) => modelFromParts(parts);
export const tensors = (bytes: Uint8Array) => [...parseSafetensors(bytes).tensors.keys()];
// @ts-expect-error: the declarations know the emotions (fails if the types resolved to any)
generate(model, vocab, { emotion: 'Q9' });
// @ts-expect-error: maxBars is a number
generate(model, vocab, { emotion: 'Q1', maxBars: 'four' });
`;

const BROWSER_APP = `
import { initBackend, generate, modelFromParts } from 'emopia-ts/browser';
console.log(typeof initBackend, typeof generate, typeof modelFromParts);
`;

/** Every file of `dir` whose name matches `ext` (recursively), as paths relative to it without the extension, with its mtime. */
function walk(dir: string, ext: RegExp, rel = ''): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) for (const [k, v] of walk(dir, ext, r)) out.set(k, v);
    else if (ext.test(e.name)) out.set(r.replace(ext, ''), statSync(join(dir, r)).mtimeMs);
  }
  return out;
}

/** dist/ is the build of the current src/: one .js per .ts source, all written after the newest source and tsconfig. */
function distIsFresh(): boolean {
  const dist = join(REPO_ROOT, 'dist');
  if (!existsSync(dist)) return false;
  const src = walk(join(REPO_ROOT, 'src'), /\.ts$/);
  const js = walk(dist, /\.js$/);
  if (src.size !== js.size || [...src.keys()].some((k) => !js.has(k))) return false;
  const configs = ['tsconfig.json', 'tsconfig.build.json'].map((f) => statSync(join(REPO_ROOT, f)).mtimeMs);
  return Math.min(...js.values()) >= Math.max(...src.values(), ...configs);
}

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

test('package: npm pack, install into a new project, use from plain Node, the bin, TypeScript and a bundler', { skip: hasNpm ? false : 'npm is not on PATH' }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'emopia-package-'));
  try {
    // 1. The tarball, holding what it needs and nothing else. `npm pack` would rebuild dist/ through `prepare`;
    // the test rebuilds only when dist/ is not the build of the current sources (after `npm ci` it is).
    if (!distIsFresh()) run(npm, ['run', 'build', '--loglevel=error'], REPO_ROOT);
    assert.ok(distIsFresh(), 'npm run build makes dist/ the build of src/');
    const packed = JSON.parse(run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp, '--loglevel=error'], REPO_ROOT)) as { filename: string; size: number; entryCount: number; files: PackedFile[] }[];
    const pack = packed[0];
    assert.ok(pack, 'npm pack reports one tarball');
    const paths = pack.files.map((f) => f.path);
    for (const p of SHIPPED) assert.ok(paths.includes(p), `the tarball holds ${p}`);
    for (const p of paths) for (const re of NOT_SHIPPED) assert.doesNotMatch(p, re, `the tarball must not hold ${p}`);
    assert.ok(!paths.some((p) => p.startsWith('dist/') && p.endsWith('.ts') && !p.endsWith('.d.ts')), 'dist/ holds no TypeScript source');
    t.diagnostic(`tarball ${pack.filename}: ${(pack.size / 1e6).toFixed(2)} MB, ${pack.entryCount} files`);

    // 2. A new project that installs the tarball from the file, dependencies from the npm cache or registry.
    const app = join(tmp, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'emopia-consumer', private: true, type: 'module' }));
    run(npm, ['install', join(tmp, pack.filename), '--no-package-lock', '--ignore-scripts', ...NPM_QUIET], app);

    // 3. Plain Node, no tsx: the installed library generates a short seeded piece, equal to the sources' own.
    writeFileSync(join(app, 'consumer.mjs'), CONSUMER_JS);
    const got = JSON.parse(run(process.execPath, ['consumer.mjs'], app)) as { dir: string; words: number[]; midi: string; browserGenerate: string; browserLoadModel: string };
    assert.equal(realpathSync(got.dir), realpathSync(join(app, 'node_modules/emopia-ts/models/default')), 'DEFAULT_MODEL_DIR is the installed package\'s models/default/');
    assert.equal(got.browserGenerate, 'function');
    assert.equal(got.browserLoadModel, 'undefined', 'the browser entry has no file helpers');
    await initBackend('wasm');
    const { model, vocab } = loadModel(DEFAULT_MODEL_DIR);
    const want = generate(model, vocab, { emotion: 'Q1', seed: SEED, maxWords: MAX_WORDS });
    const wantMidi = scoreToMidi(wordsToScore(want.words, vocab).score);
    model.dispose();
    assert.deepEqual(got.words, Array.from(want.words), 'dist/ generates the same words as src/');
    assert.equal(got.midi, Buffer.from(wantMidi).toString('base64'), 'and the same MIDI bytes');
    assert.ok(got.words.length > 8 * 4, 'the piece has words beyond the prompt');

    // 4. The installed bin (compiled JavaScript): help, version, and a generated file.
    const bin = join(app, 'node_modules/.bin/emopia');
    const help = run(bin, ['--help'], app);
    assert.match(help, /generate/);
    const pkgVersion = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(run(bin, ['--version'], app).trim(), pkgVersion);
    run(bin, ['generate', '--emotion', 'Q4', '--max-words', '16', '--seed', '3', '--no-progress', '-o', 'calm.mid'], app);
    assert.equal(readFileSync(join(app, 'calm.mid')).subarray(0, 4).toString('latin1'), 'MThd', 'emopia generate wrote a MIDI file');
    const bad = spawnSync(bin, ['generate', '--emotion', 'Q9', '-o', 'x.mid'], { cwd: app, encoding: 'utf8' });
    assert.equal(bad.status, 2, 'a bad emotion is a usage error: exit 2');
    assert.match(bad.stderr, /^emopia: .+/);
    assert.ok(!existsSync(join(app, 'x.mid')));

    // 5. A TypeScript consumer type-checks against the shipped declarations (lib check on, NodeNext resolution).
    writeFileSync(join(app, 'consumer.ts'), CONSUMER_TS);
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false,
        types: ['node'], typeRoots: [join(REPO_ROOT, 'node_modules/@types')],
      },
      files: ['consumer.ts'],
    }));
    // tfjs's own declarations fail a strict lib check (its problem, not the package's: users set skipLibCheck), so
    // the check keeps lib checking on and accepts errors in @tensorflow/* files only.
    const tsc = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--listFiles'], { cwd: app, encoding: 'utf8' });
    const errors = tsc.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    assert.deepEqual(errors.filter((l) => !l.startsWith('node_modules/@tensorflow/')), [], 'no type error in the consumer or in emopia-ts\'s declarations');
    const checked = tsc.stdout.split('\n').filter((l) => l.includes('/node_modules/emopia-ts/'));
    for (const f of ['dist/index.d.ts', 'dist/browser.d.ts', 'dist/cp/generate.d.ts', 'dist/platform/run_folder.d.ts']) {
      assert.ok(checked.some((l) => l.endsWith(`/node_modules/emopia-ts/${f}`)), `the consumer's check read ${f} (imports between declarations resolve)`);
    }

    // 6. The browser entry through a bundler (esbuild, for the browser): resolvable and free of Node built-ins.
    writeFileSync(join(app, 'browser-app.js'), BROWSER_APP);
    const esbuild = (await import('esbuild')) as typeof import('esbuild');
    const built = await esbuild.build({ entryPoints: [join(app, 'browser-app.js')], absWorkingDir: app, bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
    assert.equal(built.errors.length, 0);
    const code = built.outputFiles[0]?.text ?? '';
    assert.ok(code.length > 1e5, 'the bundle holds tfjs and the library');
    assert.doesNotMatch(code, /from ["']node:|require\(["']node:/, 'no Node built-in in the browser bundle');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
