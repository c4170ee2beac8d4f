/**
 * `emopia explain masks`: a step-by-step walkthrough of the three Transformer masks, computed by the library
 * (src/core/masks.ts, src/core/positional.ts) rather than written out by hand. As text it reads as a short
 * lesson with aligned matrices; with --json it prints one object of plain nested arrays.
 */
import type { Command } from 'commander';
import { initBackend, type BackendName } from '../../backend.ts';
import { UsageError } from '../../errors.ts';
import { maskWalkthrough, type MaskWalkthrough } from '../../core/walkthrough.ts';
import { parseBackend, parseIntList, parseIntOption } from '../options.ts';

const MAX_LEN = 32;

/** Right-aligned columns, one row per line, indented. */
function matrix(rows: Array<Array<number | string>>, fmt: (v: number) => string, indent = '    '): string {
  const cells = rows.map((r) => r.map((v) => (typeof v === 'number' ? fmt(v) : v)));
  const width = cells.flat().reduce((m, c) => Math.max(m, c.length), -Infinity);
  return cells.map((r) => indent + r.map((c) => c.padStart(width)).join('  ')).join('\n');
}

const bit = (v: number) => String(v);
const num = (v: number) => (v <= -1e8 ? '-1e9' : v.toFixed(4));

function batch(ms: number[][][], fmt: (v: number) => string, label: string): string {
  return ms.map((m, b) => `  ${label} ${b}:\n${matrix(m, fmt)}`).join('\n');
}

export function lessonText(w: MaskWalkthrough): string {
  const B = w.src_lengths.length;
  const S = w.src_tokens[0]?.length ?? 0;
  const T = w.tgt_tokens[0]?.length ?? 0;
  const d = w.positional_encoding[0]?.length ?? 0;
  const o = w.causal_mask_offset.offset;
  return [
    'Masks in a Transformer: 1 = may attend, 0 = blocked; masks combine with AND.',
    '',
    `1. A padded batch. ${B} source sentences of lengths ${w.src_lengths.join(', ')} are padded with 0 to ${S} tokens,`,
    `   and ${B} target sentences of lengths ${w.tgt_lengths.join(', ')} to ${T} tokens, so that each batch is one [B, L] array.`,
    '  source:',
    matrix(w.src_tokens, bit),
    '  target:',
    matrix(w.tgt_tokens, bit),
    '',
    `2. The padding mask [B, S] marks real tokens with 1:`,
    matrix(w.padding, bit),
    '',
    `3. The encoder's self-attention compares every pair of tokens, so the mask becomes an adjacency matrix`,
    `   [B, S, S] = [${B}, ${S}, ${S}]: entry (i, j) is 1 only when query i and key j are both real tokens.`,
    batch(w.padding_mask, bit, 'sentence'),
    '',
    '4. Attention scores q·k/sqrt(d) before masking (random numbers here, from a seeded generator):',
    batch(w.scores, num, 'sentence'),
    '   After masking, every blocked score is replaced by -1e9 (PyTorch uses -inf; finite keeps a fully blocked row from giving NaN):',
    batch(w.masked_scores, num, 'sentence'),
    '   After the softmax, blocked keys get weight 0. A row with no allowed key (a padded query) gets a uniform',
    '   distribution instead of NaN, because -1e9 is finite; its output is never used.',
    batch(w.attention_weights, num, 'sentence'),
    '',
    `5. The decoder's causal mask [T, T] = [${T}, ${T}]: query i may see keys 0..i only, never the future.`,
    matrix(w.causal_mask, bit),
    `   When decoding one token at a time with a cache, the query at position ${o} uses row ${o} alone`,
    `   (causalMask(1, {offset: ${o}})):`,
    matrix(w.causal_mask_offset.mask, bit),
    '',
    `6. The cross-attention mask [B, T, S] = [${B}, ${T}, ${S}] relates two sequences of different lengths:`,
    '   target query t may read source key s when both are real tokens.',
    batch(w.cross_mask, bit, 'pair'),
    '',
    `7. Attention ignores order, so a sinusoidal positional encoding is added to the embeddings:`,
    `   PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)), here ${w.positional_encoding.length} positions x d = ${d}:`,
    matrix(w.positional_encoding, (v) => v.toFixed(4)),
    '',
  ].join('\n');
}

function checkLengths(name: string, lengths: number[]): number[] {
  for (const n of lengths) {
    if (n < 1 || n > MAX_LEN) throw new UsageError(`--${name}`, `expected lengths between 1 and ${MAX_LEN}, got ${n}`);
  }
  return lengths;
}

export function register(program: Command): void {
  const explain = program.command('explain').description('explain a concept with numbers computed by the library');
  explain
    .command('masks')
    .description("a step-by-step walkthrough of the padding, causal and cross-attention masks and the positional table")
    .option('--src-lengths <list>', 'source sentence lengths, comma-separated', parseIntList('src-lengths', 1), [2, 4])
    .option('--tgt-lengths <list>', 'target sentence lengths, as many as source lengths', parseIntList('tgt-lengths', 1), [4, 3])
    .option('--d-model <n>', 'width of the positional table', parseIntOption('d-model', 1, 64), 6)
    .option('--seed <n>', 'seed of the random tokens and scores', parseIntOption('seed', 0), 1)
    .option('--backend <name>', 'tensor backend: wasm|cpu|tensorflow', parseBackend, 'wasm')
    .option('--json', 'print one JSON object instead of the lesson')
    .action(async (o: { srcLengths: number[]; tgtLengths: number[]; dModel: number; seed: number; backend: BackendName; json?: boolean }) => {
      const srcLengths = checkLengths('src-lengths', o.srcLengths);
      const tgtLengths = checkLengths('tgt-lengths', o.tgtLengths);
      if (srcLengths.length !== tgtLengths.length) {
        throw new UsageError('--tgt-lengths', `expected as many target lengths as source lengths (${srcLengths.length}), got ${tgtLengths.length}`);
      }
      await initBackend(o.backend);
      const w = maskWalkthrough({ srcLengths, tgtLengths, dModel: o.dModel, seed: o.seed });
      process.stdout.write(o.json ? `${JSON.stringify(w)}\n` : lessonText(w));
    });
}
