/**
 * Atomic writes (Node only): data goes to a temporary name beside the target and is renamed into place, so an
 * interrupted run never leaves a half-written file or folder.
 *
 * Temporary names beside a target `x` carry the writing process's id, so that a later start can tell the
 * leftovers of a dead process from the work of a live one:
 *   .x.<pid>.<ms>.tmp          a file being written (writeFileAtomic)
 *   .x.tmp-<pid>-<hex>         a folder being filled (writeDirAtomic)
 *   .x.tmp-<pid>-<hex>.old     the previous folder, moved away while the filled one is renamed in
 * A folder cannot be renamed over another, so replacing one takes two renames (x -> .old, then tmp -> x). The
 * first is the commit point: `recoverDir` (run by every writeDirAtomic, and by readers of run folders) finishes a
 * replacement whose `.old` exists and rolls back one whose `.old` does not, with a one-line notice each, and removes
 * stale temporary files. Folders written before the process id was in the name (`.x.tmp-XXXXXX`) are recovered
 * the same way.
 *
 * File system failures are InputErrors naming the user's path and what is wrong with it (`out/a: is a
 * directory`), never Node's message about our temporary names. Symbolic links are followed: writing to a link
 * replaces the file it points to and keeps the link; a target that is not a regular file (`/dev/stdout`, a pipe)
 * is written in place, since nothing can be renamed over it. New files and folders get the umask's permissions.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';

/** Where one-line notices go (recoveries); the default writes `emopia: <line>` to stderr. */
export type Note = (line: string) => void;
export const stderrNote: Note = (line) => {
  process.stderr.write(`emopia: ${line}\n`);
};

/** True when process `pid` exists (EPERM: it runs under another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const REASONS: Record<string, string> = {
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a part of the path is a file, not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many levels of symbolic links',
  EXDEV: 'cannot rename across file systems',
};

/** A Node file system error as an InputError about `what` (the user's path); other errors come back as they are. */
export function fsError(err: unknown, what: string): unknown {
  if (err instanceof InputError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string') return err;
  return new InputError(what, REASONS[code] ?? `cannot write (${code})`);
}

function statOrUndefined(path: string, follow: boolean): Stats | undefined {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The path a write to `path` lands on: `path` itself, or the file its chain of symbolic links ends at. */
function followLinks(path: string): string {
  let p = path;
  for (let i = 0; i < 40; i++) {
    const st = statOrUndefined(p, false);
    if (!st?.isSymbolicLink()) return p;
    if (statOrUndefined(p, true)) return realpathSync(p); // the link resolves
    p = resolve(dirname(p), readlinkSync(p)); // a dangling link: create what it points to
  }
  throw Object.assign(new Error('link chain'), { code: 'ELOOP' });
}

const FILE_TEMP = /^\.(.+)\.(\d+)\.(\d+)\.tmp$/;

/** Removes the temporary files (`.name.<pid>.<ms>.tmp`) of dead processes in `dir`, only those of `name` if given. */
export function removeStaleTemps(dir: string, name?: string): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0; // no folder, nothing left over
  }
  let removed = 0;
  for (const n of names) {
    const m = FILE_TEMP.exec(n);
    if (!m || (name !== undefined && m[1] !== name) || processAlive(Number(m[2]))) continue;
    rmSync(join(dir, n), { force: true });
    removed++;
  }
  return removed;
}

export interface WriteOptions {
  /** How the path was given, for messages (e.g. `-o`): `-o out/a: is a directory`. */
  what?: string;
}

const label = (path: string, what?: string) => (what ? `${what} ${path}` : path);

/**
 * Writes `data` to `path` through a temporary file in the same folder. A symbolic link is followed (the file it
 * points to is replaced, the link stays); a device or pipe is written in place.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, opts: WriteOptions = {}): void {
  const what = label(path, opts.what);
  let target: string;
  let st: Stats | undefined;
  try {
    target = followLinks(path);
    st = statOrUndefined(target, true);
  } catch (err) {
    throw fsError(err, what);
  }
  if (st?.isDirectory()) throw new InputError(what, 'is a directory');
  if (st && !st.isFile()) {
    try {
      writeFileSync(target, data);
    } catch (err) {
      throw fsError(err, what);
    }
    return;
  }
  const dir = dirname(target);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw fsError(err, what);
  }
  removeStaleTemps(dir, basename(target));
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw fsError(err, what);
  }
}

/** A leftover folder of an interrupted writeDirAtomic beside `path`. */
interface Leftover {
  tmp: string;
  hasTmp: boolean;
  hasOld: boolean;
}

/** The leftovers of dead processes' writeDirAtomic beside `path` (the work of live processes is left alone). */
function leftoversOf(path: string): Leftover[] {
  const parent = dirname(path);
  const prefix = `.${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const byTmp = new Map<string, Leftover>();
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const isOld = n.endsWith('.old');
    const tmpName = isOld ? n.slice(0, -'.old'.length) : n;
    const tag = /^(?:(\d+)-)?[0-9A-Za-z]+$/.exec(tmpName.slice(prefix.length));
    if (!tag) continue;
    if (tag[1] !== undefined && processAlive(Number(tag[1]))) continue;
    const tmp = join(parent, tmpName);
    const entry = byTmp.get(tmp) ?? { tmp, hasTmp: false, hasOld: false };
    if (isOld) entry.hasOld = true;
    else entry.hasTmp = true;
    byTmp.set(tmp, entry);
  }
  return [...byTmp.values()].sort((a, b) => (a.tmp < b.tmp ? -1 : 1));
}

/**
 * Finishes or rolls back what a killed writeDirAtomic left beside `path`, and removes stale temporary files in
 * it, with one notice line per repair. Once the previous folder was moved to `.old`, the filled folder was
 * complete: it is renamed in (finished). Before that, the filled folder may be partial: it is removed and `path`
 * keeps the previous folder (rolled back). Returns the notices.
 */
export function recoverDir(path: string, note: Note = stderrNote): string[] {
  const notices: string[] = [];
  const say = (line: string) => {
    notices.push(line);
    note(line);
  };
  for (const l of leftoversOf(path)) {
    const old = `${l.tmp}.old`;
    const name = basename(l.tmp);
    try {
      if (l.hasOld && !existsSync(path)) {
        if (l.hasTmp) {
          renameSync(l.tmp, path);
          rmSync(old, { recursive: true, force: true });
          say(`${path}: finished a replacement that a killed process left half done (the new folder is in place)`);
        } else {
          renameSync(old, path);
          say(`${path}: restored the previous folder that a killed process had moved away`);
        }
      } else {
        rmSync(l.tmp, { recursive: true, force: true });
        rmSync(old, { recursive: true, force: true });
        say(l.hasOld && !l.hasTmp
          ? `${path}: removed the previous folder a killed process left behind (${name}.old)`
          : `${path}: rolled back a replacement that a killed process left unfinished (removed ${name})`);
      }
    } catch (err) {
      throw fsError(err, path);
    }
  }
  const st = statOrUndefined(path, false);
  if (st?.isDirectory()) {
    const n = removeStaleTemps(path);
    if (n) say(`${path}: removed ${n} temporary file${n > 1 ? 's' : ''} left by a killed process`);
  }
  return notices;
}

export interface DirOptions extends WriteOptions {
  /** Where recovery notices go (default stderr). */
  note?: Note;
  /** For tests only: runs between the two renames of a replacement (where a kill leaves no folder at `path`). */
  betweenRenames?: () => void;
}

/** A new empty folder for a write of `path`, with the umask's permissions. */
function makeTempDir(path: string): string {
  for (;;) {
    const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(tmp);
      return tmp;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Builds a folder atomically: `fill` writes into a fresh temporary folder beside `path`; on success the old
 * folder (if any) is replaced by it, on failure the temporary folder is removed and `path` is untouched. What a
 * killed earlier write left beside `path` is recovered first (recoverDir). A symbolic link at `path` is followed.
 */
export async function writeDirAtomic(given: string, fill: (tmpDir: string) => Promise<void> | void, opts: DirOptions = {}): Promise<void> {
  const what = label(given, opts.what);
  let path: string; // a link to a folder is followed: the folder it points to is replaced, the link stays
  let tmp: string;
  try {
    path = followLinks(given);
    mkdirSync(dirname(path), { recursive: true });
    recoverDir(path, opts.note);
    const st = statOrUndefined(path, true);
    if (st && !st.isDirectory()) throw new InputError(what, 'exists and is not a folder');
    tmp = makeTempDir(path);
  } catch (err) {
    throw fsError(err, what);
  }
  const old = `${tmp}.old`;
  let moved = false; // the previous folder is at `old` and `path` does not hold the new one yet
  try {
    await fill(tmp);
    if (existsSync(path)) {
      renameSync(path, old);
      moved = true;
      opts.betweenRenames?.();
      renameSync(tmp, path);
      moved = false;
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, path);
    }
  } catch (err) {
    // The second rename failed in this process: put the previous folder back.
    if (moved && !existsSync(path)) renameSync(old, path);
    rmSync(tmp, { recursive: true, force: true });
    throw fsError(err, what);
  }
}
