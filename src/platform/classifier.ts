/**
 * The classifier on the file system (Node only): where the shipped classifier lives, and loading one with
 * one-line errors for a missing or corrupt file, or one trained on another feature list.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.ts';
import { readInputFile } from './read.ts';
import type { ClassifierJSON } from '../classify/model.ts';
import { classifierFromJson } from '../classify/load.ts';

export const CLASSIFIER_FILE = 'classifier.json';
/** models/classifier of this repository (whatever the working directory). */
export const DEFAULT_CLASSIFIER_DIR = fileURLToPath(new URL('../../models/classifier', import.meta.url));

/** Loads DIR/classifier.json, or the file itself when `path` is a file. */
export function loadClassifier(path: string = DEFAULT_CLASSIFIER_DIR): ClassifierJSON {
  let file = path;
  try {
    if (statSync(path).isDirectory()) file = join(path, CLASSIFIER_FILE);
  } catch {
    throw new InputError(path, 'no such classifier (expected a folder with classifier.json, or the file)');
  }
  const text = new TextDecoder().decode(readInputFile(file));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(file, `corrupt classifier: not valid JSON (${(err as Error).message})`);
  }
  return classifierFromJson(json, file);
}
