/**
 * Masked cross-entropy, the loss of every model in this library: the cross-entropy of each position's logits
 * against its target class, multiplied by a 0/1 mask (padding and unpredictable positions get 0), summed, and
 * divided by the mask's sum so that the mean is over the real targets only.
 */
import { tf } from '../../backend.ts';

type Tensor = tf.Tensor;

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

/** Σ CE·mask / Σ mask: the mean cross-entropy over the positions the mask keeps. */
export function maskedCrossEntropy(logits: Tensor, targets: Tensor, mask: Tensor): tf.Scalar {
  return tf.tidy(() => tf.div(maskedCrossEntropySum(logits, targets, mask), tf.sum(mask)) as tf.Scalar);
}
