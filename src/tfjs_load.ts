/**
 * TensorFlow.js with its wasm backend registered, as Node loads it: through `require`, for speed. Node imports a
 * CommonJS package into an ES module only after scanning its source, and the sources it re-exports, for the names
 * it exports (cjs-module-lexer); for tfjs's umbrella bundle (core, layers, converter, data) that was the slowest part
 * of every command's start: `import` of `@tensorflow/tfjs` and `@tensorflow/tfjs-backend-wasm` took 370-420 ms,
 * `require` of the same 105 ms (one core, session 17), and `emopia --help` 0.55 s against 0.29 now. Both give the
 * same module instances (Node's require cache), so an `import` of tfjs elsewhere sees these.
 *
 * Only src/backend.ts imports this. Bundlers for the browser take tfjs_load_browser.ts in its place (package.json
 * "browser"; the web page's build, scripts/build_web.ts, likewise), so the browser entry holds no Node code;
 * `process.getBuiltinModule` (Node >= 20.16) is looked up at run time for the same reason.
 */
import type * as Tfjs from '@tensorflow/tfjs';

/** Node's `require`, relative to this file. */
function nodeRequire(): (id: string) => unknown {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.('node:module') as { createRequire?: (from: string) => (id: string) => unknown } | undefined;
  const req = mod?.createRequire?.(import.meta.url);
  if (!req) {
    throw new Error("emopia-ts: loading TensorFlow.js needs Node >= 20.16 (process.getBuiltinModule), or, in a browser, a bundler that reads package.json's \"browser\" field");
  }
  return req;
}

const req = nodeRequire();
export const tfjs = req('@tensorflow/tfjs') as typeof Tfjs;
req('@tensorflow/tfjs-backend-wasm');
