/**
 * A model's own generation settings (browser-safe): the sampling table overrides and emotion guidance that its
 * run folder recommends in `generation.json`, e.g.
 *   {"sampling": {"velocity": {"temperature": 1}}, "guidance": 2, "contrast": "others", "why": "..."}
 * EMOPIA's table (sampling.ts) was tuned for EMOPIA's own, much longer-trained model; a smaller model may sample
 * better closer to its own distribution. Command-line flags override these per family.
 */
import { InputError } from '../errors.ts';
import { FAMILIES } from '../music/vocab.ts';
import { samplingTable, type SamplingOverrides } from './sampling.ts';
import type { GuidanceContrast } from './generate.ts';

export interface GenerationDefaults {
  sampling: SamplingOverrides;
  guidance?: number;
  contrast?: GuidanceContrast;
}

/** Validates a parsed generation.json; `what` names it in errors. */
export function parseGenerationDefaults(json: unknown, what: string): GenerationDefaults {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(what, `expected an object {sampling?, guidance?, contrast?}, got ${JSON.stringify(json)}`);
  const o = json as { sampling?: unknown; guidance?: unknown; contrast?: unknown };
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
  return { sampling, ...(guidance === undefined ? {} : { guidance }), ...(contrast === undefined ? {} : { contrast }) };
}

/** `over` on top of `base`, family by family and field by field. */
export function mergeSampling(base: SamplingOverrides, over: SamplingOverrides): SamplingOverrides {
  const out: SamplingOverrides = {};
  for (const f of FAMILIES) {
    if (base[f] || over[f]) out[f] = { ...base[f], ...over[f] };
  }
  return out;
}
