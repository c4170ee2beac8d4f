/**
 * The model part of a run folder (Node only):
 *   RUN_DIR/model.safetensors  the state dict under EMOPIA's names (F32 by default, F16 on request)
 *   RUN_DIR/config.json        the CPConfig
 *   RUN_DIR/vocab.json         the vocabulary (the tokenizer's Vocab.toJSON)
 * Training adds its own files beside these (optimizer and RNG state, train-log.jsonl). Each file is written
 * atomically; the weights go first and config.json last, so a folder with a config.json is complete.
 * Every missing or unusable file gives a one-line InputError naming the file.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readInputFile, readJsonInput } from '../io/read.ts';
import type { Vocab } from '../music/vocab.ts';
import type { CPConfig } from './config.ts';
import type { CPTransformer } from './model.ts';
import { parseGenerationDefaults, type GenerationDefaults } from './generation_defaults.ts';
import { metaFromParts, modelFromParts, modelToParts, type PartNames, type ToPartsOptions } from './model_bytes.ts';

export const MODEL_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';
export const VOCAB_FILE = 'vocab.json';
/** Optional: the model's own sampling settings (generation_defaults.ts). */
export const GENERATION_FILE = 'generation.json';

export type SaveModelOptions = ToPartsOptions;

/** Writes model.safetensors, vocab.json and config.json into `dir` (created if needed). */
export function saveModel(dir: string, model: CPTransformer, vocab: Vocab, opts: SaveModelOptions = {}): void {
  let parts;
  try {
    parts = modelToParts(model, vocab, opts);
  } catch (err) {
    if (err instanceof InputError) throw new InputError(dir, err.message);
    throw err;
  }
  writeFileAtomic(join(dir, MODEL_FILE), parts.weights);
  writeFileAtomic(join(dir, VOCAB_FILE), JSON.stringify(parts.vocab) + '\n');
  writeFileAtomic(join(dir, CONFIG_FILE), JSON.stringify(parts.config, null, 2) + '\n');
}

/** Parses a JSON file of a run folder (see io/read.ts). */
export const readJson = readJsonInput;

function checkDir(dir: string): void {
  if (!existsSync(dir)) throw new InputError(dir, 'no such checkpoint folder');
  if (!statSync(dir).isDirectory()) throw new InputError(dir, 'expected a run folder (with model.safetensors, config.json, vocab.json), got a file');
}

const partNames = (dir: string): PartNames => ({ weights: join(dir, MODEL_FILE), config: join(dir, CONFIG_FILE), vocab: join(dir, VOCAB_FILE) });

/** Reads config.json and vocab.json of a run folder and checks that they agree. */
export function readModelMeta(dir: string): { config: CPConfig; vocab: Vocab } {
  checkDir(dir);
  const names = partNames(dir);
  return metaFromParts(readJson(names.config), readJson(names.vocab), names);
}

/** Loads a run folder's model; the caller disposes it. */
export function loadModel(dir: string): { model: CPTransformer; config: CPConfig; vocab: Vocab } {
  checkDir(dir);
  const names = partNames(dir);
  const config = readJson(names.config);
  const vocab = readJson(names.vocab);
  return modelFromParts({ weights: readInputFile(names.weights), config, vocab }, names);
}

/** The run folder's generation.json, or no overrides when it has none. */
export function readGenerationDefaults(dir: string): GenerationDefaults {
  const path = join(dir, GENERATION_FILE);
  return existsSync(path) ? parseGenerationDefaults(readJson(path), path) : { sampling: {} };
}
