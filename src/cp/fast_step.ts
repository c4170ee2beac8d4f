/**
 * The `fast` engine of step-by-step inference (engine.ts): the matrix products of the prepared weights on the tfjs
 * backend, everything else (attention state, layer norms, GELU, residuals) on host Float32Arrays.
 *
 * Why: the `tensor` engine runs ~300 small kernels per word, and at batch 1 their dispatch costs more than
 * their arithmetic. Here a word costs 4 products per layer plus 4 for the embedding and heads (each one kernel,
 * with one upload and one read), and the rest is plain loops over a few thousand numbers. The input checks and
 * embedding lookups are engine.ts's, shared with the `tensor` engine; test/cp/engine.test.ts and
 * test/cp/parity.test.ts check that both engines give the full pass's and PyTorch's logits.
 *
 * Host forms of what model.ts / attention.ts compute with tfjs ops: post-norm layers with GELU (erf), causal
 * linear attention in its recurrent form (S += v phi(k)ᵀ, z += phi(k), eps 1e-6; phi as tfjs-wasm rounds it,
 * phi_host.ts) or softmax attention over a
 * key/value cache; final LayerNorm; the two-stage heads.
 */
import { tf } from '../backend.ts';
import type { LayerNorm } from '../core/module.ts';
import { LINEAR_EPS } from './attention.ts';
import type { CPConfig } from './config.ts';
import type { Affine, EngineCore, StepLayerWeights, StepWeights } from './engine.ts';
import { phiF32 as phi } from './phi_host.ts';

/** x W + b on the backend: x [B, in] (host) -> [B, out] (host). */
function run(p: Affine, x: Float32Array, B: number): Float32Array {
  const inF = p.w.shape[0];
  const y = tf.tidy(() => tf.fused.matMul({ a: tf.tensor2d(x, [B, inF]), b: p.w, bias: p.b })); // (B, out)
  const out = y.dataSync() as Float32Array;
  y.dispose();
  return out;
}

/** erf with |error| < 1.2e-7 (the Chebyshev fit of Numerical Recipes' erfc). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

/** A LayerNorm's weight, bias and eps in host memory. */
interface HostNorm {
  g: Float32Array; // (d,)
  b: Float32Array; // (d,)
  eps: number;
}

/** LayerNorm of each of B rows of width d, in place. */
function layerNorm(x: Float32Array, B: number, d: number, { g, b, eps }: HostNorm): void {
  for (let r = 0; r < B; r++) {
    const o = r * d;
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[o + i] as number;
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += ((x[o + i] as number) - mean) ** 2;
    const inv = 1 / Math.sqrt(v / d + eps);
    for (let i = 0; i < d; i++) x[o + i] = ((x[o + i] as number) - mean) * inv * (g[i] as number) + (b[i] as number);
  }
}

/** A LayerNorm's weight and bias copied to the host. */
function hostNorm(m: LayerNorm): HostNorm {
  return { g: Float32Array.from(m.weight.dataSync() as Float32Array), b: Float32Array.from(m.bias.dataSync() as Float32Array), eps: m.eps };
}

/** Per layer: linear attention's S [B, h, dv, dk] and z [B, h, dk], or softmax's keys and values [B][t, d]. */
type HostLayerState =
  | { kind: 'linear'; S: Float64Array; z: Float64Array }
  | { kind: 'softmax'; K: Float32Array[]; V: Float32Array[]; t: number };

/** The `fast` engine (see engine.ts): the products of `StepWeights` on the backend, the rest on the host. */
export class FastStepper implements EngineCore {
  private readonly cfg: CPConfig;
  private readonly norms: { norm1: HostNorm; norm2: HostNorm }[]; // per layer
  private readonly norm: HostNorm;
  private readonly states: HostLayerState[];
  private h: Float32Array | null = null; // (B, d)

  constructor(private readonly w: StepWeights, readonly batch: number) {
    const cfg = (this.cfg = w.config);
    this.norms = w.layers.map((L) => ({ norm1: hostNorm(L.norm1), norm2: hostNorm(L.norm2) }));
    this.norm = hostNorm(w.norm);
    const { nHeads: h, dModel: d } = cfg;
    const dh = d / h;
    this.states = w.layers.map((): HostLayerState =>
      cfg.attention === 'linear'
        ? { kind: 'linear', S: new Float64Array(batch * h * dh * dh), z: new Float64Array(batch * h * dh) }
        : { kind: 'softmax', K: Array.from({ length: batch }, () => new Float32Array(64 * d)), V: Array.from({ length: batch }, () => new Float32Array(64 * d)), t: 0 });
  }

  /** Reads the embedding rows emb [B, sum e_f] of one word per sequence at position `pos`. */
  feed(emb: Float32Array, pos: number): void {
    const B = this.batch;
    const d = this.cfg.dModel;
    let x = run(this.w.inLinear, emb, B); // (B, d)
    const pe = this.w.pe(pos); // (d,)
    for (let r = 0; r < B; r++) for (let i = 0; i < d; i++) x[r * d + i] = (x[r * d + i] as number) + (pe[i] as number);
    this.w.layers.forEach((L: StepLayerWeights, li) => {
      const { norm1, norm2 } = this.norms[li] as { norm1: HostNorm; norm2: HostNorm };
      const a = run(L.out, this.attend(run(L.qkv, x, B), this.states[li] as HostLayerState), B); // (B, d)
      for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) + (x[i] as number);
      layerNorm(a, B, d, norm1); // x1
      const u = run(L.ff1, a, B); // (B, dFF)
      for (let i = 0; i < u.length; i++) {
        const v = u[i] as number;
        u[i] = 0.5 * v * (1 + erf(v * Math.SQRT1_2));
      }
      const y = run(L.ff2, u, B); // (B, d)
      for (let i = 0; i < y.length; i++) y[i] = (y[i] as number) + (a[i] as number);
      layerNorm(y, B, d, norm2);
      x = y;
    });
    layerNorm(x, B, d, this.norm);
    this.h = x;
  }

  /** qkv [B, 3d] -> attention heads [B, d], advancing the layer's state. */
  private attend(qkv: Float32Array, s: HostLayerState): Float32Array {
    const { nHeads: h, dModel: d } = this.cfg;
    const B = this.batch;
    const dh = d / h;
    const heads = new Float32Array(B * d);
    const fq = new Float64Array(dh); // phi(q) of one head
    const fk = new Float64Array(dh); // phi(k) of one head, computed once rather than once per row of S
    for (let r = 0; r < B; r++) {
      const q = r * 3 * d;
      const k = q + d;
      const v = q + 2 * d;
      if (s.kind === 'linear') {
        for (let hd = 0; hd < h; hd++) {
          const o = hd * dh;
          const So = (r * h + hd) * dh * dh; // S[j][i] at So + j*dh + i
          const zo = (r * h + hd) * dh;
          for (let i = 0; i < dh; i++) {
            fk[i] = phi(qkv[k + o + i] as number);
            s.z[zo + i] = (s.z[zo + i] as number) + (fk[i] as number);
          }
          for (let j = 0; j < dh; j++) {
            const vj = qkv[v + o + j] as number;
            const row = So + j * dh;
            for (let i = 0; i < dh; i++) s.S[row + i] = (s.S[row + i] as number) + vj * (fk[i] as number);
          }
          let den = LINEAR_EPS;
          for (let i = 0; i < dh; i++) {
            fq[i] = phi(qkv[q + o + i] as number);
            den += (fq[i] as number) * (s.z[zo + i] as number);
          }
          for (let j = 0; j < dh; j++) {
            const row = So + j * dh;
            let num = 0;
            for (let i = 0; i < dh; i++) num += (s.S[row + i] as number) * (fq[i] as number);
            heads[r * d + o + j] = num / den;
          }
        }
      } else {
        const t = s.t;
        if ((t + 1) * d > (s.K[r] as Float32Array).length) {
          const grow = (a: Float32Array) => {
            const b = new Float32Array(a.length * 2);
            b.set(a);
            return b;
          };
          s.K[r] = grow(s.K[r] as Float32Array);
          s.V[r] = grow(s.V[r] as Float32Array);
        }
        const K = s.K[r] as Float32Array;
        const V = s.V[r] as Float32Array;
        K.set(qkv.subarray(k, k + d), t * d);
        V.set(qkv.subarray(v, v + d), t * d);
        const T = t + 1;
        const scale = 1 / Math.sqrt(dh);
        const p = new Float64Array(T);
        for (let hd = 0; hd < h; hd++) {
          const o = hd * dh;
          let max = -Infinity;
          for (let j = 0; j < T; j++) {
            let sc = 0;
            for (let c = 0; c < dh; c++) sc += (qkv[q + o + c] as number) * (K[j * d + o + c] as number);
            p[j] = sc * scale;
            if ((p[j] as number) > max) max = p[j] as number;
          }
          let sum = 0;
          for (let j = 0; j < T; j++) {
            p[j] = Math.exp((p[j] as number) - max);
            sum += p[j] as number;
          }
          for (let c = 0; c < dh; c++) {
            let acc = 0;
            for (let j = 0; j < T; j++) acc += (p[j] as number) * (V[j * d + o + c] as number);
            heads[r * d + o + c] = acc / sum;
          }
        }
      }
    }
    if (s.kind === 'softmax') s.t++;
    return heads;
  }

  /** Type logits of the next words: [B * n_type]. */
  typeLogits(): Float32Array {
    return run(this.w.typeHead, this.h as Float32Array, this.batch);
  }

  /** The seven other families' logits given the type embedding rows te [B, e_type]: [B * sum n_f]. */
  restLogits(te: Float32Array): Float32Array {
    const B = this.batch;
    const d = this.cfg.dModel;
    const e = this.cfg.embSizes.type;
    const h = this.h as Float32Array;
    const cat = new Float32Array(B * (d + e)); // (B, d + e_type)
    for (let r = 0; r < B; r++) {
      cat.set(h.subarray(r * d, (r + 1) * d), r * (d + e));
      cat.set(te.subarray(r * e, (r + 1) * e), r * (d + e) + d);
    }
    return run(this.w.rest, run(this.w.concatType, cat, B), B);
  }

  /** Nothing to release: the products are the prepared weights, which the stepper around this engine owns. */
  dispose(): void {
    this.h = null;
  }
}
