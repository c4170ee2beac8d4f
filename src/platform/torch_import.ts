/**
 * PyTorch checkpoints into run folders: `emopia import CHECKPOINT.pt --vocab dictionary.pkl|vocab.json
 * [--config config.json | --preset P --heads H --attention A] -o RUN_DIR`.
 *
 * The checkpoint is read by src/io/torch_zip.ts (nothing in it is executed). Our parameter names are EMOPIA's
 * state-dict keys, so the tensors load by name; `pos_emb.pe` (EMOPIA's positional buffer) is dropped. The
 * vocabulary is EMOPIA's `dictionary.pkl` (a pickle of (event2word, word2event), read by the same data-only
 * pickle reader) or our vocab.json. The config is our config.json, or inferred from the state dict's shapes:
 * class counts and embedding widths from `word_emb_<family>.lut.weight`, dModel from `in_linear.weight`, the
 * layer count from `transformer_encoder.layers.N`, dFF from `linear1.weight`, maxLen from `pos_emb.pe` (else the
 * preset's); what shapes cannot tell (heads, attention kind, dropout, chunk size) comes from the preset
 * (default `emopia`: 8 heads, linear attention) or the flags.
 *
 * The result is an ordinary run folder (model.safetensors, config.json, vocab.json), written atomically.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, fmtShape } from '../errors.ts';
import { LoadingRng } from '../random.ts';
import { describe, PyTuple, unpickle, type PyKey, type PyValue } from '../io/pickle.ts';
import { readTorchStateDict, type TorchStateDict } from '../io/torch_zip.ts';
import { toFloat32, type HostTensor, type SafeTensor } from '../io/safetensors.ts';
import { FAMILIES, Vocab, type Family, type VocabValue } from '../music/vocab.ts';
import { PRESETS, validateConfig, type AttentionKind, type CPConfig, type PresetName } from '../cp/config.ts';
import { CPTransformer } from '../cp/model.ts';
import { checkVocab, modelFiles } from '../cp/run_folder.ts';
import { readInputFile, readJsonInput } from './read.ts';
import { writeDirAtomic } from './atomic.ts';
import { runDirInUse } from './run_folder.ts';

/** Checkpoints above this are refused before reading (EMOPIA's own is about 200 MB with its positional table). */
export const MAX_CHECKPOINT_BYTES = 1024 * 1024 * 1024;
/** A dictionary.pkl is a few KB; anything above this is not one. */
export const MAX_DICTIONARY_BYTES = 16 * 1024 * 1024;

/** EMOPIA's family names in dictionary.pkl (ours differ only for bar-beat). */
const EMOPIA_FAMILY: Readonly<Record<Family, string>> = Object.fromEntries(FAMILIES.map((f) => [f, f === 'barbeat' ? 'bar-beat' : f])) as Record<Family, string>;

/**
 * The vocabulary of EMOPIA's dictionary.pkl: a pickled pair (event2word, word2event) of dicts keyed by family,
 * value -> index and index -> value. Indices are kept, so EMOPIA's words mean the same here.
 */
export function vocabFromDictionary(bytes: Uint8Array, what = 'dictionary.pkl'): Vocab {
  const obj = unpickle(bytes, { what });
  const pair = obj instanceof PyTuple ? obj.items : Array.isArray(obj) ? obj : [];
  const [e2w, w2e] = pair;
  if (pair.length !== 2 || !(e2w instanceof Map) || !(w2e instanceof Map)) throw new InputError(what, `expected a pickled pair (event2word, word2event) of dicts, got ${describe(obj)}`);
  if (!w2e.has('emotion')) throw new InputError(what, 'no emotion family: this is a CP (7-family) dictionary, not an EMOPIA one; its type indices differ');
  const values = {} as Record<Family, VocabValue[]>;
  for (const f of FAMILIES) {
    const key = EMOPIA_FAMILY[f];
    const byIndex = w2e.get(key);
    const byValue = e2w.get(key);
    if (!(byIndex instanceof Map) || !(byValue instanceof Map)) throw new InputError(what, `family '${key}' missing; got ${[...w2e.keys()].map(String).join(', ')}`);
    const n = byIndex.size;
    const vals: VocabValue[] = [];
    for (let i = 0; i < n; i++) {
      const v = byIndex.get(i);
      if (typeof v !== 'string' && typeof v !== 'number') throw new InputError(what, `family '${key}': expected indices 0..${n - 1} mapping to strings or integers, index ${i} gives ${describe(v as PyValue | undefined)}`);
      if (byValue.get(v as PyKey) !== i) throw new InputError(what, `family '${key}': event2word and word2event disagree on ${JSON.stringify(v)}`);
      vals.push(v);
    }
    values[f] = vals;
  }
  return Vocab.fromValues(values, { sort: false });
}

/** The vocabulary from dictionary.pkl (pickle) or vocab.json (by content: a pickle starts with byte 0x80). */
export function readVocabFile(path: string): Vocab {
  const bytes = readInputFile(path, { maxBytes: MAX_DICTIONARY_BYTES });
  if (bytes[0] === 0x80) return vocabFromDictionary(bytes, path);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new InputError(path, `expected EMOPIA's dictionary.pkl or a vocab.json, got neither a pickle nor JSON (${(err as Error).message})`);
  }
  return Vocab.fromJSON(json, path);
}

export interface InferOptions {
  /** Architecture of what shapes do not tell (heads, attention, dropout, chunk size, maxLen if no pe). */
  preset?: PresetName;
  heads?: number;
  attention?: AttentionKind;
}

/** A CPConfig from the shapes of an EMOPIA-named state dict, the rest from a preset and the flags. */
export function inferConfig(tensors: ReadonlyMap<string, SafeTensor>, opts: InferOptions = {}, what = 'checkpoint'): CPConfig {
  const base = PRESETS[opts.preset ?? 'emopia'];
  const shape = (key: string, rank: number): number[] => {
    const t = tensors.get(key);
    if (!t) throw new InputError(what, `cannot infer the config: no '${key}' (is this an EMOPIA compound-word Transformer?)`);
    if (t.shape.length !== rank) throw new InputError(what, `'${key}' has shape ${fmtShape(t.shape)}, expected rank ${rank}`);
    return t.shape;
  };
  const nClasses = {} as Record<Family, number>;
  const embSizes = {} as Record<Family, number>;
  for (const f of FAMILIES) [nClasses[f], embSizes[f]] = shape(`word_emb_${f}.lut.weight`, 2) as [number, number];
  const dModel = shape('in_linear.weight', 2)[0] as number;
  let nLayers = 0;
  while (tensors.has(`transformer_encoder.layers.${nLayers}.linear1.weight`)) nLayers++;
  if (nLayers === 0) throw new InputError(what, "cannot infer the config: no 'transformer_encoder.layers.0.linear1.weight'");
  const dFF = shape('transformer_encoder.layers.0.linear1.weight', 2)[0] as number;
  const pe = tensors.get('pos_emb.pe');
  const maxLen = pe && pe.shape.length === 3 ? (pe.shape[1] as number) : base.maxLen;
  return validateConfig({
    ...base,
    nClasses,
    embSizes,
    dModel,
    nLayers,
    dFF,
    maxLen,
    nHeads: opts.heads ?? base.nHeads,
    attention: opts.attention ?? base.attention,
  }, `${what} (inferred config)`);
}

/** Float tensors as float32 host tensors; any other dtype is refused naming the key. */
function hostStateDict(sd: TorchStateDict, what: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, t] of sd.tensors) {
    if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) throw new InputError(what, `tensor '${k}' has dtype ${t.dtype}, expected a float (F32, F16, BF16, F64)`);
    out.set(k, { shape: t.shape.slice(), data: toFloat32(t) });
  }
  return out;
}

export interface ImportRequest extends InferOptions {
  checkpoint: string;
  vocab: string;
  /** Our config.json; without it the config is inferred. */
  config?: string;
  out: string;
  /** Larger checkpoints are refused before reading (default MAX_CHECKPOINT_BYTES). */
  maxBytes?: number;
}

export interface ImportResult {
  config: CPConfig;
  vocab: Vocab;
  parameters: number;
  wrapper: TorchStateDict['wrapper'];
  strippedModulePrefix: boolean;
  inferred: boolean;
}

/**
 * Reads a PyTorch checkpoint and writes a run folder. Everything is checked (checkpoint, vocabulary, config,
 * every name and shape) before the folder is written; an existing non-empty `out` is refused.
 */
export async function importCheckpoint(req: ImportRequest): Promise<ImportResult> {
  if (runDirInUse(req.out)) throw new InputError(req.out, 'already exists and is not empty; choose a new run folder');
  const sd = readTorchStateDict(readInputFile(req.checkpoint, { maxBytes: req.maxBytes ?? MAX_CHECKPOINT_BYTES }), req.checkpoint);
  const vocab = readVocabFile(req.vocab);
  const config = req.config !== undefined ? validateConfig(readJsonInput(req.config), req.config) : inferConfig(sd.tensors, req, req.checkpoint);
  checkVocab(req.config ?? `${req.vocab} against the checkpoint`, config, vocab);
  const pe = sd.tensors.get('pos_emb.pe');
  if (pe && (pe.shape.length !== 3 || pe.shape[2] !== config.dModel)) throw new InputError(req.checkpoint, `'pos_emb.pe': expected shape [1,*,${config.dModel}], got ${fmtShape(pe.shape)}`);
  const model = new CPTransformer(config, new LoadingRng()); // every weight is loaded next (strict)
  try {
    try {
      model.loadStateDict(hostStateDict(sd, req.checkpoint));
    } catch (err) {
      throw err instanceof InputError ? new InputError(req.checkpoint, err.message) : err;
    }
    const files = modelFiles(model, vocab, { metadata: { source: 'emopia import' } });
    await writeDirAtomic(req.out, (tmp) => {
      for (const [name, data] of files) writeFileSync(join(tmp, name), data);
    });
    return { config, vocab, parameters: model.numParameters(), wrapper: sd.wrapper, strippedModulePrefix: sd.strippedModulePrefix, inferred: req.config === undefined };
  } finally {
    model.dispose();
  }
}
