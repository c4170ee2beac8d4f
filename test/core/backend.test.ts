// Backend set-up: wasm initialises and computes; an unknown backend name is refused with the list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';

test('wasm backend initialises and computes a matmul', async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
  const c = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]]));
  assert.deepEqual(Array.from(c.dataSync()), [17, 39]);
});

test('unknown backend name is refused with the list of backends', async () => {
  await assert.rejects(initBackend('gpu' as never), /expected one of wasm, cpu, tensorflow, got 'gpu'/);
});
