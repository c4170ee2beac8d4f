/**
 * Reading a user's file (Node only) with a one-line InputError naming the file and the cause, instead of Node's
 * multi-line ENOENT/EISDIR errors. Every command that opens an input file should read it through here.
 */
import { readFileSync } from 'node:fs';
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
