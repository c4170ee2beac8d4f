/**
 * emopia-ts for browsers (and any JavaScript runtime): everything of the public API that needs no Node built-in.
 * Models and datasets come in as bytes and JSON values (`modelFromParts`, `parseSafetensors`, `midiToScore`)
 * instead of paths. `src/index.ts` re-exports all of this and adds the Node-only file helpers.
 */
export { tf, initBackend, BACKENDS, type BackendName } from './backend.ts';
export { InputError, UsageError } from './errors.ts';
export { Rng, uniformArray, normalArray } from './random.ts';
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
export { readTorchFile, readTorchStateDict, writeTorchStateDict, TorchTensor, type TorchStateDict } from './io/torch_zip.ts';
export { parseNpy, parseNpz, serializeNpy, serializeNpz } from './io/npz.ts';
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
export { runTorchParity, transformerConfigFromTorch, isParityDataKey, PARITY_TOLERANCE, type ParityResult } from './core/torch_interop.ts';
export {
  PRESETS,
  PRESET_NAMES,
  EMOPIA_CLASSES,
  ATTENTION_KINDS,
  EMOTION_INPUTS,
  makeConfig,
  validateConfig,
  countParameters,
  type CPConfig,
  type CPArch,
  type PresetName,
  type AttentionKind,
  type EmotionInput,
} from './cp/config.ts';
export {
  modelFromParts,
  modelToParts,
  metaFromParts,
  checkVocab,
  modelFiles,
  runFiles,
  runFromParts,
  trainStateFromJson,
  adamFromBytes,
  adamToBytes,
  MODEL_FILE,
  CONFIG_FILE,
  VOCAB_FILE,
  GENERATION_FILE,
  OPTIMIZER_FILE,
  STATE_FILE,
  LOG_FILE,
  MODEL_FORMAT,
  ADAM_FORMAT,
  TRAIN_STATE_FORMAT,
  TRAIN_STATE_VERSION,
  type ModelParts,
  type PartNames,
  type ToPartsOptions,
  type FolderFile,
  type TrainState,
  type RunSnapshot,
  type RunParts,
  type RunPartNames,
} from './cp/run_folder.ts';
export { CPTransformer, familyIds, NON_TYPE_FAMILIES, type NonTypeFamily } from './cp/model.ts';
export { openStepper, checkIncremental, autoEngines, ENGINES, ENGINE_NAMES, type Stepper, type EngineName, type EngineChoice } from './cp/engine.ts';
export { causalLinearAttention, LINEAR_EPS } from './cp/attention.ts';
export { conditionInputs, conditionWord } from './cp/emotion_input.ts';
export {
  EMOPIA_SAMPLING,
  samplingTable,
  softmaxWithTemperature,
  nucleusSet,
  nucleusSample,
  weightedSample,
  sampleLogits,
  allowOnly,
  withTemperature,
  processLogits,
  drawValue,
  guideLogits,
  contrastEmotions,
  allowedTypes,
  allowedValues,
  advanceLayout,
  START_LAYOUT,
  barBeatChoices,
  barProbability,
  sampleBarBeat,
  samplingRules,
  sampleType,
  sampleWord,
  type LogitsProcessor,
  type Layout,
  type SamplingRules,
  type GuidanceContrast,
  type SamplingParams,
  type SamplingOverrides,
} from './cp/sampling.ts';
export { GENERATION_DEFAULTS, parseGenerationDefaults, mergeSampling, generationSettings, checkPerQuadrant, settingsForQuadrant, type GenerationDefaults, type PerQuadrant, type QuadrantSettings } from './cp/generation_defaults.ts';
export { generate, generateBatch, promptFor, type GenerateOptions, type GenerateResult, type StopReason } from './cp/generate.ts';
export { RECALL_PERIODS, openRecall, recallWord, recalledValues, recallLogits, type RecallOptions, type RecallState } from './cp/recall.ts';
export { maskedCrossEntropy, maskedCrossEntropySum } from './core/train/loss.ts';
export { Adam, clipGradNorm, namedGrads, type AdamOptions, type AdamState } from './core/train/optim.ts';
export { learningRate, cosineLearningRate, type ScheduleConfig, type CosineScheduleConfig } from './core/train/schedule.ts';
export { cpLoss, familyLosses, uniformLoss, type CPLoss } from './cp/train/loss.ts';
export { TRAIN_DEFAULTS, defaultSeq } from './cp/train/defaults.ts';
export { epochWindows, batchAt, batchesPerEpoch, buildBatch, batchTensors, coveringWindows, type WindowOptions, type WindowRef, type HostBatch } from './cp/train/batches.ts';
export { Trainer, DivergedError, type TrainSettings, type StepResult, type ValidResult } from './cp/train/trainer.ts';
export { CopyModel, COPY_DEFAULTS, trainCopyTask, evaluateCopy, greedyDecode, type CopyTaskConfig } from './examples/copy_task.ts';
export { makeSplit, parseSplit, SPLIT_SETS, EMOPIA_CLS_COUNTS, type ClassifierSplit, type SplitSet } from './classify/split.ts';
export { clipFeatures, estimateKey, FEATURE_NAMES, KK_MAJOR, KK_MINOR } from './classify/features.ts';
export { pieceStats, summarizeStats, entropyBits, meanTempo, STAT_KEYS, STAT_LABELS, MAJOR_QUALITIES, MINOR_QUALITIES, type PieceStats, type StatKey, type StatSummary } from './classify/stats.ts';
export { quantizedScore } from './classify/timing.ts';
export { trainClassifier, predictProba, ensemble, parseClassifier, standardizer, QUADRANTS, CLASSIFIER_FORMAT, type ClassifierJSON, type DenseLayer, type TrainOptions } from './classify/model.ts';
export { classifierFromJson } from './classify/load.ts';
export { classifyScore, fromProbs, accuracy, confusion, type Classification, type Accuracy, type Quadrant } from './classify/classify.ts';
export { evaluateRows, type LabelledRows, type Scored } from './classify/scoring.ts';
export { songFolds, crossValidate, poolScores } from './classify/cv.ts';
export { candidateRecipes, trainRecipe, type Recipe } from './classify/recipe.ts';
export { measure } from './classify/measure.ts';
export { evaluateConditioning, conditioningAccuracy, type EvaluateOptions, type EvaluationResult, type PieceResult } from './evaluate/conditioning.ts';
export { structureStats, summarizeStructure, compareStructure, STRUCTURE_KEYS, STRUCTURE_LABELS, STRUCTURE_TARGETS, type StructureStats, type StructureSummary, type StructureReport } from './evaluate/structure.ts';
export { statsChartSvg, type ChartSeries } from './classify/svg.ts';
