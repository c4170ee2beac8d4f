/**
 * Scaled dot-product attention and multi-head attention, numerically equal to torch.nn.MultiheadAttention
 * (batch-first) and with the same parameter names:
 *   in_proj_weight [3d, d], in_proj_bias [3d], out_proj.weight [d, d], out_proj.bias [d].
 *
 * Masks follow masks.ts: bool, true = may attend, merged by AND, blocked scores set to -1e9.
 *
 * wasm speed (the work-arounds are described in ops.ts): the fused in-projection is stored transposed, [d, 3d], so the
 * projection is one plain 2-D matmul; Q, K and V are cut from it with 2-D splits/slices (never a rank-5
 * split); the head products go through ops.matmul, which loops 2-D products on wasm.
 */
import { tf } from '../backend.ts';
import { InputError, assertShape, fmtShape } from '../errors.ts';
import { type Rng, uniformArray } from '../random.ts';
import { Linear, Module } from './module.ts';
import { applyMask } from './masks.ts';
import { dropout as dropoutOp, linear, matmul, transposeLast } from './ops.ts';

type Tensor = tf.Tensor;

/** Dropout on the attention weights: active only when an rng is given (training). */
export interface AttentionDropout {
  rate: number;
  rng?: Rng;
}

/**
 * Brings a mask to rank 4 so that it broadcasts against scores [B, h, T, S]:
 * [T,S] -> [1,1,T,S]; [B,T,S] or [B,1,S] -> [B,1,T,S] / [B,1,1,S] (the head axis is inserted); rank 4 as is.
 */
function maskForHeads(mask: Tensor, B: number, h: number, T: number, S: number): Tensor {
  if (mask.dtype !== 'bool') throw new InputError('attention mask', `expected a 'bool' mask (true = may attend), got dtype '${mask.dtype}'`);
  const m = mask.rank === 2 ? mask.reshape([1, 1, ...mask.shape]) : mask.rank === 3 ? tf.expandDims(mask, 1) : mask; // (B|1, h|1, T|1, S|1)
  const want = [B, h, T, S];
  const fits = m.rank === 4 && m.shape.every((n, i) => n === 1 || n === want[i]);
  if (!fits) {
    if (m !== mask) m.dispose();
    throw new InputError('attention mask', `expected a mask broadcastable to [B,h,T,S]=${fmtShape(want)} (as [T,S], [B,T,S], [B,1,S] or [B,h,T,S]), got ${fmtShape(mask.shape)}`);
  }
  return m;
}

/**
 * softmax(q kᵀ / sqrt(dh) masked) v.
 * q [B,h,T,dh], k [B,h,S,dh], v [B,h,S,dh]; mask bool, broadcastable as described in maskForHeads.
 * Returns [B,h,T,dh]. Reused by the compound-word model (with a key/value cache, k and v are longer than q:
 * pass causalMask(T, {offset}) as the mask).
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, mask?: Tensor, drop?: AttentionDropout): Tensor {
  if (q.rank !== 4) throw new InputError('attention query', `expected [B,h,T,dh], got ${fmtShape(q.shape)}`);
  const [B, h, T, dh] = q.shape as [number, number, number, number];
  if (k.rank !== 4) throw new InputError('attention key', `expected [B,h,S,dh], got ${fmtShape(k.shape)}`);
  const S = k.shape[2] as number;
  assertShape('attention key', k.shape, [B, h, S, dh]);
  assertShape('attention value', v.shape, [B, h, S, -1]);
  return tf.tidy(() => {
    let scores = matmul(tf.mul(q, 1 / Math.sqrt(dh)), transposeLast(k)); // (B,h,T,dh) x (B,h,dh,S) -> (B,h,T,S)
    if (mask) scores = applyMask(scores, maskForHeads(mask, B, h, T, S)); // (B,h,T,S)
    let weights = tf.softmax(scores, -1); // (B,h,T,S)
    if (drop) weights = dropoutOp(weights, drop.rate, drop.rng); // (B,h,T,S)
    return matmul(weights, v); // (B,h,T,S) x (B,h,S,dv) -> (B,h,T,dv)
  });
}

/** [B, L, d] -> [B, h, L, d/h] */
function splitHeads(x: Tensor, B: number, L: number, h: number): Tensor {
  const dh = (x.shape[2] as number) / h;
  return tf.transpose(x.reshape([B, L, h, dh]), [0, 2, 1, 3]); // (B, h, L, dh)
}

/** [B, h, L, dh] -> [B, L, h*dh] */
function mergeHeads(x: Tensor): Tensor {
  const [B, h, L, dh] = x.shape as [number, number, number, number];
  return tf.transpose(x, [0, 2, 1, 3]).reshape([B, L, h * dh]); // (B, L, d)
}

export interface MultiHeadAttentionOptions {
  /** Dropout on the attention weights (training only), as torch's `dropout` argument. Default 0. */
  dropout?: number;
}

/**
 * torch.nn.MultiheadAttention(d, h, batch_first=True) with equal key/value/query sizes.
 * Parameters: in_proj_weight (stored [d, 3d], state dict [3d, d]), in_proj_bias [3d], out_proj (Linear d->d).
 * Init as PyTorch: xavier_uniform in_proj_weight, zero biases, out_proj.weight with Linear's default.
 */
export class MultiHeadAttention extends Module {
  readonly inProjWeight: tf.Variable; // (d, 3d): columns [0,d) = Q, [d,2d) = K, [2d,3d) = V
  readonly inProjBias: tf.Variable; // (3d,)
  readonly outProj: Linear;
  readonly headDim: number;
  readonly dropout: number;

  constructor(readonly embedDim: number, readonly numHeads: number, rng: Rng, opts: MultiHeadAttentionOptions = {}) {
    super();
    if (!Number.isInteger(embedDim) || !Number.isInteger(numHeads) || numHeads < 1 || embedDim % numHeads !== 0) {
      throw new InputError('multi-head attention', `expected d_model divisible by nhead, got d_model=${embedDim}, nhead=${numHeads}`);
    }
    const d = embedDim;
    this.headDim = d / numHeads;
    this.dropout = opts.dropout ?? 0;
    const bound = Math.sqrt(6 / (d + 3 * d)); // xavier_uniform on [3d, d]
    this.inProjWeight = this.addParam('in_proj_weight', tf.tensor2d(uniformArray(rng, d * 3 * d, -bound, bound), [d, 3 * d]), 'transpose2d');
    this.inProjBias = this.addParam('in_proj_bias', tf.zeros([3 * d]));
    this.outProj = this.addChild('out_proj', new Linear(d, d, rng));
    const ob = this.outProj.bias as tf.Variable;
    tf.tidy(() => ob.assign(tf.zerosLike(ob)));
  }

  /** Columns [from, from+n) of the fused projection: x [B, L, d] -> [B, L, n]. */
  private project(x: Tensor, from: number, n: number): Tensor {
    const d = this.embedDim;
    const w = tf.slice(this.inProjWeight, [0, from], [d, n]); // (d, n)
    const b = tf.slice(this.inProjBias, [from], [n]); // (n,)
    return linear(x, w, b); // (B, L, n)
  }

  /**
   * query [B,T,d], key [B,S,d], value [B,S,d] (pass the same tensor three times for self-attention);
   * mask: bool, true = may attend, [T,S], [B,T,S], [B,1,S] or [B,h,T,S]; rng given = training (dropout).
   * Returns [B,T,d].
   */
  forward(query: Tensor, key: Tensor, value: Tensor, mask?: Tensor, rng?: Rng): Tensor {
    const d = this.embedDim;
    const h = this.numHeads;
    if (query.rank !== 3) throw new InputError('attention query', `expected [B,T,${d}], got ${fmtShape(query.shape)}`);
    const [B, T] = query.shape as [number, number, number];
    assertShape('attention query', query.shape, [B, T, d]);
    if (key.rank !== 3) throw new InputError('attention key', `expected [${B},S,${d}], got ${fmtShape(key.shape)}`);
    const S = key.shape[1] as number;
    assertShape('attention key', key.shape, [B, S, d]);
    assertShape('attention value', value.shape, [B, S, d]);
    return tf.tidy(() => {
      let q: Tensor, k: Tensor, v: Tensor;
      if (query === key && key === value) {
        // Self-attention: one product with the whole fused weight, then a 2-D split.
        const qkv = linear(query, this.inProjWeight, this.inProjBias).reshape([B * T, 3 * d]); // (B*T, 3d)
        [q, k, v] = tf.split(qkv, 3, 1).map((t) => t.reshape([B, T, d])) as [Tensor, Tensor, Tensor]; // 3 x (B, T, d)
      } else if (key === value) {
        q = this.project(query, 0, d); // (B, T, d)
        const kv = this.project(key, d, 2 * d).reshape([B * S, 2 * d]); // (B*S, 2d)
        [k, v] = tf.split(kv, 2, 1).map((t) => t.reshape([B, S, d])) as [Tensor, Tensor]; // 2 x (B, S, d)
      } else {
        q = this.project(query, 0, d); // (B, T, d)
        k = this.project(key, d, d); // (B, S, d)
        v = this.project(value, 2 * d, d); // (B, S, d)
      }
      const drop = rng && this.dropout > 0 ? { rate: this.dropout, rng } : undefined;
      const heads = scaledDotProductAttention(splitHeads(q, B, T, h), splitHeads(k, B, S, h), splitHeads(v, B, S, h), mask, drop); // (B, h, T, dh)
      return this.outProj.forward(mergeHeads(heads)); // (B, T, d)
    });
  }
}
