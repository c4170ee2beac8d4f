/**
 * Run by test/core/kernels_fma.test.ts in a fresh process (so that EMOPIA_FMA applies from the start): sets up
 * the wasm backend, takes the gradients of one product through namedGrads, and prints the build training's
 * products ran on, whether the fused module validates, and the products each build ran, as one JSON line.
 */
import { initBackend, tf } from '../../src/backend.ts';
import { fusedKernelCalls, trainingKernelCalls, trainingProductBuild } from '../../src/kernels/register.ts';
import { relaxedSimdValidates } from '../../src/kernels/gemm.ts';
import { namedGrads } from '../../src/core/train/optim.ts';

await initBackend('wasm');
const a = tf.variable(tf.ones([3, 5]), true, 'a');
const w = tf.variable(tf.ones([5, 2]), true, 'w');
const before = trainingKernelCalls();
const { value, grads } = namedGrads(() => tf.sum(tf.matMul(a, w)) as tf.Scalar, [['a', a], ['w', w]]);
tf.dispose([value, ...grads.values()]);
process.stdout.write(
  `${JSON.stringify({ build: trainingProductBuild(tf), validates: relaxedSimdValidates(), fused: fusedKernelCalls(), ours: trainingKernelCalls() - before })}\n`,
);
