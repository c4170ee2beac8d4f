/**
 * The model that `generate` and `evaluate` use when no --checkpoint is given (Node only): the run folder
 * `models/default/` shipped in the package. When it is missing, the commands say
 * so in one line and ask for a run folder.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.ts';
import { MODEL_FILE } from '../cp/run_folder.ts';

/** `models/default/` of this package, wherever it is installed. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../models/default/', import.meta.url));

/** The run folder to load: the one given, else the shipped default model; a UsageError when neither exists. */
export function resolveCheckpoint(given: string | undefined, defaultDir: string = DEFAULT_MODEL_DIR): string {
  if (given) return given;
  if (existsSync(join(defaultDir, MODEL_FILE))) return defaultDir;
  throw new UsageError('--checkpoint', 'required: the shipped default model (models/default) is missing; give a run folder made by `emopia train`');
}
