/**
 * Figures of one or more training runs for a model card, read from their train-log.jsonl:
 * steps, words, training time (the sum of each step's words / words-per-second, validation passes excluded),
 * the mean training loss per family over the last `--last` steps, and the last validation row per family.
 *
 *   node --import tsx scripts/run_summary.ts models/training/pop909-small models/default [--last 100]
 *
 * Prints a Markdown table (one column per run) for the model card.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAMILIES, type Family } from '../src/music/vocab.ts';

interface Row {
  kind: 'train' | 'valid';
  step: number;
  loss: number;
  losses: Record<Family, number>;
  words: number;
  wordsPerSec?: number;
}

interface Summary {
  run: string;
  firstStep: number;
  lastStep: number;
  words: number;
  seconds: number;
  train: { loss: number; losses: Record<Family, number>; steps: number };
  valid: Row | undefined;
}

function summarise(run: string, last: number): Summary {
  const rows = readFileSync(join(run, 'train-log.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row);
  const train = rows.filter((r) => r.kind === 'train');
  if (train.length === 0) throw new Error(`${run}/train-log.jsonl: expected training rows, got none`);
  // A resumed run may repeat steps after an interruption: the last row of each step counts.
  const byStep = new Map<number, Row>();
  for (const r of train) byStep.set(r.step, r);
  const steps = [...byStep.values()].sort((a, b) => a.step - b.step);
  const tail = steps.slice(-last);
  const mean = (f: (r: Row) => number): number => tail.reduce((s, r) => s + f(r), 0) / tail.length;
  const losses = Object.fromEntries(FAMILIES.map((f) => [f, mean((r) => r.losses[f])])) as Record<Family, number>;
  const valid = rows.filter((r) => r.kind === 'valid').at(-1);
  return {
    run,
    firstStep: steps[0]!.step,
    lastStep: steps.at(-1)!.step,
    words: steps.reduce((s, r) => s + r.words, 0),
    seconds: steps.reduce((s, r) => s + (r.wordsPerSec ? r.words / r.wordsPerSec : 0), 0),
    train: { loss: mean((r) => r.loss), losses, steps: tail.length },
    valid,
  };
}

const { values, positionals } = parseArgs({ options: { last: { type: 'string', default: '100' } }, allowPositionals: true });
const last = Number(values.last);
if (positionals.length === 0 || !Number.isInteger(last) || last < 1) {
  console.error('usage: node --import tsx scripts/run_summary.ts RUN_DIR... [--last N]');
  process.exit(2);
}
const runs = positionals.map((r) => summarise(r, last));
const cells = (f: (s: Summary) => string): string => `| ${runs.map(f).join(' | ')} |`;
const fmt = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(3));
console.log(`| | ${runs.map((s) => s.run).join(' | ')} |`);
console.log(`|---|${runs.map(() => '---').join('|')}|`);
console.log(`| steps ${cells((s) => `${s.firstStep}..${s.lastStep}`)}`);
console.log(`| words trained ${cells((s) => s.words.toLocaleString('en'))}`);
console.log(`| training time, h (excl. validation) ${cells((s) => (s.seconds / 3600).toFixed(2))}`);
console.log(`| train loss, mean of last ${last} steps ${cells((s) => fmt(s.train.loss))}`);
console.log(`| valid loss ${cells((s) => (s.valid ? `${fmt(s.valid.loss)} (step ${s.valid.step})` : '-'))}`);
for (const f of FAMILIES) {
  console.log(`| ${f}: train / valid ${cells((s) => `${fmt(s.train.losses[f])} / ${fmt(s.valid?.losses[f])}`)}`);
}
