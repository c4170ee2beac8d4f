/**
 * Bar recall: a sampling rule that lets a piece repeat itself, as music does.
 *
 * Real EMOPIA clips repeat: 12-21% of their bars nearly repeat an earlier bar (same onsets, mostly the same pitch
 * classes). Our models, sampled at temperature 1, almost never do (0-2%): a small model does not learn to copy a
 * bar from 20-80 words back, and colder sampling repeats only by freezing the harmony everywhere (the model
 * card's "Repetition"). Recall asks for repetition where it belongs, bar by bar: when a new bar starts, with
 * probability `share` it recalls an earlier bar (1, 2 or 4 bars back, drawn uniformly among those that exist),
 * and while the bar is written every family whose value the recalled bar implies gets `bonus` added to that
 * value's logit (in nats, before temperature):
 *   - type: Note while the recalled bar's onset at the current position has notes not yet struck, Metrical once
 *     it has none left (nothing at a position the recalled bar has no onset at);
 *   - bar-beat: the recalled bar's next onset after the current position (Bar after its last);
 *   - chord: the recalled bar's chord at the drawn position;
 *   - pitch: the recalled onset's pitches not yet struck at the current onset.
 * Duration, velocity and tempo are the model's own.
 *
 * How hard: a bonus on a value that the model itself drew for the recalled bar favours the model's likelier values:
 * over that draw, P(v) becomes about P(v)(1 + (e^bonus - 1) P(v)) / Z, a colder distribution. A moderate bonus is
 * therefore no gentler copy: the recalled bars came out thinner (fewer notes per onset, and shorter notes while
 * durations were recalled too: Q3's notes 0.67 of the real clips' length, polyphony 0.72-0.77 in Q2-Q4 with share
 * 0.5 and bonus 3 on seed 1, against 0.87 and 0.81-0.89 without recall). A large bonus (30 nats: certain, wherever
 * the grammar allows the value, and it always allows a value of an earlier bar of the same piece) copies the
 * recalled bar's onsets, chords and pitches, whose distribution is the model's own; `share` then says how often.
 * Between the two, where the model disagrees strongly the bar goes its own way, and the bonus follows from wherever
 * the bar is (the implied values are always read at the current position).
 *
 * Randomness: the track's rng, drawn once or twice per Bar word, and only when recall is on (share > 0): without
 * recall the random stream, and so every seeded piece, is what it was.
 */
import { InputError } from '../errors.ts';
import { FAMILY_INDEX, type Family, type Vocab } from '../music/vocab.ts';
import type { Rng } from '../random.ts';
import type { Layout } from './sampling.ts';

/** How often a bar recalls an earlier one, and how hard. */
export interface RecallOptions {
  /** Probability in [0, 1] that a new bar recalls an earlier bar (0: off). */
  share: number;
  /** Logit bonus (nats, >= 0) for the values the recalled bar implies. */
  bonus: number;
}

/** How far back a recalled bar may lie, in bars (drawn uniformly among those that exist). */
export const RECALL_PERIODS: readonly number[] = Object.freeze([1, 2, 4]);
const LONGEST_PERIOD = Math.max(...RECALL_PERIODS);

/** One onset of a bar: its Beat word and the Note words struck there, in order. */
interface Onset {
  readonly pos: number;
  readonly beat: readonly number[];
  readonly notes: number[][];
}

/** A track's bars so far and the bar the current one recalls. */
export interface RecallState {
  readonly options: RecallOptions;
  /** The last completed bars, at most the longest of RECALL_PERIODS (the one being written is `current`). */
  readonly bars: Onset[][];
  /** The bar being written; null before the first Bar word. */
  current: Onset[] | null;
  /** The earlier bar the current one recalls, or null. */
  source: readonly Onset[] | null;
}

/** Checks `options`; `what` names them in errors. */
export function checkRecall(options: RecallOptions, what = 'recall'): RecallOptions {
  const { share, bonus } = options;
  if (!(typeof share === 'number' && share >= 0 && share <= 1)) throw new InputError(what, `expected a share in [0, 1], got ${share}`);
  if (!(typeof bonus === 'number' && Number.isFinite(bonus) && bonus >= 0)) throw new InputError(what, `expected a bonus >= 0, got ${bonus}`);
  return { share, bonus };
}

/** A fresh state (no bars yet). */
export function openRecall(options: RecallOptions): RecallState {
  return { options: checkRecall(options), bars: [], current: null, source: null };
}

/** True when recall can change anything (share and bonus above 0). */
export const recallActive = (options: RecallOptions | undefined): options is RecallOptions => !!options && options.share > 0 && options.bonus > 0;

/** Per vocabulary: the Bar index, each bar-beat index's position (-1 for non-Beats), the type indices. */
interface Codes {
  bar: number;
  pos: Int32Array;
  metrical: number;
  note: number;
}
const codesOf = new WeakMap<Vocab, Codes>();
function codes(vocab: Vocab): Codes {
  let c = codesOf.get(vocab);
  if (!c) {
    const values = vocab.values('barbeat');
    const pos = Int32Array.from(values, (v) => (typeof v === 'string' && v.startsWith('Beat_') ? Number(v.slice(5)) : -1));
    c = { bar: vocab.encode('barbeat', 'Bar'), pos, metrical: vocab.encode('type', 'Metrical'), note: vocab.encode('type', 'Note') };
    codesOf.set(vocab, c);
  }
  return c;
}

/**
 * Adds `word` (FAMILIES order) to the state. At a Bar word the bar written so far is completed and, when `rng` is
 * given, the new bar may recall an earlier one (a prompt's words are added without an rng: they recall nothing).
 */
export function recallWord(state: RecallState, vocab: Vocab, word: readonly number[], rng?: Rng): void {
  const c = codes(vocab);
  const type = word[FAMILY_INDEX.type];
  if (type === c.metrical) {
    const bb = word[FAMILY_INDEX.barbeat] as number;
    if (bb === c.bar) {
      if (state.current) state.bars.push(state.current);
      if (state.bars.length > LONGEST_PERIOD) state.bars.shift();
      state.current = [];
      state.source = null;
      if (rng && state.bars.length > 0 && rng.next() < state.options.share) {
        const periods = RECALL_PERIODS.filter((k) => k <= state.bars.length);
        const k = periods[Math.min(periods.length - 1, Math.floor(rng.next() * periods.length))] as number;
        state.source = state.bars[state.bars.length - k] as Onset[];
      }
    } else if (state.current && (c.pos[bb] ?? -1) >= 0) {
      state.current.push({ pos: c.pos[bb] as number, beat: [...word], notes: [] });
    }
  } else if (type === c.note && state.current) {
    state.current[state.current.length - 1]?.notes.push([...word]);
  }
}

/** The recalled bar's onset at `pos`, if it has one. */
const onsetAt = (source: readonly Onset[], pos: number): Onset | undefined => source.find((o) => o.pos === pos);

/** The indices of `family` the recalled bar implies next, given the layout and the word drawn so far; none: []. */
export function recalledValues(state: RecallState, vocab: Vocab, family: Family, layout: Layout, word: readonly number[]): number[] {
  const src = state.source;
  if (!src) return [];
  const c = codes(vocab);
  const here = layout.afterBeat ? onsetAt(src, layout.lastPos) : undefined;
  // The type only where the recalled bar has an onset (or the bar has just begun): at a position of the bar's own,
  // asking for Metrical would empty the onset (measured: polyphony 0.70-0.75 of the real clips' in Q2-Q4 instead
  // of 0.81-0.89 without recall), so the model decides there how many notes it strikes.
  if (family === 'type') {
    if (here) return [here.notes.length > layout.onsetPitches.length ? c.note : c.metrical];
    return layout.afterBeat ? [] : [c.metrical];
  }
  const type = word[FAMILY_INDEX.type];
  if (type === c.metrical) {
    if (family === 'barbeat') {
      const next = src.find((o) => o.pos > layout.lastPos);
      return [next ? (next.beat[FAMILY_INDEX.barbeat] as number) : c.bar];
    }
    if (family === 'chord') {
      const at = onsetAt(src, c.pos[word[FAMILY_INDEX.barbeat] as number] ?? -1);
      return at ? [at.beat[FAMILY_INDEX.chord] as number] : [];
    }
    return [];
  }
  if (type !== c.note || !here) return [];
  if (family === 'pitch') {
    const struck = layout.onsetPitches;
    return here.notes.map((n) => n[FAMILY_INDEX.pitch] as number).filter((p) => !struck.includes(p));
  }
  return [];
}

/** `logits` with the state's bonus added at the values the recalled bar implies (a copy; `logits` itself when none). */
export function recallLogits(state: RecallState, vocab: Vocab, family: Family, layout: Layout, word: readonly number[], logits: Float32Array): Float32Array {
  const at = recalledValues(state, vocab, family, layout, word);
  if (at.length === 0) return logits;
  const out = Float32Array.from(logits);
  for (const i of at) if (i >= 0 && i < out.length) out[i] = (out[i] as number) + state.options.bonus;
  return out;
}
