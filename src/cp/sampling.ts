/**
 * Sampling from logits, as EMOPIA's `utils.sampling` (annahung31/EMOPIA workspace/transformer/utils.py):
 * softmax with temperature, then nucleus (top-p) sampling or plain weighted sampling.
 *
 * Pure: inputs are copied, never modified, and randomness comes only from the `rng` argument.
 * One difference, on purpose: the softmax subtracts the maximum before exponentiating. EMOPIA does not, so
 * large logits overflow to NaN there (it then returns None and retries the song); here they cannot.
 */
import { InputError } from '../errors.ts';
import type { Rng } from '../random.ts';
import { FAMILIES, type Family } from '../music/vocab.ts';

export interface SamplingParams {
  /** Divides the logits before the softmax; > 0. */
  temperature: number;
  /** Nucleus threshold in (0, 1], or null for weighted sampling over the whole distribution. */
  topP: number | null;
}

/**
 * EMOPIA's table (`froward_output_sampling`). The emotion family is never sampled: generated words carry 0
 * there, as in EMOPIA; its entry exists so that the table is complete.
 */
export const EMOPIA_SAMPLING: Readonly<Record<Family, Readonly<SamplingParams>>> = Object.freeze({
  tempo: { temperature: 1.2, topP: 0.9 },
  chord: { temperature: 1, topP: 0.99 },
  barbeat: { temperature: 1.2, topP: null },
  type: { temperature: 1, topP: 0.9 },
  pitch: { temperature: 1, topP: 0.9 },
  duration: { temperature: 2, topP: 0.9 },
  velocity: { temperature: 5, topP: null },
  emotion: { temperature: 1, topP: null },
});

export type SamplingOverrides = Partial<Record<Family, Partial<SamplingParams>>>;

/** EMOPIA's table with per-family overrides, validated. */
export function samplingTable(overrides: SamplingOverrides = {}): Record<Family, SamplingParams> {
  const out = {} as Record<Family, SamplingParams>;
  for (const f of FAMILIES) {
    const p = { ...EMOPIA_SAMPLING[f], ...overrides[f] };
    if (!(typeof p.temperature === 'number' && p.temperature > 0 && Number.isFinite(p.temperature))) {
      throw new InputError(`temperature of ${f}`, `expected a number > 0, got ${p.temperature}`);
    }
    if (p.topP !== null && !(typeof p.topP === 'number' && p.topP > 0 && p.topP <= 1)) {
      throw new InputError(`top-p of ${f}`, `expected a number in (0, 1], got ${p.topP}`);
    }
    out[f] = p;
  }
  for (const k of Object.keys(overrides)) {
    if (!(FAMILIES as readonly string[]).includes(k)) throw new InputError('sampling', `unknown family '${k}' (expected one of ${FAMILIES.join(', ')})`);
  }
  return out;
}

/** softmax(logits / t), computed in float64 with the maximum subtracted. */
export function softmaxWithTemperature(logits: ArrayLike<number>, temperature = 1): Float64Array {
  const n = logits.length;
  if (n === 0) throw new InputError('logits', 'expected at least one value, got none');
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, (logits[i] as number) / temperature);
  const out = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp((logits[i] as number) / temperature - max);
    out[i] = e;
    sum += e;
  }
  if (!Number.isFinite(sum) || sum <= 0) throw new InputError('logits', `expected finite values, got a softmax sum of ${sum}`);
  for (let i = 0; i < n; i++) out[i] = (out[i] as number) / sum;
  return out;
}

/** An index drawn with probability proportional to `weights` (non-negative, not all zero). */
export function weightedSample(weights: ArrayLike<number>, rng: Rng): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i] as number;
  if (!(total > 0)) throw new InputError('weights', `expected a positive total, got ${total}`);
  const u = rng.next() * total;
  let acc = 0;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i] as number;
    if (w <= 0) continue;
    acc += w;
    last = i;
    if (u < acc) return i;
  }
  return last; // rounding: u fell at the very top
}

/**
 * The indices nucleus sampling keeps: sort descending (ties by index), cumulate, keep up to and including the
 * first index where the cumulative sum exceeds p (everything when it never does).
 */
export function nucleusSet(probs: ArrayLike<number>, p: number): number[] {
  const order = Array.from({ length: probs.length }, (_, i) => i).sort((a, b) => (probs[b] as number) - (probs[a] as number) || a - b);
  let total = 0;
  for (let i = 0; i < probs.length; i++) total += probs[i] as number;
  let cum = 0;
  for (let k = 0; k < order.length; k++) {
    cum += (probs[order[k] as number] as number) / total;
    if (cum > p) return order.slice(0, k + 1);
  }
  return order;
}

/** Nucleus sampling: an index from the renormalised kept set. */
export function nucleusSample(probs: ArrayLike<number>, p: number, rng: Rng): number {
  const keep = nucleusSet(probs, p);
  return keep[weightedSample(keep.map((i) => probs[i] as number), rng)] as number;
}

/**
 * One value from logits with EMOPIA's rule: temperature, then top-p (or weighted sampling when topP is null).
 * With `allowed` (ascending indices), only those values can come out: the others are masked before the softmax.
 */
export function sampleLogits(logits: ArrayLike<number>, params: SamplingParams, rng: Rng, allowed?: readonly number[]): number {
  const idx = allowed ?? Array.from({ length: logits.length }, (_, i) => i);
  if (idx.length === 0) throw new InputError('sampling', 'no value is allowed');
  if (idx.length === 1) return idx[0] as number;
  const probs = softmaxWithTemperature(idx.map((i) => logits[i] as number), params.temperature);
  const k = params.topP === null ? weightedSample(probs, rng) : nucleusSample(probs, params.topP, rng);
  return idx[k] as number;
}
