// Masks and the positional table against a worked example (two sentences of 2 and 4 tokens, d_model 6: the
// walkthrough that `emopia explain masks` prints), plus the closed forms and validation of every mask builder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { InputError } from '../../src/errors.ts';
import {
  MASKED_SCORE,
  andMasks,
  applyMask,
  causalMask,
  crossAttentionMask,
  fromTorchBoolMask,
  fromTorchFloatMask,
  keyPaddingMask,
  maskToArray,
  paddingMask,
  selfAttentionMask,
} from '../../src/core/masks.ts';
import { scaledDotProductAttention } from '../../src/core/attention.ts';
import { addPositional, positionalEncoding } from '../../src/core/positional.ts';
import { assertClose } from '../helpers/close.ts';

// The worked example's adjacency matrix for two sentences of lengths 2 and 4 padded to 4.
const SEED_ADJACENCY = [
  [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
  [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]],
];

// The worked example's random scores [2,4,4] (printed to 4 decimals there).
const SEED_SCORES = [
  [[-0.1509, -0.2514, -0.5393, 2.0241], [-0.1525, -1.9199, 0.6847, -1.8795], [1.0322, 0.0772, 0.9992, -0.1082], [1.4347, 1.4084, -0.6897, -0.2518]],
  [[-0.0109, 0.0328, 1.5458, 0.9872], [0.0314, -1.3659, -0.6441, -1.6444], [-0.0487, 0.0438, 0.0576, -1.1691], [0.3475, -0.1329, -1.0455, -0.9671]],
];

// The worked example's masked scores. The example fills blocked entries with -1e10; we fill with -1e9 (MASKED_SCORE), so
// the worked example's -1.0000e+10 entries are written here as -1e9. All other entries are the worked example's own numbers.
const F = -1e9;
const SEED_MASKED = [
  [[-1.5094e-1, -2.5137e-1, F, F], [-1.5255e-1, -1.9199, F, F], [F, F, F, F], [F, F, F, F]],
  [[-1.0883e-2, 3.2843e-2, 1.5458, 9.8725e-1], [3.1395e-2, -1.3659, -6.441e-1, -1.6444], [-4.8689e-2, 4.3825e-2, 5.7644e-2, -1.1691], [3.4751e-1, -1.329e-1, -1.0455, -9.6713e-1]],
];

// The worked example's sinusoidal table for 4 positions and d = 6, to 4 decimals.
const SEED_PE = [
  [0.0, 1.0, 0.0, 1.0, 0.0, 1.0],
  [0.8415, 0.5403, 0.0464, 0.9989, 0.0022, 1.0],
  [0.9093, -0.4161, 0.0927, 0.9957, 0.0043, 1.0],
  [0.1411, -0.99, 0.1388, 0.9903, 0.0065, 1.0],
];

function expectInputError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), `message is one line: ${err.message}`);
    return true;
  });
}

test('padding adjacency for lengths [2,4], maxLen 4 equals the worked example matrix', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  const pad = paddingMask([2, 4], 4);
  assert.equal(pad.dtype, 'bool');
  assert.deepEqual(maskToArray(pad), [[1, 1, 0, 0], [1, 1, 1, 1]]);
  const adj = selfAttentionMask(pad);
  assert.deepEqual(adj.shape, [2, 4, 4]);
  assert.deepEqual(maskToArray(adj), SEED_ADJACENCY);
  tf.dispose([pad, adj]);
  assert.equal(tf.memory().numTensors, before);
});

test("masked example scores equal the worked example's table (with -1e9 where the example has -1e10)", async () => {
  await initBackend('wasm');
  const masked = tf.tidy(() => applyMask(tf.tensor3d(SEED_SCORES), selfAttentionMask(paddingMask([2, 4], 4))));
  assert.equal(MASKED_SCORE, -1e9);
  const got = masked.dataSync();
  // Blocked entries are exactly -1e9; the others are the worked example's scores (4 printed decimals vs 5 significant).
  const expected = SEED_MASKED.flat(2);
  expected.forEach((e, i) => {
    if (e === F) assert.equal(got[i], -1e9, `entry ${i}`);
  });
  assertClose(got, expected, 1e-4, 'masked scores');
  masked.dispose();
});

test("positional table (4 positions, d 6) equals the worked example's to 4 decimals", async () => {
  await initBackend('wasm');
  const pe = positionalEncoding(4, 6);
  assertClose(pe.dataSync(), SEED_PE.flat(), 5e-5, 'PE');
  // One value beyond the worked example's printed precision, from the closed form: PE(3, 3) = cos(3 / 10000^(2/6)).
  assertClose([pe.dataSync()[3 * 6 + 3] as number], [Math.cos(3 / Math.pow(10000, 2 / 6))], 1e-6, 'PE(3,3)');
  pe.dispose();
});

test('addPositional adds rows offset..offset+T-1; positions beyond the table are one-line InputErrors', async () => {
  await initBackend('wasm');
  const n0 = tf.memory().numTensors;
  const table = positionalEncoding(5, 6); // (5, 6)
  const x = tf.ones([2, 2, 6]); // (B, T, d)
  const y = addPositional(x, table, 3); // rows 3 and 4
  const rows = table.arraySync().slice(3, 5).flat();
  assertClose(y.dataSync(), [...rows, ...rows].map((v) => v + 1), 1e-6, 'x + PE[3..4]');
  expectInputError(() => addPositional(x, table, 4), /positions 4\.\.5 requested, the table has 5 \(0\.\.4\)/);
  expectInputError(() => addPositional(x, table, -1), /expected an offset >= 0, got -1/);
  const flat = tf.ones([2, 6]);
  expectInputError(() => addPositional(flat, table), /positional encoding input: expected shape \[\*,\*,6\], got \[2,6\]/);
  tf.dispose([table, x, y, flat]);
  assert.equal(tf.memory().numTensors, n0);
});

test('causal mask is lower-triangular, and with an offset equals the rows of the full mask', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    assert.deepEqual(maskToArray(causalMask(3)), [[1, 0, 0], [1, 1, 0], [1, 1, 1]]);
    for (const [offset, T] of [[0, 5], [2, 1], [3, 2], [4, 3]] as const) {
      const full = maskToArray(causalMask(offset + T)) as number[][];
      const part = causalMask(T, { offset });
      assert.deepEqual(part.shape, [T, offset + T]);
      assert.deepEqual(maskToArray(part), full.slice(offset, offset + T), `offset ${offset}, T ${T}`);
    }
    // A longer key axis (e.g. a preallocated cache): keys after offset+i stay blocked.
    assert.deepEqual(maskToArray(causalMask(2, { offset: 1, keyLength: 5 })), [[1, 1, 0, 0, 0], [1, 1, 1, 0, 0]]);
  });
  assert.equal(tf.memory().numTensors, before);
});

test('cross-attention mask relates target and source lengths; key padding masks keys only', async () => {
  await initBackend('wasm');
  assert.deepEqual(maskToArray(crossAttentionMask([4, 3], [2, 4])), [
    [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]],
    [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]],
  ]);
  assert.deepEqual(crossAttentionMask([1, 2], [3, 1], { tgtLen: 3, srcLen: 5 }).shape, [2, 3, 5]);
  const kp = keyPaddingMask(paddingMask([2, 4], 4));
  assert.deepEqual(kp.shape, [2, 1, 4]);
  assert.deepEqual(maskToArray(kp), [[[1, 1, 0, 0]], [[1, 1, 1, 1]]]);
});

test('andMasks broadcasts key padding [B,1,S] with causal [T,S] into [B,T,S]', async () => {
  await initBackend('wasm');
  const m = andMasks(keyPaddingMask(paddingMask([2, 3], 3)), causalMask(3), undefined)!;
  assert.deepEqual(m.shape, [2, 3, 3]);
  const lengths = [2, 3];
  const expected = lengths.map((n) => [0, 1, 2].map((i) => [0, 1, 2].map((j) => (j <= i && j < n ? 1 : 0))));
  assert.deepEqual(maskToArray(m), expected);
  assert.equal(andMasks(undefined, undefined), undefined);
  expectInputError(() => andMasks(causalMask(3), causalMask(4)), /cannot combine masks of shapes \[3,3\] and \[4,4\]/);
  expectInputError(() => andMasks(tf.ones([3, 3])), /expected a 'bool' mask/);
});

test("PyTorch masks are converted at the boundary: bool/uint8 true = blocked, float -inf = blocked", async () => {
  await initBackend('wasm');
  const u8 = tf.tensor2d([[0, 1], [1, 0]], [2, 2], 'int32');
  assert.deepEqual(maskToArray(fromTorchBoolMask(u8)), [[1, 0], [0, 1]]);
  const b = tf.tensor2d([[false, true]], [1, 2], 'bool');
  assert.deepEqual(maskToArray(fromTorchBoolMask(b)), [[1, 0]]);
  const f = tf.tensor2d([[0, -Infinity, -1e9, 0]], [1, 4]);
  assert.deepEqual(maskToArray(fromTorchFloatMask(f)), [[1, 0, 0, 1]]);
  expectInputError(() => fromTorchFloatMask(tf.tensor1d([0, 0.5])), /expected 0 \(allowed\) or -inf.*got 0\.5/);
  // PyTorch's causal mask (true above the diagonal) converts to ours.
  const torchCausal = tf.tensor2d([[0, 1, 1], [0, 0, 1], [0, 0, 0]], [3, 3], 'int32');
  assert.deepEqual(maskToArray(fromTorchBoolMask(torchCausal)), maskToArray(causalMask(3)));
});

test('a fully masked row gives a uniform distribution, not NaN', async () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => {
      const q = tf.tensor4d([[[[1, 2], [3, -1]]]]); // (1,1,2,2)
      const k = tf.tensor4d([[[[0.5, 1], [2, 0], [-1, 1]]]]); // (1,1,3,2)
      const v = tf.tensor4d([[[[1, 10], [2, 20], [6, 60]]]]); // (1,1,3,2)
      const mask = tf.tensor2d([[false, false, false], [true, false, true]], [2, 3], 'bool');
      return scaledDotProductAttention(q, k, v, mask).dataSync();
    });
    assert.ok(out.every((x) => Number.isFinite(x)), `${backend}: finite`);
    // Row 0 sees nothing: the mean of v. Row 1 sees keys 0 and 2 with scores (3*0.5-1)/sqrt2 and (-3-1)/sqrt2.
    const s0 = 0.5 / Math.SQRT2;
    const s2 = -4 / Math.SQRT2;
    const w0 = Math.exp(s0) / (Math.exp(s0) + Math.exp(s2));
    const w2 = 1 - w0;
    assertClose(out, [3, 30, w0 * 1 + w2 * 6, w0 * 10 + w2 * 60], 1e-5, `${backend}: attention`);
    assert.equal(tf.memory().numTensors, before, `${backend}: no leak`);
  }
});

test('bad lengths are one-line InputErrors', async () => {
  await initBackend('wasm');
  expectInputError(() => paddingMask([2, 5], 4), /length 5 is longer than the sequence \(4 positions\)/);
  expectInputError(() => paddingMask([]), /empty batch/);
  expectInputError(() => paddingMask([2, -1]), /non-negative integer lengths, got -1 at index 1/);
  expectInputError(() => paddingMask([1.5]), /non-negative integer lengths/);
  expectInputError(() => crossAttentionMask([2, 3], [2]), /as many target as source lengths, got 2 and 1/);
  expectInputError(() => crossAttentionMask([], [2]), /empty batch/);
  expectInputError(() => causalMask(0), /expected a length >= 1, got 0/);
  expectInputError(() => causalMask(2, { offset: -1 }), /offset >= 0/);
  expectInputError(() => selfAttentionMask(tf.ones([2, 4])), /'bool' mask/);
  expectInputError(() => keyPaddingMask(tf.ones([2, 4, 4], 'bool')), /expected a padding mask \[B,S\], got \[2,4,4\]/);
});
