/**
 * The grammar of compound words, as data (after MidiTok's CPWord token-type graph): which values of each family
 * are meaningful for each word type, so that a sampler can mask out the rest, and a checker that counts the
 * places where a word sequence breaks EMOPIA's layout.
 *
 * Layout (EMOPIA `corpus2events.py`): Emotion word; then per bar a Bar word, and per occupied position a Metrical
 * word (tempo|CONTI, chord|CONTI, Beat_k) followed by its Note words; a closing Bar; EOS.
 */
import { FAMILIES, FAMILY_INDEX, N_FAMILIES, WORD_TYPES, type Family, type Vocab, type VocabValue, type WordType } from './vocab.ts';

/** For each word type and family, the indices of the values that may appear (ascending). */
export type AllowedValues = Record<WordType, Record<Family, readonly number[]>>;

const isBeat = (v: VocabValue) => typeof v === 'string' && v.startsWith('Beat_');

/** Which values of `family` a word of `type` may carry. */
function allowed(type: WordType, family: Family, v: VocabValue): boolean {
  if (family === 'type') return v === type;
  switch (type) {
    case 'EOS':
      return v === 0;
    case 'Emotion':
      return family === 'emotion' ? typeof v === 'number' : v === 0;
    case 'Metrical':
      // 0 in tempo/chord is for the Bar word; Beat words carry CONTI or a value.
      if (family === 'tempo' || family === 'chord') return true;
      if (family === 'barbeat') return v !== 0;
      return v === 0;
    case 'Note':
      if (family === 'pitch' || family === 'duration' || family === 'velocity') return v !== 0;
      return v === 0;
  }
}

/** The allowed value indices per type and family, for masking logits in a sampler. */
export function typeAllowedValues(vocab: Vocab): AllowedValues {
  const out = {} as AllowedValues;
  for (const t of WORD_TYPES) {
    const per = {} as Record<Family, readonly number[]>;
    for (const f of FAMILIES) {
      const idx: number[] = [];
      vocab.values(f).forEach((v, i) => {
        if (allowed(t, f, v)) idx.push(i);
      });
      per[f] = idx;
    }
    out[t] = per;
  }
  return out;
}

/**
 * Problems in a word sequence (`words` flat, n*8 in FAMILIES order), as messages `word i: ...`. An empty list
 * means the sequence follows the layout. Stops after `limit` problems.
 */
export function checkWords(vocab: Vocab, words: ArrayLike<number>, limit = 20): string[] {
  const problems: string[] = [];
  const n = Math.floor(words.length / N_FAMILIES);
  const say = (i: number, msg: string) => problems.length < limit && problems.push(`word ${i}: ${msg}`);
  if (words.length % N_FAMILIES !== 0) say(n, `expected a multiple of ${N_FAMILIES} integers, got ${words.length}`);
  // Even the shortest piece has its Emotion word and EOS.
  if (n === 0) say(0, 'expected the Emotion word first, got no words');
  let lastPos = -1;
  let inBar = false;
  let afterMetrical = false;
  for (let i = 0; i < n && problems.length < limit; i++) {
    const get = (f: Family): VocabValue | undefined => vocab.values(f)[words[i * N_FAMILIES + FAMILY_INDEX[f]] as number];
    const type = get('type') as WordType | undefined;
    if (type === undefined) {
      say(i, 'type index out of range');
      continue;
    }
    for (const f of FAMILIES) {
      const v = get(f);
      if (v === undefined) say(i, `${f} index ${words[i * N_FAMILIES + FAMILY_INDEX[f]]} out of range`);
      else if (!allowed(type, f, v)) say(i, `${type} word cannot carry ${f} ${JSON.stringify(v)}`);
    }
    if (i === 0 && type !== 'Emotion') say(i, `expected the Emotion word first, got ${type}`);
    if (i > 0 && type === 'Emotion') say(i, 'Emotion word after the start');
    if (type === 'Metrical') {
      const bb = get('barbeat');
      if (bb === 'Bar') {
        if (get('tempo') !== 0 || get('chord') !== 0) say(i, 'Bar word with a tempo or chord');
        inBar = true;
        lastPos = -1;
        afterMetrical = false;
      } else if (bb !== undefined && isBeat(bb)) {
        const pos = Number((bb as string).slice(5));
        if (!inBar) say(i, 'Beat word before the first Bar');
        if (pos <= lastPos) say(i, `Beat_${pos} does not follow Beat_${lastPos}`);
        if (get('tempo') === 0 || get('chord') === 0) say(i, 'Beat word with tempo or chord 0 (expected CONTI or a value)');
        lastPos = pos;
        afterMetrical = true;
      }
    } else if (type === 'Note') {
      if (!afterMetrical) say(i, 'Note word without a Beat word before it in its bar');
    } else if (type === 'EOS') {
      if (i !== n - 1) say(i, 'EOS before the end');
    }
  }
  if (n > 0 && vocab.values('type')[words[(n - 1) * N_FAMILIES + FAMILY_INDEX.type] as number] !== 'EOS') say(n - 1, 'expected EOS last');
  return problems;
}
