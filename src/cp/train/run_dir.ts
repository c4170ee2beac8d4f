/**
 * The run folder of `emopia train` (Node only):
 *
 *   model.safetensors, config.json, vocab.json   the model, as every other command reads it (../checkpoint.ts)
 *   optimizer.safetensors                         Adam's moments, `exp_avg.<param>` / `exp_avg_sq.<param>`, F32 (BF16 with --half)
 *   train-state.json                              step, data position, dropout Rng state, the settings (Adam's step is
 *                                                 in optimizer.safetensors' metadata)
 *   train-log.jsonl                               one JSON object per step (kind "train") and per validation ("valid")
 *
 * A checkpoint is written as a whole folder through writeDirAtomic: the folder is either the previous
 * checkpoint or the new one, never a mix, so an interrupted save or a crash loses at most the steps since the
 * last checkpoint and `--resume` always finds a consistent state.
 */
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import { writeDirAtomic } from '../../io/atomic.ts';
import { readSafetensorsFile } from '../../io/safetensors_node.ts';
import { safetensorsFromStateDict, stateDictFromSafetensors } from '../../io/safetensors.ts';
import type { Vocab } from '../../music/vocab.ts';
import type { CPTransformer } from '../model.ts';
import { loadModel, readJson, saveModel } from '../checkpoint.ts';
import type { AdamState } from '../../core/train/optim.ts';
import type { TrainSettings } from './trainer.ts';

export const STATE_FILE = 'train-state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const LOG_FILE = 'train-log.jsonl';

export interface TrainState {
  format: 'emopia-ts/train-state';
  version: 1;
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

export interface RunSnapshot {
  model: CPTransformer;
  vocab: Vocab;
  optimizer: AdamState;
  state: TrainState;
  /** The whole log, as lines without newlines. */
  log: readonly string[];
}

/** True when `dir` holds files of a run (or anything else): training refuses to write over it without --resume. */
export function runDirInUse(dir: string): boolean {
  return existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0);
}

/** Writes a complete checkpoint into `dir`, replacing the previous one atomically. */
export async function saveRun(dir: string, snap: RunSnapshot): Promise<void> {
  await writeDirAtomic(dir, (tmp) => {
    chmodSync(tmp, 0o755); // a temporary folder is private; a run folder is an ordinary one
    const half = snap.state.settings.half === true;
    saveModel(tmp, snap.model, snap.vocab, { dtype: half ? 'F16' : 'F32' });
    const meta = { step: String(snap.optimizer.step), format: 'emopia-ts/adam' };
    const dtype = half ? 'BF16' : 'F32';
    writeFileSync(join(tmp, OPTIMIZER_FILE), safetensorsFromStateDict(snap.optimizer.tensors, { dtype, metadata: meta }));
    writeFileSync(join(tmp, STATE_FILE), `${JSON.stringify(snap.state, null, 1)}\n`);
    writeFileSync(join(tmp, LOG_FILE), snap.log.length ? `${snap.log.join('\n')}\n` : '');
  });
}

/** Checks the fields of train-state.json that resuming relies on. */
function parseState(json: unknown, path: string): TrainState {
  const o = json as Partial<TrainState> | null;
  if (!o || typeof o !== 'object' || o.format !== 'emopia-ts/train-state' || o.version !== 1) {
    throw new InputError(path, "expected format 'emopia-ts/train-state' version 1");
  }
  const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (!int(o.step) || !int(o.epoch) || !int(o.rng)) throw new InputError(path, 'expected integer step, epoch and rng');
  const s = o.settings as Partial<TrainSettings> | undefined;
  const keys: Array<keyof TrainSettings> = ['seq', 'batch', 'seed', 'peakLr', 'warmup', 'clip'];
  if (!s || keys.some((k) => typeof s[k] !== 'number' || !Number.isFinite(s[k]))) {
    throw new InputError(path, `expected settings with numbers ${keys.join(', ')}`);
  }
  return o as TrainState;
}

/** Reads a run folder for --resume. */
export function loadRun(dir: string): RunSnapshot {
  if (!existsSync(dir)) throw new InputError(dir, 'no such run folder to resume');
  const statePath = join(dir, STATE_FILE);
  const state = parseState(readJson(statePath, 'is this a run folder written by emopia train?'), statePath);
  const parsed = readSafetensorsFile(join(dir, OPTIMIZER_FILE));
  const optimizer: AdamState = { step: Number(parsed.metadata.step), tensors: stateDictFromSafetensors(parsed) };
  const logPath = join(dir, LOG_FILE);
  const log = existsSync(logPath) ? readFileSync(logPath, 'utf8').split('\n').filter((l) => l.length > 0) : [];
  const ck = loadModel(dir);
  return { model: ck.model, vocab: ck.vocab, optimizer, state, log };
}
