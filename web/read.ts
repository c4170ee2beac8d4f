/**
 * "Read a piece": a dropped or chosen MIDI file's piano roll, its compound words (the eight families per word)
 * and the shipped classifier's emotion with the four probabilities. A file that cannot be read gets one line.
 */
// The browser barrel's modules (src/browser.ts exports all of these), imported one by one so that this thread
// does not load tfjs, which only the worker needs.
import { FAMILIES, midiToScore, scoreToWords, type Score, type Vocab } from '../src/music/index.ts';
import { classifierFromJson } from '../src/classify/load.ts';
import { classifyScore } from '../src/classify/classify.ts';
import { QUADRANTS, type ClassifierJSON } from '../src/classify/model.ts';
import type { PianoRoll } from './roll.ts';

const NAMES = ['happy', 'tense', 'sad', 'calm'] as const;
const MAX_ROWS = 600;

export interface ReadSetup {
  base: string;
  vocab: Promise<Vocab>;
  roll: PianoRoll;
  onScore: (score: Score | null, roll: PianoRoll) => void;
}

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
};

function wordsTable(vocab: Vocab, words: Int32Array): HTMLElement {
  const n = words.length / FAMILIES.length;
  const wrap = el('div');
  wrap.append(el('p', `${n} compound words${n > MAX_ROWS ? ` (the first ${MAX_ROWS} shown)` : ''}.`));
  const table = el('table');
  const head = el('tr');
  for (const h of ['#', ...FAMILIES]) head.append(el('th', h));
  table.append(head);
  for (let i = 0; i < Math.min(n, MAX_ROWS); i++) {
    const tr = el('tr');
    tr.append(el('td', String(i)));
    FAMILIES.forEach((f, j) => {
      const v = words[i * FAMILIES.length + j] as number;
      tr.append(el('td', v === 0 ? '·' : String(vocab.values(f)[v])));
    });
    table.append(tr);
  }
  wrap.append(table);
  return wrap;
}

export function setupRead({ base, vocab, roll, onScore }: ReadSetup): void {
  const input = document.getElementById('file') as HTMLInputElement;
  const drop = document.getElementById('drop') as HTMLElement;
  const error = document.getElementById('read-error') as HTMLElement;
  const result = document.getElementById('classify') as HTMLElement;
  const table = document.getElementById('words') as HTMLElement;
  let classifier: Promise<ClassifierJSON> | null = null;
  const getClassifier = () =>
    (classifier ??= fetch(`${base}models/classifier/classifier.json`).then(async (r) => classifierFromJson(await r.json(), 'models/classifier/classifier.json')));

  const clear = () => {
    result.replaceChildren();
    delete result.dataset.quadrant;
    delete result.dataset.probabilities;
    table.replaceChildren();
    roll.show(null);
    onScore(null, roll);
  };

  async function read(file: File): Promise<void> {
    clear();
    error.hidden = true;
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const score = midiToScore(bytes, file.name);
      const v = await vocab;
      const { words } = scoreToWords(score, v, {}, file.name);
      const c = classifyScore(await getClassifier(), score, file.name);
      roll.show(score);
      onScore(score, roll);
      result.dataset.quadrant = c.name;
      result.dataset.probabilities = JSON.stringify(c.probs);
      result.append(el('div', `${file.name}: ${c.name} ${NAMES[c.quadrant - 1]}`, 'q'));
      QUADRANTS.forEach((q, k) => {
        const p = c.probs[k] as number;
        const row = el('div', undefined, 'prob');
        const bar = el('div', undefined, 'bar');
        bar.style.width = `${(100 * p).toFixed(1)}%`;
        const track = el('div');
        track.append(bar);
        row.append(el('span', `${q} ${NAMES[k]}`), track, el('span', p.toFixed(3)));
        result.append(row);
      });
      table.append(wordsTable(v, words));
    } catch (err) {
      const why = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
      error.textContent = why.startsWith(file.name) ? why : `${file.name}: ${why}`;
      error.hidden = false;
    }
  }

  input.addEventListener('change', () => {
    const f = input.files?.[0];
    if (f) void read(f);
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void read(f);
  });
}
