/**
 * The training loss of the compound-word Transformer, as EMOPIA: per family, the masked cross-entropy of the
 * family's logits against its target (core/train/loss.ts), divided by the mask's sum; the total is the plain
 * mean over the eight families. Families are addressed by name (FAMILIES order only fixes the column of each
 * family in the word arrays). The trainer, its validation and the tests all go through `cpLoss`.
 */
import { tf } from '../../backend.ts';
import { maskedCrossEntropySum } from '../../core/train/loss.ts';
import { FAMILIES, FAMILY_INDEX, type Family } from '../../music/vocab.ts';

type Tensor = tf.Tensor;

export interface CPLoss {
  /** Σ CE·mask of each family, (8,) in FAMILIES order: what passes and batches add up. */
  sums: tf.Tensor1D;
  /** EMOPIA's loss: the mean over the eight families of sums / denominator (the number of target words). */
  total: tf.Scalar;
}

/** The target column of one family: y [B,T,8] -> [B,T] int32. */
export function familyTargets(y: Tensor, family: Family): Tensor {
  const B = y.shape[0] as number;
  const T = y.shape[1] as number;
  return tf.slice(y, [0, 0, FAMILY_INDEX[family]], [B, T, 1]).reshape([B, T]); // (B, T)
}

/**
 * EMOPIA's loss: `logits[f]` [B,T,nClasses[f]] for every family, `y` [B,T,8] int32 targets (words shifted by
 * one), `mask` [B,T] with 1 at real positions. `denominator` is the number of target words the mean is over:
 * the mask's sum by default; the trainer passes the whole batch's when the batch goes through the model in
 * several passes, so that the passes' totals add up to the batch's loss. The caller owns (and disposes) the
 * returned tensors.
 */
export function cpLoss(logits: Record<Family, Tensor>, y: Tensor, mask: Tensor, denominator?: number): CPLoss {
  const sums = tf.tidy(() => tf.stack(FAMILIES.map((f) => maskedCrossEntropySum(logits[f], familyTargets(y, f), mask)))) as tf.Tensor1D; // (8,)
  const total = tf.tidy(() => {
    const words = denominator === undefined ? tf.mul(tf.sum(mask), FAMILIES.length) : FAMILIES.length * denominator; // ()
    return tf.div(tf.sum(sums), words) as tf.Scalar; // ()
  });
  return { sums, total };
}

/**
 * The loss in host numbers from `sums` (cpLoss's, or several added up) over `words` target words: per family
 * sums[f] / words, and their mean. No words gives 0, not NaN (a batch without targets is not a divergence).
 */
export function familyLosses(sums: ArrayLike<number>, words: number): { loss: number; losses: Record<Family, number> } {
  const losses = {} as Record<Family, number>;
  FAMILIES.forEach((f, j) => (losses[f] = (sums[j] as number) / Math.max(words, 1)));
  const loss = FAMILIES.reduce((t, f) => t + losses[f], 0) / FAMILIES.length;
  return { loss, losses };
}

/** The loss of predicting every class with equal probability: mean over families of ln(nClasses[f]). */
export function uniformLoss(nClasses: Record<Family, number> | readonly number[]): number {
  const sizes = Array.isArray(nClasses) ? (nClasses as readonly number[]) : FAMILIES.map((f) => (nClasses as Record<Family, number>)[f]);
  return sizes.reduce((s, n) => s + Math.log(n), 0) / sizes.length;
}
