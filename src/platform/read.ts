/**
 * Reading a user's file (Node only) with a one-line InputError naming the file and the cause, instead of Node's
 * multi-line ENOENT/EISDIR errors. Every command that opens an input file should read it through here.
 *
 * The size limit is checked while reading, not after: a FIFO, a device (`/dev/zero`) or standard input of
 * unbounded size stops at the limit instead of filling the memory.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { InputError } from '../errors.ts';

export interface ReadInputOptions {
  /** Reading stops with an InputError once the file is known to be larger than this (default 2 GiB). */
  maxBytes?: number;
}

/** Node's largest single Buffer on 64-bit platforms is about 4 GiB; inputs are far smaller than this. */
export const DEFAULT_MAX_INPUT_BYTES = 2 * 1024 * 1024 * 1024;
const CHUNK = 1 << 20;

function whyCannotRead(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT'
    ? 'no such file'
    : code === 'EISDIR'
      ? 'is a directory, expected a file'
      : code === 'EACCES'
        ? 'permission denied'
        : `cannot read (${code ?? (err as Error).message})`;
}

function tooLarge(path: string, maxBytes: number, size?: number): InputError {
  return new InputError(path, `file too large: ${size === undefined ? `more than ${maxBytes}` : size} bytes, the limit is ${maxBytes}`);
}

/** The bytes of `path`; a missing, folder, unreadable or too large path is an InputError `<path>: <why>`. */
export function readInputFile(path: string, opts: ReadInputOptions = {}): Uint8Array {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_INPUT_BYTES;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new InputError(path, whyCannotRead(err));
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new InputError(path, 'is a directory, expected a file');
    // A regular file says its size: refuse a large one before reading a byte. Devices, FIFOs and /proc files
    // report 0 or nothing useful, so the loop below counts as it reads.
    if (st.isFile() && st.size > maxBytes) throw tooLarge(path, maxBytes, st.size);
    const chunks: Uint8Array[] = [];
    let total = 0;
    // A regular file is read in one go (its size, plus one byte to see the end); anything else in chunks.
    let chunk = st.isFile() ? st.size + 1 : 64 * 1024;
    for (;;) {
      // At most one byte more than the limit is read, which is enough to know the file is too large.
      const want = Math.min(chunk, maxBytes + 1 - total);
      const buf = new Uint8Array(want);
      let n: number;
      try {
        n = readSync(fd, buf, 0, want, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue; // a non-blocking pipe with no data yet
        throw new InputError(path, whyCannotRead(err));
      }
      if (n === 0) break;
      chunk = Math.min(CHUNK, Math.max(4096, 2 * n));
      total += n;
      if (total > maxBytes) throw tooLarge(path, maxBytes);
      chunks.push(n === want ? buf : buf.subarray(0, n));
    }
    if (chunks.length === 1) return chunks[0] as Uint8Array;
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/**
 * The parsed JSON of `path`: InputError `<path>: no such file (<hint>)` when it is missing and a hint says what
 * the folder should have been, `<path>: <why>` when it cannot be read, `<path>: not valid JSON (<parser's reason>)`.
 */
export function readJsonInput(path: string, hint?: string, opts: ReadInputOptions = {}): unknown {
  if (hint !== undefined && !existsSync(path)) throw new InputError(path, `no such file (${hint})`);
  const text = new TextDecoder().decode(readInputFile(path, opts));
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(path, `not valid JSON (${(err as Error).message})`);
  }
}
