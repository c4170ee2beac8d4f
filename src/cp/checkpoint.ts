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
import { readJsonInput } from '../io/read.ts';
import { safetensorsFromStateDict, stateDictFromSafetensors } from '../io/safetensors.ts';
import { readSafetensorsFile } from '../io/safetensors_node.ts';
import { Rng } from '../random.ts';
import { FAMILIES, Vocab } from '../music/vocab.ts';
import { type CPConfig, validateConfig } from './config.ts';
import { CPTransformer } from './model.ts';

export const MODEL_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';
export const VOCAB_FILE = 'vocab.json';

export interface SaveModelOptions {
  /** Weight precision on disk (default F32). F16 halves the file; weights are read back as float32. */
  dtype?: 'F32' | 'F16';
  /** Extra string metadata stored in the safetensors header. */
  metadata?: Record<string, string>;
}

/** Writes model.safetensors, vocab.json and config.json into `dir` (created if needed). */
export function saveModel(dir: string, model: CPTransformer, vocab: Vocab, opts: SaveModelOptions = {}): void {
  checkVocab(dir, model.config, vocab);
  const bytes = safetensorsFromStateDict(model.stateDict(), {
    dtype: opts.dtype ?? 'F32',
    metadata: { ...opts.metadata, format: 'emopia-ts/cp', config: JSON.stringify(model.config) },
  });
  writeFileAtomic(join(dir, MODEL_FILE), bytes);
  writeFileAtomic(join(dir, VOCAB_FILE), JSON.stringify(vocab.toJSON()) + '\n');
  writeFileAtomic(join(dir, CONFIG_FILE), JSON.stringify(model.config, null, 2) + '\n');
}

function checkVocab(what: string, cfg: CPConfig, vocab: Vocab): void {
  for (const f of FAMILIES) {
    if (vocab.size(f) !== cfg.nClasses[f]) {
      throw new InputError(what, `vocabulary family ${f} has ${vocab.size(f)} values but the config says ${cfg.nClasses[f]} classes`);
    }
  }
}

/** Parses a JSON file of a run folder (see io/read.ts). */
export const readJson = readJsonInput;

function checkDir(dir: string): void {
  if (!existsSync(dir)) throw new InputError(dir, 'no such checkpoint folder');
  if (!statSync(dir).isDirectory()) throw new InputError(dir, 'expected a run folder (with model.safetensors, config.json, vocab.json), got a file');
}

/** Reads config.json and vocab.json of a run folder and checks that they agree. */
export function readModelMeta(dir: string): { config: CPConfig; vocab: Vocab } {
  checkDir(dir);
  const cfgPath = join(dir, CONFIG_FILE);
  const config = validateConfig(readJson(cfgPath), cfgPath);
  const vocabPath = join(dir, VOCAB_FILE);
  const vocab = Vocab.fromJSON(readJson(vocabPath), vocabPath);
  checkVocab(vocabPath, config, vocab);
  return { config, vocab };
}

/** Loads a run folder's model; the caller disposes it. */
export function loadModel(dir: string): { model: CPTransformer; config: CPConfig; vocab: Vocab } {
  const { config, vocab } = readModelMeta(dir);
  const path = join(dir, MODEL_FILE);
  const file = readSafetensorsFile(path);
  const sd = stateDictFromSafetensors(file);
  const model = new CPTransformer(config, new Rng(0));
  try {
    model.loadStateDict(sd);
  } catch (err) {
    model.dispose();
    if (err instanceof InputError) throw new InputError(path, err.message);
    throw err;
  }
  return { model, config, vocab };
}
