/**
 * The generation job's defaults, in layers (browser-safe, no file system):
 *   1. GENERATION_DEFAULTS, the library's, read by generate.ts and by the `generate` and `evaluate` commands
 *      (their option defaults and help), so that no default is written twice;
 *   2. a model's own settings, its run folder's `generation.json` (`parseGenerationDefaults`), e.g.
 *        {"sampling": {"velocity": {"temperature": 1}}, "guidance": 2, "contrast": "others", "why": "..."}
 *      EMOPIA's table was tuned for EMOPIA's own, much longer-trained model; a smaller model may sample better
 *      closer to its own distribution;
 *   3. the command line's flags, family by family (`generationSettings`).
 */
import { InputError } from '../errors.ts';
import { FAMILIES } from '../music/vocab.ts';
import { EMOPIA_SAMPLING, samplingTable, type GuidanceContrast, type SamplingOverrides } from './sampling.ts';
import { checkRecall, type RecallOptions, type RecallShare } from './recall.ts';

/** The library's defaults for generating (generate.ts, `emopia generate`) and evaluating (`emopia evaluate`). */
export const GENERATION_DEFAULTS = Object.freeze({
  /** Seed of the sampling: the same seed gives the same pieces. */
  seed: 0,
  /** Bars of new material per piece (the prompt's last bar counts as the first). EMOPIA has no limit. */
  maxBars: 32,
  /**
   * Bars per piece in `evaluate`: half of generate's, about the length of the real clips its statistics compare
   * with (median 18 bars over the 1078 EMOPIA clips) at half the cost; the model card's figures were measured so.
   */
  evaluateMaxBars: 16,
  /** Generated words per piece: no limit but the model's maxLen. */
  maxWords: Infinity,
  /** false stops only at a limit (benchmarks); true lets the model end the piece with EOS. */
  stopAtEos: true,
  /** Temperature and top-p per family: EMOPIA's table. */
  sampling: EMOPIA_SAMPLING,
  /** Emotion guidance w: 1 is plain conditional sampling (no twins, no extra work). */
  guidance: 1,
  /** What guidance pushes away from when w != 1. */
  contrast: 'others' as GuidanceContrast,
  /** Bar recall (recall.ts): none. */
  recall: Object.freeze({ share: 0, bonus: 0 }) as Readonly<RecallOptions>,
  /** Pieces written by one `generate`. */
  num: 1,
  /** Pieces generated together (one batched step per word): faster per piece, each piece the same as alone. */
  batch: 8,
  /** Pieces per requested quadrant in `evaluate`. */
  perEmotion: 25,
  /** Quadrants `evaluate` requests. */
  quadrants: Object.freeze([1, 2, 3, 4] as const),
});

/** A model's own generation settings (its generation.json): a part of GENERATION_DEFAULTS it overrides. */
export interface GenerationDefaults {
  sampling: SamplingOverrides;
  guidance?: number;
  contrast?: GuidanceContrast;
  recall?: RecallOptions;
}

/** Validates a parsed generation.json; `what` names it in errors. */
export function parseGenerationDefaults(json: unknown, what: string): GenerationDefaults {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(what, `expected an object {sampling?, guidance?, contrast?, recall?}, got ${JSON.stringify(json)}`);
  const o = json as { sampling?: unknown; guidance?: unknown; contrast?: unknown; recall?: unknown };
  const sampling = (o.sampling ?? {}) as SamplingOverrides;
  if (typeof sampling !== 'object' || sampling === null || Array.isArray(sampling)) throw new InputError(what, `expected "sampling" to be an object of families, got ${JSON.stringify(o.sampling)}`);
  for (const [f, p] of Object.entries(sampling)) {
    if (!(FAMILIES as readonly string[]).includes(f)) throw new InputError(what, `unknown family '${f}' in "sampling" (expected one of ${FAMILIES.join(', ')})`);
    if (typeof p !== 'object' || p === null) throw new InputError(what, `expected {temperature?, topP?} for ${f}, got ${JSON.stringify(p)}`);
  }
  try {
    samplingTable(sampling);
  } catch (err) {
    if (err instanceof InputError) throw new InputError(what, err.message);
    throw err;
  }
  const guidance = o.guidance;
  if (guidance !== undefined && !(typeof guidance === 'number' && Number.isFinite(guidance) && guidance >= 0)) {
    throw new InputError(what, `expected "guidance" to be a number >= 0, got ${JSON.stringify(guidance)}`);
  }
  const contrast = o.contrast;
  if (contrast !== undefined && contrast !== 'others' && contrast !== 'neutral') {
    throw new InputError(what, `expected "contrast" to be "others" or "neutral", got ${JSON.stringify(contrast)}`);
  }
  let recall: RecallOptions | undefined;
  if (o.recall !== undefined) {
    const r = o.recall as { share?: unknown; bonus?: unknown } | null;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new InputError(what, `expected "recall" to be {share, bonus} (share a number or {Q1, Q2, Q3, Q4}), got ${JSON.stringify(o.recall)}`);
    recall = checkRecall({ share: r.share as RecallShare, bonus: r.bonus as number }, `${what}: "recall"`);
  }
  return { sampling, ...(guidance === undefined ? {} : { guidance }), ...(contrast === undefined ? {} : { contrast }), ...(recall === undefined ? {} : { recall }) };
}

/** `over` on top of `base`, family by family and field by field. */
export function mergeSampling(base: SamplingOverrides, over: SamplingOverrides): SamplingOverrides {
  const out: SamplingOverrides = {};
  for (const f of FAMILIES) {
    if (base[f] || over[f]) out[f] = { ...base[f], ...over[f] };
  }
  return out;
}

/** The sampling to generate with: the model's own settings over GENERATION_DEFAULTS, then `over` (flags) on top. */
export function generationSettings(model: GenerationDefaults, over: Partial<GenerationDefaults> = {}): Required<GenerationDefaults> {
  return {
    sampling: mergeSampling(model.sampling, over.sampling ?? {}),
    guidance: over.guidance ?? model.guidance ?? GENERATION_DEFAULTS.guidance,
    contrast: over.contrast ?? model.contrast ?? GENERATION_DEFAULTS.contrast,
    recall: over.recall ?? model.recall ?? { ...GENERATION_DEFAULTS.recall },
  };
}
