/** Masked cross-entropy (core/train/loss.ts): closed forms, and masked positions that do not count. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { maskedCrossEntropy } from '../../src/core/train/loss.ts';
import { assertClose } from '../helpers/close.ts';

test('masked cross-entropy equals the hand-computed value and ignores masked positions', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  // Position 0: logits [0, ln 2, 0], target 1 -> p = 2/4 -> CE = ln 2. Position 1: uniform over 3, target 0 -> ln 3.
  // Position 2 (padding): a huge wrong logit that must not count.
  const logits = tf.tensor3d([[[0, Math.LN2, 0], [0, 0, 0], [100, -100, 0]]]);
  const targets = tf.tensor2d([[1, 0, 1]], undefined, 'int32');
  const masks = [tf.tensor2d([[1, 1, 0]]), tf.tensor2d([[1, 0, 0]]), tf.tensor2d([[1, 1, 1]])] as const;
  const [both, first, all] = masks.map((m) => maskedCrossEntropy(logits, targets, m)) as [tf.Scalar, tf.Scalar, tf.Scalar];
  assertClose(both.dataSync(), [(Math.LN2 + Math.log(3)) / 2], 1e-6, 'CE over two real positions');
  assertClose(first.dataSync(), [Math.LN2], 1e-6, 'CE over the first position');
  assert.ok((all.dataSync()[0] as number) > 60, 'the padded position is expensive when not masked');
  tf.dispose([logits, targets, both, first, all, ...masks]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});
