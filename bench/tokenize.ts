/**
 * `npm run bench -- tokenize [DIR] [--grid file|beats] [--downbeats tagger|hand]`: files/s and words/s of a dataset
 * build (read MIDI, recognise chords, quantize, encode, write the folder) over the EMOPIA clips (EMOPIA_DIR, or the
 * first argument). `--grid beats` (how the default model's data is built) adds the beat tracker on every clip, its
 * downbeats from `--downbeats` (default the tagger; the shipped model's data used hand); `file` (default) is the
 * files' own tick grid.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDataset } from '../src/platform/dataset.ts';
import { UsageError } from '../src/errors.ts';
import { DEFAULT_DOWNBEAT_MODEL, DOWNBEAT_MODELS, type DownbeatModel } from '../src/music/beats/track.ts';
import { machineLine } from './_machine.ts';

export async function run(args: string[] = []): Promise<void> {
  const gi = args.indexOf('--grid');
  const grid = gi >= 0 ? args[gi + 1] : 'file';
  if (grid !== 'file' && grid !== 'beats') throw new UsageError('--grid', `expected file or beats, got '${grid ?? ''}'`);
  const di = args.indexOf('--downbeats');
  const downbeats = (di >= 0 ? args[di + 1] : undefined) as DownbeatModel | undefined;
  if (di >= 0 && (grid !== 'beats' || !DOWNBEAT_MODELS.includes(downbeats as DownbeatModel))) throw new UsageError('--downbeats', `expected ${DOWNBEAT_MODELS.join(' or ')} with --grid beats, got '${downbeats ?? ''}' with --grid ${grid}`);
  const dir = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--grid' && args[i - 1] !== '--downbeats') ?? process.env.EMOPIA_DIR;
  if (!dir) {
    process.stderr.write('bench tokenize: set EMOPIA_DIR=path/to/emopia (the folder of EMOPIA\'s 1078 MIDI clips) or pass the folder\n');
    process.exitCode = 2;
    return;
  }
  const parent = mkdtempSync(join(tmpdir(), 'emopia-bench-'));
  try {
    const times: number[] = [];
    let summary = { files: 0, words: 0, notes: 0, clips: 0 };
    // One warm-up build (JIT), then three timed builds; the median is reported.
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      const { index } = await buildDataset(dir, join(parent, 'ds'), { grid, ...(downbeats === undefined ? {} : { downbeats }) });
      const secs = (performance.now() - t0) / 1000;
      if (i > 0) times.push(secs);
      summary = index.summary;
    }
    times.sort((a, b) => a - b);
    const secs = times[1] as number;
    process.stdout.write(
      `tokenize: dataset build of ${summary.files} files (${summary.clips} clips, ${summary.notes} notes, ${summary.words} words), full-grid vocabulary, the ${grid} grid${grid === 'beats' ? ` (downbeats: ${downbeats ?? DEFAULT_DOWNBEAT_MODEL})` : ''}, single thread\n` +
        `  median of 3: ${secs.toFixed(2)} s = ${(summary.files / secs).toFixed(0)} files/s, ${(summary.words / secs / 1000).toFixed(0)}k words/s (runs: ${times.map((t) => t.toFixed(2)).join(', ')} s)\n` +
        `  machine: ${machineLine('none (no tensors)')}\n`,
    );
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
}
