/**
 * PyTorch interop for torch.nn.Transformer: reads a safetensors file that holds a `torch.nn.Transformer
 * (batch_first=True)` state dict, its inputs, PyTorch's masks and PyTorch's output, builds our `Transformer`
 * from the file's config, runs it, and measures the largest difference from PyTorch's output.
 *
 * File contents (scripts/fixtures/torch_transformer.py writes such files):
 *   <PyTorch parameter names>  the state dict (any float dtype)
 *   src [B,S,d], tgt [B,T,d], out [B,T,d]
 *   src_key_padding_mask [B,S], tgt_key_padding_mask [B,T], memory_key_padding_mask [B,S], tgt_mask [T,T],
 *   and optionally src_mask [S,S], memory_mask [T,S]: PyTorch's convention, bool/integer 1 = blocked or
 *   float 0 / -inf; each may be absent (no mask)
 *   __metadata__.config  JSON {d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
 *                        activation, norm_first, layer_norm_eps}
 * Other tensors (loss_weight, grad.*) are ignored here.
 *
 * Only target positions that are not padding are compared: PyTorch's outputs at padded positions carry no
 * meaning (and torch's eval fast path may zero padded encoder rows).
 */
import { tf } from '../backend.ts';
import { InputError, assertShape, fmtShape } from '../errors.ts';
import { Rng } from '../random.ts';
import { stateDictFromSafetensors, toFloat32, type ParsedSafetensors, type SafeTensor } from '../io/safetensors.ts';
import { fromTorchBoolMask, fromTorchFloatMask } from './masks.ts';
import { Transformer, type TransformerConfig, type ForwardOptions } from './transformer.ts';

/** The tolerance of `emopia torch-parity`. */
export const PARITY_TOLERANCE = 1e-4;

/** The names of the masks a file may hold, with the option of Transformer.forward each one becomes. */
const MASKS = {
  src_key_padding_mask: 'srcPadding',
  tgt_key_padding_mask: 'tgtPadding',
  memory_key_padding_mask: 'memoryPadding',
  tgt_mask: 'tgtMask',
  src_mask: 'srcMask',
  memory_mask: 'memoryMask',
} as const;
type TorchMaskName = keyof typeof MASKS;

const DATA_KEYS = new Set(['src', 'tgt', 'out', 'loss_weight', ...Object.keys(MASKS)]);

/** True for keys of a parity file that are not parameters. */
export function isParityDataKey(key: string): boolean {
  return DATA_KEYS.has(key) || key.startsWith('grad.') || key.endsWith('_mask');
}

/** torch.nn.Transformer's constructor arguments (snake_case JSON) -> our TransformerConfig (dropout 0). */
export function transformerConfigFromTorch(json: string): TransformerConfig {
  const what = 'config';
  let c: unknown;
  try {
    c = JSON.parse(json);
  } catch (err) {
    throw new InputError(what, `__metadata__.config is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new InputError(what, '__metadata__.config must be a JSON object');
  const o = c as Record<string, unknown>;
  const int = (k: string, min: number): number => {
    const v = o[k];
    if (!Number.isInteger(v) || (v as number) < min) throw new InputError(what, `expected '${k}' to be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const activation = o.activation ?? 'relu';
  if (activation !== 'relu' && activation !== 'gelu') throw new InputError(what, `expected 'activation' "relu" or "gelu", got ${JSON.stringify(activation)}`);
  const normFirst = o.norm_first ?? false;
  if (typeof normFirst !== 'boolean') throw new InputError(what, `expected 'norm_first' true or false, got ${JSON.stringify(normFirst)}`);
  const eps = o.layer_norm_eps ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw new InputError(what, `expected 'layer_norm_eps' > 0, got ${JSON.stringify(eps)}`);
  return {
    dModel: int('d_model', 1),
    nhead: int('nhead', 1),
    numEncoderLayers: int('num_encoder_layers', 0),
    numDecoderLayers: int('num_decoder_layers', 0),
    dimFeedforward: int('dim_feedforward', 1),
    dropout: 0,
    activation,
    normFirst,
    layerNormEps: eps,
  };
}

function need(parsed: ParsedSafetensors, name: string): SafeTensor {
  const t = parsed.tensors.get(name);
  if (!t) throw new InputError('parity file', `missing tensor '${name}'`);
  return t;
}

function checkShape(name: string, t: SafeTensor, expected: number[]): void {
  assertShape(`parity file: tensor '${name}'`, t.shape, expected);
}

/** A PyTorch mask tensor from the file -> ours (bool, true = allowed). */
function maskTensor(name: TorchMaskName, t: SafeTensor): tf.Tensor {
  if (t.dtype === 'F32' || t.dtype === 'F64' || t.dtype === 'F16' || t.dtype === 'BF16') {
    return tf.tidy(() => fromTorchFloatMask(tf.tensor(toFloat32(t), t.shape, 'float32')));
  }
  const values = toFloat32(t);
  if (t.dtype !== 'BOOL' && values.some((v) => v !== 0 && v !== 1)) {
    throw new InputError('parity file', `tensor '${name}': expected 0/1 values (1 = blocked), got ${values.find((v) => v !== 0 && v !== 1)}`);
  }
  return tf.tidy(() => fromTorchBoolMask(tf.tensor(values, t.shape, 'int32')));
}

export interface ParityResult {
  /** Largest |ours - PyTorch's| over the compared positions (Infinity if either side has NaN there). */
  maxAbsErr: number;
  /** Target positions compared (not padding), and all of them (B*T). */
  positions: number;
  totalPositions: number;
  config: TransformerConfig;
}

/**
 * Runs our Transformer on a parity file and compares with PyTorch's `out`. Throws InputError (one line) for
 * a file it cannot use: missing tensors or config, shapes that do not fit, unknown or missing parameters.
 */
export function runTorchParity(parsed: ParsedSafetensors): ParityResult {
  const cfgJson = parsed.metadata.config;
  if (cfgJson === undefined) throw new InputError('parity file', 'missing __metadata__.config (the JSON of torch.nn.Transformer\'s arguments)');
  const config = transformerConfigFromTorch(cfgJson);
  const d = config.dModel;

  const src = need(parsed, 'src');
  const tgt = need(parsed, 'tgt');
  const out = need(parsed, 'out');
  if (src.shape.length !== 3) throw new InputError('parity file', `tensor 'src': expected shape [B,S,${d}], got ${fmtShape(src.shape)}`);
  const [B, S] = src.shape as [number, number, number];
  if (tgt.shape.length !== 3) throw new InputError('parity file', `tensor 'tgt': expected shape [${B},T,${d}], got ${fmtShape(tgt.shape)}`);
  const T = tgt.shape[1] as number;
  if (B < 1 || S < 1 || T < 1) throw new InputError('parity file', `expected a non-empty batch, got src ${fmtShape(src.shape)} and tgt ${fmtShape(tgt.shape)}`);
  checkShape('src', src, [B, S, d]);
  checkShape('tgt', tgt, [B, T, d]);
  checkShape('out', out, [B, T, d]);
  const maskShapes: Record<TorchMaskName, number[]> = {
    src_key_padding_mask: [B, S],
    tgt_key_padding_mask: [B, T],
    memory_key_padding_mask: [B, S],
    tgt_mask: [T, T],
    src_mask: [S, S],
    memory_mask: [T, S],
  };
  for (const name of Object.keys(MASKS) as TorchMaskName[]) {
    const t = parsed.tensors.get(name);
    if (t) checkShape(name, t, maskShapes[name]);
  }

  // Which target positions count: those that are not padding.
  const tgtPad = parsed.tensors.get('tgt_key_padding_mask');
  const real = new Uint8Array(B * T).fill(1);
  if (tgtPad) toFloat32(tgtPad).forEach((v, i) => (real[i] = v === 0 ? 1 : 0));
  // With no real position there would be nothing to compare, and a max_abs_err of 0 would pass vacuously.
  if (!real.includes(1)) throw new InputError('parity file', `tgt_key_padding_mask marks all ${B * T} target positions as padding: nothing to compare`);

  const model = new Transformer(config, new Rng(0));
  const opts: ForwardOptions = {};
  try {
    model.loadStateDict(stateDictFromSafetensors(parsed, (name) => !isParityDataKey(name)), { strict: true });
    for (const name of Object.keys(MASKS) as TorchMaskName[]) {
      const t = parsed.tensors.get(name);
      if (t) opts[MASKS[name]] = maskTensor(name, t);
    }
    const ours = tf.tidy(() => {
      const s = tf.tensor(toFloat32(src), [B, S, d], 'float32'); // (B, S, d)
      const g = tf.tensor(toFloat32(tgt), [B, T, d], 'float32'); // (B, T, d)
      return model.forward(s, g, opts); // (B, T, d)
    });
    const mine = ours.dataSync() as Float32Array;
    ours.dispose();
    const theirs = toFloat32(out);
    let maxAbsErr = 0;
    let positions = 0;
    for (let p = 0; p < B * T; p++) {
      if (!real[p]) continue;
      positions++;
      for (let k = p * d; k < (p + 1) * d; k++) {
        const e = Math.abs((mine[k] as number) - (theirs[k] as number));
        if (!(e <= maxAbsErr)) maxAbsErr = Number.isNaN(e) ? Infinity : e;
      }
    }
    return { maxAbsErr, positions, totalPositions: B * T, config };
  } finally {
    for (const m of Object.values(opts)) (m as tf.Tensor | undefined)?.dispose();
    model.dispose();
  }
}
