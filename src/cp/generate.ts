/**
 * Emotion-conditioned generation, as EMOPIA's `inference_from_scratch` (annahung31/EMOPIA
 * workspace/transformer/models.py): feed the prime [Emotion word, Bar word] (or a prompt's words behind the
 * Emotion word), then per step sample the type from the first head, feed the sampled type to the second head
 * and sample the other families; emotion is always 0 in generated words.
 *
 * Beyond EMOPIA:
 * - Values that cannot appear in a word of the sampled type are masked out (the tokenizer's grammar), and so
 *   are the choices that would break the layout checked by `checkWords`: no Emotion word after the start, no
 *   Note word before the first Beat of its bar, Beat positions increasing within a bar, a Bar word with tempo
 *   and chord 0 and a Beat word with tempo and chord not 0. Every generated sequence therefore decodes whole.
 * - Limits: `maxBars` (default 32) and `maxWords`, and the model's maxLen; EMOPIA has none and can run forever.
 *   When a limit stops the piece, an EOS word is appended; at maxBars the sampled Bar word that would open
 *   the next bar is kept before it, so that the piece ends as the tokenizer's layout does (closing Bar, EOS).
 * - Batches: `generateBatch` advances several pieces together (one batched step per word), each with its own
 *   rng; a piece comes out the same as when generated alone.
 *
 * Speed: the word loop runs on one of two engines (`engine`): fast_step.ts for one piece, CPTransformer.step
 * for a batch; either reads two small logit vectors per word, and sampling runs on the host.
 */
import { tf } from '../backend.ts';
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import { typeAllowedValues, type AllowedValues } from '../music/grammar.ts';
import {
  FAMILIES, FAMILY_INDEX, N_FAMILIES, barWord, emotionWord, eosWord, parseEmotion,
  type Emotion, type EmotionName, type Family, type Vocab, type WordType,
} from '../music/vocab.ts';
import { CPTransformer, NON_TYPE_FAMILIES, disposeState, type CPState } from './model.ts';
import { FastStepper } from './fast_step.ts';
import { conditionWord } from './emotion_input.ts';
import { sampleLogits, samplingTable, softmaxWithTemperature, type SamplingOverrides, type SamplingParams } from './sampling.ts';

export interface GenerateOptions {
  emotion: Emotion | EmotionName;
  /** Seed of the sampling (default 0); ignored when `rng` is given. */
  seed?: number;
  rng?: Rng;
  /** Stop after this many bars of new material (default 32). */
  maxBars?: number;
  /** Stop after this many generated words (default: no limit but the model's maxLen). */
  maxWords?: number;
  /** Per-family temperature / top-p overriding EMOPIA's table. */
  sampling?: SamplingOverrides;
  /**
   * Words to continue (flat n*8, FAMILIES order), e.g. a prompt MIDI's words. A leading Emotion word and a
   * trailing EOS are removed; the requested emotion's word is put in front.
   */
  prompt?: ArrayLike<number>;
  /** false: EOS is never sampled, generation runs to a limit (for benchmarks). Default true. */
  stopAtEos?: boolean;
  /**
   * `fast`: fast_step.ts, matrix products on the backend and the rest on the host (fewer kernels: faster for one
   * piece); `tensor`: CPTransformer.step, every operation on the backend (faster for batches, whose host loops
   * would grow with the batch). `auto` (default): fast for one piece, tensor for a batch. Both compute the same
   * logits (within 1e-4).
   */
  engine?: 'auto' | 'fast' | 'tensor';
  /**
   * Emotion guidance w (default 1: plain conditional sampling). With w != 1 every piece runs beside twins primed
   * with other Emotion words (see `contrast`) and fed the same words, and each family's logits are
   * l = l_twins + w * (l_emotion - l_twins) before sampling, l_twins being the twins' mean logits: w > 1 pushes
   * the piece away from what the model plays for the contrast (classifier-free guidance). Costs (1 + twins) x
   * the work per word.
   */
  guidance?: number;
  /**
   * What guidance pushes away from: 'others' (default), the three other quadrants (their mean logits);
   * 'neutral', the Emotion word 0 of pre-training (one twin, cheaper; a fine-tuned model never saw it).
   */
  contrast?: GuidanceContrast;
  /** Called after each generated word with the number generated so far. */
  onWord?: (generated: number) => void;
}

export type GuidanceContrast = 'others' | 'neutral';

/** The emotions of the twins of a piece guided away from `contrast`. */
export function contrastEmotions(emotion: Emotion, contrast: GuidanceContrast): Emotion[] {
  return contrast === 'neutral' ? [0] : ([1, 2, 3, 4] as Emotion[]).filter((e) => e !== emotion);
}

export type StopReason = 'eos' | 'maxBars' | 'maxWords' | 'maxLen';

export interface GenerateResult {
  /** All words (flat n*8): the fed ones (prime or emotion + prompt), the generated ones, and EOS last. */
  words: Int32Array;
  /** How many of `words` were fed before sampling began. */
  fed: number;
  /** Words sampled by the model (a maxBars stop's closing Bar included; the appended EOS not). */
  generated: number;
  /** Bars of new material (the fed last bar counts as the first). */
  bars: number;
  stoppedBy: StopReason;
}

/** Where the layout stands, to mask choices that would break it. */
interface Layout {
  /** A Beat word has been seen in the current bar (Note words may follow). */
  afterBeat: boolean;
  /** Last Beat position in the current bar, -1 after a Bar word. */
  lastPos: number;
}

const valueOf = (vocab: Vocab, f: Family, word: ArrayLike<number>): unknown => vocab.values(f)[word[FAMILY_INDEX[f]] as number];

function advance(layout: Layout, vocab: Vocab, word: ArrayLike<number>): void {
  if (valueOf(vocab, 'type', word) !== 'Metrical') return;
  const bb = valueOf(vocab, 'barbeat', word);
  if (bb === 'Bar') {
    layout.afterBeat = false;
    layout.lastPos = -1;
  } else if (typeof bb === 'string' && bb.startsWith('Beat_')) {
    layout.afterBeat = true;
    layout.lastPos = Number(bb.slice(5));
  }
}

/** The words to feed: the emotion word, then the prompt (minus its own Emotion word and EOS) or a Bar word. */
export function primeFor(vocab: Vocab, emotion: Emotion | EmotionName, prompt?: ArrayLike<number>): number[][] {
  const out = [emotionWord(vocab, emotion)];
  if (!prompt || prompt.length === 0) return [...out, barWord(vocab)];
  if (prompt.length % N_FAMILIES !== 0) throw new InputError('prompt', `expected a multiple of ${N_FAMILIES} integers, got ${prompt.length}`);
  const words: number[][] = [];
  for (let i = 0; i < prompt.length; i += N_FAMILIES) words.push(Array.from({ length: N_FAMILIES }, (_, j) => prompt[i + j] as number));
  words.forEach((w, i) => {
    for (const f of FAMILIES) {
      const v = w[FAMILY_INDEX[f]] as number;
      if (!(Number.isInteger(v) && v >= 0 && v < vocab.size(f))) throw new InputError('prompt', `word ${i}: expected a ${f} index in 0..${vocab.size(f) - 1}, got ${v}`);
    }
  });
  const type = (w: number[]) => valueOf(vocab, 'type', w);
  if (words.length && type(words[0] as number[]) === 'Emotion') words.shift();
  while (words.length && type(words[words.length - 1] as number[]) === 'EOS') words.pop();
  if (words.some((w) => type(w) === 'Emotion' || type(w) === 'EOS')) throw new InputError('prompt', 'expected Emotion only first and EOS only last');
  if (!words.length) return [...out, barWord(vocab)];
  return [...out, ...words];
}

/** Type indices allowed next, given the layout. */
function allowedTypes(vocab: Vocab, layout: Layout, stopAtEos: boolean): number[] {
  const ok: WordType[] = ['Metrical'];
  if (layout.afterBeat) ok.push('Note');
  if (stopAtEos) ok.push('EOS');
  return ok.filter((t) => vocab.has('type', t)).map((t) => vocab.encode('type', t)).sort((a, b) => a - b);
}

/**
 * The bar-beat of a Metrical word: Bar, or a Beat after `lastPos` (-1 right after a Bar). A small model often puts
 * mass on positions already passed (it tracks the position in the bar poorly: 37% of the pre-trained default
 * model's bar-beat mass on real POP909 validation clips), while its P(Bar) is calibrated (0.085 predicted, 0.090
 * observed there). Renormalising over the allowed values would inflate Bar by the passed positions' mass (0.05 ->
 * 0.20 on generated pieces), so Bar keeps the model's own probability (under the family's temperature, over the
 * values `grammarOk` allows a Metrical word) and the rest goes to the later Beats, sampled with the family's
 * temperature and top-p among themselves. After Beat_15 only Bar remains.
 */
export function sampleBarBeat(
  values: readonly (string | number)[], grammarOk: readonly number[], logits: ArrayLike<number>, params: SamplingParams, lastPos: number, rng: Rng,
): number {
  const bar = grammarOk.find((i) => values[i] === 'Bar');
  const later = grammarOk.filter((i) => {
    const v = values[i];
    return typeof v === 'string' && v.startsWith('Beat_') && Number(v.slice(5)) > lastPos;
  });
  if (bar === undefined) return sampleLogits(logits, params, rng, later);
  if (later.length === 0) return bar;
  const probs = softmaxWithTemperature(grammarOk.map((i) => logits[i] as number), params.temperature);
  return rng.next() < (probs[grammarOk.indexOf(bar)] as number) ? bar : sampleLogits(logits, params, rng, later);
}

/** Samples the non-type families of a word of type `typeName` from their logits (flat, FAMILIES order minus type). */
function sampleRest(
  vocab: Vocab, grammar: AllowedValues, typeName: WordType, logits: Float32Array, offsets: Record<Family, number>,
  table: Record<Family, SamplingParams>, layout: Layout, rng: Rng,
): Record<Family, number> {
  const word = {} as Record<Family, number>;
  const pick = (f: Family, allowed: readonly number[]): number => {
    const n = vocab.size(f);
    return sampleLogits(logits.subarray(offsets[f], offsets[f] + n), table[f], rng, allowed);
  };
  const allowedOf = (f: Family) => grammar[typeName][f];
  // EMOPIA's order of sampling: tempo, barbeat, chord, pitch, duration, velocity; barbeat comes first here
  // because tempo and chord depend on it (0 for Bar, CONTI or a value for a Beat).
  if (typeName === 'Metrical') {
    word.barbeat = sampleBarBeat(vocab.values('barbeat'), allowedOf('barbeat'), logits.subarray(offsets.barbeat, offsets.barbeat + vocab.size('barbeat')), table.barbeat, layout.lastPos, rng);
    const isBar = vocab.values('barbeat')[word.barbeat] === 'Bar';
    for (const f of ['tempo', 'chord'] as const) {
      const zero = vocab.has(f, 0) ? vocab.encode(f, 0) : -1;
      word[f] = pick(f, allowedOf(f).filter((i) => (isBar ? i === zero : i !== zero)));
    }
  }
  for (const f of NON_TYPE_FAMILIES) {
    if (word[f] !== undefined) continue;
    if (f === 'emotion') word[f] = vocab.has('emotion', 0) ? vocab.encode('emotion', 0) : 0;
    else word[f] = pick(f, allowedOf(f));
  }
  return word;
}

/** Feeds one word per sequence and reads the two heads' logits for the next words, flat per sequence. */
interface Stepper {
  /** words: B x 8 */
  feed(words: number[][]): void;
  /** [B * n_type] */
  typeLogits(): Float32Array;
  /** [B * sum n_f], non-type families in NON_TYPE_FAMILIES order */
  restLogits(types: number[]): Float32Array;
  dispose(): void;
}

function tensorStepper(model: CPTransformer, batch: number): Stepper {
  let state: CPState = model.initState(batch);
  let h: tf.Tensor | null = null;
  const read = (f: () => tf.Tensor): Float32Array => {
    const t = tf.tidy(f);
    const a = t.dataSync() as Float32Array;
    t.dispose();
    return a;
  };
  return {
    feed(ws) {
      const t = tf.tensor2d(ws, [batch, N_FAMILIES], 'int32'); // (B, 8)
      const r = model.step(t, state);
      t.dispose();
      h?.dispose();
      h = r.h; // (B, d)
      state = r.state;
    },
    typeLogits: () => read(() => model.typeLogits(h as tf.Tensor)), // (B, n_type)
    restLogits: (types) => read(() => model.restLogits(h as tf.Tensor, types, state)), // (B, sum n_f)
    dispose() {
      h?.dispose();
      disposeState(state);
    },
  };
}

/** The host-side pass (fast_step.ts): products on the backend, the rest on Float32Arrays. */
function fastStepper(model: CPTransformer, batch: number): Stepper {
  const f = new FastStepper(model, batch);
  return {
    feed: (ws) => f.feed(ws),
    typeLogits: () => f.typeLogits(),
    restLogits: (types) => f.restLogits(types),
    dispose: () => f.dispose(),
  };
}

/**
 * Guided logits of B pieces from (1 + K) * B rows of `l` (width each): rows 0..B-1 conditioned on the emotion,
 * then K blocks of B rows for the K twins; out = twins + w * (emotion - twins), twins being the blocks' mean.
 */
export function guideLogits(l: Float32Array, B: number, width: number, w: number, twins = 1): Float32Array {
  const n = B * width;
  if (l.length !== (1 + twins) * n) throw new RangeError(`guideLogits: expected ${(1 + twins) * n} logits, got ${l.length}`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let u = 0;
    for (let k = 1; k <= twins; k++) u += l[k * n + i] as number;
    u /= twins;
    out[i] = u + w * ((l[i] as number) - u);
  }
  return out;
}

/** One sequence being generated. */
interface Track {
  rng: Rng;
  words: number[][];
  layout: Layout;
  generated: number;
  bars: number;
  stoppedBy: StopReason | null;
}

/** Generates one piece with `model`; all tensors are released before returning. */
export function generate(model: CPTransformer, vocab: Vocab, opts: GenerateOptions): GenerateResult {
  return generateBatch(model, vocab, opts, [opts.rng ?? new Rng(opts.seed ?? 0)])[0] as GenerateResult;
}

/**
 * Generates one piece per rng, all in one batch (the same prime or prompt; one word per piece per step, so
 * the per-word cost is shared). Pieces that have stopped keep being fed an EOS word, and their outputs are
 * ignored. Each piece depends only on its rng and the options (up to float rounding of batched products).
 */
export function generateBatch(model: CPTransformer, vocab: Vocab, opts: GenerateOptions, rngs: readonly Rng[]): GenerateResult[] {
  const B = rngs.length;
  if (B < 1) throw new InputError('generation', 'expected at least one piece');
  const emotion = parseEmotion(opts.emotion);
  if (emotion === 0) throw new InputError('emotion', 'expected Q1, Q2, Q3 or Q4, got 0');
  const cfg = model.config;
  for (const f of FAMILIES) {
    if (cfg.nClasses[f] !== vocab.size(f)) throw new InputError('vocabulary', `family ${f} has ${vocab.size(f)} values but the model has ${cfg.nClasses[f]} classes`);
  }
  const maxBars = opts.maxBars ?? 32;
  const maxWords = opts.maxWords ?? Infinity;
  if (!(Number.isInteger(maxBars) && maxBars >= 1)) throw new InputError('maxBars', `expected an integer >= 1, got ${maxBars}`);
  if (!(maxWords === Infinity || (Number.isInteger(maxWords) && maxWords >= 1))) throw new InputError('maxWords', `expected an integer >= 1, got ${maxWords}`);
  const guidance = opts.guidance ?? 1;
  if (!(Number.isFinite(guidance) && guidance >= 0)) throw new InputError('guidance', `expected a number >= 0, got ${guidance}`);
  const guided = guidance !== 1;
  const table = samplingTable(opts.sampling);
  const grammar = typeAllowedValues(vocab);
  const stopAtEos = opts.stopAtEos ?? true;
  const fed = primeFor(vocab, emotion, opts.prompt);
  // The last fed word must leave room for the words to come and the EOS word (which is never fed).
  if (fed.length >= cfg.maxLen) throw new InputError('prompt', `${fed.length} words do not fit the model's maxLen of ${cfg.maxLen}`);
  const offsets = {} as Record<Family, number>;
  let restSize = 0;
  for (const f of NON_TYPE_FAMILIES) {
    offsets[f] = restSize;
    restSize += vocab.size(f);
  }
  const nType = vocab.size('type');
  const typeEOS = vocab.encode('type', 'EOS');
  const eos = eosWord(vocab);
  const tracks: Track[] = rngs.map((rng) => {
    const layout: Layout = { afterBeat: false, lastPos: -1 };
    for (const w of fed) advance(layout, vocab, w);
    return { rng, words: [...fed], layout, generated: 0, bars: 1, stoppedBy: null };
  });
  // Guided: after the B pieces come K blocks of B twins, fed the same words after their own Emotion word.
  const twinEmotions: Emotion[] = guided ? contrastEmotions(emotion, opts.contrast ?? 'others') : [];
  const K = twinEmotions.length;
  const rows = (1 + K) * B;
  const repeat = <T,>(xs: T[]): T[] => Array.from({ length: 1 + K }, () => xs).flat();
  // Each row's emotion, and the words as that row's model input (emotion_input.ts).
  const rowEmotion = [emotion, ...twinEmotions].flatMap((e) => tracks.map(() => e));
  const rowEmotionIndex = rowEmotion.map((e) => emotionWord(vocab, e)[FAMILY_INDEX.emotion] as number);
  const feedRows = (ws: number[][]): void => stepper.feed(ws.map((w, r) => conditionWord(cfg.emotionInput, w, rowEmotionIndex[r] as number)));
  const engine = opts.engine ?? 'auto';
  const stepper = engine === 'fast' || (engine === 'auto' && rows === 1) ? fastStepper(model, rows) : tensorStepper(model, rows);
  try {
    fed.forEach((w, i) => feedRows(rowEmotion.map((e) => (i === 0 ? emotionWord(vocab, e) : w))));
    for (let pos = fed.length; ; pos++) {
      for (const t of tracks) if (!t.stoppedBy && t.generated >= maxWords) t.stoppedBy = 'maxWords';
      if (pos >= cfg.maxLen) for (const t of tracks) t.stoppedBy ??= 'maxLen';
      if (tracks.every((t) => t.stoppedBy)) break;
      const tl = guided ? guideLogits(stepper.typeLogits(), B, nType, guidance, K) : stepper.typeLogits();
      const types = tracks.map((t, b) => {
        if (t.stoppedBy) return typeEOS;
        const type = sampleLogits(tl.subarray(b * nType, (b + 1) * nType), table.type, t.rng, allowedTypes(vocab, t.layout, stopAtEos));
        if (type === typeEOS) t.stoppedBy = 'eos';
        return type;
      });
      if (tracks.every((t) => t.stoppedBy)) break;
      const rl = guided ? guideLogits(stepper.restLogits(repeat(types)), B, restSize, guidance, K) : stepper.restLogits(types);
      const next = tracks.map((t, b) => {
        if (t.stoppedBy) return eos;
        const type = types[b] as number;
        const typeName = vocab.values('type')[type] as WordType;
        const sampled = sampleRest(vocab, grammar, typeName, rl.subarray(b * restSize, (b + 1) * restSize), offsets, table, t.layout, t.rng);
        const word = FAMILIES.map((f) => (f === 'type' ? type : sampled[f]));
        t.generated++;
        if (typeName === 'Metrical' && vocab.values('barbeat')[sampled.barbeat] === 'Bar') {
          if (t.bars >= maxBars) {
            t.words.push(word); // the closing Bar
            t.stoppedBy = 'maxBars';
            return eos;
          }
          t.bars++;
        }
        t.words.push(word);
        advance(t.layout, vocab, word);
        return word;
      });
      opts.onWord?.(tracks.reduce((m, t) => Math.max(m, t.generated), -Infinity));
      if (tracks.every((t) => t.stoppedBy)) break;
      feedRows(repeat(next));
    }
  } finally {
    stepper.dispose();
  }
  return tracks.map((t) => ({
    words: Int32Array.from([...t.words, eos].flat()),
    fed: fed.length,
    generated: t.generated,
    bars: t.bars,
    stoppedBy: t.stoppedBy ?? 'maxLen',
  }));
}
