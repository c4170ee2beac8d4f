/**
 * `emopia classify FILE.mid...`: the emotion quadrant of each MIDI file with its four probabilities, from the
 * symbolic classifier in models/classifier (or `--model DIR|FILE`). `--json` prints one JSON array.
 *
 * A missing or corrupt classifier stops at once (one line, exit 1). A file that cannot be read, has no notes, or
 * fails in any other way gets one line on stderr (`--debug` adds the trace of an unexpected error) and the others
 * are still classified; the command then ends with exit 1.
 */
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { midiToScore } from '../../music/midi_io.ts';
import { classifyScore, type Classification } from '../../classify/classify.ts';
import { QUADRANTS } from '../../classify/model.ts';
import { DEFAULT_CLASSIFIER_DIR, loadClassifier } from '../../platform/classifier.ts';
import { startProgress } from '../progress.ts';
import { readInput } from './_music_io.ts';

interface ClassifyCliOptions {
  model?: string;
  json: boolean;
  progress: boolean;
}

export const QUADRANT_MOODS: Readonly<Record<string, string>> = Object.freeze({ Q1: 'happy', Q2: 'tense', Q3: 'sad', Q4: 'calm' });

/** Files above this count show progress (on stderr). */
const PROGRESS_FROM = 10;

function line(file: string, c: Classification): string {
  const probs = QUADRANTS.map((q, i) => `${q} ${(c.probs[i] as number).toFixed(3)}`).join('  ');
  return `${file}: ${c.name} (${QUADRANT_MOODS[c.name]})  ${probs}`;
}

export function register(program: Command): void {
  program
    .command('classify')
    .description('classify MIDI files into the emotion quadrants Q1 happy, Q2 tense, Q3 sad, Q4 calm, with probabilities')
    .argument('<files...>', 'MIDI files')
    .option('--model <dir|file>', 'classifier folder (with classifier.json) or file', DEFAULT_CLASSIFIER_DIR)
    .option('--json', 'print a JSON array: {file, quadrant, probabilities, arousal, valence} or {file, error}')
    .option('--no-progress', 'no progress output')
    .action((files: string[], opts: ClassifyCliOptions, cmd: Command) => {
      const debug = cmd.optsWithGlobals<{ debug?: boolean }>().debug === true;
      const model = loadClassifier(opts.model);
      const progress = opts.progress && files.length >= PROGRESS_FROM ? startProgress('classify', files.length, 'files') : null;
      const results: Array<Record<string, unknown>> = [];
      let failed = 0;
      files.forEach((file, i) => {
        try {
          const c = classifyScore(model, midiToScore(readInput(file), file), file);
          if (opts.json) {
            results.push({
              file, quadrant: c.name,
              probabilities: Object.fromEntries(QUADRANTS.map((q, k) => [q, c.probs[k]])),
              arousal: c.arousal, valence: c.valence,
            });
          } else process.stdout.write(`${line(file, c)}\n`);
        } catch (err) {
          // One file's failure, expected (InputError) or not, must not stop the others.
          failed++;
          const why = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
          const msg = why.startsWith(file) ? why : `${file}: ${why}`;
          const unexpected = !(err instanceof InputError);
          if (unexpected && debug && err instanceof Error) process.stderr.write(`${err.stack ?? why}\n`);
          process.stderr.write(`emopia: ${msg}${unexpected && !debug ? ' (run with --debug for details)' : ''}\n`);
          if (opts.json) results.push({ file, error: msg });
        }
        progress?.update(i + 1);
      });
      progress?.stop();
      if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 1)}\n`);
      if (failed) throw new InputError('classify', `${failed} of ${files.length} file${files.length > 1 ? 's' : ''} could not be classified`);
    });
}
