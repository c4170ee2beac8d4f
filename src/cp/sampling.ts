/**
 * The sampling rules of generation, in one place and pure: which values may come next (the grammar mask), the
 * bar-beat rule, temperature and top-p per family (EMOPIA's `utils.sampling`, annahung31/EMOPIA
 * workspace/transformer/utils.py), and emotion guidance. generate.ts is the loop that feeds the model and calls
 * these. Nothing here touches a tensor; inputs are copied, never modified; randomness comes only from `rng`.
 *
 * A family's logits go through a small pipeline of logits processors, as transformers.js's:
 *
 *   guideLogits (the batch's rows: emotion against its twins)
 *     -> allowOnly (the grammar mask) -> withTemperature -> drawValue (softmax, then top-p or weighted draw)
 *
 * A processor maps logits to logits, -Infinity marking a value that cannot come out. Top-p belongs to the draw,
 * not to a processor: it draws among the kept values in order of descending probability (EMOPIA's order), which
 * a mask would lose, and seeded pieces depend on that order. The bar-beat rule (`sampleBarBeat`) is two draws on
 * top of the pipeline: Bar or not, then which later Beat.
 *
 * One difference from EMOPIA, on purpose: the softmax subtracts the maximum before exponentiating. EMOPIA does
 * not, so large logits overflow to NaN there (it then returns None and retries the song); here they cannot.
 */
import { InputError } from '../errors.ts';
import type { Rng } from '../random.ts';
import { typeAllowedValues, type AllowedValues } from '../music/grammar.ts';
import { FAMILIES, FAMILY_INDEX, zeroWord, type Emotion, type Family, type Vocab, type WordType } from '../music/vocab.ts';

export interface SamplingParams {
  /** Divides the logits before the softmax; > 0. */
  temperature: number;
  /** Nucleus threshold in (0, 1], or null for weighted sampling over the whole distribution. */
  topP: number | null;
  /**
   * Tempo only: the largest change of a tempo word from the piece's current tempo, relative (0.1: a new tempo
   * within 1/1.1 .. 1.1 times the current one); tempos further away cannot come out. Unset: any tempo (EMOPIA).
   * A beat-true model's tempo words follow the music's local tempo, which real clips change by a few percent at a
   * time; sampled freely, a small model's tempo jumps by tens of percent from beat to beat.
   */
  maxStep?: number;
  /**
   * This family's emotion guidance w, in place of the piece's (GenerateOptions.guidance): e.g. strong guidance on
   * pitch (where valence lives: mode, chords) and none on the rhythm families, which guidance makes sparser.
   * Unset: the piece's guidance.
   */
  guidance?: number;
  /**
   * Pitch only: what guidance pushes. 'values' (unset): each pitch's logit, as every other family's. 'classes':
   * the distribution over the twelve pitch classes (guideByClass): each class's share moves as value-wise guidance
   * would move it, while the pitches within a class keep the emotion row's own proportions, so mode and harmony
   * are pushed and the register is left to the model (value-wise guidance on pitch also pushed the register: the
   * calm pieces low and narrow, the happy ones high and wide, and the calm ones thinner than the real clips).
   */
  guidanceOver?: GuidanceOver;
}

export const GUIDANCE_OVER = ['values', 'classes'] as const;
export type GuidanceOver = (typeof GUIDANCE_OVER)[number];

/**
 * EMOPIA's table (`froward_output_sampling`), the library's default (GENERATION_DEFAULTS.sampling). The emotion
 * family is never sampled: generated words carry 0 there, as in EMOPIA; its entry exists so that the table is
 * complete.
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
    // Built field by field in one order, not by spreading EMOPIA's frozen entries (whose copies' hidden classes
    // varied from call to call with V8's state, throwing away the sampling code optimised on an earlier table).
    const base: Partial<SamplingParams> = EMOPIA_SAMPLING[f];
    const o: Partial<SamplingParams> = overrides[f] ?? {};
    const p = { temperature: ('temperature' in o ? o.temperature : base.temperature) as number, topP: ('topP' in o ? o.topP : base.topP) as number | null } as SamplingParams;
    for (const k of ['maxStep', 'guidance', 'guidanceOver'] as const) {
      if (k in o || base[k] !== undefined) (p as unknown as Record<string, unknown>)[k] = k in o ? o[k] : base[k];
    }
    if (!(typeof p.temperature === 'number' && p.temperature > 0 && Number.isFinite(p.temperature))) {
      throw new InputError(`temperature of ${f}`, `expected a number > 0, got ${p.temperature}`);
    }
    if (p.topP !== null && !(typeof p.topP === 'number' && p.topP > 0 && p.topP <= 1)) {
      throw new InputError(`top-p of ${f}`, `expected a number in (0, 1], got ${p.topP}`);
    }
    if (p.maxStep !== undefined && !(f === 'tempo' && typeof p.maxStep === 'number' && p.maxStep > 0 && Number.isFinite(p.maxStep))) {
      throw new InputError(`maxStep of ${f}`, f === 'tempo' ? `expected a number > 0, got ${p.maxStep}` : 'only the tempo family has one');
    }
    if (p.guidance !== undefined && !(typeof p.guidance === 'number' && p.guidance >= 0 && Number.isFinite(p.guidance))) {
      throw new InputError(`guidance of ${f}`, `expected a number >= 0, got ${p.guidance}`);
    }
    if (p.guidanceOver !== undefined && !(f === 'pitch' && (GUIDANCE_OVER as readonly unknown[]).includes(p.guidanceOver))) {
      throw new InputError(`guidanceOver of ${f}`, f === 'pitch' ? `expected ${GUIDANCE_OVER.join(' or ')}, got ${JSON.stringify(p.guidanceOver)}` : 'only the pitch family has one');
    }
    out[f] = p;
  }
  for (const k of Object.keys(overrides)) {
    if (!(FAMILIES as readonly string[]).includes(k)) throw new InputError('sampling', `unknown family '${k}' (expected one of ${FAMILIES.join(', ')})`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Logits processors: one family's logits in, new logits out (-Infinity: cannot come out).

export type LogitsProcessor = (logits: Float64Array) => Float64Array;

/** The grammar mask: every value outside `allowed` (indices into the logits) gets -Infinity. */
export function allowOnly(allowed: readonly number[]): LogitsProcessor {
  return (logits) => {
    const out = new Float64Array(logits.length).fill(-Infinity);
    for (const i of allowed) {
      if (!(Number.isInteger(i) && i >= 0 && i < logits.length)) throw new RangeError(`allowOnly: expected indices in 0..${logits.length - 1}, got ${i}`);
      out[i] = logits[i] as number;
    }
    return out;
  };
}

/** Temperature t > 0: logits / t (t > 1 flattens the distribution, t < 1 sharpens it). */
export function withTemperature(t: number): LogitsProcessor {
  return (logits) => {
    const out = new Float64Array(logits.length);
    for (let i = 0; i < logits.length; i++) out[i] = (logits[i] as number) / t;
    return out;
  };
}

/** `logits` (copied into float64) through `processors`, in order. */
export function processLogits(logits: ArrayLike<number>, processors: readonly LogitsProcessor[]): Float64Array {
  let out: Float64Array = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] as number;
  for (const p of processors) out = p(out);
  return out;
}

/**
 * Guided logits of B pieces from (1 + K) * B rows of `l` (width each): rows 0..B-1 conditioned on the emotion,
 * then K blocks of B rows for the K twins; out = twins + w * (emotion - twins), twins being the blocks' mean
 * (classifier-free guidance; w = 1 gives the emotion rows back). `w` is one weight, or one per column (`width`
 * of them: each family of a row its own, `guidanceWeights`).
 */
export function guideLogits(l: Float32Array, B: number, width: number, w: number | ArrayLike<number>, twins = 1): Float32Array {
  const n = B * width;
  if (l.length !== (1 + twins) * n) throw new RangeError(`guideLogits: expected ${(1 + twins) * n} logits, got ${l.length}`);
  if (typeof w !== 'number' && w.length !== width) throw new RangeError(`guideLogits: expected ${width} weights, got ${w.length}`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let u = 0;
    for (let k = 1; k <= twins; k++) u += l[k * n + i] as number;
    u /= twins;
    const wi = typeof w === 'number' ? w : (w[i % width] as number);
    out[i] = u + wi * ((l[i] as number) - u);
  }
  return out;
}

/**
 * Pitch-class guidance (in place on `out`, the guided rows of guideLogits): for the family at columns
 * [at, at + size) of each of the B rows, the shift w * (emotion - twins) is taken not value by value but on the
 * distribution over classes (`classOf[v]`, e.g. a pitch's pitch class): each value gets its emotion logit plus
 * (w - 1) * (log P_emotion(class) - log P_twins(class)), P from the log-softmax of the emotion row and of the
 * twins' mean row. The classes' shares move as value-wise guidance would move them, while the values within a
 * class keep the emotion row's own proportions (for pitch: mode and harmony are pushed, register is not).
 */
export function guideByClass(l: Float32Array, out: Float32Array, B: number, width: number, at: number, size: number, classOf: Int32Array, w: number, twins = 1): void {
  const n = B * width;
  const nc = classOf.reduce((m, c) => Math.max(m, c + 1), 0);
  const u = new Float64Array(size);
  const lc = new Float64Array(size);
  const lu = new Float64Array(size);
  const C = new Float64Array(nc);
  const U = new Float64Array(nc);
  const logSoftmax = (x: Float64Array, o: Float64Array) => {
    let m = -Infinity;
    for (let v = 0; v < size; v++) if ((x[v] as number) > m) m = x[v] as number;
    let s = 0;
    for (let v = 0; v < size; v++) s += Math.exp((x[v] as number) - m);
    const z = m + Math.log(s);
    for (let v = 0; v < size; v++) o[v] = (x[v] as number) - z;
  };
  const classLse = (x: Float64Array, o: Float64Array) => {
    o.fill(0);
    for (let v = 0; v < size; v++) { const k = classOf[v] as number; o[k] = (o[k] as number) + Math.exp(x[v] as number); }
    for (let k = 0; k < nc; k++) o[k] = Math.log(o[k] as number);
  };
  const c = new Float64Array(size);
  for (let b = 0; b < B; b++) {
    const base = b * width + at;
    for (let v = 0; v < size; v++) {
      c[v] = l[base + v] as number;
      let s = 0;
      for (let k = 1; k <= twins; k++) s += l[k * n + base + v] as number;
      u[v] = s / twins;
    }
    logSoftmax(c, lc);
    logSoftmax(u, lu);
    classLse(lc, C);
    classLse(lu, U);
    for (let v = 0; v < size; v++) {
      const k = classOf[v] as number;
      out[base + v] = (c[v] as number) + (w - 1) * ((C[k] as number) - (U[k] as number));
    }
  }
}

/** The pitch class (0-11) of each pitch value; values without a pitch get classes of their own (12, 13, ...). */
export function pitchClassOf(vocab: Vocab): Int32Array {
  let other = 12;
  return Int32Array.from(vocab.values('pitch'), (v) => {
    const m = /^Note_Pitch_(\d+)$/.exec(String(v));
    return m ? Number(m[1]) % 12 : other++;
  });
}

/**
 * The guidance weight of each column of a row of logits whose families lie side by side in `families` order
 * (sizes from `vocab`): the family's own (`table[f].guidance`) or else `guidance`.
 */
export function guidanceWeights(vocab: Vocab, families: readonly Family[], table: Record<Family, SamplingParams>, guidance: number): Float32Array {
  const out = new Float32Array(families.reduce((n, f) => n + vocab.size(f), 0));
  let at = 0;
  for (const f of families) {
    out.fill(table[f].guidance ?? guidance, at, at + vocab.size(f));
    at += vocab.size(f);
  }
  return out;
}

/**
 * Whether a piece with this sampling table and guidance `guidance` is guided (runs twins): some drawn family's
 * weight, its own or else `guidance`, is not 1 (the emotion family is never drawn).
 */
export function isGuided(table: Record<Family, SamplingParams>, guidance: number): boolean {
  return FAMILIES.some((f) => f !== 'emotion' && (table[f].guidance ?? guidance) !== 1);
}

/**
 * What guidance pushes away from: 'others', the three other quadrants (their mean logits); 'neutral', the
 * Emotion word 0 of pre-training (one twin, cheaper; a fine-tuned model never saw it).
 */
export type GuidanceContrast = 'others' | 'neutral';

/** The emotions of the twins of a piece guided away from `contrast`; a guided word costs 1 + their number. */
export function contrastEmotions(emotion: Emotion, contrast: GuidanceContrast): Emotion[] {
  return contrast === 'neutral' ? [0] : ([1, 2, 3, 4] as Emotion[]).filter((e) => e !== emotion);
}

// ---------------------------------------------------------------------------------------------------------------
// The draw at the end of the pipeline.

/** softmax(logits / t), computed in float64 with the maximum subtracted; -Infinity gives 0. */
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

/** An index drawn with probability proportional to `weights` (non-negative, not all zero), in index order. */
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
 * Top-p: the indices nucleus sampling keeps, in draw order: sort descending (ties by index), cumulate, keep up to
 * and including the first index where the cumulative sum exceeds p (everything when it never does).
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

/** Nucleus sampling: an index from the kept set, drawn in its order with the kept probabilities as weights. */
export function nucleusSample(probs: ArrayLike<number>, p: number, rng: Rng): number {
  const keep = nucleusSet(probs, p);
  return keep[weightedSample(keep.map((i) => probs[i] as number), rng)] as number;
}

/**
 * The draw that ends the pipeline: a value whose logit is -Infinity never comes out; a single possible value is
 * returned without using `rng`; otherwise softmax, then top-p (`topP`) or a weighted draw (null).
 */
export function drawValue(logits: ArrayLike<number>, topP: number | null, rng: Rng): number {
  let possible = 0;
  let only = -1;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] === -Infinity) continue;
    possible++;
    only = i;
  }
  if (possible === 0) throw new InputError('sampling', 'no value is allowed');
  if (possible === 1) return only;
  const probs = softmaxWithTemperature(logits, 1);
  return topP === null ? weightedSample(probs, rng) : nucleusSample(probs, topP, rng);
}

/**
 * One value from logits with EMOPIA's rule: temperature, then top-p (or weighted sampling when topP is null).
 * With `allowed` (indices), only those values can come out: the grammar mask runs first.
 *
 * When `allowed` is ascending without repeats (the grammar's lists always are), `drawAmong` does the same draw
 * faster; otherwise the pipeline above runs (it also reports indices out of range).
 */
export function sampleLogits(logits: ArrayLike<number>, params: SamplingParams, rng: Rng, allowed?: readonly number[]): number {
  if (allowed && isIndexList(allowed, logits.length)) return drawAmong(logits, allowed, params, rng);
  const processors = [...(allowed ? [allowOnly(allowed)] : []), withTemperature(params.temperature)];
  return drawValue(processLogits(logits, processors), params.topP, rng);
}

/** Whether `allowed` holds integer indices into n values, strictly ascending. */
function isIndexList(allowed: readonly number[], n: number): boolean {
  let prev = -1;
  for (let k = 0; k < allowed.length; k++) {
    const i = allowed[k] as number;
    if (!(Number.isInteger(i) && i > prev && i < n)) return false;
    prev = i;
  }
  return true;
}

/** Scratch of drawAmong (generation calls it several times per word): the allowed values' probabilities. */
let probsScratch = new Float64Array(256);

/** Scratch of nucleusOrder: the merge sort's second buffer. */
let mergeScratch = new Int32Array(256);

/**
 * The positions k < n with q[k] > 0, by descending q[k], ties by ascending k: what
 * `positions.sort((a, b) => q[b] - q[a] || a - b)` gives, without a comparator function (a third of a word's
 * sampling time went there) and without a float sort (typed-array sort of the keys, then each position placed by
 * binary search, cost 8-15 µs for 56-135 values): a bottom-up merge sort of the positions, started in index order,
 * comparing q only. Merging is stable (on a tie the left run, of lower positions, goes first), so equal
 * probabilities keep index order: the same order, 4-6x faster for EMOPIA's families.
 */
function nucleusOrder(q: Float64Array, n: number): Int32Array {
  if (mergeScratch.length < n) mergeScratch = new Int32Array(n);
  let m = 0;
  for (let k = 0; k < n; k++) if ((q[k] as number) > 0) m++;
  let src = new Int32Array(m);
  const out = src;
  m = 0;
  for (let k = 0; k < n; k++) if ((q[k] as number) > 0) src[m++] = k;
  // Runs of 8 by insertion sort (stable: an element moves left only past strictly smaller values).
  for (let lo = 0; lo < m; lo += 8) {
    const hi = Math.min(lo + 8, m);
    for (let i = lo + 1; i < hi; i++) {
      const x = src[i] as number;
      const v = q[x] as number;
      let j = i - 1;
      while (j >= lo && (q[src[j] as number] as number) < v) {
        src[j + 1] = src[j] as number;
        j--;
      }
      src[j + 1] = x;
    }
  }
  let dst = mergeScratch;
  for (let width = 8; width < m; width *= 2) {
    for (let lo = 0; lo < m; lo += 2 * width) {
      const mid = Math.min(lo + width, m);
      const hi = Math.min(lo + 2 * width, m);
      let i = lo;
      let j = mid;
      let o = lo;
      while (i < mid && j < hi) {
        const a = src[i] as number;
        const b = src[j] as number;
        if ((q[b] as number) > (q[a] as number)) {
          dst[o++] = b;
          j++;
        } else {
          dst[o++] = a;
          i++;
        }
      }
      while (i < mid) dst[o++] = src[i++] as number;
      while (j < hi) dst[o++] = src[j++] as number;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  if (src !== out) out.set(src.subarray(0, m));
  return out;
}

/**
 * sampleLogits with `allowed` strictly ascending: the value the pipeline (allowOnly, withTemperature, drawValue)
 * draws, with the same random numbers, computed over the allowed values only and without arrays per call.
 * Every sum runs in the pipeline's order: the values it adds and this skips are exact zeros (a masked value's
 * probability), which change no float sum; top-p sorts only the values of non-zero probability, which come
 * first in the pipeline's order too, and the draw then returns the same value.
 */
export function drawAmong(logits: ArrayLike<number>, allowed: readonly number[], params: SamplingParams, rng: Rng): number {
  const n = allowed.length;
  const t = params.temperature;
  if (probsScratch.length < n) probsScratch = new Float64Array(n);
  const q = probsScratch; // (n,): the scaled logits, then the probabilities, of allowed[0..n)
  let possible = 0;
  let only = -1;
  let max = -Infinity;
  for (let k = 0; k < n; k++) {
    const v = (logits[allowed[k] as number] as number) / t;
    q[k] = v;
    max = Math.max(max, v);
    if (v === -Infinity) continue;
    possible++;
    only = allowed[k] as number;
  }
  if (possible === 0) throw new InputError('sampling', 'no value is allowed');
  if (possible === 1) return only;
  let sum = 0;
  for (let k = 0; k < n; k++) {
    const e = Math.exp((q[k] as number) - max);
    q[k] = e;
    sum += e;
  }
  if (!Number.isFinite(sum) || sum <= 0) throw new InputError('logits', `expected finite values, got a softmax sum of ${sum}`);
  let total = 0;
  for (let k = 0; k < n; k++) {
    const p = (q[k] as number) / sum;
    q[k] = p;
    total += p;
  }
  if (params.topP === null) {
    // weightedSample over the allowed values, in index order.
    if (!(total > 0)) throw new InputError('weights', `expected a positive total, got ${total}`);
    const u = rng.next() * total;
    let acc = 0;
    let last = -1;
    for (let k = 0; k < n; k++) {
      const w = q[k] as number;
      if (w <= 0) continue;
      acc += w;
      last = k;
      if (u < acc) return allowed[k] as number;
    }
    return allowed[last] as number;
  }
  // nucleusSet: positions of non-zero probability, by descending probability (ties by index), up to and including
  // the first where the cumulative share exceeds topP; then weightedSample among them in that order.
  const order = nucleusOrder(q, n);
  let keep = order.length;
  let cum = 0;
  for (let k = 0; k < order.length; k++) {
    cum += (q[order[k] as number] as number) / total;
    if (cum > params.topP) {
      keep = k + 1;
      break;
    }
  }
  let kept = 0;
  for (let k = 0; k < keep; k++) kept += q[order[k] as number] as number;
  if (!(kept > 0)) throw new InputError('weights', `expected a positive total, got ${kept}`);
  const u = rng.next() * kept;
  let acc = 0;
  for (let k = 0; k < keep; k++) {
    acc += q[order[k] as number] as number;
    if (u < acc) return allowed[order[k] as number] as number;
  }
  return allowed[order[keep - 1] as number] as number; // rounding: u fell at the very top
}

// ---------------------------------------------------------------------------------------------------------------
// The grammar mask: what may come next, given the words so far.

/** Where the words so far stand in the layout (grammar.ts), as much as the grammar mask needs. */
export interface Layout {
  /** A Beat word has been seen in the current bar (Note words may follow). */
  readonly afterBeat: boolean;
  /** Last Beat position in the current bar, -1 after a Bar word. */
  readonly lastPos: number;
  /** The piece's current tempo (BPM) from its last tempo word, 0 before the first (for the tempo's maxStep). */
  readonly tempo: number;
  /** The pitch indices of the Note words since the last Metrical word: the notes struck at the current onset. */
  readonly onsetPitches: readonly number[];
}

/** Before any word. */
export const START_LAYOUT: Layout = Object.freeze({ afterBeat: false, lastPos: -1, tempo: 0, onsetPitches: Object.freeze([]) });

/**
 * The most Note words one onset may hold: the most at one onset in either training set (EMOPIA on the tracked
 * beats 18, 99.99% of its onsets at most 12; POP909 on its annotations 15). Without a limit a model can stay on
 * one onset for good: the shipped default, seed 0 of `evaluate`, once wrote 8,105 notes into 10 bars, 3,300 of
 * them on one onset, until the model's length stopped it. After the limit the next word is Metrical or EOS.
 */
export const MAX_NOTES_AT_ONSET = 18;

const valueOf = (vocab: Vocab, f: Family, word: ArrayLike<number>): unknown => vocab.values(f)[word[FAMILY_INDEX[f]] as number];

/**
 * The layout after `word`: a Bar word starts a bar, a Beat word moves the position and may set the tempo, a Note
 * word adds its pitch to the current onset's; other words change nothing. The tempo carries across bars.
 */
export function advanceLayout(layout: Layout, vocab: Vocab, word: ArrayLike<number>): Layout {
  const type = valueOf(vocab, 'type', word);
  if (type === 'Note') return { ...layout, onsetPitches: [...layout.onsetPitches, word[FAMILY_INDEX.pitch] as number] };
  if (type !== 'Metrical') return layout;
  const bb = valueOf(vocab, 'barbeat', word);
  if (bb === 'Bar') return { afterBeat: false, lastPos: -1, tempo: layout.tempo, onsetPitches: [] };
  if (typeof bb === 'string' && bb.startsWith('Beat_')) {
    const t = valueOf(vocab, 'tempo', word);
    const tempo = typeof t === 'string' && t.startsWith('Tempo_') ? Number(t.slice(6)) : layout.tempo;
    return { afterBeat: true, lastPos: Number(bb.slice(5)), tempo, onsetPitches: [] };
  }
  return layout;
}

/** `allowed` (tempo indices) without the tempos more than `maxStep` away from `current` (kept whole before any tempo). */
export function tempoWithinStep(values: readonly (string | number)[], allowed: readonly number[], current: number, maxStep: number | undefined): readonly number[] {
  if (maxStep === undefined || !(current > 0)) return allowed;
  const limit = Math.log1p(maxStep) + 1e-9;
  return allowed.filter((i) => {
    const v = values[i];
    return !(typeof v === 'string' && v.startsWith('Tempo_')) || Math.abs(Math.log(Number(v.slice(6)) / current)) <= limit;
  });
}

/**
 * The type indices allowed next (ascending): Metrical always; Note after a Beat of the current bar while its onset
 * holds fewer than MAX_NOTES_AT_ONSET notes; EOS when `stopAtEos`. Never Emotion, which only opens a piece.
 */
export function allowedTypes(vocab: Vocab, layout: Layout, stopAtEos: boolean): number[] {
  return [...typesAllowed(vocab, layout, stopAtEos)];
}

/** allowedTypes' four possible lists per vocabulary, made once (generation asks every word). */
const typeLists = new WeakMap<Vocab, (readonly number[])[]>();

/** allowedTypes, shared (not to be changed). */
function typesAllowed(vocab: Vocab, layout: Layout, stopAtEos: boolean): readonly number[] {
  const note = layout.afterBeat && layout.onsetPitches.length < MAX_NOTES_AT_ONSET;
  let lists = typeLists.get(vocab);
  if (!lists) typeLists.set(vocab, (lists = []));
  const key = (note ? 2 : 0) + (stopAtEos ? 1 : 0);
  let out = lists[key];
  if (!out) {
    const ok: WordType[] = ['Metrical'];
    if (note) ok.push('Note');
    if (stopAtEos) ok.push('EOS');
    out = lists[key] = Object.freeze(ok.filter((t) => vocab.has('type', t)).map((t) => vocab.encode('type', t)).sort((a, b) => a - b));
  }
  return out;
}

/**
 * The values of `family` allowed in a word of type `type` (grammar.ts); in a Metrical word, tempo and chord also
 * follow its bar-beat index `barbeat`: 0 for a Bar word, CONTI or a value for a Beat word.
 */
export function allowedValues(vocab: Vocab, grammar: AllowedValues, type: WordType, family: Family, barbeat?: number): readonly number[] {
  const ok = grammar[type][family];
  if (type !== 'Metrical' || (family !== 'tempo' && family !== 'chord')) return ok;
  if (barbeat === undefined) throw new RangeError(`allowedValues: the ${family} of a Metrical word needs its bar-beat`);
  const isBar = vocab.values('barbeat')[barbeat] === 'Bar';
  // Made once per grammar, vocabulary and case (generation asks every Metrical word).
  let byCase = metricalLists.get(grammar);
  if (!byCase || byCase.vocab !== vocab) metricalLists.set(grammar, (byCase = { vocab, lists: new Map() }));
  const key = `${family}|${isBar}`;
  let out = byCase.lists.get(key);
  if (!out) {
    const zero = vocab.has(family, 0) ? vocab.encode(family, 0) : -1;
    out = ok.filter((i) => (isBar ? i === zero : i !== zero));
    byCase.lists.set(key, out);
  }
  return out;
}

/** allowedValues' tempo and chord lists of a Metrical word, per grammar (its lists are never changed). */
const metricalLists = new WeakMap<AllowedValues, { vocab: Vocab; lists: Map<string, readonly number[]> }>();

// ---------------------------------------------------------------------------------------------------------------
// The bar-beat rule.

/** The bar-beat choices of a Metrical word after position `lastPos`: the Bar index (if allowed) and the later Beats. */
export function barBeatChoices(values: readonly (string | number)[], grammarOk: readonly number[], lastPos: number): { bar: number | undefined; later: number[] } {
  const bar = grammarOk.find((i) => values[i] === 'Bar');
  const later = grammarOk.filter((i) => {
    const v = values[i];
    return typeof v === 'string' && v.startsWith('Beat_') && Number(v.slice(5)) > lastPos;
  });
  return { bar, later };
}

/** barBeatChoices per (values, grammarOk) list and position, made once (generation asks every Metrical word). */
const choiceLists = new WeakMap<readonly number[], { values: readonly (string | number)[]; byPos: Map<number, { bar: number | undefined; later: number[] }> }>();

function cachedBarBeatChoices(values: readonly (string | number)[], grammarOk: readonly number[], lastPos: number): { bar: number | undefined; later: number[] } {
  let c = choiceLists.get(grammarOk);
  if (!c || c.values !== values) choiceLists.set(grammarOk, (c = { values, byPos: new Map() }));
  let out = c.byPos.get(lastPos);
  if (!out) c.byPos.set(lastPos, (out = barBeatChoices(values, grammarOk, lastPos)));
  return out;
}

/** P(Bar) under the family's temperature, over the values `grammarOk` allows a Metrical word (passed Beats included). */
export function barProbability(logits: ArrayLike<number>, grammarOk: readonly number[], bar: number, temperature: number): number {
  if (!isIndexList(grammarOk, logits.length) || logits.length === 0) {
    return softmaxWithTemperature(processLogits(logits, [allowOnly(grammarOk), withTemperature(temperature)]), 1)[bar] as number;
  }
  // The same softmax over the allowed values only (the masked ones add exact zeros to its sum), as drawAmong.
  let max = -Infinity;
  for (const i of grammarOk) max = Math.max(max, (logits[i] as number) / temperature);
  let sum = 0;
  let eBar = 0;
  for (const i of grammarOk) {
    const e = Math.exp((logits[i] as number) / temperature - max);
    sum += e;
    if (i === bar) eBar = e;
  }
  if (grammarOk.length === 0) sum = NaN; // every value masked: the pipeline's exp(-Infinity - -Infinity)
  if (!Number.isFinite(sum) || sum <= 0) throw new InputError('logits', `expected finite values, got a softmax sum of ${sum}`);
  return eBar / sum;
}

/**
 * The bar-beat of a Metrical word: Bar, or a Beat after `lastPos` (-1 right after a Bar). A small model often puts
 * mass on positions already passed (it tracks the position in the bar poorly: 37% of the pre-trained default
 * model's bar-beat mass on real POP909 validation clips), while its P(Bar) is calibrated (0.085 predicted, 0.090
 * observed there). Renormalising over the allowed values would inflate Bar by the passed positions' mass (0.05 ->
 * 0.20 on generated pieces), so Bar keeps the model's own probability (`barProbability`; one draw) and the rest goes
 * to the later Beats, sampled with the family's temperature and top-p among themselves (a second draw). After
 * Beat_15 only Bar remains.
 */
export function sampleBarBeat(
  values: readonly (string | number)[], grammarOk: readonly number[], logits: ArrayLike<number>, params: SamplingParams, lastPos: number, rng: Rng,
): number {
  const { bar, later } = cachedBarBeatChoices(values, grammarOk, lastPos);
  if (bar === undefined) return sampleLogits(logits, params, rng, later);
  if (later.length === 0) return bar;
  return rng.next() < barProbability(logits, grammarOk, bar, params.temperature) ? bar : sampleLogits(logits, params, rng, later);
}

// ---------------------------------------------------------------------------------------------------------------
// A whole word.

/** Everything the rules need to know that does not change during a generation. */
export interface SamplingRules {
  vocab: Vocab;
  grammar: AllowedValues;
  table: Record<Family, SamplingParams>;
  /** false: EOS is never sampled (benchmarks run to a limit). */
  stopAtEos: boolean;
}

export function samplingRules(vocab: Vocab, sampling: SamplingOverrides, stopAtEos: boolean): SamplingRules {
  return { vocab, grammar: typeAllowedValues(vocab), table: samplingTable(sampling), stopAtEos };
}

/** The type of the next word, from the first head's logits. */
export function sampleType(rules: SamplingRules, logits: ArrayLike<number>, layout: Layout, rng: Rng): number {
  return sampleLogits(logits, rules.table.type, rng, typesAllowed(rules.vocab, layout, rules.stopAtEos));
}

/** `allowed` pitch indices without those already struck at the onset: a key is not struck twice at once. */
export function withoutPitches(allowed: readonly number[], struck: readonly number[]): readonly number[] {
  return allowed.filter((i) => !struck.includes(i));
}

/**
 * The order the families of a word are drawn in: EMOPIA's (tempo, barbeat, chord, pitch, duration, velocity)
 * except that barbeat comes first, because tempo and chord depend on it. A family the word's type allows one
 * value of takes it without a draw.
 */
const DRAW_ORDER = ['barbeat', 'tempo', 'chord', 'pitch', 'duration', 'velocity'] as const;

/**
 * The word of type index `type` (FAMILIES order), its other families drawn from the second head's logits
 * (`logitsOf(family, word)`, `word` holding the families drawn so far, in DRAW_ORDER); emotion is 0, as in EMOPIA.
 */
export function sampleWord(rules: SamplingRules, type: number, logitsOf: (f: Family, word: readonly number[]) => ArrayLike<number>, layout: Layout, rng: Rng): number[] {
  const { vocab, grammar, table } = rules;
  const typeName = vocab.values('type')[type] as WordType;
  const word = zeroWord();
  word[FAMILY_INDEX.type] = type;
  for (const f of DRAW_ORDER) {
    const ok = grammar[typeName][f];
    word[FAMILY_INDEX[f]] = f === 'barbeat' && typeName === 'Metrical'
      ? sampleBarBeat(vocab.values('barbeat'), ok, logitsOf(f, word), table.barbeat, layout.lastPos, rng)
      : sampleLogits(logitsOf(f, word), table[f], rng, f === 'tempo'
        ? tempoWithinStep(vocab.values('tempo'), allowedValues(vocab, grammar, typeName, f, word[FAMILY_INDEX.barbeat]), layout.tempo, table.tempo.maxStep)
        : f === 'pitch' && layout.onsetPitches.length
          ? withoutPitches(allowedValues(vocab, grammar, typeName, f), layout.onsetPitches)
          : allowedValues(vocab, grammar, typeName, f, word[FAMILY_INDEX.barbeat]));
  }
  word[FAMILY_INDEX.emotion] = vocab.has('emotion', 0) ? vocab.encode('emotion', 0) : 0;
  return word;
}
