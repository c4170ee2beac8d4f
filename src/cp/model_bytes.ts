/**
 * A CP model as three in-memory parts, with no file system (browser-safe): the safetensors bytes of its weights
 * (EMOPIA's state_dict names), its CPConfig and its vocabulary (both plain JSON values). A web page fetches
 * the three files of a run folder and calls `modelFromParts`; checkpoint.ts reads and writes them on disk.
 */
import { InputError } from '../errors.ts';
import { parseSafetensors, safetensorsFromStateDict, stateDictFromSafetensors } from '../io/safetensors.ts';
import { Rng } from '../random.ts';
import { FAMILIES, Vocab } from '../music/vocab.ts';
import { type CPConfig, validateConfig } from './config.ts';
import { CPTransformer } from './model.ts';

export interface ModelParts {
  /** model.safetensors */
  weights: Uint8Array;
  /** config.json, parsed */
  config: unknown;
  /** vocab.json, parsed */
  vocab: unknown;
}

/** Names used in error messages for each part (file paths on disk). */
export interface PartNames {
  weights: string;
  config: string;
  vocab: string;
}

const DEFAULT_NAMES: PartNames = { weights: 'model.safetensors', config: 'config.json', vocab: 'vocab.json' };

export interface ToPartsOptions {
  /** Weight precision (default F32). F16 halves the size; weights are read back as float32. */
  dtype?: 'F32' | 'F16';
  /** Extra string metadata stored in the safetensors header. */
  metadata?: Record<string, string>;
}

/** InputError unless every family of the vocabulary has as many values as the config has classes. */
export function checkVocab(what: string, cfg: CPConfig, vocab: Vocab): void {
  for (const f of FAMILIES) {
    if (vocab.size(f) !== cfg.nClasses[f]) {
      throw new InputError(what, `vocabulary family ${f} has ${vocab.size(f)} values but the config says ${cfg.nClasses[f]} classes`);
    }
  }
}

/** The validated config and vocabulary of a model's parts. */
export function metaFromParts(config: unknown, vocab: unknown, names: PartNames = DEFAULT_NAMES): { config: CPConfig; vocab: Vocab } {
  const cfg = validateConfig(config, names.config);
  const v = Vocab.fromJSON(vocab, names.vocab);
  checkVocab(names.vocab, cfg, v);
  return { config: cfg, vocab: v };
}

/** Builds the model of `parts`; the caller disposes it. Every problem is an InputError naming the part. */
export function modelFromParts(parts: ModelParts, names: PartNames = DEFAULT_NAMES): { model: CPTransformer; config: CPConfig; vocab: Vocab } {
  const { config, vocab } = metaFromParts(parts.config, parts.vocab, names);
  let sd;
  try {
    sd = stateDictFromSafetensors(parseSafetensors(parts.weights));
  } catch (err) {
    if (err instanceof InputError) throw new InputError(names.weights, err.message);
    throw err;
  }
  const model = new CPTransformer(config, new Rng(0));
  try {
    model.loadStateDict(sd);
  } catch (err) {
    model.dispose();
    if (err instanceof InputError) throw new InputError(names.weights, err.message);
    throw err;
  }
  return { model, config, vocab };
}

/** The parts of a model: its weights as safetensors (with the config in the header metadata), config, vocabulary. */
export function modelToParts(model: CPTransformer, vocab: Vocab, opts: ToPartsOptions = {}): ModelParts & { config: CPConfig } {
  checkVocab('vocabulary', model.config, vocab);
  const weights = safetensorsFromStateDict(model.stateDict(), {
    dtype: opts.dtype ?? 'F32',
    metadata: { ...opts.metadata, format: 'emopia-ts/cp', config: JSON.stringify(model.config) },
  });
  return { weights, config: model.config, vocab: vocab.toJSON() };
}
