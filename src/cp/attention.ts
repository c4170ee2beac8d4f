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
import { InputError } from '../errors.ts';
import { Linear, Module } from '../core/module.ts';
import { scaledDotProductAttention } from '../core/attention.ts';
import { causalMask } from '../core/masks.ts';
import { customGrad, splitRowsHost } from '../core/ops.ts';
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

/** 2-D x^T. */
function tr(x: Tensor): tf.Tensor2D {
  return tf.transpose(x as tf.Tensor2D);
}

/** Plain 2-D product (the only matmul form that runs through XNNPACK on wasm). */
function mm(a: Tensor, b: Tensor): tf.Tensor2D {
  return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
}

/**
 * Causal linear attention over whole sequences, chunk by chunk.
 * fq, fk: feature-mapped queries and keys [B,h,T,dh]; v [B,h,T,dv]; chunk: chunk length (any value >= 1).
 * Returns [B,h,T,dv]. Equal (up to float rounding) to the O(T²) masked form for every chunk size.
 *
 * Every (batch, head) sequence is worked on as 2-D row blocks of [B·h·T, ·] tensors, with a hand-written
 * gradient: tf's own gradient of the batched form spent most of its time unstacking and stacking the per-head
 * 2-D products (the wasm matmul loop) and padding slice gradients back to full size; the row blocks are cut
 * on the host (splitRowsHost), since every wasm Slice copies its whole input. Measured on the `small`
 * preset's shapes ([2,4,512,64], chunk 128), forward + backward went from 131 ms to ~45 ms per layer.
 *
 * With a ones column appended to V (V1 = [V | 1], so the last column of tot is the normaliser):
 *   tot_c = (Q_c K_cᵀ ⊙ L) V1_c + Q_c S_c,   S_c = Σ_{c' < c} K_c'ᵀ V1_c'   (the state [S | z] of earlier chunks)
 *   out = tot[:, :dv] / (tot[:, dv] + eps)
 * Backward, with G = ∂loss/∂tot = [dout/(den+eps) | -Σ(dout ⊙ out)/(den+eps)] and R_c = Σ_{c' > c} Q_c'ᵀ G_c':
 *   dQ_c = (G_c V1_cᵀ ⊙ L) K_c + G_c S_cᵀ
 *   dK_c = (G_c V1_cᵀ ⊙ L)ᵀ Q_c + V1_c R_cᵀ
 *   dV1_c = (Q_c K_cᵀ ⊙ L)ᵀ G_c + K_c R_c
 */
export function causalLinearAttention(fq: Tensor, fk: Tensor, v: Tensor, chunk: number, eps = LINEAR_EPS): Tensor {
  if (!Number.isInteger(chunk) || chunk < 1) {
    throw new InputError('causal linear attention', `expected a chunk length that is an integer >= 1, got ${chunk}`);
  }
  const [B, h, T, dh] = fq.shape as [number, number, number, number];
  const dv = v.shape[3] as number;
  const G = B * h;
  const starts: number[] = [];
  for (let s = 0; s < T; s += chunk) starts.push(s);
  const masks = new Map<number, Tensor>(); // chunk length -> (n, n) lower ones, made inside the tidy that uses it
  const mask = (n: number): Tensor => {
    let m = masks.get(n);
    if (!m) masks.set(n, (m = lowerOnes(n)));
    return m;
  };
  const nc = starts.length;
  /** x [G·T, w] cut into its G·chunks row blocks (n, w), sequence-major. */
  const blockRows = starts.map((s) => Math.min(chunk, T - s));
  const blocks = (x: Tensor): Tensor[] => splitRowsHost(x, Array.from({ length: G }, () => blockRows).flat());
  /** [B,h,T,dv] values with the ones column, as [G·T, dv+1] rows. */
  const withOnes = (x: Tensor): Tensor => tf.concat([x, tf.ones([B, h, T, 1])], 3).reshape([G * T, dv + 1]); // (G·T, dv+1)

  const attend = customGrad<[Tensor, Tensor, Tensor]>((q, k, val, save) => {
    const [out, den] = tf.tidy(() => {
      masks.clear();
      const Qs = blocks(q.reshape([G * T, dh])); // G·chunks x (n, dh)
      const Ks = blocks(k.reshape([G * T, dh])); // G·chunks x (n, dh)
      const V1s = blocks(withOnes(val)); // G·chunks x (n, dv+1)
      const parts: Tensor[] = []; // G·chunks x (n, dv+1), in row order
      for (let g = 0; g < G; g++) {
        let S: Tensor | null = null; // (dh, dv+1): [Σ phi(k) vᵀ | Σ phi(k)] over earlier chunks
        for (const [c, s] of starts.entries()) {
          const n = Math.min(chunk, T - s);
          const Q = Qs[g * nc + c] as Tensor; // (n, dh)
          const Kt = tr(Ks[g * nc + c] as Tensor); // (dh, n)
          const V1 = V1s[g * nc + c] as Tensor; // (n, dv+1)
          const intra = mm(tf.mul(mm(Q, Kt), mask(n)), V1); // (n, n) x (n, dv+1) -> (n, dv+1)
          parts.push(S ? tf.add(intra, mm(Q, S)) : intra); // (n, dv+1)
          if (s + n < T) {
            const kv = mm(Kt, V1); // (dh, dv+1)
            S = S ? tf.add(S, kv) : kv;
          }
        }
      }
      const tot = tf.concat(parts, 0).reshape([B, h, T, dv + 1]); // (B, h, T, dv+1): [numerator | denominator]
      const d = tf.slice(tot, [0, 0, 0, dv], [B, h, T, 1]); // (B, h, T, 1)
      const o = tf.div(tf.slice(tot, [0, 0, 0, 0], [B, h, T, dv]), tf.add(d, eps)); // (B, h, T, dv)
      return [o, d];
    });
    save([q, k, val, out, den]);
    den.dispose();
    return {
      value: out,
      gradFunc: (dy, saved) =>
        tf.tidy(() => {
          masks.clear();
          const [sq, sk, sv, so, sd] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor];
          const inv = tf.div(1, tf.add(sd, eps)); // (B, h, T, 1)
          const gNum = tf.mul(dy, inv); // (B, h, T, dv)
          const gDen = tf.neg(tf.mul(tf.sum(tf.mul(dy, so), -1, true), inv)); // (B, h, T, 1)
          const g2 = tf.concat([gNum, gDen], 3).reshape([G * T, dv + 1]); // (G·T, dv+1): ∂loss/∂tot
          const Qs = blocks(sq.reshape([G * T, dh])); // G·chunks x (n, dh)
          const Ks = blocks(sk.reshape([G * T, dh])); // G·chunks x (n, dh)
          const V1s = blocks(withOnes(sv)); // G·chunks x (n, dv+1)
          const Gs = blocks(g2); // G·chunks x (n, dv+1)
          const dqs: Tensor[] = [];
          const dks: Tensor[] = [];
          const dvs: Tensor[] = [];
          for (let g = 0; g < G; g++) {
            const Q = Qs.slice(g * nc, (g + 1) * nc); // chunks x (n, dh)
            const K = Ks.slice(g * nc, (g + 1) * nc); // chunks x (n, dh)
            const V1 = V1s.slice(g * nc, (g + 1) * nc); // chunks x (n, dv+1)
            const Gc = Gs.slice(g * nc, (g + 1) * nc); // chunks x (n, dv+1)
            // R_c = Σ_{c' > c} Q_c'ᵀ G_c', built from the last chunk backwards: (dh, dv+1)
            const R: (Tensor | null)[] = new Array(nc).fill(null);
            for (let c = nc - 2; c >= 0; c--) {
              const qg = mm(tr(Q[c + 1] as Tensor), Gc[c + 1] as Tensor); // (dh, dv+1)
              R[c] = R[c + 1] ? tf.add(R[c + 1] as Tensor, qg) : qg;
            }
            let S: Tensor | null = null; // (dh, dv+1), as in the forward pass
            for (let c = 0; c < nc; c++) {
              const [Qc, Kc, Vc, Gcc] = [Q[c], K[c], V1[c], Gc[c]] as [Tensor, Tensor, Tensor, Tensor];
              const L = mask(Qc.shape[0] as number); // (n, n)
              const Kt = tr(Kc); // (dh, n)
              const X = tf.mul(mm(Gcc, tr(Vc)), L); // (n, n): ∂loss/∂(Q Kᵀ) inside the chunk
              const A = tf.mul(mm(Qc, Kt), L); // (n, n)
              let dq = mm(X, Kc); // (n, dh)
              let dk = mm(tr(X), Qc); // (n, dh)
              let dv1 = mm(tr(A), Gcc); // (n, dv+1)
              if (S) dq = tf.add(dq, mm(Gcc, tr(S))); // (n, dh)
              const Rc = R[c];
              if (Rc) {
                dk = tf.add(dk, mm(Vc, tr(Rc))); // (n, dh)
                dv1 = tf.add(dv1, mm(Kc, Rc)); // (n, dv+1)
              }
              dqs.push(dq);
              dks.push(dk);
              dvs.push(dv1);
              if (c + 1 < nc) {
                const kv = mm(Kt, Vc); // (dh, dv+1)
                S = S ? tf.add(S, kv) : kv;
              }
            }
          }
          const dq = tf.concat(dqs, 0).reshape([B, h, T, dh]); // (B, h, T, dh)
          const dk = tf.concat(dks, 0).reshape([B, h, T, dh]); // (B, h, T, dh)
          const dV = tf.slice(tf.concat(dvs, 0).reshape([B, h, T, dv + 1]), [0, 0, 0, 0], [B, h, T, dv]); // (B, h, T, dv)
          return [dq, dk, dV];
        }),
    };
  });
  return attend(fq, fk, v); // (B, h, T, dv)
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
  readonly queryProjection: Linear;
  readonly keyProjection: Linear;
  readonly valueProjection: Linear;
  readonly outProjection: Linear;
  readonly dh: number;

  constructor(readonly dModel: number, readonly nHeads: number, readonly kind: AttentionKind, readonly chunkSize: number, readonly attnDropout: number, rng: Rng) {
    super();
    this.queryProjection = this.addChild('query_projection', new Linear(dModel, dModel, rng));
    this.keyProjection = this.addChild('key_projection', new Linear(dModel, dModel, rng));
    this.valueProjection = this.addChild('value_projection', new Linear(dModel, dModel, rng));
    this.outProjection = this.addChild('out_projection', new Linear(dModel, dModel, rng));
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
      const q = this.split(this.queryProjection.forward(x)); // (B, h, T, dh)
      const k = this.split(this.keyProjection.forward(x)); // (B, h, T, dh)
      const v = this.split(this.valueProjection.forward(x)); // (B, h, T, dh)
      let heads: Tensor;
      if (this.kind === 'linear') {
        heads = causalLinearAttention(phi(q), phi(k), v, this.chunkSize); // (B, h, T, dh)
      } else {
        const causal = causalMask(T); // (T, T), true = may attend
        const drop = rng && this.attnDropout > 0 ? { rate: this.attnDropout, rng } : undefined;
        heads = scaledDotProductAttention(q, k, v, causal, drop); // (B, h, T, dh)
      }
      const merged = tf.transpose(heads, [0, 2, 1, 3]).reshape([B, T, d]); // (B, T, d)
      return this.outProjection.forward(merged); // (B, T, d)
    });
  }

  /** The Q, K, V projections fused into one weight (d, 3d) and bias (3d,), for generation (see `step`). */
  fusedQKV(): { w: Tensor; b: Tensor } {
    return tf.tidy(() => {
      const ps = [this.queryProjection, this.keyProjection, this.valueProjection];
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
      const o = this.outProjection;
      return tf.fused.matMul({ a: heads.reshape([B, d]) as tf.Tensor2D, b: o.weight as tf.Tensor2D, bias: o.bias }); // (B, d)
    });
    for (const t of layerStateTensors(state, false)) t.dispose();
    return { y, state: next as LayerState };
  }
}
