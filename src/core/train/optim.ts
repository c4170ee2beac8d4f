/**
 * Adam as torch.optim.Adam (no weight decay, no amsgrad), written over tf.Variables so that its whole state
 * (the step count and the first and second moments of every parameter, keyed by the parameter's PyTorch
 * name) can be saved and restored exactly in float32; gradient clipping by global norm as
 * torch.nn.utils.clip_grad_norm_; and `namedGrads`, which gives gradients under those names. Knows nothing of
 * the model it trains: the CP trainer and the copy task both use it.
 */
import { ADAM_KERNEL, tf, trainingKernelsRegistered, withTrainingProducts, type AdamStepConstants } from '../../backend.ts';
import { InputError, fmtShape } from '../../errors.ts';
import type { HostTensor } from '../module.ts';

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** The saved form: step in JSON, moments as tensors named `exp_avg.<param>` and `exp_avg_sq.<param>` (torch's names). */
export interface AdamState {
  step: number;
  tensors: Map<string, HostTensor>;
}

/** A non-trainable variable of zeros shaped like `p` (tf.variable keeps its own copy of the initial tensor). */
function zerosVariable(p: tf.Tensor): tf.Variable {
  const z = tf.zerosLike(p);
  const v = tf.variable(z, false);
  z.dispose();
  return v;
}

export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Updates applied so far (torch's `state['step']`). */
  step = 0;
  private readonly params: ReadonlyMap<string, tf.Variable>;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(params: Iterable<[string, tf.Variable]>, opts: AdamOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.params = new Map(params);
    for (const [name, p] of this.params) {
      this.m.set(name, zerosVariable(p));
      this.v.set(name, zerosVariable(p));
    }
  }

  /**
   * One update with learning rate `lr`. `grads` maps parameter names to gradients (a parameter without a
   * gradient is left alone, as torch does for `grad is None`). Gradients are not disposed.
   */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    this.step += 1;
    // The float32 scalars tfjs would make of the float64 ones anyway: one derivation for this and adamUpdateRange.
    const { beta1, oneMinusBeta1, beta2, oneMinusBeta2, bc2Sqrt, eps, stepSize } = adamStepConstants(this.step, lr, this);
    for (const [name, g] of grads) {
      const p = this.params.get(name);
      const m = this.m.get(name);
      const v = this.v.get(name);
      if (!p || !m || !v) throw new Error(`Adam: no parameter named '${name}'`);
      tf.tidy(() => {
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, oneMinusBeta1)); // same shape as p
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.mul(g, g), oneMinusBeta2)); // same shape as p
        const denom = tf.add(tf.div(tf.sqrt(v1), bc2Sqrt), eps); // same shape as p
        m.assign(m1);
        v.assign(v1);
        p.assign(tf.sub(p, tf.mul(tf.div(m1, denom), stepSize)));
      });
    }
  }

  /**
   * One update with the gradients `grads` times the clipping factor `coef` (clipFactor of gradNorm): the same
   * bits as Adam.apply on clipGradNorm's gradients. Where the wasm kernel runs (our kernels on), one kernel per
   * parameter (src/kernels/adam_step.ts) instead of tf.mul and Adam.apply's eleven ops; elsewhere those ops.
   * Gradients are not disposed.
   */
  applyClipped(grads: ReadonlyMap<string, tf.Tensor>, coef: number, lr: number): void {
    if (!trainingKernelsRegistered(ADAM_KERNEL)) {
      const clipped = scaleGrads(grads, coef);
      try {
        this.apply(clipped, lr);
      } finally {
        tf.dispose([...clipped.values()]);
      }
      return;
    }
    this.step += 1;
    const attrs = { ...adamStepConstants(this.step, lr, this), coef: Math.fround(coef) };
    for (const [name, g] of grads) {
      const p = this.params.get(name);
      const m = this.m.get(name);
      const v = this.v.get(name);
      if (!p || !m || !v) throw new Error(`Adam: no parameter named '${name}'`);
      const [p1, m1, v1] = tf.engine().runKernel(ADAM_KERNEL, { p, g, m, v }, { ...attrs }) as tf.Tensor[] as [tf.Tensor, tf.Tensor, tf.Tensor]; // same shape as p each
      m.assign(m1);
      v.assign(v1);
      p.assign(p1);
      tf.dispose([p1, m1, v1]);
    }
  }

  /** Copies the state to host memory. */
  state(): AdamState {
    const tensors = new Map<string, HostTensor>();
    for (const [name, m] of this.m) tensors.set(`exp_avg.${name}`, { shape: m.shape.slice(), data: m.dataSync() as Float32Array });
    for (const [name, v] of this.v) tensors.set(`exp_avg_sq.${name}`, { shape: v.shape.slice(), data: v.dataSync() as Float32Array });
    return { step: this.step, tensors };
  }

  /** Restores a saved state; every parameter's moments must be present with the parameter's shape. */
  loadState(state: AdamState, what = 'optimizer state'): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new InputError(what, `expected a step count >= 0, got ${state.step}`);
    const known = new Set<string>();
    for (const [kind, table] of [['exp_avg', this.m], ['exp_avg_sq', this.v]] as const) {
      for (const [name, variable] of table) {
        const key = `${kind}.${name}`;
        known.add(key);
        const t = state.tensors.get(key);
        if (!t) throw new InputError(what, `missing '${key}'`);
        if (t.shape.length !== variable.shape.length || t.shape.some((d, i) => d !== variable.shape[i])) {
          throw new InputError(what, `'${key}': expected shape ${fmtShape(variable.shape)}, got ${fmtShape(t.shape)}`);
        }
      }
    }
    const extra = [...state.tensors.keys()].filter((k) => !known.has(k));
    if (extra.length) throw new InputError(what, `unexpected tensor(s): ${extra.slice(0, 3).join(', ')}`);
    for (const [kind, table] of [['exp_avg', this.m], ['exp_avg_sq', this.v]] as const) {
      for (const [name, variable] of table) {
        const t = state.tensors.get(`${kind}.${name}`) as HostTensor;
        tf.tidy(() => variable.assign(tf.tensor(t.data, t.shape, 'float32')));
      }
    }
    this.step = state.step;
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** The factor clip_grad_norm_ multiplies every gradient by, for a global norm `norm`: min(1, maxNorm / (norm + 1e-6)). */
export function clipFactor(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}

/** The global L2 norm of `grads`, as clipGradNorm computes it (NaN or Infinity when a gradient is not finite). */
export function gradNorm(grads: ReadonlyMap<string, tf.Tensor>): number {
  const gs = [...grads.values()];
  return gs.length === 0 ? 0 : tf.tidy(() => tf.sqrt(tf.addN(gs.map((g) => tf.sum(tf.square(g))))).dataSync()[0] as number);
}

/**
 * Clips gradients to a global L2 norm of at most `maxNorm`, as torch.nn.utils.clip_grad_norm_: the factor
 * min(1, maxNorm / (norm + 1e-6)) multiplies every gradient. Returns new gradient tensors (the inputs are
 * not disposed) and the norm before clipping (NaN or Infinity when a gradient is not finite).
 */
export function clipGradNorm(grads: ReadonlyMap<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: number } {
  const norm = gradNorm(grads);
  return { grads: scaleGrads(grads, clipFactor(norm, maxNorm)), norm };
}

/** Every gradient times `coef`, as new tensors (the inputs are not disposed). */
function scaleGrads(grads: ReadonlyMap<string, tf.Tensor>, coef: number): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) out.set(name, tf.tidy(() => tf.mul(g, coef)));
  return out;
}

/**
 * The value of `f` and its gradients with respect to `params`, keyed by the parameters' own names (a Module's
 * `namedParameters()`, the names Adam knows them by) instead of tfjs's variable ids. The caller owns (and
 * disposes) the value and the gradients. Its matrix products (forward and backward) run on the training
 * product: the fused multiply-add build where it validates (src/kernels/register.ts, EMOPIA_FMA).
 */
export function namedGrads(f: () => tf.Scalar, params: ReadonlyArray<readonly [string, tf.Variable]>): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const nameOf = new Map(params.map(([name, v]) => [v.name, name]));
  const { value, grads } = withTrainingProducts(() => tf.variableGrads(f, params.map(([, v]) => v)));
  const named = new Map<string, tf.Tensor>();
  for (const [id, g] of Object.entries(grads)) named.set(nameOf.get(id) ?? id, g);
  return { value, grads: named };
}

/** Adam's constants for one update: every operand rounded to float32, as tfjs's ops see them (declared once, beside the kernel that takes them). */
export type { AdamStepConstants };

/** The float32 constants of update number `step` (1-based) at learning rate `lr`: what Adam.apply and adamUpdateRange compute with. */
export function adamStepConstants(step: number, lr: number, opts: AdamOptions = {}): AdamStepConstants {
  const beta1 = opts.beta1 ?? 0.9;
  const beta2 = opts.beta2 ?? 0.999;
  const f = Math.fround;
  return {
    beta1: f(beta1),
    oneMinusBeta1: f(1 - beta1),
    beta2: f(beta2),
    oneMinusBeta2: f(1 - beta2),
    bc2Sqrt: f(Math.sqrt(1 - beta2 ** step)),
    eps: f(opts.eps ?? 1e-8),
    stepSize: f(lr / (1 - beta1 ** step)),
  };
}

/**
 * Clipping and Adam on host memory, for elements [start, end) of flat float32 arrays (data-parallel training
 * updates its share of the parameters this way, src/platform/train_worker.ts): the gradient `g` times the
 * clipping factor `coef`, then Adam.apply's arithmetic on the weights `p` and moments `m`, `v` in place. Every
 * operation is rounded to float32 in Adam.apply's order (tfjs's elementwise ops are exact IEEE float32), so
 * the result is that of clipGradNorm's factor and Adam.apply on the same gradient.
 */
export function adamUpdateRange(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, start: number, end: number, coef: number, c: AdamStepConstants): void {
  const f = Math.fround;
  const k = f(coef);
  const { beta1, oneMinusBeta1, beta2, oneMinusBeta2, bc2Sqrt, eps, stepSize } = c;
  for (let j = start; j < end; j++) {
    const gj = f((g[j] as number) * k);
    const m1 = f(f((m[j] as number) * beta1) + f(gj * oneMinusBeta1));
    const v1 = f(f((v[j] as number) * beta2) + f(f(gj * gj) * oneMinusBeta2));
    const denom = f(f(f(Math.sqrt(v1)) / bc2Sqrt) + eps);
    m[j] = m1;
    v[j] = v1;
    p[j] = f((p[j] as number) - f(f(m1 / denom) * stepSize));
  }
}
