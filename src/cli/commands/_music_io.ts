/** File helpers shared by the music commands: reading inputs with one-line errors, vocabularies, words JSON. */
export { parseEmotionOption } from '../options.ts';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputError, UsageError } from '../../errors.ts';
import { readInputFile, readJsonInput } from '../../platform/read.ts';
import { FAMILIES, N_FAMILIES, Vocab } from '../../music/index.ts';
import { DEFAULT_MAX_MIDI_BYTES } from '../../music/midi_io.ts';

/**
 * A user's MIDI file, with a one-line InputError when it cannot be read (see platform/read.ts); reading stops at the
 * MIDI size limit (32 MiB), so a FIFO or a device never fills the memory.
 */
export function readInput(path: string): Uint8Array {
  return readInputFile(path, { maxBytes: DEFAULT_MAX_MIDI_BYTES });
}

/**
 * A usage error (exit 2) when the output file `output` (of option `option`) is one of the input files, by path or
 * by being the same file on disk (a link): writing it would destroy the input before or while it is read.
 */
export function refuseOverwritingInput(output: string, inputs: ReadonlyArray<string | undefined>, option = '--output'): void {
  let out: { dev: number; ino: number } | null = null;
  try {
    out = statSync(output);
  } catch {
    out = null; // not there yet: only the paths can be compared
  }
  for (const input of inputs) {
    if (input === undefined) continue;
    let same = resolve(input) === resolve(output);
    if (!same && out !== null) {
      try {
        const st = statSync(input);
        same = st.dev === out.dev && st.ino === out.ino;
      } catch {
        // a missing input is reported when it is read
      }
    }
    if (same) throw new UsageError(option, `'${output}' is the input file '${input}'; writing it would overwrite the input, expected another file`);
  }
}

/** A user's JSON file, parsed, with one-line errors (see platform/read.ts). */
export const readJsonFile = readJsonInput;

/** `--vocab FILE` (a vocab.json) or the default full grid. */
export function loadVocab(path: string | undefined): Vocab {
  return path === undefined ? Vocab.fullGrid() : Vocab.fromJSON(readJsonFile(path), path);
}

/** `--downbeats <model>` (beats, encode, dataset build, evaluate): what places the tracked downbeats. */
export const DOWNBEATS_HELP =
  "what places the tracked downbeats: tagger (a learned tagger over the tracked beats: downbeat F 0.753 against 0.711 on the POP909 songs it was not fitted on) or hand (the hand-weighted cues, about 2x faster, that the shipped model's beat-true EMOPIA data was built with) (default: tagger)";

export function parseChoice<T extends string>(name: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${name}`, `expected one of ${choices.join('|')}, got '${value}'`);
    return value as T;
  };
}

/** The words file written by `encode`: one word per line, so that it stays readable and diffable. */
export function wordsJson(vocab: Vocab, words: Int32Array, events: ReadonlyArray<Record<string, unknown>>, extra: Record<string, unknown>): string {
  const rows: string[] = [];
  for (let i = 0; i < words.length; i += N_FAMILIES) rows.push(`[${Array.from(words.subarray(i, i + N_FAMILIES)).join(',')}]`);
  const ev = events.map((e) => JSON.stringify(FAMILIES.map((f) => String(e[f]))));
  const head = JSON.stringify({ families: FAMILIES, vocab: vocab.id() ?? vocab.toJSON(), ...extra });
  return `${head.slice(0, -1)},\n"words": [\n${rows.join(',\n')}\n],\n"events": [\n${ev.join(',\n')}\n]}\n`;
}

/** Parses a words file: {families, vocab, words: [[8 ints], ...]}. */
export function parseWordsJson(json: unknown, what: string): { vocab: Vocab; words: Int32Array } {
  if (typeof json !== 'object' || json === null) throw new InputError(what, 'expected a JSON object with "families", "vocab" and "words"');
  const o = json as { families?: unknown; vocab?: unknown; words?: unknown };
  if (!Array.isArray(o.families) || o.families.join(',') !== FAMILIES.join(',')) {
    throw new InputError(what, `expected "families": [${FAMILIES.join(',')}], got ${JSON.stringify(o.families)}`);
  }
  const vocab = Vocab.fromJSON(o.vocab ?? null, `${what}: vocab`);
  if (!Array.isArray(o.words)) throw new InputError(what, 'expected "words": a list of words of 8 integers');
  const words = new Int32Array(o.words.length * N_FAMILIES);
  o.words.forEach((w: unknown, i: number) => {
    if (!Array.isArray(w) || w.length !== N_FAMILIES || !w.every((x) => Number.isInteger(x))) {
      throw new InputError(what, `word ${i}: expected ${N_FAMILIES} integers, got ${JSON.stringify(w)}`);
    }
    w.forEach((x: number, j: number) => {
      const f = FAMILIES[j] as (typeof FAMILIES)[number];
      if (x < 0 || x >= vocab.size(f)) throw new InputError(what, `word ${i}: ${f} index ${x} is outside the vocabulary (size ${vocab.size(f)})`);
      words[i * N_FAMILIES + j] = x;
    });
  });
  return { vocab, words };
}
