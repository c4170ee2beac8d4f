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
 *   (phi(Q) phi(K)ᵀ) V; across chunks, the running S [dh,dh] and z [dh] per batch and head. On the wasm
 *   backend with our kernels on, one fused wasm call per pass instead (src/kernels/linear_attention.ts).
 *   Generation uses the recurrent form (`recurrent/attention/self_attention/linear_attention.py`): S and z
 *   are the whole state, so each new word costs the same (the engines of engine.ts and fast_step.ts).
 * - `softmax`: causal masked softmax attention through the core's scaledDotProductAttention; generation keeps
 *   a key/value cache.
 */
import { tf, trainingKernelsRegistered } from '../backend.ts';
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

/** Names of the wasm kernels of src/kernels/linear_attention.ts (registered by src/backend.ts's set-up). */
const FUSED_FORWARD = 'EmopiaCausalLinearAttention';
const FUSED_GRAD = 'EmopiaCausalLinearAttentionGrad';

/** True when the fused causal linear-attention kernels run on the current backend (wasm, our kernels on). */
export function fusedLinearAttentionActive(): boolean {
  return trainingKernelsRegistered(FUSED_FORWARD, FUSED_GRAD);
}

/**
 * The same attention through the fused wasm kernels: one call per layer forward ([out, den]) and one backward
 * (wasm/linattn/linattn.c, the recurrent form; the chunk length does not apply). Equal to the chunked form up
 * to float rounding.
 */
function fusedCausalLinearAttention(fq: Tensor, fk: Tensor, v: Tensor, eps: number, heads = 0): Tensor {
  const attrs: Record<string, number> = heads > 0 ? { eps, heads } : { eps };
  const attend = customGrad<[Tensor, Tensor, Tensor]>((q, k, val, save) => {
    const [out, den] = tf.engine().runKernel(FUSED_FORWARD, { q, k, v: val }, attrs) as Tensor[] as [Tensor, Tensor]; // (B,h,T,dv) or (B,T,h,dv), (B,h,T,1)
    save([q, k, val, out, den]);
    den.dispose();
    return {
      value: out,
      gradFunc: (dy, saved) => {
        const [sq, sk, sv, so, sd] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor];
        return tf.engine().runKernel(FUSED_GRAD, { q: sq, k: sk, v: sv, out: so, den: sd, dy }, attrs) as Tensor[]; // dq, dk, dv: as q, k, v
      },
    };
  });
  return attend(fq, fk, v); // (B, h, T, dv) or (B, T, h, dv)
}

/**
 * Causal linear attention on the projections' layout where the fused kernels run: fq, fk [B,T,h,dh] and v
 * [B,T,h,dv] (each position's heads side by side) -> [B,T,h,dv], the kernel reading and writing rows in that
 * layout (attr `heads`), so the three transposes in and the one out (and their four in the backward pass) are
 * not made. The same float operations as causalLinearAttention on the transposed tensors, so the same bits.
 * Only where fusedLinearAttentionActive().
 */
export function causalLinearAttentionBTHD(fq: Tensor, fk: Tensor, v: Tensor, eps = LINEAR_EPS): Tensor {
  if (!fusedLinearAttentionActive()) throw new Error('causalLinearAttentionBTHD: needs the fused wasm kernels');
  return fusedCausalLinearAttention(fq, fk, v, eps, fq.shape[2] as number); // (B, T, h, dv)
}

/**
 * Causal linear attention over whole sequences, chunk by chunk (or in one fused wasm call per pass where
 * fusedLinearAttentionActive()).
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
  if (fusedLinearAttentionActive()) return fusedCausalLinearAttention(fq, fk, v, eps); // (B, h, T, dv)
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
      if (this.kind === 'linear' && fusedLinearAttentionActive()) {
        const heads = (y: Tensor): Tensor => y.reshape([B, T, this.nHeads, this.dh]); // (B, T, h, dh): no transpose
        const q = heads(this.queryProjection.forward(x)); // (B, T, h, dh)
        const k = heads(this.keyProjection.forward(x)); // (B, T, h, dh)
        const v = heads(this.valueProjection.forward(x)); // (B, T, h, dh)
        const out = causalLinearAttentionBTHD(phi(q), phi(k), v); // (B, T, h, dh)
        return this.outProjection.forward(out.reshape([B, T, d])); // (B, T, d)
      }
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
}
