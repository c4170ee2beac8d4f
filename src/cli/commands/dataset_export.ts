/**
 * `emopia dataset export DATASET --format emopia-npz|safetensors -o FILE`: a dataset as EMOPIA's training arrays
 * (x, y, mask, seq_len, num_groups: what its main_cp.py loads, laid out as src/platform/torch_export.ts says), for
 * PyTorch training (scripts/torch/train_ddp.py, or EMOPIA's own script). Registered under `dataset`.
 */
import type { Command } from 'commander';
import { readDataset } from '../../platform/dataset.ts';
import { EMOPIA_MAX_LEN, emopiaArrays, exportBytes, type ExportFormat, type ExportSplit } from '../../platform/torch_export.ts';
import { writeFileAtomic } from '../../platform/atomic.ts';
import { parseIntOption } from '../options.ts';
import { parseChoice } from './_music_io.ts';

interface ExportCliOptions {
  format: ExportFormat;
  output: string;
  split: ExportSplit;
  maxLen: number;
}

/** Adds `export` to the `dataset` command. */
export function registerDatasetExport(ds: Command): void {
  ds.command('export')
    .description("write a dataset as EMOPIA's training arrays (x, y, mask, seq_len, num_groups) for PyTorch")
    .argument('<dataset_dir>', 'dataset folder made by `emopia dataset build`')
    .requiredOption('-o, --output <file>', 'the .npz (or .safetensors) file to write')
    .option('--format <format>', 'emopia-npz (np.load reads it) or safetensors (same arrays)', parseChoice('format', ['emopia-npz', 'safetensors'] as const), 'emopia-npz' as ExportFormat)
    .option('--split <split>', 'clips to export: train, valid or all (EMOPIA trains on all)', parseChoice('split', ['train', 'valid', 'all'] as const), 'all' as ExportSplit)
    .option('--max-len <n>', `sequence length; longer clips are cut to n-2 words as EMOPIA does`, parseIntOption('max-len', 3), EMOPIA_MAX_LEN)
    .action((dir: string, opts: ExportCliOptions) => {
      const ds = readDataset(dir);
      const e = emopiaArrays(ds, opts.split, opts.maxLen);
      writeFileAtomic(opts.output, exportBytes(e, opts.format), { what: '-o' });
      const shape = e.arrays.find(([n]) => n === 'x')?.[1].shape;
      process.stdout.write(`wrote ${opts.output}: ${e.names.length} clips, x [${shape?.join(',')}] int64, ${e.cut} cut to ${opts.maxLen - 2} words; word indices of ${dir}/vocab.json\n`);
    });
}
