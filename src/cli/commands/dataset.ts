/** `emopia dataset build|stats`: a training dataset from a folder of MIDI files, and its statistics. */
import type { Command } from 'commander';
import { datasetStats, type DatasetStats, type WordStructureStats } from '../../music/dataset.ts';
import { buildDataset, GRID_MODES, readDataset, type GridMode } from '../../platform/dataset.ts';
import { DOWNBEAT_MODELS, FAMILIES, Vocab, type DownbeatModel, type TokenizeOptions } from '../../music/index.ts';
import { parseFloatOption, parseIntOption } from '../options.ts';
import { startProgress } from '../progress.ts';
import { DOWNBEATS_HELP, parseChoice, readJsonFile } from './_music_io.ts';
import { registerDatasetExport } from './dataset_export.ts';

interface BuildCliOptions {
  output: string;
  vocab: string;
  valid: number;
  seed: number;
  pedal: 'ignore' | 'extend';
  chords: NonNullable<TokenizeOptions['chords']>;
  grid: GridMode;
  annotations?: string;
  downbeats?: DownbeatModel;
}

export function register(program: Command): void {
  const ds = program.command('dataset').description('build a dataset of compound words from MIDI files, or show its statistics');
  ds.command('build')
    .description('encode every .mid/.midi file under a folder into a dataset folder (vocab.json, index.json, words.u16)')
    .argument('<midi_dir>', 'folder of MIDI files (searched recursively)')
    .requiredOption('-o, --output <dataset_dir>', 'dataset folder to write: a new or empty folder, or a dataset to replace (atomically)')
    .option('--vocab <full|observed|vocab.json>', 'vocabulary: the full grid, the values the corpus uses, or a file', 'full')
    .option('--valid <fraction>', 'fraction of songs held out for validation', parseFloatOption('valid', 0, 1), 0.1)
    .option('--seed <n>', 'seed of the train/valid split', parseIntOption('seed', 0), 0)
    .option('--pedal <mode>', 'sustain pedal: ignore (as EMOPIA) or extend', parseChoice('pedal', ['ignore', 'extend'] as const), 'ignore')
    .option('--chords <mode>', 'chords: auto, recognise, markers, none', parseChoice('chords', ['auto', 'recognise', 'markers', 'none'] as const), 'auto')
    .option('--grid <mode>', 'beats to tokenize on: file (the files\' tick grid), beats (tracked), annotations (--annotations DIR)', parseChoice('grid', GRID_MODES), 'file')
    .option('--annotations <dir>', 'with --grid annotations: a folder of <stem>/beat_midi.txt (POP909\'s layout)')
    .option('--downbeats <model>', `with --grid beats: ${DOWNBEATS_HELP}`, parseChoice('downbeats', DOWNBEAT_MODELS))
    .action(async (dir: string, opts: BuildCliOptions) => {
      const vocab = opts.vocab === 'full' || opts.vocab === 'observed' ? opts.vocab : Vocab.fromJSON(readJsonFile(opts.vocab), opts.vocab);
      let progress: ReturnType<typeof startProgress> | undefined;
      const skipped: string[] = [];
      try {
        const { index } = await buildDataset(dir, opts.output, {
          vocab,
          valid: opts.valid,
          seed: opts.seed,
          pedal: opts.pedal,
          chords: opts.chords,
          grid: opts.grid,
          annotations: opts.annotations,
          ...(opts.downbeats === undefined ? {} : { downbeats: opts.downbeats }),
          onProgress: (done, total) => (progress ??= startProgress('dataset build', total, 'files')).update(done),
          onSkip: (file, reason) => {
            skipped.push(file);
            // One line per bad file as it is met; on a terminal, over the progress bar (which redraws itself).
            process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[2K' : ''}emopia dataset build: warning: skipped ${file}: ${reason}\n`);
          },
        });
        progress?.stop();
        const s = index.summary;
        const out = [
          `wrote ${opts.output}: ${s.clips} clips (${s.train} train, ${s.valid} valid) from ${s.files} files, ${s.words} words, ${s.notes} notes`,
          `notes dropped: ${s.notesOutOfRange} out of pitch range 22..107, ${s.drumNotesDropped} drum notes; notes ended by the reader: ${s.restrikes} re-struck, ${s.unterminated} without note-off`,
          `files skipped: ${s.skipped}${s.skipped ? ' (listed with their reasons in index.json)' : ''}`,
        ];
        const g = index.grid;
        if (g) out.push(`grid: ${g.mode}${g.annotations !== undefined ? ` from ${g.annotations}` : ''}${g.mode === 'beats' ? ` (downbeats by ${g.downbeats ?? 'hand'})` : ''}; ${g.stretchedBars} bars stretched onto the bar lines, ${g.clipsIn3} clips in 3/4, ${g.clipsWithPickup} with a pickup${g.clipsOnFileGrid ? `, ${g.clipsOnFileGrid} too short or sparse to track (on their file's grid)` : ''}`);
        if (s.skipped) out.push(...index.skipped.map((x) => `  skipped ${x.file}: ${x.reason}`));
        process.stdout.write(`${out.join('\n')}\n`);
      } catch (err) {
        progress?.stop();
        throw err;
      }
    });
  ds.command('stats')
    .description('clips and words per quadrant, word-length percentiles, family histograms')
    .argument('<dataset_dir>', 'dataset folder made by `emopia dataset build`')
    .option('--json', 'print the statistics as JSON')
    .action((dir: string, opts: { json?: boolean }) => {
      const stats = datasetStats(readDataset(dir));
      process.stdout.write(opts.json ? `${JSON.stringify(stats, null, 1)}\n` : formatStats(stats));
    });
  registerDatasetExport(ds);
}

function formatStats(s: DatasetStats): string {
  const lines = [`${s.clips} clips, ${s.words} words`, 'quadrant  clips   words  words/clip'];
  for (const e of s.perEmotion) {
    if (e.clips === 0) continue;
    lines.push(`${(e.emotion === 0 ? 'unknown' : `Q${e.emotion}`).padEnd(8)} ${String(e.clips).padStart(6)} ${String(e.words).padStart(7)} ${(e.words / e.clips).toFixed(0).padStart(11)}`);
  }
  const p = s.lengthPercentiles;
  lines.push(`words per clip: min ${p.min}, p10 ${p.p10}, p25 ${p.p25}, median ${p.p50}, p75 ${p.p75}, p90 ${p.p90}, max ${p.max}`);
  lines.push('family histograms (values used / vocabulary size; most frequent values):');
  for (const f of FAMILIES) {
    const h = s.histograms[f];
    const used = h.filter((x) => x.count > 0).length;
    const top = [...h].sort((a, b) => b.count - a.count).slice(0, 6).filter((x) => x.count > 0);
    lines.push(`  ${f.padEnd(9)} ${used}/${h.length}: ${top.map((x) => `${x.value}=${x.count}`).join(' ')}`);
  }
  lines.push('structure:        clips  tempo classes  tempo words  onset positions/bar  onsets on 8ths  mean note (16ths)  notes/beat  words/clip');
  const row = (name: string, x: WordStructureStats) =>
    lines.push(
      `  ${name.padEnd(14)} ${String(x.clips).padStart(6)} ${String(x.tempoClasses).padStart(14)} ${String(x.tempoWords).padStart(12)} ${x.onsetPositionsPerBar.toFixed(2).padStart(20)} ${`${(100 * x.onsetsOn8ths).toFixed(1)}%`.padStart(15)} ${x.meanDuration16ths.toFixed(2).padStart(18)} ${x.notesPerBeat.toFixed(2).padStart(11)} ${x.wordsPerClip.toFixed(0).padStart(11)}`,
    );
  row('all', s.structure);
  for (const e of s.structure.perEmotion) if (e.clips > 0 && e.clips < s.clips) row(e.emotion === 0 ? 'unknown' : `Q${e.emotion}`, e);
  return `${lines.join('\n')}\n`;
}
