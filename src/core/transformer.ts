/**
 * The Transformer of "Attention Is All You Need", equal to torch.nn.Transformer(batch_first=True) in
 * parameters (same state-dict names), options and numbers:
 *
 *   TransformerEncoderLayer  self_attn, linear1, linear2, norm1, norm2
 *   TransformerDecoderLayer  self_attn, multihead_attn, linear1, linear2, norm1, norm2, norm3
 *   TransformerEncoder       layers.<i>, norm (optional final LayerNorm)
 *   TransformerDecoder       layers.<i>, norm
 *   Transformer              encoder, decoder (both with a final norm, as torch.nn.Transformer builds them)
 *
 * Post-norm by default (x = norm(x + sublayer(x))); `normFirst` gives pre-norm (x = x + sublayer(norm(x))).
 * Masks follow masks.ts (bool, true = may attend). The padding options take a padding mask [B,L] (true = real
 * token) and, like PyTorch's key_padding_mask, block padded *keys* only: outputs at padded positions are
 * computed but meaningless. Passing an `rng` means training mode (dropout drawn from it); no rng = eval.
 */
import { tf } from '../backend.ts';
import { InputError, assertShape, fmtShape } from '../errors.ts';
import { type Rng, uniformArray } from '../random.ts';
import { MultiHeadAttention } from './attention.ts';
import { andMasks, keyPaddingMask } from './masks.ts';
import { LayerNorm, Linear, Module } from './module.ts';
import { activation, dropout, type Activation } from './ops.ts';

type Tensor = tf.Tensor;

/** torch.nn.Transformer's options (batch_first is always true here). */
export interface TransformerConfig {
  dModel: number;
  nhead: number;
  numEncoderLayers: number;
  numDecoderLayers: number;
  dimFeedforward: number;
  dropout: number;
  activation: 'relu' | 'gelu';
  normFirst: boolean;
  layerNormEps: number;
}

/** PyTorch's defaults. */
export const TRANSFORMER_DEFAULTS: TransformerConfig = {
  dModel: 512,
  nhead: 8,
  numEncoderLayers: 6,
  numDecoderLayers: 6,
  dimFeedforward: 2048,
  dropout: 0.1,
  activation: 'relu',
  normFirst: false,
  layerNormEps: 1e-5,
};

/** The options of one encoder or decoder layer. */
export type LayerConfig = Pick<TransformerConfig, 'dModel' | 'nhead' | 'dimFeedforward' | 'dropout' | 'activation' | 'normFirst' | 'layerNormEps'>;

function checkConfig(cfg: LayerConfig): void {
  const ints: Array<[string, number]> = [['dModel', cfg.dModel], ['nhead', cfg.nhead], ['dimFeedforward', cfg.dimFeedforward]];
  for (const [name, v] of ints) {
    if (!Number.isInteger(v) || v < 1) throw new InputError('transformer config', `expected ${name} to be an integer >= 1, got ${v}`);
  }
  if (cfg.dModel % cfg.nhead !== 0) throw new InputError('transformer config', `expected dModel divisible by nhead, got ${cfg.dModel} and ${cfg.nhead}`);
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw new InputError('transformer config', `expected dropout in [0, 1), got ${cfg.dropout}`);
  if (cfg.activation !== 'relu' && cfg.activation !== 'gelu') throw new InputError('transformer config', `expected activation 'relu' or 'gelu', got '${String(cfg.activation)}'`);
  if (!(cfg.layerNormEps > 0)) throw new InputError('transformer config', `expected layerNormEps > 0, got ${cfg.layerNormEps}`);
}

/** The position-wise feed-forward block: linear2(dropout(act(linear1(x)))). */
function feedForward(x: Tensor, l1: Linear, l2: Linear, act: Activation, rate: number, rng?: Rng): Tensor {
  const hidden = dropout(activation(act, l1.forward(x)), rate, rng); // (B, L, ff)
  return l2.forward(hidden); // (B, L, d)
}

/** torch.nn.TransformerEncoderLayer(batch_first=True). */
export class TransformerEncoderLayer extends Module {
  readonly selfAttn: MultiHeadAttention;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;

  constructor(readonly cfg: LayerConfig, rng: Rng) {
    super();
    checkConfig(cfg);
    this.selfAttn = this.addChild('self_attn', new MultiHeadAttention(cfg.dModel, cfg.nhead, rng, { dropout: cfg.dropout }));
    this.linear1 = this.addChild('linear1', new Linear(cfg.dModel, cfg.dimFeedforward, rng));
    this.linear2 = this.addChild('linear2', new Linear(cfg.dimFeedforward, cfg.dModel, rng));
    this.norm1 = this.addChild('norm1', new LayerNorm(cfg.dModel, cfg.layerNormEps));
    this.norm2 = this.addChild('norm2', new LayerNorm(cfg.dModel, cfg.layerNormEps));
  }

  /** x [B,S,d]; mask bool (true = may attend) broadcastable to [B,S,S] (e.g. keyPaddingMask [B,1,S]). */
  forward(x: Tensor, mask?: Tensor, rng?: Rng): Tensor {
    const { dropout: p, activation: act } = this.cfg;
    return tf.tidy(() => {
      const sa = (y: Tensor) => dropout(this.selfAttn.forward(y, y, y, mask, rng), p, rng); // (B, S, d)
      const ff = (y: Tensor) => dropout(feedForward(y, this.linear1, this.linear2, act, p, rng), p, rng); // (B, S, d)
      if (this.cfg.normFirst) {
        const h = tf.add(x, sa(this.norm1.forward(x))); // (B, S, d)
        return tf.add(h, ff(this.norm2.forward(h))); // (B, S, d)
      }
      const h = this.norm1.forward(tf.add(x, sa(x))); // (B, S, d)
      return this.norm2.forward(tf.add(h, ff(h))); // (B, S, d)
    });
  }
}

/** torch.nn.TransformerDecoderLayer(batch_first=True). */
export class TransformerDecoderLayer extends Module {
  readonly selfAttn: MultiHeadAttention;
  readonly crossAttn: MultiHeadAttention;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly norm3: LayerNorm;

  constructor(readonly cfg: LayerConfig, rng: Rng) {
    super();
    checkConfig(cfg);
    this.selfAttn = this.addChild('self_attn', new MultiHeadAttention(cfg.dModel, cfg.nhead, rng, { dropout: cfg.dropout }));
    this.crossAttn = this.addChild('multihead_attn', new MultiHeadAttention(cfg.dModel, cfg.nhead, rng, { dropout: cfg.dropout }));
    this.linear1 = this.addChild('linear1', new Linear(cfg.dModel, cfg.dimFeedforward, rng));
    this.linear2 = this.addChild('linear2', new Linear(cfg.dimFeedforward, cfg.dModel, rng));
    this.norm1 = this.addChild('norm1', new LayerNorm(cfg.dModel, cfg.layerNormEps));
    this.norm2 = this.addChild('norm2', new LayerNorm(cfg.dModel, cfg.layerNormEps));
    this.norm3 = this.addChild('norm3', new LayerNorm(cfg.dModel, cfg.layerNormEps));
  }

  /**
   * x [B,T,d], memory [B,S,d]; selfMask broadcastable to [B,T,T] (causal AND target key padding);
   * crossMask broadcastable to [B,T,S] (memory key padding, or crossAttentionMask).
   */
  forward(x: Tensor, memory: Tensor, selfMask?: Tensor, crossMask?: Tensor, rng?: Rng): Tensor {
    const { dropout: p, activation: act } = this.cfg;
    return tf.tidy(() => {
      const sa = (y: Tensor) => dropout(this.selfAttn.forward(y, y, y, selfMask, rng), p, rng); // (B, T, d)
      const ca = (y: Tensor) => dropout(this.crossAttn.forward(y, memory, memory, crossMask, rng), p, rng); // (B, T, d)
      const ff = (y: Tensor) => dropout(feedForward(y, this.linear1, this.linear2, act, p, rng), p, rng); // (B, T, d)
      if (this.cfg.normFirst) {
        const h1 = tf.add(x, sa(this.norm1.forward(x))); // (B, T, d)
        const h2 = tf.add(h1, ca(this.norm2.forward(h1))); // (B, T, d)
        return tf.add(h2, ff(this.norm3.forward(h2))); // (B, T, d)
      }
      const h1 = this.norm1.forward(tf.add(x, sa(x))); // (B, T, d)
      const h2 = this.norm2.forward(tf.add(h1, ca(h1))); // (B, T, d)
      return this.norm3.forward(tf.add(h2, ff(h2))); // (B, T, d)
    });
  }
}

/** torch.nn.TransformerEncoder: `numLayers` layers and an optional final LayerNorm `norm`. */
export class TransformerEncoder extends Module {
  readonly layers: TransformerEncoderLayer[] = [];
  readonly norm?: LayerNorm;

  constructor(cfg: LayerConfig, numLayers: number, rng: Rng, opts: { finalNorm?: boolean } = {}) {
    super();
    if (!Number.isInteger(numLayers) || numLayers < 0) throw new InputError('transformer config', `expected a number of encoder layers >= 0, got ${numLayers}`);
    for (let i = 0; i < numLayers; i++) this.layers.push(this.addChild(`layers.${i}`, new TransformerEncoderLayer(cfg, rng)));
    if (opts.finalNorm ?? true) this.norm = this.addChild('norm', new LayerNorm(cfg.dModel, cfg.layerNormEps));
  }

  forward(x: Tensor, mask?: Tensor, rng?: Rng): Tensor {
    return tf.tidy(() => {
      let h = x; // (B, S, d)
      for (const layer of this.layers) h = layer.forward(h, mask, rng); // (B, S, d)
      return this.norm ? this.norm.forward(h) : h.clone(); // (B, S, d)
    });
  }
}

/** torch.nn.TransformerDecoder: `numLayers` layers and an optional final LayerNorm `norm`. */
export class TransformerDecoder extends Module {
  readonly layers: TransformerDecoderLayer[] = [];
  readonly norm?: LayerNorm;

  constructor(cfg: LayerConfig, numLayers: number, rng: Rng, opts: { finalNorm?: boolean } = {}) {
    super();
    if (!Number.isInteger(numLayers) || numLayers < 0) throw new InputError('transformer config', `expected a number of decoder layers >= 0, got ${numLayers}`);
    for (let i = 0; i < numLayers; i++) this.layers.push(this.addChild(`layers.${i}`, new TransformerDecoderLayer(cfg, rng)));
    if (opts.finalNorm ?? true) this.norm = this.addChild('norm', new LayerNorm(cfg.dModel, cfg.layerNormEps));
  }

  forward(x: Tensor, memory: Tensor, selfMask?: Tensor, crossMask?: Tensor, rng?: Rng): Tensor {
    return tf.tidy(() => {
      let h = x; // (B, T, d)
      for (const layer of this.layers) h = layer.forward(h, memory, selfMask, crossMask, rng); // (B, T, d)
      return this.norm ? this.norm.forward(h) : h.clone(); // (B, T, d)
    });
  }
}

export interface EncodeOptions {
  /** [B,S] bool, true = real token; padded source tokens are blocked as keys. */
  srcPadding?: Tensor;
  /** [S,S] bool, true = may attend (torch's src_mask, inverted). */
  srcMask?: Tensor;
}

export interface DecodeOptions {
  /** [B,T] bool, true = real token; padded target tokens are blocked as keys of the self-attention. */
  tgtPadding?: Tensor;
  /** [B,S] bool, true = real token; padded memory positions are blocked as keys of the cross-attention. */
  memoryPadding?: Tensor;
  /** [T,T] bool, true = may attend (usually causalMask(T)). */
  tgtMask?: Tensor;
  /** [T,S] bool, true = may attend (torch's memory_mask, inverted). */
  memoryMask?: Tensor;
}

export type ForwardOptions = EncodeOptions & DecodeOptions;

function checkSeq(what: string, x: Tensor, d: number, B?: number): [number, number] {
  if (x.rank !== 3 || x.shape[2] !== d || (B !== undefined && x.shape[0] !== B)) {
    throw new InputError(what, `expected shape [${B ?? 'B'},L,${d}], got ${fmtShape(x.shape)}`);
  }
  return [x.shape[0] as number, x.shape[1] as number];
}

function checkMask(what: string, m: Tensor | undefined, expected: number[]): void {
  if (!m) return;
  assertShape(what, m.shape, expected);
  if (m.dtype !== 'bool') throw new InputError(what, `expected a 'bool' mask (true = real token / may attend), got dtype '${m.dtype}'`);
}

/** Re-draws every matrix parameter from xavier_uniform, as torch.nn.Transformer._reset_parameters does. */
function xavierReset(m: Module, rng: Rng): void {
  for (const [, v] of m.namedParameters()) {
    if (v.rank !== 2) continue;
    const [a, b] = v.shape as [number, number];
    const bound = Math.sqrt(6 / (a + b));
    tf.tidy(() => v.assign(tf.tensor2d(uniformArray(rng, a * b, -bound, bound), [a, b])));
  }
}

/** torch.nn.Transformer(batch_first=True): encoder and decoder stacks, each with its final LayerNorm. */
export class Transformer extends Module {
  readonly encoder: TransformerEncoder;
  readonly decoder: TransformerDecoder;

  constructor(readonly cfg: TransformerConfig, rng: Rng) {
    super();
    checkConfig(cfg);
    this.encoder = this.addChild('encoder', new TransformerEncoder(cfg, cfg.numEncoderLayers, rng));
    this.decoder = this.addChild('decoder', new TransformerDecoder(cfg, cfg.numDecoderLayers, rng));
    xavierReset(this, rng);
  }

  /** src [B,S,d] -> memory [B,S,d]. */
  encode(src: Tensor, opts: EncodeOptions = {}, rng?: Rng): Tensor {
    const [B, S] = checkSeq('transformer src', src, this.cfg.dModel);
    checkMask('transformer srcPadding', opts.srcPadding, [B, S]);
    checkMask('transformer srcMask', opts.srcMask, [S, S]);
    return tf.tidy(() => {
      const mask = andMasks(opts.srcMask, opts.srcPadding && keyPaddingMask(opts.srcPadding)); // (B|1, 1|S, S)
      return this.encoder.forward(src, mask, rng); // (B, S, d)
    });
  }

  /** tgt [B,T,d], memory [B,S,d] -> [B,T,d]. */
  decode(tgt: Tensor, memory: Tensor, opts: DecodeOptions = {}, rng?: Rng): Tensor {
    const [B, T] = checkSeq('transformer tgt', tgt, this.cfg.dModel);
    const [, S] = checkSeq('transformer memory', memory, this.cfg.dModel, B);
    checkMask('transformer tgtPadding', opts.tgtPadding, [B, T]);
    checkMask('transformer memoryPadding', opts.memoryPadding, [B, S]);
    checkMask('transformer tgtMask', opts.tgtMask, [T, T]);
    checkMask('transformer memoryMask', opts.memoryMask, [T, S]);
    return tf.tidy(() => {
      const selfMask = andMasks(opts.tgtMask, opts.tgtPadding && keyPaddingMask(opts.tgtPadding)); // (B|1, T|1, T)
      const crossMask = andMasks(opts.memoryMask, opts.memoryPadding && keyPaddingMask(opts.memoryPadding)); // (B|1, T|1, S)
      return this.decoder.forward(tgt, memory, selfMask, crossMask, rng); // (B, T, d)
    });
  }

  /** src [B,S,d], tgt [B,T,d] -> [B,T,d]. */
  forward(src: Tensor, tgt: Tensor, opts: ForwardOptions = {}, rng?: Rng): Tensor {
    const [B] = checkSeq('transformer src', src, this.cfg.dModel);
    checkSeq('transformer tgt', tgt, this.cfg.dModel, B);
    return tf.tidy(() => {
      const memory = this.encode(src, { srcPadding: opts.srcPadding, srcMask: opts.srcMask }, rng); // (B, S, d)
      return this.decode(tgt, memory, opts, rng); // (B, T, d)
    });
  }
}
