/**
 * A lock file (Node only) that keeps two processes from writing one thing at once: it holds the owner's process
 * id, is created atomically (complete when it appears), and is removed on release or at the owner's exit. A lock
 * whose process is no longer running is stale: the next taker takes it over with a one-line notice.
 */
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../errors.ts';
import { fsError, processAlive, stderrNote, type Note } from './atomic.ts';

export interface Lock {
  readonly path: string;
  /** Removes the lock file if it is still this process's; safe to call twice. */
  release(): void;
}

/** The process id a lock file names, or undefined when it is gone or unreadable. */
function ownerOf(path: string): number | 'gone' | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const pid = (JSON.parse(text) as { pid?: unknown }).pid;
    return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Creates `path` holding this process's id, atomically; false when it exists. */
function create(path: string): boolean {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ pid: process.pid, since: new Date().toISOString() })}\n`);
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Takes the lock file `path` for `what` (named in messages): an InputError when a running process holds it, a
 * notice when a dead one's is taken over.
 */
export function takeLock(path: string, what: string, note: Note = stderrNote): Lock {
  const busy = (pid: number) => new InputError(what, `in use by another process (pid ${pid}, lock file ${path}); wait for it to finish, or stop it`);
  try {
    mkdirSync(dirname(path), { recursive: true });
    for (let attempt = 0; attempt < 5; attempt++) {
      if (create(path)) return held(path);
      const owner = ownerOf(path);
      if (owner === 'gone') continue;
      if (owner !== undefined && processAlive(owner)) throw busy(owner);
      // Stale: move it aside first, so that of two processes taking it over only one removes it.
      const aside = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const moved = ownerOf(aside);
      if (typeof moved === 'number' && moved !== owner && processAlive(moved)) {
        // Another process took the lock over in between: give it back.
        try {
          linkSync(aside, path);
        } finally {
          rmSync(aside, { force: true });
        }
        throw busy(moved);
      }
      rmSync(aside, { force: true });
      note(`${what}: took over the lock of ${owner === undefined ? 'an unknown process' : `process ${owner}`}, which is no longer running`);
    }
  } catch (err) {
    throw fsError(err, path);
  }
  throw new InputError(what, `could not take the lock file ${path}; other processes keep taking it`);
}

function held(path: string): Lock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    if (ownerOf(path) === process.pid) rmSync(path, { force: true });
  };
  process.on('exit', release);
  return { path, release };
}
