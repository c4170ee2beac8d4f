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
import { dropout, embeddingConcat, gelu } from '../core/ops.ts';
import { sinusoidalTable } from '../core/positional.ts';
import { Rng } from '../random.ts';
import { FAMILIES, FAMILY_INDEX, type Family } from '../music/vocab.ts';
import { CPAttention } from './attention.ts';
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

export class CPTransformer extends Module {
  readonly config: CPConfig;
  /** The scaled embedding of each family (`word_emb_<family>`). */
  readonly emb = {} as Record<Family, ScaledEmbedding>;
  /** The output head of each family (`proj_<family>`). */
  readonly proj = {} as Record<Family, Linear>;
  readonly inLinear: Linear;
  readonly transformerEncoder: Encoder;
  readonly projectConcatType: Linear;
  /** The rows of the sinusoidal table computed so far (positionRows). */
  private pe: Float32Array = new Float32Array(0);

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
  }

  /**
   * The first `n` rows of the sinusoidal table [maxLen, d], in host memory (a buffer, not a parameter; rows are
   * uploaded as needed, because slicing one row out of a large wasm tensor costs milliseconds per call). Computed on
   * demand, doubling up to maxLen: a row's values do not depend on the table's length, and the whole 8192-row
   * table cost about 30 ms of every start-up, when generation reads a few hundred rows.
   */
  positionRows(n: number): Float32Array {
    const { maxLen, dModel: d } = this.config;
    if (!(Number.isInteger(n) && n >= 0 && n <= maxLen)) throw new InputError('positions', `expected 0..${maxLen} rows of the positional table, got ${n}`);
    if (this.pe.length < n * d) this.pe = sinusoidalTable(Math.min(maxLen, Math.max(n, 2 * (this.pe.length / d), 256)), d); // (rows, d)
    return this.pe.subarray(0, n * d);
  }

  /** Row `pos` of the sinusoidal table (d values). */
  positionRow(pos: number): Float32Array {
    const d = this.config.dModel;
    return this.positionRows(pos + 1).subarray(pos * d);
  }

  /** Names of state-dict entries that EMOPIA checkpoints carry but this model does not use as parameters. */
  static isIgnoredKey(key: string): boolean {
    return key === 'pos_emb.pe';
  }

  /** Loads an EMOPIA-named state dict (accepts and ignores `pos_emb.pe`). */
  override loadStateDict(sd: Parameters<Module['loadStateDict']>[0], opts: Parameters<Module['loadStateDict']>[1] = {}): void {
    super.loadStateDict(sd, { ...opts, ignore: (k) => CPTransformer.isIgnoredKey(k) || (opts.ignore?.(k) ?? false) });
  }

  private checkWords(what: string, words: Tensor): void {
    if (words.rank !== 3 || words.shape[2] !== FAMILIES.length) throw new InputError(what, `expected int32 [B,T,8], got ${fmtShape(words.shape)}`);
    if (words.dtype !== 'int32') throw new InputError(what, `expected dtype int32, got ${words.dtype}`);
  }

  /**
   * Concatenated scaled embeddings through in_linear: words [..., 8] -> [..., d]. The eight lookups, scalings
   * and the concatenation run as one host pass (embeddingConcat: the same numbers as each family's
   * `emb[f].forward(familyIds(words, f))` concatenated, in one step instead of ~20 kernels each way).
   */
  private embed(words: Tensor): Tensor {
    const w = words.dataSync(); // (..., 8) on the host
    const n = w.length / FAMILIES.length;
    const ids = FAMILIES.map((f) => {
      const col = FAMILY_INDEX[f];
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = w[i * FAMILIES.length + col] as number;
      return out;
    });
    const tables = FAMILIES.map((f) => this.emb[f].lut.weight);
    const scales = FAMILIES.map((f) => Math.sqrt(this.emb[f].dim));
    const x = embeddingConcat(tables, ids, scales); // (N, sum e)
    return this.inLinear.forward(x.reshape([...words.shape.slice(0, -1), x.shape[1] as number])); // (..., sum e) -> (..., d)
  }

  /** The hidden states h [B, T, d] of words [B, T, 8]; rng given = training (dropout on). */
  forwardHidden(words: Tensor, rng?: Rng): Tensor {
    this.checkWords('words', words);
    const T = words.shape[1] as number;
    if (T > this.config.maxLen) throw new InputError('words', `sequence of ${T} words is longer than the model's maxLen ${this.config.maxLen}`);
    return tf.tidy(() => {
      const e = this.embed(words); // (B, T, d)
      const d = this.config.dModel;
      const pos = tf.tensor2d(this.positionRows(T), [T, d]); // (T, d)
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
    this.checkWords('words', x);
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
}
