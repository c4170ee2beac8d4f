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
import { EMOTIONS, FAMILIES, type Emotion, type EmotionName } from '../music/vocab.ts';
import { EMOPIA_SAMPLING, samplingTable, type GuidanceContrast, type SamplingOverrides } from './sampling.ts';
import { checkRecall, type RecallOptions } from './recall.ts';

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
  /** Settings for pieces of one requested quadrant, over the others (GenerateOptions.perQuadrant). */
  perQuadrant?: PerQuadrant;
}

/** Validates a parsed generation.json; `what` names it in errors. */
export function parseGenerationDefaults(json: unknown, what: string): GenerationDefaults {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(what, `expected an object {sampling?, guidance?, contrast?, recall?}, got ${JSON.stringify(json)}`);
  const o = json as { sampling?: unknown; guidance?: unknown; contrast?: unknown; recall?: unknown; perQuadrant?: unknown };
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
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new InputError(what, `expected "recall" to be {share, bonus}, got ${JSON.stringify(o.recall)}`);
    recall = checkRecall({ share: r.share as number, bonus: r.bonus as number }, `${what}: "recall"`);
  }
  let perQuadrant: PerQuadrant | undefined;
  if (o.perQuadrant !== undefined) {
    try {
      perQuadrant = checkPerQuadrant(o.perQuadrant, sampling, recall);
    } catch (err) {
      if (err instanceof InputError) throw new InputError(what, `"perQuadrant": ${err.message}`);
      throw err;
    }
  }
  return {
    sampling, ...(guidance === undefined ? {} : { guidance }), ...(contrast === undefined ? {} : { contrast }), ...(recall === undefined ? {} : { recall }),
    ...(perQuadrant === undefined ? {} : { perQuadrant }),
  };
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
    perQuadrant: withoutOverridden(model.perQuadrant ?? {}, over),
  };
}

/**
 * Settings for pieces requested in one quadrant, over the piece's own: sampling fields (family by family, field by
 * field) and recall's (e.g. the shipped model's weaker guidance on pitch for Q1 and Q4, and a recall share per
 * quadrant, as the real clips repeat least in Q3 and most in Q2).
 */
export interface QuadrantSettings {
  sampling?: SamplingOverrides;
  recall?: Partial<RecallOptions>;
}
export type PerQuadrant = Partial<Record<EmotionName, QuadrantSettings>>;

/** Checks per-quadrant settings: keys Q1-Q4, each {sampling?, recall?} valid over `sampling` and `recall`. */
export function checkPerQuadrant(json: unknown, sampling: SamplingOverrides = {}, recall?: RecallOptions): PerQuadrant {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError('perQuadrant', `expected an object of quadrants Q1-Q4, got ${JSON.stringify(json)}`);
  const out: PerQuadrant = {};
  for (const [q, entry] of Object.entries(json)) {
    if (!(q in EMOTIONS)) throw new InputError('perQuadrant', `unknown quadrant '${q}' (expected Q1, Q2, Q3 or Q4)`);
    const e = entry as { sampling?: unknown; recall?: unknown } | null;
    if (typeof e !== 'object' || e === null || Array.isArray(e) || Object.keys(e).some((k) => k !== 'sampling' && k !== 'recall')) {
      throw new InputError('perQuadrant', `expected {sampling?, recall?} for ${q}, got ${JSON.stringify(entry)}`);
    }
    const settings: QuadrantSettings = {};
    if (e.sampling !== undefined) {
      if (typeof e.sampling !== 'object' || e.sampling === null || Array.isArray(e.sampling)) throw new InputError('perQuadrant', `expected families in ${q}'s "sampling", got ${JSON.stringify(e.sampling)}`);
      samplingTable(e.sampling as SamplingOverrides); // throws on an unknown family or a bad value
      samplingTable(mergeSampling(sampling, e.sampling as SamplingOverrides));
      settings.sampling = e.sampling as SamplingOverrides;
    }
    if (e.recall !== undefined) {
      if (typeof e.recall !== 'object' || e.recall === null || Array.isArray(e.recall)) throw new InputError('perQuadrant', `expected {share?, bonus?} in ${q}'s "recall", got ${JSON.stringify(e.recall)}`);
      checkRecall(recallOver(recall, e.recall as Partial<RecallOptions>), `${q}'s "recall"`);
      settings.recall = e.recall as Partial<RecallOptions>;
    }
    out[q as EmotionName] = settings;
  }
  return out;
}

/** The sampling and recall of a piece requested in quadrant `emotion` (1-4): its quadrant's settings over `sampling` and `recall`. */
export function settingsForQuadrant(
  sampling: SamplingOverrides,
  recall: RecallOptions | undefined,
  perQuadrant: PerQuadrant | undefined,
  emotion: Emotion,
): { sampling: SamplingOverrides; recall: RecallOptions | undefined } {
  const q = emotion === 0 ? undefined : perQuadrant?.[`Q${emotion}`];
  if (!q) return { sampling, recall };
  return {
    sampling: q.sampling ? mergeSampling(sampling, q.sampling) : sampling,
    recall: q.recall ? recallOver(recall, q.recall) : recall,
  };
}

/** A quadrant's recall fields over the piece's recall (none: share and bonus 0). */
function recallOver(recall: RecallOptions | undefined, fields: Partial<RecallOptions>): RecallOptions {
  return { share: 0, bonus: 0, ...recall, ...fields };
}

/** `perQuadrant` without what the command line (`flags`) set: a flag wins over the model's own, field by field. */
function withoutOverridden(perQuadrant: PerQuadrant, flags: Partial<GenerationDefaults>): PerQuadrant {
  const out: PerQuadrant = {};
  for (const [q, settings] of Object.entries(perQuadrant) as Array<[EmotionName, QuadrantSettings]>) {
    const kept: QuadrantSettings = {};
    const sampling: SamplingOverrides = {};
    for (const f of FAMILIES) {
      const entry = settings.sampling?.[f];
      if (!entry) continue;
      const left = Object.fromEntries(Object.entries(entry).filter(([k]) => !(flags.sampling?.[f] && k in (flags.sampling[f] as object))));
      if (Object.keys(left).length) sampling[f] = left;
    }
    if (Object.keys(sampling).length) kept.sampling = sampling;
    if (settings.recall && flags.recall === undefined) kept.recall = settings.recall;
    if (Object.keys(kept).length) out[q] = kept;
  }
  return out;
}
