/**
 * The configuration of EMOPIA's compound-word Transformer (annahung31/EMOPIA `workspace/transformer/models.py`),
 * as one typed object saved as `config.json` beside the weights, and a named table of presets.
 *
 * Per-family sizes are records keyed by family name (tempo, chord, barbeat, type, pitch, duration, velocity,
 * emotion: EMOPIA's order), never positional arrays.
 */
import { InputError } from '../errors.ts';
import { FAMILIES, type Family } from '../music/vocab.ts';

export type AttentionKind = 'linear' | 'softmax';
export const ATTENTION_KINDS: readonly AttentionKind[] = ['linear', 'softmax'];

export interface CPConfig {
  /** Number of values per family (EMOPIA's `n_token`, read from the vocabulary). */
  nClasses: Record<Family, number>;
  /** Embedding width per family; each embedding is scaled by sqrt(its width). */
  embSizes: Record<Family, number>;
  /** Width of the residual stream (EMOPIA 512). */
  dModel: number;
  /** Number of causal encoder layers (EMOPIA 12). */
  nLayers: number;
  /** Attention heads; dModel must divide by it (EMOPIA 8, head width 64). */
  nHeads: number;
  /** Hidden width of the feed-forward block (EMOPIA 2048). */
  dFF: number;
  /** Dropout after the positional encoding, the attention, the activation and the second linear (EMOPIA 0.1). */
  dropout: number;
  /** `linear`: EMOPIA's causal linear attention (elu+1 feature map); `softmax`: causal masked softmax. */
  attention: AttentionKind;
  /** Rows of the sinusoidal table: the longest sequence the model can read (EMOPIA 20000). */
  maxLen: number;
  /** Chunk length of the training-time linear attention (state carried across chunks); no effect on results. */
  chunkSize: number;
  /**
   * Where the model reads the piece's emotion: `first`, only from the Emotion word at position 0 (EMOPIA: every
   * other word has emotion 0); `every`, also from the emotion family of every input word, set to the piece's
   * emotion (inputs only: targets keep 0), so that each position sees the emotion directly instead of through
   * attention to position 0. Same parameters and names either way; see `conditionInputs`.
   */
  emotionInput: EmotionInput;
}

export const EMOTION_INPUTS = ['first', 'every'] as const;
export type EmotionInput = (typeof EMOTION_INPUTS)[number];

/** The architecture part of a config: everything except the class counts, which come from the vocabulary. */
export type CPArch = Omit<CPConfig, 'nClasses'>;

export const PRESET_NAMES = ['emopia', 'small', 'tiny'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const sizes = (v: number[]): Record<Family, number> =>
  Object.fromEntries(FAMILIES.map((f, i) => [f, v[i] as number])) as Record<Family, number>;

/**
 * - `emopia`: EMOPIA's model exactly (39,096,813 parameters with its vocabulary).
 * - `small`: d 256, 4 layers, 4 heads, ff 1024. Embedding widths are EMOPIA's halved (sum 688 instead of 1376),
 *   keeping EMOPIA's ratio of concatenated width to d_model (2.7) and its relative weight per family.
 * - `tiny`: for tests; a few thousand parameters, fast on any backend.
 */
export const PRESETS: Readonly<Record<PresetName, Readonly<CPArch>>> = Object.freeze({
  emopia: {
    embSizes: sizes([128, 256, 64, 32, 512, 128, 128, 128]),
    dModel: 512, nLayers: 12, nHeads: 8, dFF: 2048, dropout: 0.1, attention: 'linear', maxLen: 20000, chunkSize: 128, emotionInput: 'first',
  },
  small: {
    embSizes: sizes([64, 128, 32, 16, 256, 64, 64, 64]),
    dModel: 256, nLayers: 4, nHeads: 4, dFF: 1024, dropout: 0.1, attention: 'linear', maxLen: 8192, chunkSize: 128, emotionInput: 'first',
  },
  tiny: {
    embSizes: sizes([8, 16, 8, 4, 16, 8, 8, 8]),
    dModel: 32, nLayers: 2, nHeads: 2, dFF: 64, dropout: 0.1, attention: 'linear', maxLen: 1024, chunkSize: 16, emotionInput: 'first',
  },
});

/** EMOPIA's class counts [56, 135, 18, 4, 87, 18, 42, 5] (its dictionary.pkl), by family. */
export const EMOPIA_CLASSES: Readonly<Record<Family, number>> = Object.freeze(sizes([56, 135, 18, 4, 87, 18, 42, 5]));

/** A full config from a preset, the vocabulary's class counts and optional overrides; validated. */
export function makeConfig(preset: PresetName, nClasses: Record<Family, number>, overrides: Partial<CPArch> = {}): CPConfig {
  const base = PRESETS[preset];
  if (!base) throw new InputError('preset', `expected one of ${PRESET_NAMES.join(', ')}, got '${String(preset)}'`);
  return validateConfig({ ...base, ...overrides, embSizes: { ...(overrides.embSizes ?? base.embSizes) }, nClasses: { ...nClasses } });
}

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * The largest value each size may take: far above every preset (EMOPIA's own model is 39M parameters), low
 * enough that a tampered or mistyped config.json is refused at once instead of allocating for minutes and dying
 * inside tfjs. Class counts stop at 65536 because datasets store word ids in 16 bits; the positional table
 * (maxLen x dModel floats) and the parameter count keep the model inside the wasm heap (4 GB).
 */
export const CONFIG_BOUNDS = Object.freeze({
  nClasses: 65536,
  embSizes: 4096,
  dModel: 4096,
  nLayers: 64,
  nHeads: 64,
  dFF: 16384,
  maxLen: 65536,
  chunkSize: 65536,
  /** maxLen * dModel */
  positionTable: 2 ** 25,
  parameters: 400_000_000,
});

/**
 * Checks a config (as read from config.json, or built in code) and returns a clean copy. Throws an InputError
 * naming the first bad field, what was expected and what came.
 */
export function validateConfig(json: unknown, what = 'config'): CPConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(what, `expected an object, got ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`);
  const o = json as Record<string, unknown>;
  const perFamily = (key: 'nClasses' | 'embSizes'): Record<Family, number> => {
    const r = o[key];
    if (typeof r !== 'object' || r === null) throw new InputError(what, `expected ${key} to be an object keyed by family, got ${JSON.stringify(r)}`);
    const out = {} as Record<Family, number>;
    for (const f of FAMILIES) {
      const v = (r as Record<string, unknown>)[f];
      if (!isPosInt(v)) throw new InputError(what, `expected ${key}.${f} to be a positive integer, got ${JSON.stringify(v)}`);
      if (v > CONFIG_BOUNDS[key]) throw new InputError(what, `expected ${key}.${f} at most ${CONFIG_BOUNDS[key]}, got ${v}`);
      out[f] = v;
    }
    const extra = Object.keys(r).filter((k) => !(FAMILIES as readonly string[]).includes(k));
    if (extra.length) throw new InputError(what, `${key} has unknown famil${extra.length > 1 ? 'ies' : 'y'} ${extra.join(', ')} (expected ${FAMILIES.join(', ')})`);
    return out;
  };
  const int = (key: 'dModel' | 'nLayers' | 'nHeads' | 'dFF' | 'maxLen' | 'chunkSize'): number => {
    const v = o[key];
    if (!isPosInt(v)) throw new InputError(what, `expected ${key} to be a positive integer, got ${JSON.stringify(v)}`);
    if (v > CONFIG_BOUNDS[key]) throw new InputError(what, `expected ${key} at most ${CONFIG_BOUNDS[key]}, got ${v}`);
    return v;
  };
  const cfg: CPConfig = {
    nClasses: perFamily('nClasses'),
    embSizes: perFamily('embSizes'),
    dModel: int('dModel'),
    nLayers: int('nLayers'),
    nHeads: int('nHeads'),
    dFF: int('dFF'),
    dropout: o.dropout as number,
    attention: o.attention as AttentionKind,
    maxLen: int('maxLen'),
    chunkSize: int('chunkSize'),
    emotionInput: (o.emotionInput ?? 'first') as EmotionInput, // configs written before the field read as EMOPIA's
  };
  if (!EMOTION_INPUTS.includes(cfg.emotionInput)) throw new InputError(what, `expected emotionInput 'first' or 'every', got ${JSON.stringify(o.emotionInput)}`);
  if (typeof cfg.dropout !== 'number' || !(cfg.dropout >= 0 && cfg.dropout < 1)) throw new InputError(what, `expected dropout in [0, 1), got ${JSON.stringify(o.dropout)}`);
  if (!ATTENTION_KINDS.includes(cfg.attention)) throw new InputError(what, `expected attention 'linear' or 'softmax', got ${JSON.stringify(o.attention)}`);
  if (cfg.dModel % cfg.nHeads !== 0) throw new InputError(what, `expected dModel (${cfg.dModel}) to be a multiple of nHeads (${cfg.nHeads})`);
  if (cfg.maxLen < 2) throw new InputError(what, `expected maxLen >= 2, got ${cfg.maxLen}`);
  if (cfg.maxLen * cfg.dModel > CONFIG_BOUNDS.positionTable) {
    throw new InputError(what, `expected maxLen x dModel (the positional table) at most ${CONFIG_BOUNDS.positionTable}, got ${cfg.maxLen} x ${cfg.dModel}`);
  }
  const params = countParameters(cfg);
  if (params > CONFIG_BOUNDS.parameters) throw new InputError(what, `expected at most ${CONFIG_BOUNDS.parameters} parameters, got ${params} (dModel ${cfg.dModel}, nLayers ${cfg.nLayers}, dFF ${cfg.dFF})`);
  return cfg;
}

/** Number of parameters a config gives, counted without building the model (same formula as PyTorch's). */
export function countParameters(cfg: CPConfig): number {
  const lin = (i: number, o: number) => i * o + o;
  const d = cfg.dModel;
  let n = 0;
  let embTotal = 0;
  for (const f of FAMILIES) {
    n += cfg.nClasses[f] * cfg.embSizes[f]; // word_emb_<f>
    embTotal += cfg.embSizes[f];
    n += lin(d, cfg.nClasses[f]); // proj_<f>
  }
  n += lin(embTotal, d); // in_linear
  n += cfg.nLayers * (4 * lin(d, d) + lin(d, cfg.dFF) + lin(cfg.dFF, d) + 4 * d); // attention, ff, 2 norms
  n += 2 * d; // final norm
  n += lin(d + cfg.embSizes.type, d); // project_concat_type
  return n;
}
