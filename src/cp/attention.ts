/**
 * The attention of EMOPIA's encoder layers, with fast-transformers' parameter names
 * (`query_projection`, `key_projection`, `value_projection`, `out_projection`, each a Linear with bias;
 * idiap/fast-transformers `attention/attention_layer.py`).
 *
 * Two kinds:
 * - `linear`: causal linear attention (fast-transformers `causal_linear_attention.py`, the one EMOPIA trains
 *   with). Feature map phi(x) = elu(x) + 1, no softmax, no 1/sqrt(dh) scaling:
 *     out_i = phi(q_i)ᵀ S_i / (phi(q_i)·z_i + 1e-6),  S_i = sum_{j<=i} phi(k_j) v_jᵀ,  z_i = sum_{j<=i} phi(k_j).
 *   Training uses a chunked form that never holds a [B,T,h,dh,dh] tensor: inside a chunk, the masked
 *   (phi(Q) phi(K)ᵀ) V; across chunks, the running S [dh,dh] and z [dh] per batch and head.
 *   Generation uses the recurrent form (`recurrent/attention/self_attention/linear_attention.py`): S and z
 *   are the whole state, so each new word costs the same.
 * - `softmax`: causal masked softmax attention through the core's scaledDotProductAttention; generation keeps
 *   a key/value cache.
 */
import { tf } from '../backend.ts';
import { Linear, Module } from '../core/module.ts';
import { scaledDotProductAttention } from '../core/attention.ts';
import { causalMask } from '../core/masks.ts';
import { matmul, transposeLast } from '../core/ops.ts';
import type { Rng } from '../random.ts';
import type { AttentionKind } from './config.ts';

type Tensor = tf.Tensor;

/** The epsilon of fast-transformers' normaliser Z = 1/(phi(q)·z + eps). */
export const LINEAR_EPS = 1e-6;

/** The feature map of EMOPIA's linear attention: elu(x) + 1 (always positive). */
export function phi(x: Tensor): Tensor {
  return tf.add(tf.elu(x), 1); // same shape as x
}

/** Lower-triangular ones [n, n] (including the diagonal): the causal mask inside a chunk, as floats. */
function lowerOnes(n: number): Tensor {
  return tf.linalg.bandPart(tf.ones([n, n]), -1, 0); // (n, n)
}

/**
 * Causal linear attention over whole sequences, chunk by chunk.
 * fq, fk: feature-mapped queries and keys [B,h,T,dh]; v [B,h,T,dv]; chunk: chunk length (any value >= 1).
 * Returns [B,h,T,dv]. Equal (up to float rounding) to the O(T²) masked form for every chunk size.
 */
export function causalLinearAttention(fq: Tensor, fk: Tensor, v: Tensor, chunk: number, eps = LINEAR_EPS): Tensor {
  return tf.tidy(() => {
    const [B, h, T, dh] = fq.shape as [number, number, number, number];
    const dv = v.shape[3] as number;
    // Three products per chunk: a ones column appended to V carries the normaliser through the same products
    // as the numerator, and the running state [S | z] rides along with phi(K)ᵀ in the query product.
    const fkT = transposeLast(fk); // (B, h, dh, T), transposed once for all chunks
    const v1 = tf.concat([v, tf.ones([B, h, T, 1])], 3); // (B, h, T, dv+1)
    const outs: Tensor[] = [];
    let Sz: Tensor | null = null; // (B, h, dh, dv+1): [sum phi(k) vᵀ | sum phi(k)] over earlier chunks
    for (let s = 0; s < T; s += chunk) {
      const n = Math.min(chunk, T - s);
      const qc = tf.slice(fq, [0, 0, s, 0], [B, h, n, dh]); // (B, h, n, dh)
      const kcT = tf.slice(fkT, [0, 0, 0, s], [B, h, dh, n]); // (B, h, dh, n)
      const vc = tf.slice(v1, [0, 0, s, 0], [B, h, n, dv + 1]); // (B, h, n, dv+1)
      let A: Tensor; // (B, h, n, n): phi(q_i)·phi(k_j) within the chunk
      let tot: Tensor; // (B, h, n, dv+1): [numerator | denominator]
      if (Sz) {
        const P = matmul(qc, tf.concat([kcT, Sz], 3)); // (B, h, n, n+dv+1)
        A = tf.slice(P, [0, 0, 0, 0], [B, h, n, n]); // (B, h, n, n)
        const inter = tf.slice(P, [0, 0, 0, n], [B, h, n, dv + 1]); // (B, h, n, dv+1): earlier chunks
        tot = tf.add(matmul(tf.mul(A, lowerOnes(n)), vc), inter); // (B, h, n, dv+1)
      } else {
        A = matmul(qc, kcT); // (B, h, n, n)
        tot = matmul(tf.mul(A, lowerOnes(n)), vc); // (B, h, n, dv+1), zero above the diagonal
      }
      const num = tf.slice(tot, [0, 0, 0, 0], [B, h, n, dv]); // (B, h, n, dv)
      const den = tf.slice(tot, [0, 0, 0, dv], [B, h, n, 1]); // (B, h, n, 1)
      outs.push(tf.div(num, tf.add(den, eps))); // (B, h, n, dv)
      if (s + n < T) {
        const kv = matmul(kcT, vc); // (B, h, dh, dv+1)
        Sz = Sz ? tf.add(Sz, kv) : kv;
      }
    }
    return outs.length === 1 ? (outs[0] as Tensor) : tf.concat(outs, 2); // (B, h, T, dv)
  });
}

/** The recurrent state of one layer: linear attention keeps S and z; softmax keeps the keys and values seen. */
export type LayerState = { qkv: { w: Tensor /* (d, 3d) */; b: Tensor /* (3d,) */ } } & (
  | { kind: 'linear'; S: Tensor /* (B, h, dv, dk): sum v phi(k)ᵀ */; z: Tensor /* (B, h, dk) */ }
  | { kind: 'softmax'; k: Tensor | null /* (B, h, t, dh) */; v: Tensor | null /* (B, h, t, dh) */ }
);

/** The tensors a layer state holds; with `withWeights` false, only those that change at each step. */
export function layerStateTensors(s: LayerState, withWeights = true): Tensor[] {
  const own = s.kind === 'linear' ? [s.S, s.z] : [s.k, s.v].filter((t): t is Tensor => t !== null);
  return withWeights ? [...own, s.qkv.w, s.qkv.b] : own;
}

/** fast-transformers' AttentionLayer: four projections around the inner attention. */
export class CPAttention extends Module {
  readonly query_projection: Linear;
  readonly key_projection: Linear;
  readonly value_projection: Linear;
  readonly out_projection: Linear;
  readonly dh: number;

  constructor(readonly dModel: number, readonly nHeads: number, readonly kind: AttentionKind, readonly chunkSize: number, readonly attnDropout: number, rng: Rng) {
    super();
    this.query_projection = this.addChild('query_projection', new Linear(dModel, dModel, rng));
    this.key_projection = this.addChild('key_projection', new Linear(dModel, dModel, rng));
    this.value_projection = this.addChild('value_projection', new Linear(dModel, dModel, rng));
    this.out_projection = this.addChild('out_projection', new Linear(dModel, dModel, rng));
    this.dh = dModel / nHeads;
  }

  /** [B, L, d] -> [B, h, L, dh] */
  private split(x: Tensor): Tensor {
    const [B, L] = x.shape as [number, number, number];
    return tf.transpose(x.reshape([B, L, this.nHeads, this.dh]), [0, 2, 1, 3]); // (B, h, L, dh)
  }

  /** Whole sequences, causal: x [B, T, d] -> [B, T, d]. rng given = training (attention dropout for softmax). */
  forward(x: Tensor, rng?: Rng): Tensor {
    return tf.tidy(() => {
      const [B, T, d] = x.shape as [number, number, number];
      const q = this.split(this.query_projection.forward(x)); // (B, h, T, dh)
      const k = this.split(this.key_projection.forward(x)); // (B, h, T, dh)
      const v = this.split(this.value_projection.forward(x)); // (B, h, T, dh)
      let heads: Tensor;
      if (this.kind === 'linear') {
        heads = causalLinearAttention(phi(q), phi(k), v, this.chunkSize); // (B, h, T, dh)
      } else {
        const causal = causalMask(T); // (T, T), true = may attend
        const drop = rng && this.attnDropout > 0 ? { rate: this.attnDropout, rng } : undefined;
        heads = scaledDotProductAttention(q, k, v, causal, drop); // (B, h, T, dh)
      }
      const merged = tf.transpose(heads, [0, 2, 1, 3]).reshape([B, T, d]); // (B, T, d)
      return this.out_projection.forward(merged); // (B, T, d)
    });
  }

  /** The Q, K, V projections fused into one weight (d, 3d) and bias (3d,), for generation (see `step`). */
  fusedQKV(): { w: Tensor; b: Tensor } {
    return tf.tidy(() => {
      const ps = [this.query_projection, this.key_projection, this.value_projection];
      const w = tf.concat(ps.map((p) => p.weight), 1); // (d, 3d)
      const b = tf.concat(ps.map((p) => p.bias as tf.Variable), 0); // (3d,)
      return { w, b };
    });
  }

  /** An empty state for `batch` sequences, holding the fused projection weights of this layer. */
  initState(batch: number): LayerState {
    const qkv = this.fusedQKV();
    if (this.kind === 'linear') {
      return { kind: 'linear', qkv, S: tf.zeros([batch, this.nHeads, this.dh, this.dh]), z: tf.zeros([batch, this.nHeads, this.dh]) };
    }
    return { kind: 'softmax', qkv, k: null, v: null };
  }

  /**
   * One new position per sequence: x [B, d] -> [B, d], and the state after it. The given state's attention
   * tensors are disposed (the state is consumed); the returned ones are kept outside any tidy. No gradient:
   * plain fused matmuls (one kernel per projection) keep the per-word kernel count low.
   */
  step(x: Tensor, state: LayerState): { y: Tensor; state: LayerState } {
    const [B, d] = x.shape as [number, number];
    const h = this.nHeads;
    const dh = this.dh;
    let next: LayerState | undefined;
    const y = tf.tidy(() => {
      const qkv = tf.fused.matMul({ a: x as tf.Tensor2D, b: state.qkv.w as tf.Tensor2D, bias: state.qkv.b }); // (B, 3d)
      const v = tf.slice(qkv, [0, 2 * d], [B, d]).reshape([B, h, dh]); // (B, h, dh)
      let heads: Tensor;
      if (state.kind === 'linear') {
        const fqk = phi(tf.slice(qkv, [0, 0], [B, 2 * d])); // (B, 2d): phi(q), phi(k)
        // S is kept transposed, S[j][i] = sum v_j phi(k)_i, so that both reductions run over the last axis
        // (a reduction over another axis costs a transpose on wasm).
        const fq = tf.slice(fqk, [0, 0], [B, d]).reshape([B, h, 1, dh]); // (B, h, 1, dk)
        const fk = tf.slice(fqk, [0, d], [B, d]).reshape([B, h, dh]); // (B, h, dk)
        const S = tf.add(state.S, tf.mul(v.reshape([B, h, dh, 1]), fk.reshape([B, h, 1, dh]))); // (B, h, dv, dk) += v phi(k)ᵀ
        const z = tf.add(state.z, fk); // (B, h, dk)
        const num = tf.sum(tf.mul(fq, S), -1); // (B, h, dv): S phi(q)
        const den = tf.add(tf.sum(tf.mul(fq.reshape([B, h, dh]), z), -1), LINEAR_EPS); // (B, h)
        heads = tf.div(num, den.reshape([B, h, 1])); // (B, h, dh)
        next = { kind: 'linear', qkv: state.qkv, S: tf.keep(S), z: tf.keep(z) };
      } else {
        const q = tf.slice(qkv, [0, 0], [B, d]).reshape([B, h, 1, dh]); // (B, h, 1, dh)
        const k1 = tf.slice(qkv, [0, d], [B, d]).reshape([B, h, 1, dh]); // (B, h, 1, dh)
        const v1 = v.reshape([B, h, 1, dh]); // (B, h, 1, dh)
        const K = state.k ? tf.concat([state.k, k1], 2) : k1; // (B, h, t, dh)
        const V = state.v ? tf.concat([state.v, v1], 2) : v1; // (B, h, t, dh)
        // One query against every cached key: scores by a broadcast product (no batched matmul on wasm).
        const scores = tf.sum(tf.mul(tf.mul(q, 1 / Math.sqrt(dh)), K), -1); // (B, h, t)
        const p = tf.softmax(scores, -1); // (B, h, t)
        heads = tf.sum(tf.mul(tf.expandDims(p, -1), V), 2); // (B, h, dh)
        next = { kind: 'softmax', qkv: state.qkv, k: tf.keep(K), v: tf.keep(V) };
      }
      const o = this.out_projection;
      return tf.fused.matMul({ a: heads.reshape([B, d]) as tf.Tensor2D, b: o.weight as tf.Tensor2D, bias: o.bias }); // (B, d)
    });
    for (const t of layerStateTensors(state, false)) t.dispose();
    return { y, state: next as LayerState };
  }
}
