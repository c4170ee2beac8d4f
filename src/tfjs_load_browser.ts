/**
 * TensorFlow.js with its wasm backend registered, as a bundler for the browser takes it: src/tfjs_load.ts's browser
 * replacement (package.json "browser", scripts/build_web.ts). Only src/backend.ts imports it (through that name).
 */
import * as tfjs from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tfjs };
