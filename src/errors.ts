/**
 * Errors that reach a user. Their message reads `<what>: <why>`, naming what was expected and what came,
 * and the CLI prints it as one line `emopia: <message>`.
 *
 * - `InputError`: the input (a file, a tensor, a length) is not usable. CLI exit code 1.
 * - `UsageError`: the command was called wrongly (an unknown option value, a missing argument). Exit code 2.
 */
export class InputError extends Error {
  constructor(what: string, why: string) {
    super(`${what}: ${why}`);
    this.name = 'InputError';
  }
}

export class UsageError extends Error {
  constructor(what: string, why: string) {
    super(`${what}: ${why}`);
    this.name = 'UsageError';
  }
}

/** Formats a shape for messages: [2,4,6]. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Throws an InputError unless `shape` equals `expected` (a -1 in `expected` matches any size). */
export function assertShape(what: string, shape: readonly number[], expected: readonly number[]): void {
  const ok = shape.length === expected.length && expected.every((e, i) => e === -1 || e === shape[i]);
  if (!ok) {
    const exp = expected.map((e) => (e === -1 ? '*' : String(e))).join(',');
    throw new InputError(what, `expected shape [${exp}], got ${fmtShape(shape)}`);
  }
}
