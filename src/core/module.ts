/**
 * A small module system over tf.Variable: named parameters, children, and a state dict in PyTorch's layout
 * and names, so that PyTorch checkpoints load by name.
 *
 * Layout convention: a Linear stores its weight transposed, wT [in, out], because the wasm backend only runs
 * untransposed 2-D matmuls fast (see ops.ts). The state dict converts to and from PyTorch's [out, in]
 * at this boundary only.
 */
import { tf } from '../backend.ts';
import { InputError, assertShape } from '../errors.ts';
import { type Rng, normalArray, uniformArray } from '../random.ts';
import { layerNorm, linear, embedding } from './ops.ts';
import type { HostTensor } from '../io/safetensors.ts';

export type { HostTensor };

type Layout = 'same' | 'transpose2d';

export abstract class Module {
  private readonly ownParams = new Map<string, { v: tf.Variable; layout: Layout }>();
  private readonly children = new Map<string, Module>();

  protected addParam(name: string, value: tf.Tensor, layout: Layout = 'same'): tf.Variable {
    const v = tf.variable(value, true);
    value.dispose();
    this.ownParams.set(name, { v, layout });
    return v;
  }

  protected addChild<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** All parameters with their PyTorch names, in registration order. */
  namedParameters(prefix = ''): Array<[string, tf.Variable]> {
    const out: Array<[string, tf.Variable]> = [];
    for (const [n, p] of this.ownParams) out.push([prefix + n, p.v]);
    for (const [n, c] of this.children) for (const e of c.namedParameters(`${prefix}${n}.`)) out.push(e);
    return out;
  }

  parameters(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  numParameters(): number {
    return this.parameters().reduce((s, v) => s + v.size, 0);
  }

  private namedEntries(prefix = ''): Array<[string, { v: tf.Variable; layout: Layout }]> {
    const out: Array<[string, { v: tf.Variable; layout: Layout }]> = [];
    for (const [n, p] of this.ownParams) out.push([prefix + n, p]);
    for (const [n, c] of this.children) for (const e of c.namedEntries(`${prefix}${n}.`)) out.push(e);
    return out;
  }

  /** Parameters in PyTorch's layout (Linear weights [out, in]), copied to host memory. */
  stateDict(): Map<string, HostTensor> {
    const sd = new Map<string, HostTensor>();
    for (const [name, { v, layout }] of this.namedEntries()) {
      if (layout === 'transpose2d') {
        const t = tf.tidy(() => tf.transpose(v)); // a fresh tensor: its values are ours once it is disposed
        sd.set(name, { shape: t.shape.slice(), data: t.dataSync() as Float32Array });
        t.dispose();
      } else {
        // The cpu backend's dataSync returns the variable's own buffer, so writing into the state dict would
        // change the model: copy.
        sd.set(name, { shape: v.shape.slice(), data: (v.dataSync() as Float32Array).slice() });
      }
    }
    return sd;
  }

  /**
   * Assigns parameters from a state dict in PyTorch's layout. With `strict`, every parameter must be present
   * and no unknown key may remain (except those listed in `ignore`). Shapes must match exactly.
   */
  loadStateDict(sd: Map<string, HostTensor>, opts: { strict?: boolean; ignore?: (key: string) => boolean } = {}): void {
    const strict = opts.strict ?? true;
    const entries = this.namedEntries();
    const known = new Set(entries.map(([n]) => n));
    if (strict) {
      const missing = entries.filter(([n]) => !sd.has(n)).map(([n]) => n);
      if (missing.length) throw new InputError('state dict', `missing ${missing.length} parameter(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
      const unexpected = [...sd.keys()].filter((k) => !known.has(k) && !opts.ignore?.(k));
      if (unexpected.length) throw new InputError('state dict', `unexpected key(s): ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ', ...' : ''}`);
    }
    // Every shape is checked before the first assignment, so a bad state dict leaves the module unchanged.
    for (const [name, { v, layout }] of entries) {
      const src = sd.get(name);
      if (src) assertShape(`state dict '${name}'`, src.shape, layout === 'transpose2d' ? [v.shape[1] as number, v.shape[0] as number] : v.shape);
    }
    for (const [name, { v, layout }] of entries) {
      const src = sd.get(name);
      if (!src) continue;
      tf.tidy(() => {
        // A transpose makes fresh values; otherwise copy, since the cpu backend would keep the caller's array.
        if (layout === 'transpose2d') v.assign(tf.transpose(tf.tensor(src.data, src.shape, 'float32')));
        else v.assign(tf.tensor(src.data.slice(), src.shape, 'float32'));
      });
    }
  }

  dispose(): void {
    for (const { v } of this.ownParams.values()) v.dispose();
    for (const c of this.children.values()) c.dispose();
  }
}

/** torch.nn.Linear: y = x Wᵀ + b. Parameters `weight` [out, in] (stored as [in, out]) and `bias` [out]. */
export class Linear extends Module {
  readonly weight: tf.Variable; // (in, out) here; (out, in) in the state dict
  readonly bias?: tf.Variable; // (out,)

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, opts: { bias?: boolean; init?: 'torch' | 'xavier' } = {}) {
    super();
    // PyTorch's default: kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
    const bound = opts.init === 'xavier' ? Math.sqrt(6 / (inFeatures + outFeatures)) : 1 / Math.sqrt(inFeatures);
    this.weight = this.addParam('weight', tf.tensor2d(uniformArray(rng, inFeatures * outFeatures, -bound, bound), [inFeatures, outFeatures]), 'transpose2d');
    if (opts.bias ?? true) {
      const bb = opts.init === 'xavier' ? 0 : 1 / Math.sqrt(inFeatures);
      this.bias = this.addParam('bias', tf.tensor1d(uniformArray(rng, outFeatures, -bb, bb)));
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    return linear(x, this.weight, this.bias); // (..., in) -> (..., out)
  }
}

/** torch.nn.LayerNorm over the last axis: `weight` and `bias` [d]. */
export class LayerNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = this.addParam('weight', tf.ones([dim]));
    this.bias = this.addParam('bias', tf.zeros([dim]));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps); // (..., d)
  }
}

/** torch.nn.Embedding: `weight` [V, d], initialised N(0, 1) as PyTorch does. */
export class Embedding extends Module {
  readonly weight: tf.Variable;

  constructor(readonly numEmbeddings: number, readonly dim: number, rng: Rng) {
    super();
    this.weight = this.addParam('weight', tf.tensor2d(normalArray(rng, numEmbeddings * dim), [numEmbeddings, dim]));
  }

  /** ids [...] (int32) -> [..., d] */
  forward(ids: tf.Tensor): tf.Tensor {
    return embedding(this.weight, ids); // (..., d)
  }
}
