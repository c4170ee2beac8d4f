/** Parsers for option values shared by several commands. They throw UsageError (exit 2) on bad values. */
import { UsageError } from '../errors.ts';
import { BACKENDS, type BackendName } from '../backend.ts';

/** A parser of one number in [min, max] that passes `ok`; `what` names the kind in the message. */
function numberOption(name: string, what: string, ok: (n: number) => boolean, min: number, max: number) {
  const bounds = `${min > -Infinity ? ` >= ${min}` : ''}${max < Infinity ? ` <= ${max}` : ''}`;
  return (value: string): number => {
    const n = Number(value);
    // Number('') and Number(' ') are 0, so an empty value must be refused by hand.
    if (value.trim() === '' || !ok(n) || n < min || n > max) {
      throw new UsageError(`--${name}`, `expected ${what}${bounds}, got '${value}'`);
    }
    return n;
  };
}

export function parseIntOption(name: string, min = -Infinity, max = Infinity) {
  return numberOption(name, 'an integer', Number.isInteger, min, max);
}

export function parseFloatOption(name: string, min = -Infinity, max = Infinity) {
  return numberOption(name, 'a number', Number.isFinite, min, max);
}

/** "2,4" -> [2, 4] */
export function parseIntList(name: string, min = 0) {
  return (value: string): number[] =>
    value.split(',').map((s) => {
      const n = Number(s.trim());
      if (s.trim() === '' || !Number.isInteger(n) || n < min) {
        throw new UsageError(`--${name}`, `expected a comma-separated list of integers >= ${min}, got '${value}'`);
      }
      return n;
    });
}

/** "601-909" -> [601, 909] (an inclusive range of positive integers, first <= last). */
export function parseRangeOption(name: string) {
  return (value: string): [number, number] => {
    const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(value);
    const a = Number(m?.[1]);
    const b = Number(m?.[2]);
    if (m === null || a < 1 || b < a) throw new UsageError(`--${name}`, `expected a range FIRST-LAST of positive integers (e.g. 601-909), got '${value}'`);
    return [a, b];
  };
}

export function parseBackend(value: string): BackendName {
  if (!(BACKENDS as readonly string[]).includes(value)) {
    throw new UsageError('--backend', `expected one of ${BACKENDS.join('|')}, got '${value}'`);
  }
  return value as BackendName;
}

/** A quadrant the user asks for: 1..4 for Q1..Q4. */
export type Quadrant = 1 | 2 | 3 | 4;

function quadrantOf(value: string): Quadrant | null {
  const m = /^Q([1-4])$/i.exec(value.trim());
  return m ? (Number(m[1]) as Quadrant) : null;
}

/**
 * `--emotion Q1..Q4` (any case). Every command parses it here, so a bad value is the same usage error (exit 2)
 * everywhere.
 */
export function parseEmotionOption(value: string): Quadrant {
  const q = quadrantOf(value);
  if (q === null) throw new UsageError('--emotion', `expected Q1, Q2, Q3 or Q4, got '${value}'`);
  return q;
}

/** A comma-separated list of quadrants ("Q1,q3" -> [1, 3], repeats dropped); UsageError naming `--<name>`. */
export function parseEmotionList(name: string) {
  return (value: string): Quadrant[] => {
    const out: Quadrant[] = [];
    for (const raw of value.split(',')) {
      const q = quadrantOf(raw);
      if (q === null) throw new UsageError(`--${name}`, `expected quadrant names Q1, Q2, Q3 or Q4 separated by commas, got '${raw.trim()}'`);
      if (!out.includes(q)) out.push(q);
    }
    return out;
  };
}
