/**
 * The fuzz worker's handler for MIDI cases: builds the case, then runs it through `encode` (read + tokenize, as
 * `emopia encode` and `dataset build` do) and `classify` (read + features + model). An InputError is the expected
 * answer to a bad file; any other error is a crash, reported with the stage it came from.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../../src/errors.ts';
import { encodeFile } from '../../src/music/dataset.ts';
import { midiToScore } from '../../src/music/midi_io.ts';
import { classifyScore } from '../../src/classify/classify.ts';
import { loadClassifier } from '../../src/platform/classifier.ts';
import type { ClassifierJSON } from '../../src/classify/model.ts';
import { buildCase, type CasePlan, type FuzzCase } from './midi_cases.ts';

export interface StageOutcome {
  /** `ok`, `rejected` (InputError) or `crash`. */
  status: 'ok' | 'rejected' | 'crash';
  /** The InputError's reason or the crash's `Name: message`; for ok, a short summary. */
  detail: string;
  stack?: string;
  /** Time the stage took, in ms. */
  ms: number;
}
export interface CaseResult {
  bytes: number;
  encode: StageOutcome;
  classify: StageOutcome;
}

let model: ClassifierJSON | null = null;
let clips: Uint8Array[] = [];
let bigTrack = 200_000;

export function init(data: { clipFiles?: string[]; bigTrack?: number } | undefined): void {
  model = loadClassifier();
  clips = (data?.clipFiles ?? []).map((f) => new Uint8Array(readFileSync(f)));
  bigTrack = data?.bigTrack ?? bigTrack;
}

export function prepare(plan: CasePlan): FuzzCase {
  return buildCase(plan, clips, bigTrack);
}

function stage(name: string, f: () => string): StageOutcome {
  const t0 = performance.now();
  const ms = () => performance.now() - t0;
  try {
    const detail = f();
    return { status: 'ok', detail, ms: ms() };
  } catch (err) {
    if (err instanceof InputError) return { status: 'rejected', detail: err.message.startsWith(`${name}: `) ? err.message.slice(name.length + 2) : err.message, ms: ms() };
    const e = err instanceof Error ? err : new Error(String(err));
    return { status: 'crash', detail: `${e.name}: ${e.message.split('\n')[0]}`, stack: e.stack, ms: ms() };
  }
}

/** Each stage reads the file itself, as the command does. */
export function run(c: FuzzCase): CaseResult {
  const encode = stage(c.name, () => {
    const e = encodeFile(c.bytes, c.name, { pedal: c.plan.pedal });
    return `${e.stats.words} words, ${e.stats.bars} bars`;
  });
  const classify = stage(c.name, () => classifyScore(model as ClassifierJSON, midiToScore(c.bytes, c.name), c.name).name);
  return { bytes: c.bytes.length, encode, classify };
}
