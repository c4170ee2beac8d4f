/**
 * Sinusoidal positional encoding (Vaswani et al. 2017), as a frozen table [maxLen, d]:
 *   PE(pos, 2i)   = sin(pos / 10000^(2i/d))
 *   PE(pos, 2i+1) = cos(pos / 10000^(2i/d))
 * Computed in float64 and rounded once to float32, as PyTorch's tutorials do in float32 (differences ~1e-7).
 */
import { tf } from '../backend.ts';
import { InputError, assertShape } from '../errors.ts';

/** The table as plain numbers, rows = positions. */
export function sinusoidalTable(maxLen: number, d: number): Float32Array {
  const out = new Float32Array(maxLen * d);
  // 10000^(2i/d) once per frequency (the same float64 divisor as before, so the same bits; it was recomputed for
  // every position, most of a 8192 x 256 table's cost).
  const divisors = new Float64Array(Math.ceil(d / 2));
  for (let i = 0; 2 * i < d; i++) divisors[i] = Math.pow(10000, (2 * i) / d);
  for (let pos = 0; pos < maxLen; pos++) {
    const row = pos * d;
    for (let i = 0; 2 * i < d; i++) {
      const angle = pos / (divisors[i] as number);
      out[row + 2 * i] = Math.sin(angle);
      if (2 * i + 1 < d) out[row + 2 * i + 1] = Math.cos(angle);
    }
  }
  return out;
}

/** The frozen table as a tensor [maxLen, d] (not a parameter: it never trains). */
export function positionalEncoding(maxLen: number, d: number): tf.Tensor2D {
  return tf.tensor2d(sinusoidalTable(maxLen, d), [maxLen, d]); // (maxLen, d)
}

/** Adds rows offset..offset+T-1 of `table` [maxLen, d] to x [B, T, d]. */
export function addPositional(x: tf.Tensor, table: tf.Tensor, offset = 0): tf.Tensor {
  const [maxLen, d] = table.shape as [number, number];
  assertShape('positional encoding input', x.shape, [-1, -1, d]);
  const T = x.shape[1] as number;
  if (!Number.isInteger(offset) || offset < 0) throw new InputError('positional encoding', `expected an offset >= 0, got ${offset}`);
  if (offset + T > maxLen) {
    throw new InputError('positional encoding', `positions ${offset}..${offset + T - 1} requested, the table has ${maxLen} (0..${maxLen - 1})`);
  }
  return tf.tidy(() => tf.add(x, tf.slice(table, [offset, 0], [T, d]))); // (B, T, d) + (T, d)
}
