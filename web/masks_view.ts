/**
 * "Learn the masks": `emopia explain masks` made interactive. The numbers are the CLI's own walkthrough
 * (src/core/walkthrough.ts, as `emopia explain masks`), computed in a worker each time a length changes.
 */
import type { MaskWalkthrough } from '../src/core/walkthrough.ts';
import type { FromWorker, MasksRequest } from './protocol.ts';

const MAX_LEN = 32; // as the CLI's

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
};

type Fmt = (v: number) => { text: string; cls?: string; bg?: string };
const bit: Fmt = (v) => ({ text: String(v), cls: v ? 'one' : 'zero' });
const num: Fmt = (v) => (v <= -1e8 ? { text: '-1e9', cls: 'blocked' } : { text: v.toFixed(4) });
/** A diverging heat colour for values in [-1, 1]. */
const heat: Fmt = (v) => {
  const a = Math.min(1, Math.abs(v));
  const bg = v >= 0 ? `rgba(208, 69, 47, ${a.toFixed(3)})` : `rgba(47, 111, 179, ${a.toFixed(3)})`;
  return { text: v.toFixed(3), bg };
};

function matrix(rows: number[][], fmt: Fmt, caption: string, testid?: string): HTMLTableElement {
  const t = el('table', undefined, 'matrix');
  if (testid) t.dataset.testid = testid;
  t.append(el('caption', caption));
  for (const r of rows) {
    const tr = el('tr');
    for (const v of r) {
      const f = fmt(v);
      const td = el('td', f.text, f.cls);
      if (f.bg) td.style.background = f.bg;
      tr.append(td);
    }
    t.append(tr);
  }
  return t;
}

function group(title: string, text: string, tables: HTMLElement[], testid?: string): HTMLElement {
  const s = el('section');
  s.append(el('h3', title), el('p', text));
  const box = el('div', undefined, 'matrices');
  if (testid) box.dataset.testid = testid;
  box.append(...tables);
  s.append(box);
  return s;
}

function render(w: MaskWalkthrough): HTMLElement[] {
  const B = w.src_lengths.length;
  const S = w.src_tokens[0]?.length ?? 0;
  const T = w.tgt_tokens[0]?.length ?? 0;
  const o = w.causal_mask_offset.offset;
  const each = (ms: number[][][], fmt: Fmt, label: string) => ms.map((m, b) => matrix(m, fmt, `${label} ${b}`));
  return [
    group('1. A padded batch', `${B} source sentences of lengths ${w.src_lengths.join(', ')} padded with 0 to ${S} tokens; targets of lengths ${w.tgt_lengths.join(', ')} to ${T}.`,
      [matrix(w.src_tokens, (v) => ({ text: String(v), cls: v ? undefined : 'zero' }), 'source [B, S]'), matrix(w.tgt_tokens, (v) => ({ text: String(v), cls: v ? undefined : 'zero' }), 'target [B, T]')], 'padded-batch'),
    group('2. The padding mask [B, S]', 'Real tokens are 1.', [matrix(w.padding, bit, 'padding')], 'padding'),
    group(`3. The padding adjacency [B, S, S] = [${B}, ${S}, ${S}]`, 'Entry (i, j) is 1 only when query i and key j are both real tokens.', each(w.padding_mask, bit, 'sentence'), 'padding-adjacency'),
    group('4. Scores before masking', 'q·k/sqrt(d), random numbers from the seeded generator here.', each(w.scores, num, 'sentence'), 'scores'),
    group('   ... after masking', 'Every blocked score becomes -1e9 (finite, so a fully blocked row gives no NaN).', each(w.masked_scores, num, 'sentence'), 'masked-scores'),
    group('   ... after the softmax', 'Blocked keys get weight 0; a padded query gets a uniform row, never used.', each(w.attention_weights, num, 'sentence'), 'attention-weights'),
    group(`5. The causal mask [T, T] = [${T}, ${T}]`, `Query i sees keys 0..i. Decoding one token at a time, the query at position ${o} uses row ${o} alone (causalMask(1, {offset: ${o}})).`,
      [matrix(w.causal_mask, bit, 'causal'), matrix(w.causal_mask_offset.mask, bit, `offset ${o}`)], 'causal-mask'),
    group(`6. The cross mask [B, T, S] = [${B}, ${T}, ${S}]`, 'Target query t may read source key s when both are real tokens: two sequences of different lengths.', each(w.cross_mask, bit, 'pair'), 'cross-mask'),
    group('7. The positional encoding', `PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)): ${w.positional_encoding.length} positions x d = ${w.positional_encoding[0]?.length ?? 0}.`,
      [matrix(w.positional_encoding, heat, 'rows: positions, columns: dimensions')], 'positional-encoding'),
  ];
}

function lengths(id: string): number[] {
  const raw = (document.getElementById(id) as HTMLInputElement).value;
  const xs = raw.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (!xs.length || xs.some((n) => !Number.isInteger(n) || n < 1 || n > MAX_LEN)) throw new Error(`${id}: expected comma-separated lengths between 1 and ${MAX_LEN}, got '${raw}'`);
  return xs;
}

export function setupMasks(send: (req: MasksRequest, onDone: (m: FromWorker) => void) => void): { open: () => void } {
  const out = document.getElementById('masks') as HTMLElement;
  const error = document.getElementById('masks-error') as HTMLElement;
  let asked = 0;
  const update = () => {
    let req: MasksRequest;
    try {
      const srcLengths = lengths('src-lengths');
      const tgtLengths = lengths('tgt-lengths');
      if (srcLengths.length !== tgtLengths.length) throw new Error(`tgt-lengths: expected as many target lengths as source lengths (${srcLengths.length}), got ${tgtLengths.length}`);
      const dModel = Number((document.getElementById('d-model') as HTMLInputElement).value);
      const seed = Number((document.getElementById('mask-seed') as HTMLInputElement).value);
      if (!Number.isInteger(dModel) || dModel < 1 || dModel > 64) throw new Error(`d_model: expected an integer from 1 to 64, got ${dModel}`);
      if (!Number.isInteger(seed) || seed < 0) throw new Error(`seed: expected an integer >= 0, got ${seed}`);
      req = { type: 'masks', srcLengths, tgtLengths, dModel, seed };
    } catch (err) {
      error.textContent = (err as Error).message;
      error.hidden = false;
      return;
    }
    error.hidden = true;
    const id = ++asked;
    out.dataset.state = 'computing';
    send(req, (m) => {
      if (id !== asked) return; // a newer request is on its way
      if (m.type === 'masks') {
        out.replaceChildren(...render(m.walkthrough));
        out.dataset.state = 'ready';
        out.dataset.lengths = `${req.srcLengths.join(',')}/${req.tgtLengths.join(',')}`;
      } else if (m.type === 'error') {
        error.textContent = m.message;
        error.hidden = false;
      }
    });
  };
  for (const id of ['src-lengths', 'tgt-lengths', 'd-model', 'mask-seed']) document.getElementById(id)?.addEventListener('input', update);
  let opened = false;
  return {
    open: () => {
      if (!opened) update();
      opened = true;
    },
  };
}
