/**
 * The run folder on disk (Node only): a thin adapter over src/cp/run_folder.ts, which describes the files.
 * A model folder's files are each written atomically; a training checkpoint replaces the whole folder atomically
 * (writeDirAtomic), so the folder is always the previous checkpoint or the new one, never a mix, and what a
 * killed process left half done is finished or rolled back on the next start (recoverDir). A training run holds
 * a lock beside its folder (`.NAME.lock`), so a second training on the same folder is refused.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.ts';
import { recoverDir, writeDirAtomic, writeFileAtomic, type DirOptions, type Note } from './atomic.ts';
import { readInputFile, readJsonInput } from './read.ts';
import type { Vocab } from '../music/vocab.ts';
import type { CPConfig } from '../cp/config.ts';
import type { CPTransformer } from '../cp/model.ts';
import { parseGenerationDefaults, type GenerationDefaults } from '../cp/generation_defaults.ts';
import {
  CONFIG_FILE,
  GENERATION_FILE,
  LOG_FILE,
  MODEL_FILE,
  OPTIMIZER_FILE,
  STATE_FILE,
  VOCAB_FILE,
  metaFromParts,
  modelFiles,
  modelFromParts,
  runFiles,
  runFromParts,
  type PartNames,
  type RunPartNames,
  type RunSnapshot,
  type ToPartsOptions,
} from '../cp/run_folder.ts';
import { takeLock, type Lock } from './lock.ts';

export type SaveModelOptions = ToPartsOptions;

/** Writes model.safetensors, vocab.json and config.json into `dir` (created if needed), config.json last. */
export function saveModel(dir: string, model: CPTransformer, vocab: Vocab, opts: SaveModelOptions = {}): void {
  let files;
  try {
    files = modelFiles(model, vocab, opts);
  } catch (err) {
    if (err instanceof InputError) throw new InputError(dir, err.message);
    throw err;
  }
  for (const [name, data] of files) writeFileAtomic(join(dir, name), data);
}

/** Finishes what a killed writer left, then checks that `dir` is a folder. */
function openDir(dir: string, missing: string, note?: Note): void {
  recoverDir(dir, note);
  if (!existsSync(dir)) throw new InputError(dir, missing);
  if (!statSync(dir).isDirectory()) throw new InputError(dir, 'expected a run folder (with model.safetensors, config.json, vocab.json), got a file');
}

const partNames = (dir: string): RunPartNames => ({
  weights: join(dir, MODEL_FILE),
  config: join(dir, CONFIG_FILE),
  vocab: join(dir, VOCAB_FILE),
  optimizer: join(dir, OPTIMIZER_FILE),
  state: join(dir, STATE_FILE),
});

/** Reads config.json and vocab.json of a run folder and checks that they agree. */
export function readModelMeta(dir: string): { config: CPConfig; vocab: Vocab } {
  openDir(dir, 'no such checkpoint folder');
  const names: PartNames = partNames(dir);
  return metaFromParts(readJsonInput(names.config), readJsonInput(names.vocab), names);
}

/** Loads a run folder's model; the caller disposes it. */
export function loadModel(dir: string): { model: CPTransformer; config: CPConfig; vocab: Vocab } {
  openDir(dir, 'no such checkpoint folder');
  const names = partNames(dir);
  const config = readJsonInput(names.config);
  const vocab = readJsonInput(names.vocab);
  return modelFromParts({ weights: readInputFile(names.weights), config, vocab }, names);
}

/** The run folder's generation.json, or no overrides when it has none. */
export function readGenerationDefaults(dir: string): GenerationDefaults {
  const path = join(dir, GENERATION_FILE);
  return existsSync(path) ? parseGenerationDefaults(readJsonInput(path), path) : { sampling: {} };
}

/** True when `dir` holds files of a run (or anything else): training refuses to write over it without --resume. */
export function runDirInUse(dir: string): boolean {
  return existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0);
}

/** Writes a complete checkpoint into `dir`, replacing the previous one atomically. */
export async function saveRun(dir: string, snap: RunSnapshot, opts: DirOptions = {}): Promise<void> {
  const files = runFiles(snap);
  await writeDirAtomic(dir, (tmp) => {
    for (const [name, data] of files) writeFileSync(join(tmp, name), data);
  }, opts);
}

/** Reads a run folder for --resume; the caller disposes the model. */
export function loadRun(dir: string, note?: Note): RunSnapshot {
  openDir(dir, 'no such run folder to resume', note);
  const names = partNames(dir);
  const state = readJsonInput(names.state, 'is this a run folder written by emopia train?');
  const logPath = join(dir, LOG_FILE);
  return runFromParts({
    state,
    optimizer: readInputFile(names.optimizer),
    log: existsSync(logPath) ? readFileSync(logPath, 'utf8') : undefined,
    weights: readInputFile(names.weights),
    config: readJsonInput(names.config),
    vocab: readJsonInput(names.vocab),
  }, names);
}

/** The lock file of a run folder: beside it, since each checkpoint replaces the folder itself. */
export const runLockPath = (dir: string): string => join(dirname(dir), `.${basename(dir)}.lock`);

/**
 * Takes the run folder's lock for a training (released by the caller, or at exit): a second training on the same
 * folder is a one-line InputError, a dead training's lock is taken over. Then recovers what a killed process left.
 */
export function lockRun(dir: string, note?: Note): Lock {
  const lock = takeLock(runLockPath(dir), dir, note);
  try {
    recoverDir(dir, note);
  } catch (err) {
    lock.release();
    throw err;
  }
  return lock;
}
