/** `emopia decode IN.json -o OUT.mid`: compound words (as written by `encode`) back to MIDI. */
import type { Command } from 'commander';
import { writeFileAtomic } from '../../platform/atomic.ts';
import { checkWords, scoreToMidi, wordsToScore } from '../../music/index.ts';
import { parseWordsJson, readJsonFile, refuseOverwritingInput } from './_music_io.ts';

export function register(program: Command): void {
  program
    .command('decode')
    .description('decode compound words (the JSON of `emopia encode`) to a MIDI file')
    .argument('<in.json>', 'words file')
    .requiredOption('-o, --output <out.mid>', 'MIDI file to write')
    .action((input: string, opts: { output: string }) => {
      refuseOverwritingInput(opts.output, [input]);
      const { vocab, words } = parseWordsJson(readJsonFile(input), input);
      const problems = checkWords(vocab, words, 3);
      const { score, skipped } = wordsToScore(words, vocab);
      writeFileAtomic(opts.output, scoreToMidi(score));
      process.stderr.write(`emopia decode: ${input} -> ${opts.output}: ${score.notes.length} notes${skipped ? `, ${skipped} unusable words skipped` : ''}\n`);
      if (problems.length) process.stderr.write(`emopia decode: warning: the words do not follow EMOPIA's layout (${problems.join('; ')})\n`);
    });
}
