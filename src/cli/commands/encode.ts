/** `emopia encode IN.mid [-o OUT.json]`: a MIDI file to EMOPIA compound words. */
import type { Command } from 'commander';
import { writeFileAtomic } from '../../platform/atomic.ts';
import { DEFAULT_DOWNBEAT_MODEL, DOWNBEAT_MODELS, encodeFile, wordsToEvents, type DownbeatModel, type Emotion, type TokenizeOptions } from '../../music/index.ts';
import { beatGridSource, GRID_MODES, type GridMode } from '../../platform/dataset.ts';
import { DOWNBEATS_HELP, loadVocab, parseChoice, parseEmotionOption, readInput, refuseOverwritingInput, wordsJson } from './_music_io.ts';

interface EncodeCliOptions {
  output?: string;
  emotion?: Emotion;
  vocab?: string;
  pedal: 'ignore' | 'extend';
  chords: NonNullable<TokenizeOptions['chords']>;
  grid: GridMode;
  annotations?: string;
  downbeats?: DownbeatModel;
}

export function register(program: Command): void {
  program
    .command('encode')
    .description('encode a MIDI file as EMOPIA compound words (JSON: families, vocab, words, events)')
    .argument('<in.mid>', 'MIDI file')
    .option('-o, --output <out.json>', 'write here instead of standard output')
    .option('--emotion <Q>', 'emotion quadrant Q1..Q4 (default: from a Q1_..Q4_ file name, else 0 = unknown)', parseEmotionOption)
    .option('--vocab <vocab.json>', 'vocabulary file (default: the full grid)')
    .option('--pedal <mode>', 'sustain pedal: ignore (as EMOPIA) or extend', parseChoice('pedal', ['ignore', 'extend'] as const), 'ignore')
    .option('--chords <mode>', 'chords: auto (markers if any, else recognise), recognise, markers, none', parseChoice('chords', ['auto', 'recognise', 'markers', 'none'] as const), 'auto')
    .option('--grid <mode>', 'beats to tokenize on: file (the file\'s tick grid), beats (tracked), annotations (--annotations DIR)', parseChoice('grid', GRID_MODES), 'file')
    .option('--annotations <dir>', 'with --grid annotations: a folder of <stem>/beat_midi.txt (POP909\'s layout)')
    .option('--downbeats <model>', `with --grid beats: ${DOWNBEATS_HELP}`, parseChoice('downbeats', DOWNBEAT_MODELS))
    .action((input: string, opts: EncodeCliOptions) => {
      if (opts.output !== undefined) refuseOverwritingInput(opts.output, [input, opts.vocab]);
      const beats = beatGridSource(opts.grid, opts.annotations, opts.downbeats);
      const vocab = loadVocab(opts.vocab);
      // The same reading and encoding as `dataset build`, in the requested vocabulary.
      const { emotion, words, stats, info, regrid } = encodeFile(readInput(input), input, { emotion: opts.emotion, pedal: opts.pedal, chords: opts.chords, beats }, vocab);
      if (regrid?.fallback !== undefined) process.stderr.write(`emopia encode: warning: ${input}: ${regrid.fallback}\n`);
      const events = wordsToEvents(words, vocab);
      const text = wordsJson(vocab, words, events, {
        emotion,
        stats: { ...stats, drumNotesDropped: info.drumNotesDropped, restrikes: info.restrikes, unterminated: info.unterminated },
        // Only beat-true words say which grid they are on (`--grid file` output is as it always was).
        ...(regrid ? { grid: { mode: opts.grid, ...(opts.grid === 'beats' ? { downbeats: opts.downbeats ?? DEFAULT_DOWNBEAT_MODEL } : {}), ...regrid } } : {}),
      });
      if (opts.output) {
        writeFileAtomic(opts.output, text);
        process.stderr.write(`emopia encode: ${input} -> ${opts.output}: ${stats.words} words, ${stats.notes} notes, ${stats.bars} bars${stats.outOfRange ? `, ${stats.outOfRange} notes out of range dropped` : ''}${info.drumNotesDropped ? `, ${info.drumNotesDropped} drum notes dropped` : ''}\n`);
      } else process.stdout.write(text);
    });
}
