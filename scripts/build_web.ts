/**
 * `npm run build:web`: the web studio (web/) as static files in dist/web/, to open from any static server.
 * esbuild bundles the page (web/main.ts) and its Web Worker (web/worker.ts) as ES modules; the shipped model and
 * classifier, tfjs's wasm binaries and the piano samples are copied next to them, so the page fetches nothing
 * beyond its own origin. The folder is written under a temporary name and renamed into place.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const WEB_DIST = join(ROOT, 'dist', 'web');

/** The model files the page loads (generation.json: the model's own sampling settings, as the CLI reads them). */
const MODEL_FILES = ['config.json', 'vocab.json', 'model.safetensors', 'generation.json', 'LICENSE.md'];
/** The single-threaded binaries (SIMD, and without for older browsers): the page never runs wasm threads. */
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'];
/** Salamander Grand Piano layers: a soft and a loud one (velocity layers 4 and 10 of 16). */
export const PIANO_LAYERS = ['4', '10'] as const;

function copy(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to);
}

/** Builds dist/web; returns its path. */
export async function buildWeb(out = WEB_DIST): Promise<string> {
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  await build({
    entryPoints: { main: join(ROOT, 'web', 'main.ts'), worker: join(ROOT, 'web', 'worker.ts') },
    outdir: tmp,
    bundle: true,
    splitting: true, // Tone.js and the samples list load only when the user presses play
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    legalComments: 'linked',
    chunkNames: 'chunks/[name]-[hash]',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [{
      name: 'tfjs-lite',
      setup(b) {
        // The library imports the tfjs umbrella; the page takes only the parts it runs (web/tfjs_lite.ts).
        b.onResolve({ filter: /^@tensorflow\/tfjs$/ }, () => ({ path: join(ROOT, 'web', 'tfjs_lite.ts') }));
        // src/tfjs_load.ts loads tfjs with Node's require; the page takes its browser form (package.json "browser").
        b.onResolve({ filter: /\/tfjs_load\.ts$/ }, () => ({ path: join(ROOT, 'src', 'tfjs_load_browser.ts') }));
      },
    }],
  });
  for (const f of ['index.html', 'style.css']) copy(join(ROOT, 'web', f), join(tmp, f));
  for (const f of MODEL_FILES) copy(join(ROOT, 'models', 'default', f), join(tmp, 'models', 'default', f));
  for (const f of ['classifier.json', 'LICENSE.md']) copy(join(ROOT, 'models', 'classifier', f), join(tmp, 'models', 'classifier', f));
  const wasmDir = join(ROOT, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  for (const f of WASM_FILES) copy(join(wasmDir, f), join(tmp, 'tfjs', f));
  const samples: Record<string, Record<string, string>> = {};
  for (const layer of PIANO_LAYERS) {
    const pkg = join(ROOT, 'node_modules', '@audio-samples', `piano-mp3-velocity${layer}`);
    const files = readdirSync(join(pkg, 'audio')).filter((f) => f.endsWith('.mp3')).sort();
    samples[layer] = {};
    for (const f of files) {
      // 'D#4v10.mp3' -> note D#4, file D4s.mp3 (no '#' in the address)
      const note = f.replace(/v\d+\.mp3$/, '');
      const name = `${note.replace('#', 's')}.mp3`;
      copy(join(pkg, 'audio', f), join(tmp, 'piano', `v${layer}`, name));
      (samples[layer] as Record<string, string>)[note] = name;
    }
    copy(join(pkg, 'README.md'), join(tmp, 'piano', `v${layer}`, 'README.md'));
  }
  writeFileSync(join(tmp, 'piano', 'samples.json'), `${JSON.stringify(samples)}\n`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(dirname(out), { recursive: true });
  renameSync(tmp, out);
  return out;
}

/** Bytes of every file under `dir`, by path relative to it. */
export function fileSizes(dir: string, prefix = ''): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) for (const [k, v] of fileSizes(p, `${prefix}${name}/`)) sizes.set(k, v);
    else sizes.set(`${prefix}${name}`, statSync(p).size);
  }
  return sizes;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = Date.now();
  const out = await buildWeb();
  const sizes = fileSizes(out);
  const js = [...sizes].filter(([k]) => k.endsWith('.js')).reduce((s, [, v]) => s + v, 0);
  process.stderr.write(`build:web: ${out} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${sizes.size} files; JavaScript ${(js / 1e6).toFixed(2)} MB)\n`);
  if (!existsSync(join(out, 'index.html'))) process.exitCode = 1;
}
