/**
 * What the page's bundle gives for `@tensorflow/tfjs` (scripts/build_web.ts points the import here): the core
 * with its gradients and chained ops, and the cpu backend, as the umbrella package registers them, without the
 * layers, converter, data and WebGL parts the library never uses (about half of tfjs's bytes). The kernels are
 * the same, so the numbers are the same.
 */
import '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';

export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-backend-cpu';
