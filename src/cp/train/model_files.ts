/**
 * TEMPORARY bridge to the model checkpoint (model.safetensors + config.json + vocab.json): used until
 * src/cp/checkpoint.ts lands, then replaced by it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import { readSafetensorsFile } from '../../io/safetensors_node.ts';
import { safetensorsFromStateDict, stateDictFromSafetensors } from '../../io/safetensors.ts';
import { Vocab } from '../../music/vocab.ts';
import { validateConfig } from '../config.ts';
import { CPTransformer } from '../model.ts';

export interface LoadedCheckpoint {
  model: CPTransformer;
  vocab: Vocab;
}

export async function saveCheckpoint(dir: string, model: CPTransformer, vocab: Vocab): Promise<void> {
  writeFileSync(join(dir, 'model.safetensors'), safetensorsFromStateDict(model.stateDict()));
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(model.config, null, 1)}\n`);
  writeFileSync(join(dir, 'vocab.json'), `${JSON.stringify(vocab.toJSON())}\n`);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new InputError(path, 'missing or not JSON');
  }
}

export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const cfg = validateConfig(readJson(join(dir, 'config.json')), join(dir, 'config.json'));
  const vocab = Vocab.fromJSON(readJson(join(dir, 'vocab.json')), join(dir, 'vocab.json'));
  const sd = stateDictFromSafetensors(readSafetensorsFile(join(dir, 'model.safetensors')));
  const model = new CPTransformer(cfg);
  try {
    model.loadStateDict(sd);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, vocab };
}
