/**
 * Token embedding: a torch.nn.Embedding (`weight` [V, d], N(0,1) init) whose output is optionally scaled by
 * sqrt(d), as "Attention Is All You Need" §3.4 does before adding the positional encoding.
 */
import { tf } from '../backend.ts';
import { InputError } from '../errors.ts';
import type { Rng } from '../random.ts';
import { Embedding } from './module.ts';

export class TokenEmbedding extends Embedding {
  readonly scale: number;

  constructor(vocab: number, d: number, rng: Rng, opts: { scale?: boolean } = {}) {
    if (!Number.isInteger(vocab) || vocab < 1 || !Number.isInteger(d) || d < 1) {
      throw new InputError('token embedding', `expected a vocabulary size and a dimension >= 1, got ${vocab} and ${d}`);
    }
    super(vocab, d, rng);
    this.scale = opts.scale ? Math.sqrt(d) : 1;
  }

  /** ids [...] (integers in [0, V)) -> [..., d] */
  override forward(ids: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const e = super.forward(ids); // (..., d)
      return this.scale === 1 ? e : tf.mul(e, this.scale); // (..., d)
    });
  }
}
