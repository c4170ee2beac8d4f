/**
 * Step-by-step inference of CPTransformer (generation): one word per sequence in, the two heads' logits out,
 * with the same mathematics as `forwardHidden` and the heads (no dropout), and EMOPIA's recurrent forms:
 * linear attention keeps S = sum v phi(k)ᵀ and z = sum phi(k) per head, softmax attention a key/value cache.
 *
 * The one home of what every engine shares:
 * - `Stepper`, what generation drives, and `openStepper`, the only way to get one;
 * - `prepareStepWeights`, the weights rearranged once per stepper;
 * - the input checks and the embedding lookups, done here for every engine, so that the same bad input gives
 *   the same InputError whichever engine runs;
 * - `ENGINES`, the table of engines (the parity tests loop over it);
 * - `checkIncremental`, the check of a loaded model that every engine equals the full forward pass.
 *
 * The engines:
 * - `tensor` (below): every operation a tfjs kernel (~300 per word); its cost grows little with the batch.
 * - `fast` (fast_step.ts): the matrix products on the backend, everything else in host Float32Arrays (a few
 *   kernels per word: faster for one piece, but its host loops grow with the batch).
 * - `wasm` (wasm/wasm_engine.ts): the whole step in our own WebAssembly SIMD kernel (wasm/step/step.c), one call
 *   per word for the type logits and one for the other heads; independent of the tfjs backend. Fastest at every
 *   batch size measured (README, "WebAssembly kernels"), so `auto` picks it wherever it loads.
 */
import { tf } from '../backend.ts';
import { InputError, UsageError } from '../errors.ts';
import type { LayerNorm, Linear } from '../core/module.ts';
import { gelu, linear } from '../core/ops.ts';
import { FAMILIES, FAMILY_INDEX, N_FAMILIES, type Family } from '../music/vocab.ts';
import { LINEAR_EPS, phi } from './attention.ts';
import type { CPConfig } from './config.ts';
import { NON_TYPE_FAMILIES, type CPTransformer } from './model.ts';
import { FastStepper } from './fast_step.ts';
import { WasmStepper } from './wasm/wasm_engine.ts';
import { wasmStepAvailable } from './wasm/loader.ts';

type Tensor = tf.Tensor;

/** Feeds one word per sequence and reads the two heads' logits for the next words, flat per sequence. */
export interface Stepper {
  readonly batch: number;
  /** Reads one word per sequence: `batch` rows of 8 indices (FAMILIES order). */
  feed(words: readonly (readonly number[])[]): void;
  /** Type logits of the next words: [B * n_type]. */
  typeLogits(): Float32Array;
  /** The seven other families' logits given the next words' types [B]: [B * sum n_f], NON_TYPE_FAMILIES order. */
  restLogits(types: readonly number[]): Float32Array;
  /** Releases every tensor of the stepper (its state and prepared weights). */
  dispose(): void;
}

/** x W + b on the backend: W (in, out) as a Linear stores it, b (out,). */
export interface Affine {
  w: tf.Tensor2D;
  b: tf.Tensor1D;
}

export interface StepLayerWeights {
  qkv: Affine; // (d, 3d), (3d,): the query, key and value projections fused (made here when first read, disposed here)
  out: Affine; // (d, d)
  ff1: Affine; // (d, dFF)
  ff2: Affine; // (dFF, d)
  norm1: LayerNorm;
  norm2: LayerNorm;
}

/**
 * A model's weights rearranged once per stepper for a low kernel count per word: the scaled embedding tables in
 * host memory (a word's rows are gathered on the host and uploaded as one row), each layer's Q, K, V projections
 * fused into one product, and the seven non-type heads fused into one. The other entries are the model's own
 * tensors, so a stepper is valid as long as the model's weights do not change (the fused ones are copies).
 */
export interface StepWeights {
  config: CPConfig;
  /** The model these were made from (the wasm engine keeps its packed copy per model: wasm/wasm_engine.ts). */
  model: CPTransformer;
  emb: Record<Family, Float32Array>; // (V_f, e_f) each, scaled by sqrt(e_f) (each made when first read)
  inLinear: Affine; // (sum e_f, d)
  pe: (pos: number) => Float32Array; // (d,): row `pos` of the sinusoidal table
  layers: StepLayerWeights[];
  norm: LayerNorm; // the encoder's final LayerNorm
  typeHead: Affine; // (d, n_type)
  concatType: Affine; // (d + e_type, d)
  rest: Affine; // (d, sum n_f), (sum n_f,) over NON_TYPE_FAMILIES (made here when first read, disposed here)
  /** The tensors made here so far: the fused ones are made when first read (a wasm stepper that reuses its packed
   * weights never reads them, and the concatenation cost a few ms per stepper). */
  made: tf.Tensor[];
}

function affine(l: Linear): Affine {
  return { w: l.weight as tf.Tensor2D, b: l.bias as tf.Tensor1D }; // every Linear of the model has a bias
}

/** A copy of `t` times `s` (a small function of its own, so that V8 optimises the loop, not its caller). */
function scaledTable(t: Float32Array, s: number): Float32Array {
  const out = new Float32Array(t.length);
  for (let i = 0; i < t.length; i++) out[i] = (t[i] as number) * s;
  return out;
}

/** The one weight preparation of every engine. Dispose the result with `disposeStepWeights`. */
export function prepareStepWeights(model: CPTransformer): StepWeights {
  const cfg = model.config;
  // Each family's scaled table is made when first read: a wasm stepper that reuses its packed weights reads only
  // the type family's (restLogits), and making all eight (49k values for the small preset, with the loop's
  // optimised compile) cost ~2-6 ms of a piece's first word.
  const emb = {} as Record<Family, Float32Array>;
  for (const f of FAMILIES) {
    let t: Float32Array | null = null;
    Object.defineProperty(emb, f, { enumerable: true, get: () => (t ??= scaledTable(model.emb[f].lut.weight.dataSync() as Float32Array, Math.sqrt(cfg.embSizes[f]))) });
  }
  const made: tf.Tensor[] = [];
  /** The Linears' products fused into one, made on first call. */
  const fused = (ls: Linear[]): (() => Affine) => {
    let a: Affine | null = null;
    return () => {
      if (!a) {
        const f = tf.tidy(() => ({
          w: tf.concat(ls.map((l) => l.weight), 1) as tf.Tensor2D, // (in, sum out)
          b: tf.concat(ls.map((l) => l.bias as tf.Variable), 0) as tf.Tensor1D, // (sum out,)
        }));
        made.push(tf.keep(f.w), tf.keep(f.b)); // kept: the first read may come inside an engine's tf.tidy
        a = f;
      }
      return a;
    };
  };
  const rest = fused(NON_TYPE_FAMILIES.map((f) => model.proj[f]));
  return {
    config: cfg,
    model,
    emb,
    inLinear: affine(model.inLinear),
    pe: (pos) => model.positionRow(pos),
    layers: model.transformerEncoder.layers.items.map((l) => {
      const qkv = fused([l.attention.queryProjection, l.attention.keyProjection, l.attention.valueProjection]);
      return {
        get qkv() {
          return qkv();
        },
        out: affine(l.attention.outProjection),
        ff1: affine(l.linear1),
        ff2: affine(l.linear2),
        norm1: l.norm1,
        norm2: l.norm2,
      };
    }),
    norm: model.transformerEncoder.norm,
    typeHead: affine(model.proj.type),
    concatType: affine(model.projectConcatType),
    get rest() {
      return rest();
    },
    made,
  };
}

/** Releases the tensors `prepareStepWeights` made (not the model's own). */
export function disposeStepWeights(w: StepWeights): void {
  tf.dispose(w.made.splice(0));
}

/**
 * What an engine computes, once `openStepper` has checked the input and looked up the embeddings (host rows).
 * An engine holds no prepared weights of its own: `dispose` releases its state only.
 */
export interface EngineCore {
  /** Reads the scaled embedding rows of one word per sequence, emb [B, sum e_f] in FAMILIES order, at `pos`. */
  feed(emb: Float32Array, pos: number): void;
  /** Optional, used instead of `feed` when present: the words themselves (checked indices, FAMILIES order). */
  feedWords?(words: readonly (readonly number[])[], pos: number): void;
  /** [B * n_type] after the last word fed. */
  typeLogits(): Float32Array;
  /** Given the type embedding rows te [B, e_type] of the next words: [B * sum n_f]. */
  restLogits(te: Float32Array): Float32Array;
  dispose(): void;
}

export interface Engine {
  /** One line for help texts and reports. */
  summary: string;
  create(weights: StepWeights, batch: number): EngineCore;
}

/** Per layer: linear attention's S [B, h, dv, dk] (kept transposed) and z [B, h, dk], or softmax's key/value cache. */
type TensorLayerState =
  | { kind: 'linear'; S: Tensor; z: Tensor }
  | { kind: 'softmax'; k: Tensor | null /* (B, h, t, dh) */; v: Tensor | null /* (B, h, t, dh) */ };

/** The `tensor` engine: every operation on the backend, with fused matmul+bias kernels (no gradient needed). */
class TensorEngine implements EngineCore {
  private readonly states: TensorLayerState[];
  private h: Tensor | null = null; // (B, d)

  constructor(private readonly w: StepWeights, private readonly batch: number) {
    const { nHeads: h, dModel: d, attention } = w.config;
    const dh = d / h;
    this.states = w.layers.map((): TensorLayerState =>
      attention === 'linear' ? { kind: 'linear', S: tf.zeros([batch, h, dh, dh]), z: tf.zeros([batch, h, dh]) } : { kind: 'softmax', k: null, v: null });
  }

  feed(emb: Float32Array, pos: number): void {
    const { w, batch: B } = this;
    const d = w.config.dModel;
    const E = w.inLinear.w.shape[0];
    let x = tf.tidy(() => {
      const e = tf.fused.matMul({ a: tf.tensor2d(emb, [B, E]), b: w.inLinear.w, bias: w.inLinear.b }); // (B, d)
      return tf.add(e, tf.tensor2d(w.pe(pos), [1, d])); // (B, d)
    });
    w.layers.forEach((L, i) => {
      const a = this.attend(x, L, i); // (B, d)
      // The post-norm layer after attention: x1 = norm1(x + a); out = norm2(x1 + ff2(gelu(ff1(x1)))).
      const y = tf.tidy(() => {
        const x1 = L.norm1.forward(tf.add(x, a)); // (B, d)
        const u = gelu(tf.fused.matMul({ a: x1 as tf.Tensor2D, b: L.ff1.w, bias: L.ff1.b })); // (B, dFF)
        return L.norm2.forward(tf.add(x1, tf.fused.matMul({ a: u as tf.Tensor2D, b: L.ff2.w, bias: L.ff2.b }))); // (B, d)
      });
      tf.dispose([a, x]);
      x = y;
    });
    const h = tf.tidy(() => w.norm.forward(x)); // (B, d)
    x.dispose();
    this.h?.dispose();
    this.h = h;
  }

  /** One new position of layer i's attention: x [B, d] -> [B, d], replacing the layer's state. */
  private attend(x: Tensor, L: StepLayerWeights, i: number): Tensor {
    const { nHeads: h, dModel: d } = this.w.config;
    const B = this.batch;
    const dh = d / h;
    const state = this.states[i] as TensorLayerState;
    let next: TensorLayerState | undefined;
    const y = tf.tidy(() => {
      const qkv = tf.fused.matMul({ a: x as tf.Tensor2D, b: L.qkv.w, bias: L.qkv.b }); // (B, 3d)
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
        next = { kind: 'linear', S: tf.keep(S), z: tf.keep(z) };
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
        next = { kind: 'softmax', k: tf.keep(K), v: tf.keep(V) };
      }
      return tf.fused.matMul({ a: heads.reshape([B, d]) as tf.Tensor2D, b: L.out.w, bias: L.out.b }); // (B, d)
    });
    tf.dispose(stateTensors(state));
    this.states[i] = next as TensorLayerState;
    return y;
  }

  private read(f: () => Tensor): Float32Array {
    const t = tf.tidy(f);
    const a = t.dataSync() as Float32Array;
    t.dispose();
    return a;
  }

  typeLogits(): Float32Array {
    return this.read(() => linear(this.h as Tensor, this.w.typeHead.w, this.w.typeHead.b)); // (B, n_type)
  }

  restLogits(te: Float32Array): Float32Array {
    const { w, batch: B } = this;
    return this.read(() => {
      const cat = tf.concat([this.h as Tensor, tf.tensor2d(te, [B, w.config.embSizes.type])], 1); // (B, d + e_type)
      const y = tf.fused.matMul({ a: cat as tf.Tensor2D, b: w.concatType.w, bias: w.concatType.b }); // (B, d)
      return tf.fused.matMul({ a: y, b: w.rest.w, bias: w.rest.b }); // (B, sum n_f)
    });
  }

  dispose(): void {
    tf.dispose([...this.states.flatMap(stateTensors), ...(this.h ? [this.h] : [])]);
    this.h = null;
  }
}

function stateTensors(s: TensorLayerState): Tensor[] {
  return s.kind === 'linear' ? [s.S, s.z] : [s.k, s.v].filter((t): t is Tensor => t !== null);
}

/** The table of engines, in the order the checks run them. Every engine computes the same logits (within 1e-4). */
export const ENGINES = {
  tensor: {
    summary: 'every operation on the tfjs backend (faster for batches)',
    create: (w, batch) => new TensorEngine(w, batch),
  },
  fast: {
    summary: 'matrix products on the backend, the rest on the host (faster for one piece)',
    create: (w, batch) => new FastStepper(w, batch),
  },
  wasm: {
    summary: 'the whole step in our WebAssembly SIMD kernel (wasm/step/step.c), one call per word',
    create: (w, batch) => new WasmStepper(w, batch),
  },
} as const satisfies Record<string, Engine>;

export type EngineName = keyof typeof ENGINES;
export const ENGINE_NAMES = Object.keys(ENGINES) as EngineName[];

/**
 * `auto`: wasm wherever its kernel compiles (Node, a Web Worker); elsewhere (a browser's main thread, no wasm
 * SIMD) fast for one sequence and tensor for several (whose host loops would grow with the batch).
 */
export type EngineChoice = EngineName | 'auto';

/** The engine `auto` stands for at this batch size, here. */
export function autoEngine(batch: number): EngineName {
  if (wasmStepAvailable()) return 'wasm';
  return batch === 1 ? 'fast' : 'tensor';
}

/** The input checks and embedding lookups of every engine, around its core. */
class CheckedStepper implements Stepper {
  private pos = 0;
  private disposed = false;

  constructor(private readonly core: EngineCore, private readonly w: StepWeights, readonly batch: number) {}

  private live(what: string, needWord: boolean): void {
    if (this.disposed) throw new UsageError(what, 'the stepper was disposed');
    if (needWord && this.pos === 0) throw new UsageError(what, 'expected a word fed first, got none');
  }

  feed(words: readonly (readonly number[])[]): void {
    this.live('feed', false);
    const cfg = this.w.config;
    if (this.pos >= cfg.maxLen) throw new InputError('generation', `reached the model's maxLen of ${cfg.maxLen} words`);
    if (words.length !== this.batch) throw new InputError('words', `expected ${this.batch} words (one per sequence), got ${words.length}`);
    words.forEach((word, r) => {
      if (word.length !== N_FAMILIES) throw new InputError(`word ${r}`, `expected ${N_FAMILIES} indices (one per family), got ${word.length}`);
      for (const f of FAMILIES) {
        const id = word[FAMILY_INDEX[f]] as number;
        if (!(Number.isInteger(id) && id >= 0 && id < cfg.nClasses[f])) throw new InputError(`word ${r}`, `${f} index ${id} is outside 0..${cfg.nClasses[f] - 1}`);
      }
    });
    if (this.core.feedWords) {
      this.core.feedWords(words, this.pos);
    } else {
      const E = this.w.inLinear.w.shape[0];
      const emb = new Float32Array(this.batch * E); // (B, sum e_f)
      words.forEach((word, r) => {
        let off = r * E;
        for (const f of FAMILIES) {
          const e = cfg.embSizes[f];
          const id = word[FAMILY_INDEX[f]] as number;
          emb.set(this.w.emb[f].subarray(id * e, (id + 1) * e), off);
          off += e;
        }
      });
      this.core.feed(emb, this.pos);
    }
    this.pos++;
  }

  typeLogits(): Float32Array {
    this.live('typeLogits', true);
    return this.core.typeLogits();
  }

  restLogits(types: readonly number[]): Float32Array {
    this.live('restLogits', true);
    const { embSizes, nClasses } = this.w.config;
    if (types.length !== this.batch) throw new InputError('types', `expected ${this.batch} type indices (one per sequence), got ${types.length}`);
    const bad = types.find((t) => !(Number.isInteger(t) && t >= 0 && t < nClasses.type));
    if (bad !== undefined) throw new InputError('types', `expected type indices in 0..${nClasses.type - 1}, got ${bad}`);
    const e = embSizes.type;
    const te = new Float32Array(this.batch * e); // (B, e_type)
    types.forEach((t, r) => te.set(this.w.emb.type.subarray(t * e, (t + 1) * e), r * e));
    return this.core.restLogits(te);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.core.dispose();
    disposeStepWeights(this.w);
  }
}

/** A stepper over `batch` sequences on `engine` (see ENGINES). Valid while the model's weights do not change. */
export function openStepper(model: CPTransformer, batch: number, engine: EngineChoice = 'auto'): Stepper {
  if (!(Number.isInteger(batch) && batch >= 1)) throw new InputError('batch', `expected a positive integer, got ${batch}`);
  const name: EngineName = engine === 'auto' ? autoEngine(batch) : engine;
  const spec: Engine | undefined = ENGINES[name];
  if (!spec) throw new UsageError('engine', `expected auto or one of ${ENGINE_NAMES.join(', ')}, got '${String(engine)}'`);
  const w = prepareStepWeights(model);
  try {
    return new CheckedStepper(spec.create(w, batch), w, batch);
  } catch (e) {
    disposeStepWeights(w);
    throw e;
  }
}

/**
 * The tolerance of `checkIncremental` on the `wasm` backend, in logits. Every engine computes linear attention's
 * phi = elu + 1 as tfjs-wasm rounds it (XNNPACK's float32 elu, then + 1: phi_host.ts, step.c `vphi`), so a head
 * whose normaliser phi(q).z is near its eps (1e-6: the linear default of sessions 12-13, models/training/emopia-beats-ft2,
 * has one at 5.5e-6 on its first word, where
 * exp(x) in place of float32 elu + 1 moved the logits by 0.039) no longer separates them. Measured on
 * that model, the prompt of each emotion and 64-word checks (prompt + continuation, seeds 1-3): fast and wasm
 * within 3.5e-5 of the full pass, the tensor engine within 1e-5. 1e-3 leaves a margin of ~30 for other inputs;
 * a broken engine or model (masks, weights, state) differs by much more. The engines' exact agreement is the
 * business of the parity tests (1e-4, test/cp/engine.test.ts, parity.test.ts).
 */
export const ATTENTION_CHECK_TOL = 1e-3;

/**
 * The tolerance on the other backends. tfjs's `cpu` backend rounds elu as float32(exp(x) - 1) from float64, one
 * float32 step (~6e-8) away from tfjs-wasm's on ~1% of inputs; at that linear model's near-eps normaliser that is
 * 0.006 in the logits on the bare prompt and up to 0.078 in 64-word checks (measured). `tensorflow` (tfjs-node,
 * Eigen's elu) was not measured.
 */
export const ATTENTION_CHECK_TOL_OTHER_BACKENDS = 0.1;

/** The tolerance `checkIncremental` uses by default on `backend` (the current one). */
export function attentionCheckTol(backend: string = tf.getBackend()): number {
  return backend === 'wasm' ? ATTENTION_CHECK_TOL : ATTENTION_CHECK_TOL_OTHER_BACKENDS;
}

/** The engines `auto` may pick here, for one sequence or several (wasm alone wherever its kernel compiles). */
export function autoEngines(): EngineName[] {
  return [...new Set([autoEngine(1), autoEngine(2)])];
}

/**
 * Checks a loaded model on the backend: each of `engines`' step-by-step type logits over `fed` (one sequence of
 * words) must equal one full forward pass within `tol` (default: `attentionCheckTol()`). Returns each checked
 * engine's largest difference; throws an InputError naming the first engine beyond `tol`. `emopia generate` checks
 * `autoEngines()`, the engines that will generate (each engine opened costs tens of ms, the wasm one's packing is
 * reused by the generation); the default, every engine, is for tests and tools.
 */
export function checkIncremental(
  model: CPTransformer,
  fed: readonly (readonly number[])[],
  tol = attentionCheckTol(),
  engines: readonly EngineName[] = ENGINE_NAMES,
): Partial<Record<EngineName, number>> {
  const T = fed.length;
  if (T < 1) throw new InputError('attention check', 'expected at least one word, got none');
  if (engines.length === 0) throw new UsageError('attention check', 'expected at least one engine, got none');
  for (const e of engines) if (!ENGINE_NAMES.includes(e)) throw new UsageError('attention check', `expected engines among ${ENGINE_NAMES.join(', ')}, got '${String(e)}'`);
  const full = tf.tidy(() => {
    const x = tf.tensor3d(fed.flatMap((w) => [...w]), [1, T, N_FAMILIES], 'int32'); // (1, T, 8)
    return model.typeLogits(model.forwardHidden(x)).reshape([T, -1]); // (T, n_type)
  });
  const want = full.dataSync() as Float32Array;
  full.dispose();
  const nType = want.length / T;
  const diffs: Partial<Record<EngineName, number>> = {};
  for (const engine of engines) {
    let d = 0;
    const s = openStepper(model, 1, engine);
    try {
      for (let t = 0; t < T; t++) {
        s.feed([fed[t] as readonly number[]]);
        const got = s.typeLogits(); // (n_type,)
        for (let j = 0; j < nType; j++) d = Math.max(d, Math.abs((got[j] as number) - (want[t * nType + j] as number)));
      }
    } finally {
      s.dispose();
    }
    diffs[engine] = d;
  }
  for (const engine of engines) {
    const d = diffs[engine] as number;
    if (!(d <= tol)) throw new InputError('attention check', `${engine} step-by-step logits differ from the full pass by ${d} (expected <= ${tol}); the model or backend is unusable`);
  }
  return diffs;
}
