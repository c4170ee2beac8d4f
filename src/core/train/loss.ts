/**
 * Masked cross-entropy, the loss of every model in this library: the cross-entropy of each position's logits
 * against its target class, multiplied by a 0/1 mask (padding and unpredictable positions get 0), summed, and
 * divided by the mask's sum so that the mean is over the real targets only.
 */
import { tf } from '../../backend.ts';
import { customGrad, fusedTrainingKernels } from '../ops.ts';

type Tensor = tf.Tensor;

/** Names of the wasm softmax cross-entropy kernels of src/kernels/xent.ts (registered by src/backend.ts's set-up). */
const XENT_KERNEL = 'EmopiaSoftmaxXent';
const XENT_GRAD_KERNEL = 'EmopiaSoftmaxXentGrad';

/**
 * True when the fused kernels run: our kernels on and registered on the current backend, and a gradient being
 * recorded (training). Validation and evaluation keep tfjs's chain, so their numbers do not move.
 */
function fusedXent(logits: Tensor, targets: Tensor, mask: Tensor): boolean {
  return (
    logits.dtype === 'float32' && mask.dtype === 'float32' && targets.size === mask.size && logits.rank >= 1 &&
    (logits.shape[logits.rank - 1] as number) >= 2 && targets.size * (logits.shape[logits.rank - 1] as number) === logits.size &&
    fusedTrainingKernels(XENT_KERNEL, XENT_GRAD_KERNEL)
  );
}

/**
 * Σ CE·mask through the fused kernels: the rows' log-sum-exp terms in one call (nll = log(s) - a), and the
 * gradient w (softmax - onehot) with w = mask·dy in one call. Differentiable in the logits only (targets and
 * mask are data).
 */
function fusedMaskedCrossEntropySum(logits: Tensor, targets: Tensor, mask: Tensor): tf.Scalar {
  const R = targets.size;
  const t = targets.reshape([R]).toInt(); // (R,)
  const m = mask.reshape([R]); // (R,)
  const f = customGrad<[Tensor]>((lg, save) => {
    save([lg, t, m]);
    const [s, a] = tf.engine().runKernel(XENT_KERNEL, { logits: lg, targets: t }) as Tensor[]; // (R,) each
    return {
      value: tf.sum(tf.mul(tf.sub(tf.log(s as Tensor), a as Tensor), m)), // ()
      gradFunc: (dy, saved) => {
        const [sl, st, sm] = saved as [Tensor, Tensor, Tensor];
        const w = tf.mul(sm, dy); // (R,)
        return [tf.engine().runKernel(XENT_GRAD_KERNEL, { logits: sl, targets: st, w }) as Tensor]; // same shape as logits
      },
    };
  });
  return f(logits) as tf.Scalar;
}

/** Σ CE(logits, targets)·mask: logits [B,T,C], targets [B,T] int32, mask [B,T] float32 -> scalar. */
export function maskedCrossEntropySum(logits: Tensor, targets: Tensor, mask: Tensor): tf.Scalar {
  return tf.tidy(() => {
    if (fusedXent(logits, targets, mask)) return fusedMaskedCrossEntropySum(logits, targets, mask);
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
