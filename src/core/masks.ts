/**
 * Attention masks: the one place where the mask convention is defined.
 *
 * Convention (an adjacency matrix between queries and keys, as `emopia explain masks` prints it):
 * - A mask is a tf 'bool' tensor; `true` means "this query may attend to this key", `false` means blocked.
 * - Masks combine with logical AND (`andMasks`), broadcasting like any elementwise op: a key-padding mask
 *   [B,1,S], a causal mask [T,S] and a cross mask [B,T,S] can be merged into one [B,T,S] mask.
 * - Where a mask is false, the attention score is replaced by MASKED_SCORE = -1e9 before the softmax. The
 *   value is finite on purpose (the classic walkthrough fills with -1e10; PyTorch uses -inf): a row whose keys are all
 *   blocked then gets a uniform distribution instead of NaN, and a row with at least one allowed key gives
 *   exactly the same probabilities as -inf would (exp(-1e9 - max) is 0 in float32).
 * - Batch masks are [B,S] (padding, true = real token), [B,1,S] (keys only) or [B,T,S] (query x key);
 *   `scaledDotProductAttention` inserts the head axis itself.
 * - PyTorch's masks use the opposite sense (bool: true = blocked; float: -inf = blocked, 0 = allowed).
 *   They are converted here, at the interop boundary, by `fromTorchBoolMask` and `fromTorchFloatMask`, and
 *   nowhere else.
 */
import { tf } from '../backend.ts';
import { InputError, fmtShape } from '../errors.ts';

/** The score given to blocked (query, key) pairs before the softmax. */
export const MASKED_SCORE = -1e9;

function checkLengths(what: string, lengths: readonly number[], maxLen?: number): number {
  if (lengths.length === 0) throw new InputError(what, 'expected at least one sequence, got an empty batch');
  for (const [i, n] of lengths.entries()) {
    if (!Number.isInteger(n) || n < 0) throw new InputError(what, `expected non-negative integer lengths, got ${n} at index ${i}`);
  }
  const longest = lengths.reduce((m, n) => Math.max(m, n), -Infinity);
  if (maxLen !== undefined) {
    if (!Number.isInteger(maxLen) || maxLen < 1) throw new InputError(what, `expected a sequence length >= 1, got ${maxLen}`);
    if (longest > maxLen) throw new InputError(what, `length ${longest} is longer than the sequence (${maxLen} positions)`);
  }
  return maxLen ?? Math.max(longest, 1);
}

/** true where position < length: lengths [B] -> [B, maxLen] (maxLen defaults to the longest length). */
export function paddingMask(lengths: readonly number[], maxLen?: number): tf.Tensor2D {
  const S = checkLengths('padding mask', lengths, maxLen);
  const data = new Uint8Array(lengths.length * S);
  lengths.forEach((n, b) => data.fill(1, b * S, b * S + n));
  return tf.tensor2d(data, [lengths.length, S], 'bool'); // (B, S)
}

function checkPadding(what: string, padding: tf.Tensor): void {
  if (padding.rank !== 2) throw new InputError(what, `expected a padding mask [B,S], got ${fmtShape(padding.shape)}`);
  if (padding.dtype !== 'bool') throw new InputError(what, `expected a 'bool' mask (true = real token), got dtype '${padding.dtype}'`);
}

/**
 * The padding adjacency matrix: padding [B,S] -> [B,S,S], true iff query i and key j are both real tokens.
 * Rows of padded queries are all false (they attend uniformly to everything; their outputs are ignored).
 */
export function selfAttentionMask(padding: tf.Tensor): tf.Tensor3D {
  checkPadding('self-attention mask', padding);
  return tf.tidy(() => tf.logicalAnd(tf.expandDims(padding, 2), tf.expandDims(padding, 1))) as tf.Tensor3D; // (B,S,1) & (B,1,S) -> (B,S,S)
}

/**
 * What PyTorch's key_padding_mask does: padding [B,S] -> [B,1,S]; only keys are masked, every query (real or
 * padded) sees the real keys.
 */
export function keyPaddingMask(padding: tf.Tensor): tf.Tensor3D {
  checkPadding('key padding mask', padding);
  return tf.expandDims(padding, 1) as tf.Tensor3D; // (B, 1, S)
}

/**
 * Causal mask for T queries: [T, keyLength], where query i (absolute position offset+i) sees keys
 * j <= offset + i. With a key/value cache, `offset` is the number of positions already decoded, and the
 * result equals rows offset..offset+T-1 of causalMask(offset+T). keyLength defaults to offset+T.
 */
export function causalMask(T: number, opts: { offset?: number; keyLength?: number } = {}): tf.Tensor2D {
  const offset = opts.offset ?? 0;
  if (!Number.isInteger(T) || T < 1) throw new InputError('causal mask', `expected a length >= 1, got ${T}`);
  if (!Number.isInteger(offset) || offset < 0) throw new InputError('causal mask', `expected an offset >= 0, got ${offset}`);
  const S = opts.keyLength ?? offset + T;
  if (!Number.isInteger(S) || S < 1) throw new InputError('causal mask', `expected a key length >= 1, got ${S}`);
  const data = new Uint8Array(T * S);
  for (let i = 0; i < T; i++) data.fill(1, i * S, i * S + Math.min(S, offset + i + 1));
  return tf.tensor2d(data, [T, S], 'bool'); // (T, S)
}

/**
 * Cross-attention mask between a target batch and a source batch of different lengths:
 * [B, T, S], true iff target position t < tgtLengths[b] and source position s < srcLengths[b].
 * T and S default to the longest lengths.
 */
export function crossAttentionMask(tgtLengths: readonly number[], srcLengths: readonly number[], opts: { tgtLen?: number; srcLen?: number } = {}): tf.Tensor3D {
  const T = checkLengths('cross-attention mask (target)', tgtLengths, opts.tgtLen);
  const S = checkLengths('cross-attention mask (source)', srcLengths, opts.srcLen);
  if (tgtLengths.length !== srcLengths.length) {
    throw new InputError('cross-attention mask', `expected as many target as source lengths, got ${tgtLengths.length} and ${srcLengths.length}`);
  }
  const B = tgtLengths.length;
  const data = new Uint8Array(B * T * S);
  for (let b = 0; b < B; b++) {
    const nt = tgtLengths[b] as number;
    const ns = srcLengths[b] as number;
    for (let t = 0; t < nt; t++) data.fill(1, (b * T + t) * S, (b * T + t) * S + ns);
  }
  return tf.tensor3d(data, [B, T, S], 'bool'); // (B, T, S)
}

/** Logical AND of masks with broadcasting; undefined entries are skipped. Returns undefined if none is given. */
export function andMasks(...masks: Array<tf.Tensor | undefined>): tf.Tensor | undefined {
  const given = masks.filter((m): m is tf.Tensor => m !== undefined);
  for (const m of given) {
    if (m.dtype !== 'bool') throw new InputError('mask', `expected a 'bool' mask (true = may attend), got dtype '${m.dtype}'`);
  }
  if (given.length === 0) return undefined;
  if (given.length === 1) return (given[0] as tf.Tensor).clone();
  return tf.tidy(() => {
    let out = given[0] as tf.Tensor;
    for (const m of given.slice(1)) {
      try {
        out = tf.logicalAnd(out, m);
      } catch {
        throw new InputError('mask', `cannot combine masks of shapes ${fmtShape(out.shape)} and ${fmtShape(m.shape)}`);
      }
    }
    return out;
  });
}

/**
 * Replaces scores where `mask` is false with MASKED_SCORE, exactly: scores·m + (1-m)·MASKED_SCORE with m the
 * mask as 0/1 floats (s·1 + 0 = s, s·0 + MASKED_SCORE = MASKED_SCORE). scores [..., T, S], mask broadcastable
 * to it. Written as a multiply-add rather than tf.where because where tiles the mask and the fill value to the
 * full [B,h,T,S] shape (forward and backward), which dominated the attention time on wasm.
 */
export function applyMask(scores: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const keep = tf.cast(mask, 'float32'); // mask's shape, 1 = allowed
    const fill = tf.mul(tf.sub(1, keep), MASKED_SCORE); // 0 where allowed, MASKED_SCORE where blocked
    return tf.add(tf.mul(scores, keep), fill); // same shape as scores
  });
}

/** PyTorch bool (or 0/1 integer) mask, true/1 = blocked -> ours, true = allowed. */
export function fromTorchBoolMask(mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => (mask.dtype === 'bool' ? tf.logicalNot(mask) : tf.equal(mask, 0)));
}

/**
 * PyTorch float (additive) mask -> ours. 0 means allowed; -inf or a large negative (<= -1e4) means blocked.
 * Any other value is an additive bias that a boolean mask cannot express: InputError.
 */
export function fromTorchFloatMask(mask: tf.Tensor): tf.Tensor {
  const values = mask.dataSync();
  for (const v of values) {
    if (!(v === 0 || v <= -1e4)) {
      throw new InputError('float mask', `expected 0 (allowed) or -inf/large negative (blocked), got ${v}`);
    }
  }
  return tf.tidy(() => tf.equal(mask, 0));
}

/** A bool mask as nested 0/1 arrays (for printing and JSON). */
export function maskToArray(mask: tf.Tensor): unknown {
  return tf.tidy(() => mask.toInt().arraySync());
}
