/**
 * emopia-ts: the public API. This barrel is the only import path for users, the CLI's public pieces and the
 * tests of the public API.
 */
export { tf, initBackend, BACKENDS, type BackendName } from './backend.ts';
export { InputError, UsageError } from './errors.ts';
export * from './music/index.ts';
export {
  parseSafetensors,
  serializeSafetensors,
  toFloat32,
  float32ToFloat16,
  float16ToFloat32,
  float32ToBfloat16,
  bfloat16ToFloat32,
  stateDictFromSafetensors,
  safetensorsFromStateDict,
  SAFE_DTYPES,
  type SafeDType,
  type SafeTensor,
  type ParsedSafetensors,
} from './io/safetensors.ts';
export {
  MASKED_SCORE,
  paddingMask,
  selfAttentionMask,
  keyPaddingMask,
  causalMask,
  crossAttentionMask,
  andMasks,
  applyMask,
  fromTorchBoolMask,
  fromTorchFloatMask,
  maskToArray,
} from './core/masks.ts';
export { scaledDotProductAttention, MultiHeadAttention, type AttentionDropout, type MultiHeadAttentionOptions } from './core/attention.ts';
export {
  Transformer,
  TransformerEncoder,
  TransformerDecoder,
  TransformerEncoderLayer,
  TransformerDecoderLayer,
  TRANSFORMER_DEFAULTS,
  type TransformerConfig,
  type LayerConfig,
  type EncodeOptions,
  type DecodeOptions,
  type ForwardOptions,
} from './core/transformer.ts';
export { TokenEmbedding } from './core/embedding.ts';
export { sinusoidalTable, positionalEncoding, addPositional } from './core/positional.ts';
export { readDataset, buildDataset, listMidiFiles, type DatasetBuildOptions } from './music/dataset_node.ts';
export { runTorchParity, transformerConfigFromTorch, isParityDataKey, PARITY_TOLERANCE, type ParityResult } from './core/torch_interop.ts';
