/**
 * Datasets and runs out to PyTorch (Node side of `emopia dataset export` and `emopia export`).
 *
 * `emopiaArrays` lays a dataset out as EMOPIA's compile.py does for its `main_cp.py` (`<name>_data_linear.npz`):
 *   x, y        int64 [N, maxLen, 8]  x = words[:-1], y = words[1:] of each clip, after cutting a clip of
 *                                     maxLen-2 words or more to its first maxLen-2; padded with the clip's last
 *                                     word (the EOS word, all zeros)
 *   mask        float64 [N, maxLen]   1 on the seq_len real positions, 0 on padding
 *   seq_len     int64 [N]             real positions (words - 1, after the cut)
 *   num_groups  int64 [N]             ceil(seq_len / 512) (EMOPIA's window of 512 words)
 * with clips sorted by seq_len, longest first (ties keep the dataset's order), and word indices those of the
 * dataset's vocab.json (give the same file to `emopia import`). EMOPIA's maxLen is 1024.
 */
import { InputError } from '../errors.ts';
import type { Clip, Dataset } from '../music/dataset.ts';
import { N_FAMILIES } from '../music/vocab.ts';
import type { SafeTensor } from '../io/safetensors.ts';
import { serializeNpz } from '../io/npz.ts';
import { serializeSafetensors } from '../io/safetensors.ts';
import { writeTorchStateDict } from '../io/torch_zip.ts';
import { writeFileAtomic } from './atomic.ts';
import { loadModel } from './run_folder.ts';

/** EMOPIA's window (compile.py WINDOW_SIZE): num_groups counts windows of this many words. */
export const EMOPIA_WINDOW = 512;
/** EMOPIA's sequence length (WINDOW_SIZE x GROUP_SIZE 2). */
export const EMOPIA_MAX_LEN = 1024;
export const ARRAY_NAMES = ['x', 'y', 'mask', 'seq_len', 'num_groups'] as const;

export type ExportSplit = 'train' | 'valid' | 'all';
export type ExportFormat = 'emopia-npz' | 'safetensors';

export interface ExportArrays {
  arrays: Array<[(typeof ARRAY_NAMES)[number], SafeTensor]>;
  /** Clip names in the arrays' order. */
  names: string[];
  /** Clips cut to maxLen - 2 words. */
  cut: number;
}

/** EMOPIA's training arrays of a dataset's clips (see the file comment). */
export function emopiaArrays(ds: Dataset, split: ExportSplit = 'all', maxLen = EMOPIA_MAX_LEN): ExportArrays {
  const clips: Clip[] = split === 'train' ? ds.train : split === 'valid' ? ds.valid : [...ds.train, ...ds.valid];
  const usable = clips.filter((c) => c.words.length >= 2 * N_FAMILIES);
  if (usable.length === 0) throw new InputError('dataset', `no clip of two words or more in split '${split}'`);
  if (maxLen < 3) throw new InputError('--max-len', `expected at least 3, got ${maxLen}`);
  const F = N_FAMILIES;
  let cut = 0;
  const rows = usable.map((c, i) => {
    const n = c.words.length / F;
    const keep = n >= maxLen - 2 ? maxLen - 2 : n;
    if (keep < n) cut++;
    return { clip: c, keep, seqLen: keep - 1, order: i };
  });
  rows.sort((a, b) => b.seqLen - a.seqLen || a.order - b.order);
  const N = rows.length;
  const x = new BigInt64Array(N * maxLen * F); // (N, maxLen, 8)
  const y = new BigInt64Array(N * maxLen * F); // (N, maxLen, 8)
  const mask = new Float64Array(N * maxLen); // (N, maxLen)
  const seqLen = new BigInt64Array(N); // (N)
  const groups = new BigInt64Array(N); // (N)
  rows.forEach((r, i) => {
    const w = r.clip.words;
    const last = w.subarray(w.length - F); // the EOS word pads, as in EMOPIA
    for (let t = 0; t < maxLen; t++) {
      const xs = t < r.seqLen ? w.subarray(t * F, (t + 1) * F) : last;
      const ys = t < r.seqLen ? w.subarray((t + 1) * F, (t + 2) * F) : last;
      for (let f = 0; f < F; f++) {
        x[(i * maxLen + t) * F + f] = BigInt(xs[f] as number);
        y[(i * maxLen + t) * F + f] = BigInt(ys[f] as number);
      }
      mask[i * maxLen + t] = t < r.seqLen ? 1 : 0;
    }
    seqLen[i] = BigInt(r.seqLen);
    groups[i] = BigInt(Math.ceil(r.seqLen / EMOPIA_WINDOW));
  });
  return {
    arrays: [
      ['x', { dtype: 'I64', shape: [N, maxLen, F], data: x }],
      ['y', { dtype: 'I64', shape: [N, maxLen, F], data: y }],
      ['mask', { dtype: 'F64', shape: [N, maxLen], data: mask }],
      ['seq_len', { dtype: 'I64', shape: [N], data: seqLen }],
      ['num_groups', { dtype: 'I64', shape: [N], data: groups }],
    ],
    names: rows.map((r) => r.clip.name),
    cut,
  };
}

/** The bytes of an export in a format: an np.savez-style .npz, or safetensors with the same names and dtypes. */
export function exportBytes(e: ExportArrays, format: ExportFormat): Uint8Array {
  if (format === 'emopia-npz') return serializeNpz(e.arrays);
  return serializeSafetensors(new Map(e.arrays), { format: 'emopia-ts/emopia-arrays', names: JSON.stringify(e.names) });
}

/**
 * A run folder's weights as a torch.save file (an OrderedDict state dict under EMOPIA's names, with EMOPIA's
 * `pos_emb.pe` buffer [1, maxLen, d] so that a strict load_state_dict accepts it), written atomically.
 */
export function exportRunToTorch(runDir: string, outPath: string): { tensors: number; parameters: number } {
  const { model, config } = loadModel(runDir);
  try {
    const sd = model.stateDict();
    sd.set('pos_emb.pe', { shape: [1, config.maxLen, config.dModel], data: model.positionRows(config.maxLen) });
    writeFileAtomic(outPath, writeTorchStateDict(sd), { what: '-o' });
    return { tensors: sd.size, parameters: model.numParameters() };
  } finally {
    model.dispose();
  }
}
