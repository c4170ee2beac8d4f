/**
 * Emotion-conditioned generation, as EMOPIA's `inference_from_scratch` (annahung31/EMOPIA
 * workspace/transformer/models.py): feed the prompt (the Emotion word, then a Bar word or the words to continue),
 * then per step sample the type from the first head, feed the sampled type to the second head and sample the
 * other families; emotion is always 0 in generated words.
 *
 * This file is the loop: it feeds the model and keeps each piece's words, layout and limits. The sampling rules
 * (grammar mask, bar-beat rule, temperature and top-p, guidance) are sampling.ts's; the defaults are
 * generation_defaults.ts's.
 *
 * Beyond EMOPIA:
 * - Values that cannot appear in a word of the sampled type are masked out (the tokenizer's grammar), and so
 *   are the choices that would break the layout checked by `checkWords`: no Emotion word after the start, no
 *   Note word before the first Beat of its bar, Beat positions increasing within a bar, a Bar word with tempo
 *   and chord 0 and a Beat word with tempo and chord not 0. Every generated sequence therefore decodes whole.
 *   One onset holds at most MAX_NOTES_AT_ONSET notes, each a different key (sampling.ts).
 * - Limits: `maxBars` and `maxWords`, and the model's maxLen; EMOPIA has none and can run forever. When a limit
 *   stops the piece, an EOS word is appended; at maxBars the sampled Bar word that would open the next bar is
 *   kept before it, so that the piece ends as the tokenizer's layout does (closing Bar, EOS).
 * - Batches: `generateBatch` advances several pieces together (one batched step per word), each with its own
 *   rng; a piece comes out the same as when generated alone.
 *
 * Speed: the word loop runs on one of the engines of engine.ts (`engine`; `auto` is the `wasm` kernel where it
 * loads); every engine reads two small logit vectors per word, and sampling runs on the host.
 */
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import {
  FAMILIES, FAMILY_INDEX, N_FAMILIES, defaultPrompt, emotionWord, eosWord, parseEmotion,
  type Emotion, type EmotionName, type Family, type Vocab,
} from '../music/vocab.ts';
import { CPTransformer, NON_TYPE_FAMILIES } from './model.ts';
import { openStepper, type EngineChoice } from './engine.ts';
import { conditionWord } from './emotion_input.ts';
import {
  START_LAYOUT, advanceLayout, contrastEmotions, guideByClass, guideLogits, pitchClassOf, guidanceWeights, isGuided, sampleType, sampleWord, samplingRules,
  type GuidanceContrast, type Layout, type SamplingOverrides,
} from './sampling.ts';
import { GENERATION_DEFAULTS, settingsForQuadrant, type PerQuadrant } from './generation_defaults.ts';
import { checkRecall, openRecall, recallActive, recallLogits, recallWord, type RecallOptions, type RecallState } from './recall.ts';

/** Defaults: GENERATION_DEFAULTS (generation_defaults.ts). */
export interface GenerateOptions {
  emotion: Emotion | EmotionName;
  /** Seed of the sampling; ignored when `rng` is given. */
  seed?: number;
  rng?: Rng;
  /** Stop after this many bars of new material. */
  maxBars?: number;
  /** Stop after this many generated words (default: no limit but the model's maxLen). */
  maxWords?: number;
  /** Per-family temperature / top-p overriding EMOPIA's table. */
  sampling?: SamplingOverrides;
  /** Sampling and recall for the requested quadrant only, over `sampling` and `recall` (a model's generation.json "perQuadrant"). */
  perQuadrant?: PerQuadrant;
  /**
   * Words to continue (flat n*8, FAMILIES order), e.g. a MIDI file's words. The prompt fed to the model is the
   * requested emotion's word followed by these (a leading Emotion word and a trailing EOS removed), or by a Bar
   * word without them (`promptFor`).
   */
  prompt?: ArrayLike<number>;
  /** false: EOS is never sampled, generation runs to a limit (for benchmarks). */
  stopAtEos?: boolean;
  /**
   * The engine of engine.ts: `fast`, matrix products on the backend and the rest on the host (fewer kernels:
   * faster for one piece); `tensor`, every operation on the backend (faster for batches, whose host loops would
   * grow with the batch); `wasm`, the whole step in our WebAssembly SIMD kernel. `auto` (default): engine.ts's
   * `autoEngine` (wasm where it loads). All compute the same logits (within 1e-4).
   */
  engine?: EngineChoice;
  /**
   * Emotion guidance w (1: plain conditional sampling). With w != 1 every piece runs beside twins primed with
   * other Emotion words (see `contrast`) and fed the same words, and each family's logits are
   * l = l_twins + w * (l_emotion - l_twins) before sampling (sampling.ts `guideLogits`), l_twins being the twins'
   * mean logits: w > 1 pushes the piece away from what the model plays for the contrast (classifier-free
   * guidance). Costs (1 + twins) x the work per word: 4x for the contrast 'others', 2x for 'neutral'. A family
   * with its own `guidance` in `sampling` uses that instead; guided when any family's weight is not 1.
   */
  guidance?: number;
  /** What guidance pushes away from (sampling.ts `GuidanceContrast`). */
  contrast?: GuidanceContrast;
  /**
   * Bar recall (recall.ts): each new bar recalls an earlier one with probability `share`, whose values get `bonus`
   * nats on their logits. Default: none (share 0).
   */
  recall?: RecallOptions;
  /**
   * Called after each generated word with the number generated so far (the most of any piece), each piece's
   * words so far (prompt included, a maxBars stop's closing Bar too: the live arrays, to read during the call,
   * not to keep or change; a page draws the piece as it is written) and the bars begun so far (the most of any
   * piece; at most maxBars).
   */
  onWord?: (generated: number, pieces: ReadonlyArray<ReadonlyArray<readonly number[]>>, bars: number) => void;
}

/** Its home is sampling.ts; re-exported because GenerateOptions uses it. */
export type { GuidanceContrast };

export type StopReason = 'eos' | 'maxBars' | 'maxWords' | 'maxLen';

export interface GenerateResult {
  /** All words (flat n*8): the prompt, the generated ones, and EOS last. */
  words: Int32Array;
  /** How many of `words` are the prompt (fed before sampling began; the Emotion word included). */
  promptLength: number;
  /** Words sampled by the model (a maxBars stop's closing Bar included; the appended EOS not). */
  generated: number;
  /** Bars of new material (the prompt's last bar counts as the first). */
  bars: number;
  stoppedBy: StopReason;
}

const valueOf = (vocab: Vocab, f: Family, word: ArrayLike<number>): unknown => vocab.values(f)[word[FAMILY_INDEX[f]] as number];

/**
 * The prompt as fed to the model: the emotion word, then `words` (a prompt's own words, minus their Emotion word
 * and EOS) or, without them, a Bar word (EMOPIA's prompt).
 */
export function promptFor(vocab: Vocab, emotion: Emotion | EmotionName, words?: ArrayLike<number>): number[][] {
  if (!words || words.length === 0) return defaultPrompt(vocab, emotion);
  const out = [emotionWord(vocab, emotion)];
  if (words.length % N_FAMILIES !== 0) throw new InputError('prompt', `expected a multiple of ${N_FAMILIES} integers, got ${words.length}`);
  const given: number[][] = [];
  for (let i = 0; i < words.length; i += N_FAMILIES) given.push(Array.from({ length: N_FAMILIES }, (_, j) => words[i + j] as number));
  given.forEach((w, i) => {
    for (const f of FAMILIES) {
      const v = w[FAMILY_INDEX[f]] as number;
      if (!(Number.isInteger(v) && v >= 0 && v < vocab.size(f))) throw new InputError('prompt', `word ${i}: expected a ${f} index in 0..${vocab.size(f) - 1}, got ${v}`);
    }
  });
  const type = (w: number[]) => valueOf(vocab, 'type', w);
  if (given.length && type(given[0] as number[]) === 'Emotion') given.shift();
  while (given.length && type(given[given.length - 1] as number[]) === 'EOS') given.pop();
  if (given.some((w) => type(w) === 'Emotion' || type(w) === 'EOS')) throw new InputError('prompt', 'expected Emotion only first and EOS only last');
  if (!given.length) return defaultPrompt(vocab, emotion);
  return [...out, ...given];
}

/** One sequence being generated. */
interface Track {
  rng: Rng;
  words: number[][];
  layout: Layout;
  generated: number;
  bars: number;
  stoppedBy: StopReason | null;
  /** Bar recall's state, when recall is on. */
  recall: RecallState | null;
}

/** Generates one piece with `model`; all tensors are released before returning. */
export function generate(model: CPTransformer, vocab: Vocab, opts: GenerateOptions): GenerateResult {
  return generateBatch(model, vocab, opts, [opts.rng ?? new Rng(opts.seed ?? GENERATION_DEFAULTS.seed)])[0] as GenerateResult;
}

/**
 * Generates one piece per rng, all in one batch (the same prompt; one word per piece per step, so the per-word
 * cost is shared). Pieces that have stopped keep being fed an EOS word, and their outputs are ignored. Each piece
 * depends only on its rng and the options (up to float rounding of batched products).
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
  const maxBars = opts.maxBars ?? GENERATION_DEFAULTS.maxBars;
  const maxWords = opts.maxWords ?? GENERATION_DEFAULTS.maxWords;
  if (!(Number.isInteger(maxBars) && maxBars >= 1)) throw new InputError('maxBars', `expected an integer >= 1, got ${maxBars}`);
  if (!(maxWords === Infinity || (Number.isInteger(maxWords) && maxWords >= 1))) throw new InputError('maxWords', `expected an integer >= 1, got ${maxWords}`);
  const guidance = opts.guidance ?? GENERATION_DEFAULTS.guidance;
  if (!(Number.isFinite(guidance) && guidance >= 0)) throw new InputError('guidance', `expected a number >= 0, got ${guidance}`);
  const own = settingsForQuadrant(opts.sampling ?? {}, opts.recall, opts.perQuadrant, emotion); // this quadrant's sampling and recall
  const rules = samplingRules(vocab, own.sampling, opts.stopAtEos ?? GENERATION_DEFAULTS.stopAtEos);
  const prompt = promptFor(vocab, emotion, opts.prompt);
  // The last prompt word must leave room for the words to come and the EOS word (which is never fed).
  if (prompt.length >= cfg.maxLen) throw new InputError('prompt', `${prompt.length} words do not fit the model's maxLen of ${cfg.maxLen}`);
  // The second head's logits: the non-type families side by side, in NON_TYPE_FAMILIES order.
  const offsets = {} as Record<Family, number>;
  let restSize = 0;
  for (const f of NON_TYPE_FAMILIES) {
    offsets[f] = restSize;
    restSize += vocab.size(f);
  }
  const nType = vocab.size('type');
  // Each family's guidance weight: its own in the sampling table, else the piece's (emotion is never drawn).
  const typeW = rules.table.type.guidance ?? guidance;
  const restW = guidanceWeights(vocab, NON_TYPE_FAMILIES, rules.table, guidance);
  const guided = isGuided(rules.table, guidance);
  // Guidance on pitch over its classes (SamplingParams.guidanceOver): the pitch columns recomputed after guideLogits.
  const pitchClasses = rules.table.pitch.guidanceOver === 'classes' ? pitchClassOf(vocab) : undefined;
  const typeEOS = vocab.encode('type', 'EOS');
  const eos = eosWord(vocab);
  const recall = own.recall ? checkRecall(own.recall) : undefined;
  const tracks: Track[] = rngs.map((rng) => {
    const state = recallActive(recall) ? openRecall(recall) : null;
    if (state) for (const w of prompt) recallWord(state, vocab, w);
    return { rng, words: [...prompt], layout: prompt.reduce((l, w) => advanceLayout(l, vocab, w), START_LAYOUT), generated: 0, bars: 1, stoppedBy: null, recall: state };
  });
  // Guided: after the B pieces come K blocks of B twins, fed the same words after their own Emotion word.
  const twinEmotions: Emotion[] = guided ? contrastEmotions(emotion, opts.contrast ?? GENERATION_DEFAULTS.contrast) : [];
  const K = twinEmotions.length;
  const rows = (1 + K) * B;
  const repeat = <T,>(xs: T[]): T[] => (K === 0 ? xs : Array.from({ length: 1 + K }, () => xs).flat());
  // Each row's emotion, and the words as that row's model input (emotion_input.ts).
  const rowEmotion = [emotion, ...twinEmotions].flatMap((e) => tracks.map(() => e));
  const rowEmotionIndex = rowEmotion.map((e) => emotionWord(vocab, e)[FAMILY_INDEX.emotion] as number);
  // The rows as an array built by push, always packed (an Array.prototype.map result is holey or packed depending on
  // V8's optimisation state, and each change of kind threw away the engines' optimised feed; vocab.ts's zeroWord).
  const feedRows = (ws: number[][]): void => {
    const rowsIn: number[][] = [];
    for (let r = 0; r < ws.length; r++) rowsIn.push(conditionWord(cfg.emotionInput, ws[r] as number[], rowEmotionIndex[r] as number));
    stepper.feed(rowsIn);
  };
  const stepper = openStepper(model, rows, opts.engine ?? 'auto');
  try {
    prompt.forEach((w, i) => feedRows(rowEmotion.map((e) => (i === 0 ? emotionWord(vocab, e) : w))));
    for (let pos = prompt.length; ; pos++) {
      for (const t of tracks) if (!t.stoppedBy && t.generated >= maxWords) t.stoppedBy = 'maxWords';
      if (pos >= cfg.maxLen) for (const t of tracks) t.stoppedBy ??= 'maxLen';
      if (tracks.every((t) => t.stoppedBy)) break;
      const tl = guided ? guideLogits(stepper.typeLogits(), B, nType, typeW, K) : stepper.typeLogits();
      const types = tracks.map((t, b) => {
        if (t.stoppedBy) return typeEOS;
        const own = tl.subarray(b * nType, (b + 1) * nType);
        const type = sampleType(rules, t.recall ? recallLogits(t.recall, vocab, 'type', t.layout, [], own) : own, t.layout, t.rng);
        if (type === typeEOS) t.stoppedBy = 'eos';
        return type;
      });
      if (tracks.every((t) => t.stoppedBy)) break;
      let rl: Float32Array;
      if (guided) {
        const raw = stepper.restLogits(repeat(types));
        rl = guideLogits(raw, B, restSize, restW, K);
        if (pitchClasses) guideByClass(raw, rl, B, restSize, offsets.pitch, vocab.size('pitch'), pitchClasses, rules.table.pitch.guidance ?? guidance, K);
      } else rl = stepper.restLogits(types);
      const next = tracks.map((t, b) => {
        if (t.stoppedBy) return eos;
        const row = b * restSize;
        const logitsOf = (f: Family, w: readonly number[]) => {
          const own = rl.subarray(row + offsets[f], row + offsets[f] + vocab.size(f));
          return t.recall ? recallLogits(t.recall, vocab, f, t.layout, w, own) : own;
        };
        const word = sampleWord(rules, types[b] as number, logitsOf, t.layout, t.rng);
        t.generated++;
        if (valueOf(vocab, 'type', word) === 'Metrical' && valueOf(vocab, 'barbeat', word) === 'Bar') {
          if (t.bars >= maxBars) {
            t.words.push(word); // the closing Bar
            t.stoppedBy = 'maxBars';
            return eos;
          }
          t.bars++;
        }
        t.words.push(word);
        t.layout = advanceLayout(t.layout, vocab, word);
        if (t.recall) recallWord(t.recall, vocab, word, t.rng);
        return word;
      });
      if (opts.onWord) {
        opts.onWord(tracks.reduce((m, t) => Math.max(m, t.generated), -Infinity), tracks.map((t) => t.words), tracks.reduce((m, t) => Math.max(m, t.bars), 0));
      }
      if (tracks.every((t) => t.stoppedBy)) break;
      feedRows(repeat(next));
    }
  } finally {
    stepper.dispose();
  }
  return tracks.map((t) => ({
    words: Int32Array.from([...t.words, eos].flat()),
    promptLength: prompt.length,
    generated: t.generated,
    bars: t.bars,
    stoppedBy: t.stoppedBy ?? 'maxLen',
  }));
}
