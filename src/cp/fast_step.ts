/**
 * The incremental forward pass of CPTransformer for generation, with the matrix products on the tfjs backend
 * and everything else (embedding lookup, attention state, layer norms, GELU, residuals) on host Float32Arrays.
 *
 * Why: `CPTransformer.step` runs ~300 small kernels per word, and at batch 1 their dispatch costs more than
 * their arithmetic. Here a word costs 4 products per layer plus 4 for the embedding and heads (each one kernel,
 * with one upload and one read), and the rest is plain loops over a few thousand numbers.
 * `CPTransformer.step` stays the reference; test/cp/fast_step.test.ts checks both give the same logits.
 *
 * Same mathematics as model.ts / attention.ts: scaled embeddings, in_linear, sinusoidal row, post-norm layers
 * with GELU (erf), causal linear attention in its recurrent form (S += v phi(k)ᵀ, z += phi(k), eps 1e-6) or
 * softmax attention over a key/value cache; final LayerNorm; the two-stage heads.
 */
import { tf } from '../backend.ts';
import { FAMILIES, FAMILY_INDEX, type Family } from '../music/vocab.ts';
import { LINEAR_EPS } from './attention.ts';
import type { LayerNorm } from '../core/module.ts';
import type { CPConfig } from './config.ts';
import { NON_TYPE_FAMILIES, type CPTransformer } from './model.ts';

/** A product x W + b on the backend: x [B, in] (host) -> [B, out] (host). */
interface Product {
  w: tf.Tensor2D; // (in, out)
  b: tf.Tensor1D; // (out,)
  owned: boolean; // created here (fused), so disposed here
}

function run(p: Product, x: Float32Array, B: number): Float32Array {
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

const phi = (x: number): number => (x > 0 ? x + 1 : Math.exp(x)); // elu(x) + 1

interface LayerWeights {
  qkv: Product;
  out: Product;
  ff1: Product;
  ff2: Product;
  norm1: HostNorm;
  norm2: HostNorm;
}

/** Per layer: linear attention's S [B, h, dv, dk] and z [B, h, dk], or softmax's keys and values [B][t, d]. */
type HostLayerState =
  | { kind: 'linear'; S: Float64Array; z: Float64Array }
  | { kind: 'softmax'; K: Float32Array[]; V: Float32Array[]; t: number };

/** Generation state for B sequences: feed words, read the heads' logits. Dispose when done. */
export class FastStepper {
  private readonly cfg: CPConfig;
  private readonly emb: Record<Family, Float32Array>; // (V_f, e_f), scaled by sqrt(e_f)
  private readonly inLinear: Product;
  private readonly layers: LayerWeights[];
  private readonly norm: HostNorm;
  private readonly typeHead: Product;
  private readonly concatType: Product;
  private readonly rest: Product; // the seven non-type heads fused, NON_TYPE_FAMILIES order
  private readonly pe: Float32Array;
  private readonly states: HostLayerState[];
  private pos = 0;
  private h: Float32Array | null = null; // (B, d)

  constructor(model: CPTransformer, readonly batch: number) {
    const cfg = (this.cfg = model.config);
    const p = new Map(model.namedParameters().map(([n, v]) => [n, v]));
    const param = (name: string): tf.Variable => {
      const v = p.get(name);
      if (!v) throw new Error(`fast step: parameter ${name} missing`);
      return v;
    };
    const host = (name: string): Float32Array => Float32Array.from(param(name).dataSync() as Float32Array);
    const lin = (prefix: string): Product => ({ w: param(`${prefix}.weight`) as tf.Tensor2D, b: param(`${prefix}.bias`) as tf.Tensor1D, owned: false });
    const norm = (prefix: string, m: LayerNorm): HostNorm => ({ g: host(`${prefix}.weight`), b: host(`${prefix}.bias`), eps: m.eps });
    this.emb = {} as Record<Family, Float32Array>;
    for (const f of FAMILIES) {
      const t = host(`word_emb_${f}.lut.weight`);
      const s = Math.sqrt(cfg.embSizes[f]);
      for (let i = 0; i < t.length; i++) t[i] = (t[i] as number) * s;
      this.emb[f] = t;
    }
    this.inLinear = lin('in_linear');
    this.layers = model.transformerEncoder.layers.items.map((layer, i) => {
      const L = `transformer_encoder.layers.${i}`;
      const { w, b } = layer.attention.fusedQKV();
      return {
        qkv: { w: w as tf.Tensor2D, b: b as tf.Tensor1D, owned: true },
        out: lin(`${L}.attention.out_projection`),
        ff1: lin(`${L}.linear1`),
        ff2: lin(`${L}.linear2`),
        norm1: norm(`${L}.norm1`, layer.norm1),
        norm2: norm(`${L}.norm2`, layer.norm2),
      };
    });
    this.norm = norm('transformer_encoder.norm', model.transformerEncoder.norm);
    this.typeHead = lin('proj_type');
    this.concatType = lin('project_concat_type');
    const [rw, rb] = tf.tidy(() => [
      tf.concat(NON_TYPE_FAMILIES.map((f) => param(`proj_${f}.weight`)), 1), // (d, sum n_f)
      tf.concat(NON_TYPE_FAMILIES.map((f) => param(`proj_${f}.bias`)), 0), // (sum n_f,)
    ]);
    this.rest = { w: rw as tf.Tensor2D, b: rb as tf.Tensor1D, owned: true };
    this.pe = model.peTable;
    const { nHeads: h, dModel: d } = cfg;
    const dh = d / h;
    this.states = this.layers.map((): HostLayerState =>
      cfg.attention === 'linear'
        ? { kind: 'linear', S: new Float64Array(batch * h * dh * dh), z: new Float64Array(batch * h * dh) }
        : { kind: 'softmax', K: Array.from({ length: batch }, () => new Float32Array(64 * d)), V: Array.from({ length: batch }, () => new Float32Array(64 * d)), t: 0 });
  }

  /** Reads one word per sequence (B x 8 indices, FAMILIES order). */
  feed(words: readonly (readonly number[])[]): void {
    const { cfg, batch: B } = this;
    const d = cfg.dModel;
    if (this.pos >= cfg.maxLen) throw new Error(`fast step: reached maxLen ${cfg.maxLen}`);
    const E = this.inLinear.w.shape[0];
    const cat = new Float32Array(B * E); // (B, sum e_f)
    words.forEach((w, r) => {
      let off = r * E;
      for (const f of FAMILIES) {
        const e = cfg.embSizes[f];
        const id = w[FAMILY_INDEX[f]] as number;
        if (!(Number.isInteger(id) && id >= 0 && id < cfg.nClasses[f])) throw new Error(`fast step: ${f} index ${id} out of range`);
        cat.set(this.emb[f].subarray(id * e, (id + 1) * e), off);
        off += e;
      }
    });
    let x = run(this.inLinear, cat, B); // (B, d)
    for (let r = 0; r < B; r++) for (let i = 0; i < d; i++) x[r * d + i] = (x[r * d + i] as number) + (this.pe[this.pos * d + i] as number);
    this.layers.forEach((L, li) => {
      const a = run(L.out, this.attend(run(L.qkv, x, B), this.states[li] as HostLayerState), B); // (B, d)
      for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) + (x[i] as number);
      layerNorm(a, B, d, L.norm1); // x1
      const u = run(L.ff1, a, B); // (B, dFF)
      for (let i = 0; i < u.length; i++) {
        const v = u[i] as number;
        u[i] = 0.5 * v * (1 + erf(v * Math.SQRT1_2));
      }
      const y = run(L.ff2, u, B); // (B, d)
      for (let i = 0; i < y.length; i++) y[i] = (y[i] as number) + (a[i] as number);
      layerNorm(y, B, d, L.norm2);
      x = y;
    });
    layerNorm(x, B, d, this.norm);
    this.h = x;
    this.pos++;
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
    return run(this.typeHead, this.hidden(), this.batch);
  }

  /** The seven other families' logits given the types: [B * sum n_f], NON_TYPE_FAMILIES order per row. */
  restLogits(types: readonly number[]): Float32Array {
    const { cfg, batch: B } = this;
    const d = cfg.dModel;
    const e = cfg.embSizes.type;
    const h = this.hidden();
    const cat = new Float32Array(B * (d + e));
    for (let r = 0; r < B; r++) {
      cat.set(h.subarray(r * d, (r + 1) * d), r * (d + e));
      const t = types[r] as number;
      cat.set(this.emb.type.subarray(t * e, (t + 1) * e), r * (d + e) + d);
    }
    return run(this.rest, run(this.concatType, cat, B), B);
  }

  /** The hidden states after the last word fed: [B * d]. */
  hidden(): Float32Array {
    if (!this.h) throw new Error('fast step: no word fed yet');
    return this.h;
  }

  dispose(): void {
    for (const p of [...this.layers.map((l) => l.qkv), this.rest]) {
      if (p.owned) tf.dispose([p.w, p.b]);
    }
  }
}
