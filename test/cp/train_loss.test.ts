/** EMOPIA's training loss: masked cross-entropy against closed forms, and the per-family mean with families read by name. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { cpLoss, maskedCrossEntropy } from '../../src/cp/train/loss.ts';
import { FAMILIES, FAMILY_INDEX, type Family } from '../../src/music/vocab.ts';
import { assertClose } from '../helpers/close.ts';

// At least 8 classes per family, so that the eight target columns can hold eight different classes.
const SIZES: Record<Family, number> = { tempo: 9, chord: 10, barbeat: 8, type: 8, pitch: 11, duration: 8, velocity: 9, emotion: 8 };

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

test('cpLoss is the mean over the eight families, each reading its own target column by name', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  const [B, T] = [2, 3];
  // Real targets: column j holds class j, a different class in every column. Each family's logits put
  // ln(C_f - 1) on the class of its own column, so p = 1/2 and CE = ln 2 exactly when the family reads its own
  // column; any other column names a class of probability 1/(2(C_f - 1)).
  // Masked targets (sample 1, t >= 1) hold class 7 - j, never the peaked class: they must not count.
  const mask = tf.tensor2d([[1, 1, 1], [1, 0, 0]]);
  const own = Array.from({ length: 8 }, (_, j) => j);
  const y = tf.tensor3d([[own, own, own], [own, own.map((j) => 7 - j), own.map((j) => 7 - j)]], [B, T, 8], 'int32');
  const logits = {} as Record<Family, tf.Tensor>;
  for (const f of FAMILIES) {
    const row = new Array<number>(SIZES[f]).fill(0);
    row[FAMILY_INDEX[f]] = Math.log(SIZES[f] - 1);
    logits[f] = tf.tensor3d(Array.from({ length: B }, () => Array.from({ length: T }, () => row))); // (B, T, C_f)
  }
  const loss = cpLoss(logits, y, mask);
  for (const f of FAMILIES) assertClose(loss.perFamily[f].dataSync(), [Math.LN2], 1e-5, `family ${f}`);
  assertClose(loss.total.dataSync(), [Math.LN2], 1e-5, 'total');
  tf.dispose([...Object.values(logits), y, mask, loss.total, ...Object.values(loss.perFamily)]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});
