/**
 * The training loss of the compound-word Transformer, as EMOPIA: per family, the cross-entropy of the
 * family's logits against its target, multiplied by the loss mask and divided by the mask's sum; the total
 * is the plain mean over the eight families. Families are addressed by name (FAMILIES order only fixes the
 * column of each family in the word arrays).
 */
import { tf } from '../../backend.ts';
import { FAMILIES, FAMILY_INDEX, type Family } from '../../music/vocab.ts';

type Tensor = tf.Tensor;

export interface CPLoss {
  /** Mean over the eight families of the masked cross-entropy. */
  total: tf.Scalar;
  /** The masked cross-entropy of each family. */
  perFamily: Record<Family, tf.Scalar>;
}

/** Σ CE(logits, targets)·mask: logits [B,T,C], targets [B,T] int32, mask [B,T] float32 -> scalar. */
export function maskedCrossEntropySum(logits: Tensor, targets: Tensor, mask: Tensor): tf.Scalar {
  return tf.tidy(() => {
    const C = logits.shape[logits.rank - 1] as number;
    const logp = tf.logSoftmax(logits); // (B, T, C)
    const onehot = tf.oneHot(targets.toInt(), C).toFloat(); // (B, T, C)
    const nll = tf.neg(tf.sum(tf.mul(logp, onehot), -1)); // (B, T)
    return tf.sum(tf.mul(nll, mask)) as tf.Scalar; // ()
  });
}

/** sum(CE·mask) / sum(mask), EMOPIA's per-family loss. */
export function maskedCrossEntropy(logits: Tensor, targets: Tensor, mask: Tensor): tf.Scalar {
  return tf.tidy(() => tf.div(maskedCrossEntropySum(logits, targets, mask), tf.sum(mask)) as tf.Scalar);
}

/** The target column of one family: y [B,T,8] -> [B,T] int32. */
export function familyTargets(y: Tensor, family: Family): Tensor {
  const B = y.shape[0] as number;
  const T = y.shape[1] as number;
  return tf.slice(y, [0, 0, FAMILY_INDEX[family]], [B, T, 1]).reshape([B, T]); // (B, T)
}

/**
 * EMOPIA's loss: `logits[f]` [B,T,nClasses[f]] for every family, `y` [B,T,8] int32 targets (words shifted by
 * one), `mask` [B,T] with 1 at real positions. The caller owns (and disposes) the returned scalars.
 */
export function cpLoss(logits: Record<Family, Tensor>, y: Tensor, mask: Tensor): CPLoss {
  const perFamily = {} as Record<Family, tf.Scalar>;
  for (const f of FAMILIES) {
    perFamily[f] = tf.tidy(() => maskedCrossEntropy(logits[f], familyTargets(y, f), mask));
  }
  const total = tf.tidy(() => tf.div(tf.addN(FAMILIES.map((f) => perFamily[f])), FAMILIES.length) as tf.Scalar); // ()
  return { total, perFamily };
}

/** The loss of predicting every class with equal probability: mean over families of ln(nClasses[f]). */
export function uniformLoss(nClasses: Record<Family, number> | readonly number[]): number {
  const sizes = Array.isArray(nClasses) ? (nClasses as readonly number[]) : FAMILIES.map((f) => (nClasses as Record<Family, number>)[f]);
  return sizes.reduce((s, n) => s + Math.log(n), 0) / sizes.length;
}
