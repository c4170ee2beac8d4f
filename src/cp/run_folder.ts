/**
 * The run folder, described once (browser-safe: bytes and parsed JSON in, objects out; no file system). The
 * folder's files, their formats and versions:
 *
 *   model.safetensors      the state dict under EMOPIA's names: F32, or F16 with --half; header metadata
 *                          {format: 'emopia-ts/cp'}. (Folders written before this module also hold a copy of the
 *                          config there, under "config"; it is not read: config.json is the one copy.)
 *   config.json            the CPConfig (config.ts), validated against sane bounds
 *   vocab.json             the vocabulary (Vocab.toJSON)
 *   generation.json        optional: the model's own sampling settings (generation_defaults.ts)
 * What `emopia train` adds, for --resume:
 *   optimizer.safetensors  Adam's moments `exp_avg.<param>` / `exp_avg_sq.<param>`, F32 (BF16 with --half);
 *                          header metadata {format: 'emopia-ts/adam', step}
 *   train-state.json       {format: 'emopia-ts/train-state', version: 1, step, epoch, batchInEpoch, rng, settings,
 *                          init?, data, lastValid?}
 *   train-log.jsonl        one JSON object per step (kind "train") and per validation ("valid")
 *
 * A web page fetches the files and calls `modelFromParts`; src/platform/run_folder.ts reads and writes them on
 * disk (a checkpoint replaces the whole folder atomically). Every unusable part is a one-line InputError naming
 * its file and what is wrong.
 */
import { InputError } from '../errors.ts';
import { parseSafetensors, safetensorsFromStateDict, stateDictFromSafetensors, type ParsedSafetensors } from '../io/safetensors.ts';
import { LoadingRng } from '../random.ts';
import { FAMILIES, Vocab } from '../music/vocab.ts';
import { type CPConfig, validateConfig } from './config.ts';
import { CPTransformer } from './model.ts';
import type { AdamState } from '../core/train/optim.ts';
import type { TrainSettings } from './train/trainer.ts';

export const MODEL_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';
export const VOCAB_FILE = 'vocab.json';
/** Optional: the model's own sampling settings (generation_defaults.ts). */
export const GENERATION_FILE = 'generation.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'train-state.json';
export const LOG_FILE = 'train-log.jsonl';

/** The `format` of each file's header or object. */
export const MODEL_FORMAT = 'emopia-ts/cp';
export const ADAM_FORMAT = 'emopia-ts/adam';
export const TRAIN_STATE_FORMAT = 'emopia-ts/train-state';
export const TRAIN_STATE_VERSION = 1;

// ---- The model: model.safetensors, config.json, vocab.json ----

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

const DEFAULT_NAMES: PartNames = { weights: MODEL_FILE, config: CONFIG_FILE, vocab: VOCAB_FILE };

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

const FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16', 'F64'];

/** Parses safetensors bytes whose tensors must all hold floats of one of `dtypes`; errors name `what`. */
function parseFloats(bytes: Uint8Array, what: string, dtypes: readonly string[]): ParsedSafetensors {
  let parsed: ParsedSafetensors;
  try {
    parsed = parseSafetensors(bytes);
  } catch (err) {
    if (err instanceof InputError) throw new InputError(what, err.message);
    throw err;
  }
  for (const [name, t] of parsed.tensors) {
    if (!dtypes.includes(t.dtype)) throw new InputError(what, `tensor '${name}' has dtype ${t.dtype}, expected ${dtypes.join(' or ')}`);
  }
  return parsed;
}

/**
 * Builds the model of `parts`; the caller disposes it. The config is validated first, then every tensor's dtype
 * (floats only) and shape (those the config gives). Every problem is an InputError naming the part.
 */
export function modelFromParts(parts: ModelParts, names: PartNames = DEFAULT_NAMES): { model: CPTransformer; config: CPConfig; vocab: Vocab } {
  const { config, vocab } = metaFromParts(parts.config, parts.vocab, names);
  const sd = stateDictFromSafetensors(parseFloats(parts.weights, names.weights, FLOAT_DTYPES));
  const model = new CPTransformer(config, new LoadingRng()); // every weight is loaded next (strict)
  try {
    model.loadStateDict(sd, { strict: true });
  } catch (err) {
    model.dispose();
    if (err instanceof InputError) throw new InputError(names.weights, err.message);
    throw err;
  }
  return { model, config, vocab };
}

/** The parts of a model: its weights as safetensors, its config and its vocabulary (plain JSON values). */
export function modelToParts(model: CPTransformer, vocab: Vocab, opts: ToPartsOptions = {}): ModelParts & { config: CPConfig } {
  checkVocab('vocabulary', model.config, vocab);
  const weights = safetensorsFromStateDict(model.stateDict(), {
    dtype: opts.dtype ?? 'F32',
    metadata: { ...opts.metadata, format: MODEL_FORMAT },
  });
  return { weights, config: model.config, vocab: vocab.toJSON() };
}

/** A file of a run folder: its name and its content. */
export type FolderFile = readonly [name: string, data: Uint8Array | string];

/** The model's files in writing order: weights first and config.json last, so a folder with a config is complete. */
export function modelFiles(model: CPTransformer, vocab: Vocab, opts: ToPartsOptions = {}): FolderFile[] {
  const parts = modelToParts(model, vocab, opts);
  return [
    [MODEL_FILE, parts.weights],
    [VOCAB_FILE, `${JSON.stringify(parts.vocab)}\n`],
    [CONFIG_FILE, `${JSON.stringify(parts.config, null, 2)}\n`],
  ];
}

// ---- Training: optimizer.safetensors, train-state.json, train-log.jsonl ----

export interface TrainState {
  format: typeof TRAIN_STATE_FORMAT;
  version: typeof TRAIN_STATE_VERSION;
  /** Updates done. */
  step: number;
  /** The data position of the next step: its epoch and its batch within the epoch (both follow from step). */
  epoch: number;
  batchInEpoch: number;
  /** State of the dropout Rng after `step` updates. */
  rng: number;
  settings: TrainSettings;
  /** Where the run started from with --init, if it did. */
  init?: string;
  /** Clips in the splits the run was trained on (a changed dataset is reported on resume). */
  data: { train: number; valid: number };
  lastValid?: { step: number; loss: number };
}

/** Everything a checkpoint of a training run holds. */
export interface RunSnapshot {
  model: CPTransformer;
  vocab: Vocab;
  optimizer: AdamState;
  state: TrainState;
  /** The whole log, as lines without newlines. */
  log: readonly string[];
}

/** The files of a training run, read but not yet parsed (the model's, plus the training ones). */
export interface RunParts extends ModelParts {
  /** optimizer.safetensors */
  optimizer: Uint8Array;
  /** train-state.json, parsed */
  state: unknown;
  /** train-log.jsonl, or undefined when the run has none */
  log?: string;
}

export interface RunPartNames extends PartNames {
  optimizer: string;
  state: string;
}

const DEFAULT_RUN_NAMES: RunPartNames = { ...DEFAULT_NAMES, optimizer: OPTIMIZER_FILE, state: STATE_FILE };

/** Checks the fields of train-state.json that resuming relies on. */
export function trainStateFromJson(json: unknown, what: string = STATE_FILE): TrainState {
  const o = json as Partial<TrainState> | null;
  if (!o || typeof o !== 'object' || o.format !== TRAIN_STATE_FORMAT || o.version !== TRAIN_STATE_VERSION) {
    throw new InputError(what, `expected format '${TRAIN_STATE_FORMAT}' version ${TRAIN_STATE_VERSION}`);
  }
  const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (!int(o.step) || !int(o.epoch) || !int(o.rng)) throw new InputError(what, 'expected integer step, epoch and rng');
  const s = o.settings as Partial<TrainSettings> | undefined;
  const keys: Array<keyof TrainSettings> = ['seq', 'batch', 'seed', 'peakLr', 'warmup', 'clip'];
  if (!s || keys.some((k) => typeof s[k] !== 'number' || !Number.isFinite(s[k]))) {
    throw new InputError(what, `expected settings with numbers ${keys.join(', ')}`);
  }
  const p = s.emotionDropout;
  if (p !== undefined && !(typeof p === 'number' && p >= 0 && p < 1)) {
    throw new InputError(what, `expected settings.emotionDropout to be a number in [0, 1), got ${JSON.stringify(p)}`);
  }
  return o as TrainState;
}

/** Adam's state from optimizer.safetensors (float tensors, an integer step in the metadata). */
export function adamFromBytes(bytes: Uint8Array, what: string = OPTIMIZER_FILE): AdamState {
  const parsed = parseFloats(bytes, what, FLOAT_DTYPES);
  const step = Number(parsed.metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new InputError(what, `expected metadata "step" to be an integer >= 0, got ${JSON.stringify(parsed.metadata.step)}`);
  return { step, tensors: stateDictFromSafetensors(parsed) };
}

/** optimizer.safetensors' bytes: F32, or BF16 for a --half run. */
export function adamToBytes(state: AdamState, half = false): Uint8Array {
  return safetensorsFromStateDict(state.tensors, { dtype: half ? 'BF16' : 'F32', metadata: { step: String(state.step), format: ADAM_FORMAT } });
}

/** The files of a checkpoint, in writing order. */
export function runFiles(snap: RunSnapshot): FolderFile[] {
  const half = snap.state.settings.half === true;
  return [
    ...modelFiles(snap.model, snap.vocab, { dtype: half ? 'F16' : 'F32' }),
    [OPTIMIZER_FILE, adamToBytes(snap.optimizer, half)],
    [STATE_FILE, `${JSON.stringify(snap.state, null, 1)}\n`],
    [LOG_FILE, snap.log.length ? `${snap.log.join('\n')}\n` : ''],
  ];
}

/** A checkpoint from its files; the caller disposes the model. The model is built last, after every cheap check. */
export function runFromParts(parts: RunParts, names: RunPartNames = DEFAULT_RUN_NAMES): RunSnapshot {
  const state = trainStateFromJson(parts.state, names.state);
  const optimizer = adamFromBytes(parts.optimizer, names.optimizer);
  const log = parts.log === undefined ? [] : parts.log.split('\n').filter((l) => l.length > 0);
  const { model, vocab } = modelFromParts(parts, names);
  return { model, vocab, optimizer, state, log };
}
