/**
 * Atomic writes (Node only): data goes to a temporary name beside the target and is renamed into place, so an
 * interrupted run never leaves a half-written file or folder.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync, mkdtempSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Writes `data` to `path` through a temporary file in the same folder. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Builds a folder atomically: `fill` writes into a fresh temporary folder beside `path`; on success the old
 * folder (if any) is replaced by it, on failure the temporary folder is removed and `path` is untouched.
 */
export async function writeDirAtomic(path: string, fill: (tmpDir: string) => Promise<void> | void): Promise<void> {
  const parent = dirname(path);
  mkdirSync(parent, { recursive: true });
  const tmp = mkdtempSync(join(parent, `.${basename(path)}.tmp-`));
  const old = `${tmp}.old`;
  let moved = false; // the previous folder is at `old` and `path` does not hold the new one yet
  try {
    await fill(tmp);
    if (existsSync(path)) {
      renameSync(path, old);
      moved = true;
      renameSync(tmp, path);
      moved = false;
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, path);
    }
  } catch (err) {
    // A directory cannot be renamed over another, so the swap takes two renames; if the second failed, put the
    // previous folder back.
    if (moved && !existsSync(path)) renameSync(old, path);
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
