import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { cpLoss, maskedCrossEntropy, uniformLoss } from '../../src/cp/train/loss.ts';
import { FAMILIES, type Family } from '../../src/music/vocab.ts';
import { assertClose } from '../helpers/close.ts';

const SIZES: Record<Family, number> = { tempo: 5, chord: 7, barbeat: 4, type: 4, pitch: 6, duration: 3, velocity: 5, emotion: 5 };

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

test('cpLoss is the mean over the eight families, each addressed by name', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  const B = 2;
  const T = 3;
  const logits = {} as Record<Family, tf.Tensor>;
  for (const f of FAMILIES) logits[f] = tf.zeros([B, T, SIZES[f]]); // (B, T, C): uniform predictions
  // pitch: every position puts logit ln(5) on class 2, so p(2) = 5 / (5 + 5) = 1/2 with 6 classes.
  logits.pitch.dispose();
  const pitchRow = [0, 0, Math.log(5), 0, 0, 0];
  logits.pitch = tf.tensor3d(Array.from({ length: B }, () => Array.from({ length: T }, () => pitchRow)));
  const y = tf.tensor3d(Array.from({ length: B }, () => Array.from({ length: T }, () => [1, 2, 3, 0, 2, 1, 4, 0])), undefined, 'int32');
  const mask = tf.tensor2d([[1, 1, 1], [1, 0, 0]]);
  const loss = cpLoss(logits, y, mask);
  for (const f of FAMILIES) {
    const expected = f === 'pitch' ? Math.LN2 : Math.log(SIZES[f]);
    assertClose(loss.perFamily[f].dataSync(), [expected], 1e-5, `family ${f}`);
  }
  const expectedTotal = (uniformLoss(SIZES) * 8 - Math.log(6) + Math.LN2) / 8;
  assertClose(loss.total.dataSync(), [expectedTotal], 1e-5, 'total');
  tf.dispose([...Object.values(logits), y, mask, loss.total, ...Object.values(loss.perFamily)]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});
