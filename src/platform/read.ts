/**
 * Reading a user's file (Node only) with a one-line InputError naming the file and the cause, instead of Node's
 * multi-line ENOENT/EISDIR errors. Every command that opens an input file should read it through here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { InputError } from '../errors.ts';

/** The bytes of `path`; a missing, folder or unreadable path is an InputError `<path>: <why>`. */
export function readInputFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected a file' : code === 'EACCES' ? 'permission denied' : `cannot read (${code ?? (err as Error).message})`;
    throw new InputError(path, why);
  }
}

/**
 * The parsed JSON of `path`: InputError `<path>: no such file (<hint>)` when it is missing and a hint says what
 * the folder should have been, `<path>: <why>` when it cannot be read, `<path>: not valid JSON (<parser's reason>)`.
 */
export function readJsonInput(path: string, hint?: string): unknown {
  if (hint !== undefined && !existsSync(path)) throw new InputError(path, `no such file (${hint})`);
  const text = new TextDecoder().decode(readInputFile(path));
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(path, `not valid JSON (${(err as Error).message})`);
  }
}
