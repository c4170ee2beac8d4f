/** EMOPIA's training loss: the per-family mean with families read by name, and the sums that passes add up. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { cpLoss, familyLosses } from '../../src/cp/train/loss.ts';
import { FAMILIES, FAMILY_INDEX, type Family } from '../../src/music/vocab.ts';
import { assertClose } from '../helpers/close.ts';

// At least 8 classes per family, so that the eight target columns can hold eight different classes.
const SIZES: Record<Family, number> = { tempo: 9, chord: 10, barbeat: 8, type: 8, pitch: 11, duration: 8, velocity: 9, emotion: 8 };

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
  // Four real targets: each family's sum is 4 ln 2, its loss ln 2.
  assertClose(loss.sums.dataSync(), FAMILIES.map(() => 4 * Math.LN2), 1e-5, 'sums');
  const host = familyLosses(loss.sums.dataSync(), 4);
  for (const f of FAMILIES) assertClose([host.losses[f]], [Math.LN2], 1e-5, `family ${f}`);
  assertClose([host.loss], [Math.LN2], 1e-5, 'host total');
  assertClose(loss.total.dataSync(), [Math.LN2], 1e-5, 'total');
  tf.dispose([...Object.values(logits), y, mask, loss.total, loss.sums]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('cpLoss with the whole batch as denominator: the totals of two passes add up to the batch loss, gradients too', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const [B, T] = [2, 4];
    const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
    const logits = Object.fromEntries(FAMILIES.map((f, j) => [f, rand([B, T, SIZES[f]], j + 1)])) as Record<Family, tf.Tensor>; // (B, T, C_f)
    const y = tf.tensor3d(Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => FAMILIES.map((_, j) => (b + t + j) % 8))), [B, T, 8], 'int32'); // (B, T, 8)
    const mask = tf.tensor2d([[1, 1, 1, 0], [0, 1, 1, 1]]); // (B, T): 6 target words
    const whole = cpLoss(logits, y, mask);
    const row = (t: tf.Tensor, b: number) => tf.slice(t, [b], [1]);
    const passes = [0, 1].map((b) => cpLoss(Object.fromEntries(FAMILIES.map((f) => [f, row(logits[f], b)])) as Record<Family, tf.Tensor>, row(y, b), row(mask, b), 6));
    const added = (passes[0]!.total.dataSync()[0] as number) + (passes[1]!.total.dataSync()[0] as number);
    assertClose([added], whole.total.dataSync(), 1e-6, 'two passes vs one');
    // By the mask's own sum instead, a pass's total is its own mean: not the same number.
    const own = cpLoss(Object.fromEntries(FAMILIES.map((f) => [f, row(logits[f], 0)])) as Record<Family, tf.Tensor>, row(y, 0), row(mask, 0));
    assertClose(own.total.dataSync(), [(passes[0]!.total.dataSync()[0] as number) * 2], 1e-6, 'own denominator 3 vs 6');
    const sumsAdded = Array.from(passes[0]!.sums.dataSync(), (v, j) => v + (passes[1]!.sums.dataSync()[j] as number));
    assertClose(sumsAdded, whole.sums.dataSync(), 1e-5, 'sums add up');
    assertClose([familyLosses(sumsAdded, 6).loss], whole.total.dataSync(), 1e-6, 'host loss of the added sums');
    // The gradient with respect to one family's logits: the passes' gradients are the rows of the batch's.
    const tempo = logits.tempo;
    const gWhole = tf.grad((l: tf.Tensor) => cpLoss({ ...logits, tempo: l }, y, mask).total)(tempo); // (B, T, C)
    const gRow0 = tf.grad((l: tf.Tensor) => cpLoss(Object.fromEntries(FAMILIES.map((f) => [f, f === 'tempo' ? l : row(logits[f], 0)])) as Record<Family, tf.Tensor>, row(y, 0), row(mask, 0), 6).total)(row(tempo, 0));
    assertClose(gRow0.dataSync(), row(gWhole, 0).dataSync(), 1e-7, 'gradient of pass 0');
    assert.ok(Math.max(...Array.from(gRow0.dataSync(), Math.abs)) > 1e-3, 'the gradient is not zero');
  });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});
