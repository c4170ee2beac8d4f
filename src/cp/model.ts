/**
 * EMOPIA's compound-word Transformer (port of annahung31/EMOPIA `workspace/transformer/models.py`, whose
 * encoder is idiap/fast-transformers' TransformerEncoder / RecurrentEncoder).
 *
 *   word [.., 8] -> one embedding per family * sqrt(its width) -> concat -> in_linear -> + sinusoidal -> dropout
 *   -> N post-norm layers: x = norm1(x + drop(attn(x))); out = norm2(x + drop(linear2(drop(gelu(linear1(x))))))
 *   -> final LayerNorm = h
 *   heads: proj_type(h); y = project_concat_type([h, type embedding]); proj_<family>(y) for the seven others.
 *
 * The type embedding in the second head is the true next type in training and the sampled type in generation.
 * Parameter names equal EMOPIA's state_dict keys, so its checkpoints load by name (`pos_emb.pe` is ignored); the
 * keys are the `addChild` names (`in_linear`, `transformer_encoder`, ...), the TypeScript fields their camelCase.
 */
import { tf } from '../backend.ts';
import { InputError, fmtShape } from '../errors.ts';
import { Embedding, LayerNorm, Linear, Module } from '../core/module.ts';
import { dropout, gelu } from '../core/ops.ts';
import { sinusoidalTable } from '../core/positional.ts';
import { Rng } from '../random.ts';
import { FAMILIES, FAMILY_INDEX, type Family } from '../music/vocab.ts';
import { CPAttention, type LayerState, layerStateTensors } from './attention.ts';
import { type CPConfig, validateConfig } from './config.ts';

type Tensor = tf.Tensor;

/** The seven families predicted from [h, type embedding]. */
export const NON_TYPE_FAMILIES = FAMILIES.filter((f) => f !== 'type') as Exclude<Family, 'type'>[];
export type NonTypeFamily = Exclude<Family, 'type'>;

/** The ids of one family from words [..., 8] (int32) -> [...]. */
export function familyIds(words: Tensor, family: Family): Tensor {
  const r = words.rank;
  const begin = words.shape.map((_, i) => (i === r - 1 ? FAMILY_INDEX[family] : 0));
  const size = words.shape.map((n, i) => (i === r - 1 ? 1 : n));
  return tf.slice(words, begin, size).reshape(words.shape.slice(0, -1)); // (...)
}

/** EMOPIA's `Embeddings`: nn.Embedding in `lut`, output scaled by sqrt(width). */
class ScaledEmbedding extends Module {
  readonly lut: Embedding;
  constructor(n: number, readonly dim: number, rng: Rng) {
    super();
    this.lut = this.addChild('lut', new Embedding(n, dim, rng));
  }
  forward(ids: Tensor): Tensor {
    return tf.mul(this.lut.forward(ids), Math.sqrt(this.dim)); // (..., dim)
  }
}

/** fast-transformers' TransformerEncoderLayer (post-norm). */
class EncoderLayer extends Module {
  readonly attention: CPAttention;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;

  constructor(private readonly cfg: CPConfig, rng: Rng) {
    super();
    this.attention = this.addChild('attention', new CPAttention(cfg.dModel, cfg.nHeads, cfg.attention, cfg.chunkSize, cfg.dropout, rng));
    this.linear1 = this.addChild('linear1', new Linear(cfg.dModel, cfg.dFF, rng));
    this.linear2 = this.addChild('linear2', new Linear(cfg.dFF, cfg.dModel, rng));
    this.norm1 = this.addChild('norm1', new LayerNorm(cfg.dModel));
    this.norm2 = this.addChild('norm2', new LayerNorm(cfg.dModel));
  }

  /** The part after attention: x [..., d] is the input, a the attention output. */
  private feedForward(x: Tensor, a: Tensor, rng?: Rng): Tensor {
    const p = this.cfg.dropout;
    const x1 = this.norm1.forward(tf.add(x, dropout(a, p, rng))); // (..., d)
    const y = dropout(gelu(this.linear1.forward(x1)), p, rng); // (..., dFF)
    return this.norm2.forward(tf.add(x1, dropout(this.linear2.forward(y), p, rng))); // (..., d)
  }

  forward(x: Tensor, rng?: Rng): Tensor {
    return tf.tidy(() => this.feedForward(x, this.attention.forward(x, rng), rng)); // (B, T, d)
  }

  step(x: Tensor, state: LayerState): { y: Tensor; state: LayerState } {
    const a = this.attention.step(x, state); // (B, d)
    // As feedForward without dropout, with fused matmul+bias kernels (no gradient needed here).
    const y = tf.tidy(() => {
      const x1 = this.norm1.forward(tf.add(x, a.y)); // (B, d)
      const l1 = this.linear1;
      const l2 = this.linear2;
      const u = gelu(tf.fused.matMul({ a: x1 as tf.Tensor2D, b: l1.weight as tf.Tensor2D, bias: l1.bias })); // (B, dFF)
      return this.norm2.forward(tf.add(x1, tf.fused.matMul({ a: u as tf.Tensor2D, b: l2.weight as tf.Tensor2D, bias: l2.bias }))); // (B, d)
    });
    a.y.dispose();
    return { y, state: a.state };
  }
}

/** A list of children named 0, 1, ... (torch.nn.ModuleList). */
class ModuleList<M extends Module> extends Module {
  readonly items: M[] = [];
  push(m: M): void {
    this.addChild(String(this.items.length), m);
    this.items.push(m);
  }
}

class Encoder extends Module {
  readonly layers: ModuleList<EncoderLayer>;
  readonly norm: LayerNorm;
  constructor(cfg: CPConfig, rng: Rng) {
    super();
    this.layers = this.addChild('layers', new ModuleList<EncoderLayer>());
    for (let i = 0; i < cfg.nLayers; i++) this.layers.push(new EncoderLayer(cfg, rng));
    this.norm = this.addChild('norm', new LayerNorm(cfg.dModel));
  }
}

/**
 * Weights rearranged once per generation for a low kernel count per word: the scaled embedding tables in host
 * memory (a word's embedding is gathered on the host and uploaded as one row) and the seven non-type heads
 * fused into one matrix. Valid as long as the model's weights do not change (they are copied at initState).
 */
interface StepWeights {
  emb: Record<Family, Float32Array>; // (V_f, e_f) each, scaled by sqrt(e_f)
  restW: Tensor; // (d, sum n_f) over NON_TYPE_FAMILIES
  restB: Tensor; // (sum n_f,)
}

/** The incremental state of generation: the position reached and one attention state per layer. */
export interface CPState {
  batch: number;
  /** Number of words already read (the next word's position). */
  pos: number;
  layers: LayerState[];
  weights: StepWeights;
}

/** Every tensor held by a state. */
export function stateTensors(state: CPState): Tensor[] {
  return [...state.layers.flatMap((l) => layerStateTensors(l)), state.weights.restW, state.weights.restB];
}

export function disposeState(state: CPState): void {
  for (const t of stateTensors(state)) t.dispose();
}

export class CPTransformer extends Module {
  readonly config: CPConfig;
  private readonly emb = {} as Record<Family, ScaledEmbedding>;
  private readonly proj = {} as Record<Family, Linear>;
  readonly inLinear: Linear;
  readonly transformerEncoder: Encoder;
  readonly projectConcatType: Linear;
  /**
   * The sinusoidal table [maxLen, d] in host memory (a buffer, not a parameter); rows are uploaded as needed,
   * because slicing one row out of a large wasm tensor costs milliseconds per call.
   */
  readonly peTable: Float32Array;

  /** Builds the model with PyTorch's default initialisation drawn from `rng` (default seed 0). */
  constructor(config: CPConfig, rng: Rng = new Rng(0)) {
    super();
    const cfg = validateConfig(config);
    this.config = cfg;
    for (const f of FAMILIES) this.emb[f] = this.addChild(`word_emb_${f}`, new ScaledEmbedding(cfg.nClasses[f], cfg.embSizes[f], rng));
    const embTotal = FAMILIES.reduce((s, f) => s + cfg.embSizes[f], 0);
    this.inLinear = this.addChild('in_linear', new Linear(embTotal, cfg.dModel, rng));
    this.transformerEncoder = this.addChild('transformer_encoder', new Encoder(cfg, rng));
    this.projectConcatType = this.addChild('project_concat_type', new Linear(cfg.dModel + cfg.embSizes.type, cfg.dModel, rng));
    // EMOPIA's order: tempo, chord, barbeat, type, pitch, duration, velocity, emotion.
    for (const f of FAMILIES) this.proj[f] = this.addChild(`proj_${f}`, new Linear(cfg.dModel, cfg.nClasses[f], rng));
    this.peTable = sinusoidalTable(cfg.maxLen, cfg.dModel);
  }

  /** Names of state-dict entries that EMOPIA checkpoints carry but this model does not use as parameters. */
  static isIgnoredKey(key: string): boolean {
    return key === 'pos_emb.pe';
  }

  /** Loads an EMOPIA-named state dict (accepts and ignores `pos_emb.pe`). */
  override loadStateDict(sd: Parameters<Module['loadStateDict']>[0], opts: Parameters<Module['loadStateDict']>[1] = {}): void {
    super.loadStateDict(sd, { ...opts, ignore: (k) => CPTransformer.isIgnoredKey(k) || (opts.ignore?.(k) ?? false) });
  }

  private checkWords(what: string, words: Tensor, rank: number): void {
    if (words.rank !== rank || words.shape[rank - 1] !== FAMILIES.length) {
      throw new InputError(what, `expected int32 ${rank === 3 ? '[B,T,8]' : '[B,8]'}, got ${fmtShape(words.shape)}`);
    }
    if (words.dtype !== 'int32') throw new InputError(what, `expected dtype int32, got ${words.dtype}`);
  }

  /** Concatenated scaled embeddings through in_linear: words [..., 8] -> [..., d]. */
  private embed(words: Tensor): Tensor {
    const parts = FAMILIES.map((f) => this.emb[f].forward(familyIds(words, f))); // 8 x (..., e_f)
    return this.inLinear.forward(tf.concat(parts, -1)); // (..., sum e) -> (..., d)
  }

  /** The hidden states h [B, T, d] of words [B, T, 8]; rng given = training (dropout on). */
  forwardHidden(words: Tensor, rng?: Rng): Tensor {
    this.checkWords('words', words, 3);
    const T = words.shape[1] as number;
    if (T > this.config.maxLen) throw new InputError('words', `sequence of ${T} words is longer than the model's maxLen ${this.config.maxLen}`);
    return tf.tidy(() => {
      const e = this.embed(words); // (B, T, d)
      const d = this.config.dModel;
      const pos = tf.tensor2d(this.peTable.subarray(0, T * d), [T, d]); // (T, d)
      let x = dropout(tf.add(e, pos), this.config.dropout, rng); // (B, T, d)
      for (const layer of this.transformerEncoder.layers.items) x = layer.forward(x, rng); // (B, T, d)
      return this.transformerEncoder.norm.forward(x); // (B, T, d)
    });
  }

  /** Type logits from h [..., d] -> [..., nClasses.type]. */
  typeLogits(h: Tensor): Tensor {
    return tf.tidy(() => this.proj.type.forward(h)); // (..., n_type)
  }

  /**
   * The seven other families' logits given the type of the word being predicted:
   * h [..., d], type [...] int32 -> { family: [..., nClasses[family]] }.
   */
  logitsGivenType(h: Tensor, type: Tensor): Record<NonTypeFamily, Tensor> {
    return tf.tidy(() => {
      const te = this.emb.type.forward(type); // (..., e_type)
      const y = this.projectConcatType.forward(tf.concat([h, te], -1)); // (..., d + e_type) -> (..., d)
      const out = {} as Record<NonTypeFamily, Tensor>;
      for (const f of NON_TYPE_FAMILIES) out[f] = this.proj[f].forward(y); // (..., n_f)
      return out;
    });
  }

  /**
   * Teacher-forced logits for training: words x [B, T, 8] int32 and the true type of the next word
   * nextType [B, T] int32 -> logits [B, T, nClasses[f]] for every family. rng given = dropout on.
   */
  forwardTrain(x: Tensor, nextType: Tensor, rng?: Rng): Record<Family, Tensor> {
    this.checkWords('words', x, 3);
    const [B, T] = x.shape as [number, number, number];
    if (nextType.rank !== 2 || nextType.shape[0] !== B || nextType.shape[1] !== T) {
      throw new InputError('next types', `expected [${B},${T}] int32, got ${fmtShape(nextType.shape)}`);
    }
    return tf.tidy(() => {
      const h = this.forwardHidden(x, rng); // (B, T, d)
      const rest = this.logitsGivenType(h, nextType); // 7 x (B, T, n_f)
      return { ...rest, type: this.typeLogits(h) } as Record<Family, Tensor>; // (B, T, n_f) each
    });
  }

  /** An empty generation state for `batch` sequences. */
  initState(batch: number): CPState {
    if (!Number.isInteger(batch) || batch < 1) throw new InputError('batch', `expected a positive integer, got ${batch}`);
    const emb = {} as Record<Family, Float32Array>;
    for (const f of FAMILIES) {
      const t = Float32Array.from(this.emb[f].lut.weight.dataSync() as Float32Array);
      const s = Math.sqrt(this.config.embSizes[f]);
      for (let i = 0; i < t.length; i++) t[i] = (t[i] as number) * s;
      emb[f] = t;
    }
    const [restW, restB] = tf.tidy(() => [
      tf.concat(NON_TYPE_FAMILIES.map((f) => this.proj[f].weight), 1), // (d, sum n_f)
      tf.concat(NON_TYPE_FAMILIES.map((f) => this.proj[f].bias as tf.Variable), 0), // (sum n_f,)
    ]);
    return {
      batch, pos: 0,
      layers: this.transformerEncoder.layers.items.map((l) => l.attention.initState(batch)),
      weights: { emb, restW: restW as Tensor, restB: restB as Tensor },
    };
  }

  /** The non-type families' logits, flat [B, sum n_f] in NON_TYPE_FAMILIES order, given types [B] (generation). */
  restLogits(h: Tensor, types: readonly number[], state: CPState): Tensor {
    const e = this.config.embSizes.type;
    const nType = this.config.nClasses.type;
    const bad = types.find((t) => !Number.isInteger(t) || t < 0 || t >= nType);
    if (bad !== undefined) throw new InputError('restLogits', `expected type indices in 0..${nType - 1}, got ${bad}`);
    const te = new Float32Array(types.length * e);
    types.forEach((t, b) => te.set(state.weights.emb.type.subarray(t * e, (t + 1) * e), b * e));
    return tf.tidy(() => {
      const c = this.projectConcatType;
      const cat = tf.concat([h, tf.tensor2d(te, [types.length, e])], 1); // (B, d + e_type)
      const y = tf.fused.matMul({ a: cat as tf.Tensor2D, b: c.weight as tf.Tensor2D, bias: c.bias }); // (B, d)
      return tf.fused.matMul({ a: y, b: state.weights.restW as tf.Tensor2D, bias: state.weights.restB }); // (B, sum n_f)
    });
  }

  /**
   * Reads one word per sequence: word [B, 8] int32 -> h [B, d] for the next prediction, and the new state.
   * The given state is consumed (its tensors are disposed); dispose the returned h and, at the end, the state.
   */
  step(word: Tensor, state: CPState): { h: Tensor; state: CPState } {
    this.checkWords('word', word, 2);
    if (word.shape[0] !== state.batch) throw new InputError('word', `expected batch ${state.batch}, got ${word.shape[0]}`);
    if (state.pos >= this.config.maxLen) throw new InputError('generation', `reached the model's maxLen of ${this.config.maxLen} words`);
    const d = this.config.dModel;
    const B = state.batch;
    // The embedding rows are gathered on the host: one upload instead of 8 slices, gathers and scalings.
    const ids = word.dataSync();
    const embTotal = this.inLinear.inFeatures;
    const cat = new Float32Array(B * embTotal);
    for (let b = 0; b < B; b++) {
      let off = b * embTotal;
      for (const f of FAMILIES) {
        const e = this.config.embSizes[f];
        const id = ids[b * FAMILIES.length + FAMILY_INDEX[f]] as number;
        if (!(Number.isInteger(id) && id >= 0 && id < this.config.nClasses[f])) throw new InputError('word', `${f} index ${id} is outside 0..${this.config.nClasses[f] - 1}`);
        cat.set(state.weights.emb[f].subarray(id * e, (id + 1) * e), off);
        off += e;
      }
    }
    let x = tf.tidy(() => {
      const l = this.inLinear;
      const e = tf.fused.matMul({ a: tf.tensor2d(cat, [B, embTotal]), b: l.weight as tf.Tensor2D, bias: l.bias }); // (B, d)
      return tf.add(e, tf.tensor2d(this.peTable.subarray(state.pos * d, (state.pos + 1) * d), [1, d])); // (B, d)
    });
    const layers: LayerState[] = [];
    this.transformerEncoder.layers.items.forEach((layer, i) => {
      const r = layer.step(x, state.layers[i] as LayerState); // (B, d)
      x.dispose();
      x = r.y;
      layers.push(r.state);
    });
    const h = tf.tidy(() => this.transformerEncoder.norm.forward(x)); // (B, d)
    x.dispose();
    return { h, state: { batch: state.batch, pos: state.pos + 1, layers, weights: state.weights } };
  }
}
