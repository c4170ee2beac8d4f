// Atomic writes: a file or folder is either the previous one or the complete new one, and no temporary
// name is left beside it, whether the write succeeds or fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recoverDir, writeDirAtomic, writeFileAtomic } from '../../src/platform/atomic.ts';

function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
  return Promise.resolve(fn(dir)).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('writeFileAtomic creates missing folders, replaces the old content, and leaves no temporary file', () =>
  withDir((dir) => {
    const path = join(dir, 'a', 'b', 'f.txt');
    writeFileAtomic(path, 'one');
    writeFileAtomic(path, new Uint8Array([116, 119, 111])); // "two"
    assert.equal(readFileSync(path, 'utf8'), 'two');
    assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['f.txt']);
    // A target that cannot be replaced (a folder) fails and leaves the folder as it was, with no temporary file.
    const folder = join(dir, 'taken');
    mkdirSync(folder);
    writeFileSync(join(folder, 'keep'), 'x');
    assert.throws(() => writeFileAtomic(folder, 'data'));
    assert.deepEqual(readdirSync(folder), ['keep']);
    assert.deepEqual(readdirSync(dir).sort(), ['a', 'taken']);
  }));

test('writeDirAtomic: success replaces the whole previous folder; a failing fill leaves it untouched', () =>
  withDir(async (dir) => {
    const out = join(dir, 'run');
    await writeDirAtomic(out, (tmp) => {
      writeFileSync(join(tmp, 'old-only'), '1');
      writeFileSync(join(tmp, 'shared'), 'v1');
    });
    assert.deepEqual(readdirSync(out).sort(), ['old-only', 'shared']);
    await writeDirAtomic(out, (tmp) => writeFileSync(join(tmp, 'shared'), 'v2'));
    assert.deepEqual(readdirSync(out), ['shared'], 'files of the previous folder do not survive');
    assert.equal(readFileSync(join(out, 'shared'), 'utf8'), 'v2');

    await assert.rejects(
      writeDirAtomic(out, async (tmp) => {
        writeFileSync(join(tmp, 'shared'), 'half-written');
        throw new Error('interrupted');
      }),
      /interrupted/,
    );
    assert.equal(readFileSync(join(out, 'shared'), 'utf8'), 'v2');
    assert.deepEqual(readdirSync(dir), ['run'], 'no temporary folder is left beside it');
  }));

// ---- Recovery of what a killed process left (issue 14) ----

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ATOMIC = fileURLToPath(new URL('../../src/platform/atomic.ts', import.meta.url));

/** The id of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.equal(r.status, 0);
  return r.pid as number;
}

const listing = (dir: string) => readdirSync(dir).sort();

test('a kill between the two renames of a replacement leaves no folder; the next start finishes the replacement with one notice', () =>
  withDir(async (dir) => {
    const out = join(dir, 'run');
    await writeDirAtomic(out, (tmp) => writeFileSync(join(tmp, 'f'), 'v1'));
    // A child process replaces the folder and is killed (SIGKILL, no clean-up) by the test hook between the renames.
    const code = `import { writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      import { writeDirAtomic } from ${JSON.stringify(ATOMIC)};
      await writeDirAtomic(${JSON.stringify(out)}, (tmp) => writeFileSync(join(tmp, 'f'), 'v2'), { betweenRenames: () => process.kill(process.pid, 'SIGKILL') });`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO, encoding: 'utf8' });
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    const left = listing(dir);
    assert.equal(left.includes('run'), false, 'the kill left no folder at the name');
    assert.equal(left.length, 2, `a filled temporary folder and the previous one: ${left.join(' ')}`);
    assert.match(left[0]!, new RegExp(`^\\.run\\.tmp-${child.pid}-[0-9a-f]+$`));
    assert.equal(left[1], `${left[0]}.old`);

    const notes: string[] = [];
    assert.deepEqual(recoverDir(out, (l) => notes.push(l)), notes);
    assert.deepEqual(notes, [`${out}: finished a replacement that a killed process left half done (the new folder is in place)`]);
    assert.deepEqual(listing(dir), ['run']);
    assert.equal(readFileSync(join(out, 'f'), 'utf8'), 'v2', 'the new folder, complete before the first rename, is in place');
    assert.deepEqual(recoverDir(out, (l) => notes.push(l)), [], 'nothing left to do');
  }));

test('recovery rolls back an unfinished fill, removes a leftover .old and stale temporary files, and leaves live writers alone', () =>
  withDir(async (dir) => {
    const out = join(dir, 'data');
    await writeDirAtomic(out, (tmp) => writeFileSync(join(tmp, 'f'), 'kept'));
    const dead = deadPid();
    // Killed while filling (before the commit point): a partial temporary folder and a temporary file inside the
    // folder; killed after the second rename: the previous folder at .old.
    mkdirSync(join(dir, `.data.tmp-${dead}-aa11`));
    writeFileSync(join(dir, `.data.tmp-${dead}-aa11`, 'f'), 'half');
    mkdirSync(join(dir, `.data.tmp-${dead}-bb22.old`));
    writeFileSync(join(out, `.f.${dead}.1700000000000.tmp`), 'half');
    // The work of a live process (this one) is not touched.
    mkdirSync(join(dir, `.data.tmp-${process.pid}-cc33`));
    const notes: string[] = [];
    recoverDir(out, (l) => notes.push(l));
    assert.deepEqual(notes, [
      `${out}: rolled back a replacement that a killed process left unfinished (removed .data.tmp-${dead}-aa11)`,
      `${out}: removed the previous folder a killed process left behind (.data.tmp-${dead}-bb22.old)`,
      `${out}: removed 1 temporary file left by a killed process`,
    ]);
    assert.deepEqual(listing(dir), [`.data.tmp-${process.pid}-cc33`, 'data']);
    assert.deepEqual(listing(out), ['f']);
    assert.equal(readFileSync(join(out, 'f'), 'utf8'), 'kept');
  }));

test('recovery of a pair left by the earlier naming (no process id) with no folder at the name finishes it; a lone .old is put back', () =>
  withDir(async (dir) => {
    const out = join(dir, 'run');
    mkdirSync(join(dir, '.run.tmp-Ab12Cd'));
    writeFileSync(join(dir, '.run.tmp-Ab12Cd', 'f'), 'new');
    mkdirSync(join(dir, '.run.tmp-Ab12Cd.old'));
    const notes: string[] = [];
    // writeDirAtomic recovers first, then writes.
    await writeDirAtomic(out, (tmp) => writeFileSync(join(tmp, 'g'), readFileSync(join(out, 'f'))), { note: (l) => notes.push(l) });
    assert.equal(notes.length, 1);
    assert.match(notes[0]!, /run: finished a replacement/);
    assert.deepEqual(listing(dir), ['run']);
    assert.equal(readFileSync(join(out, 'g'), 'utf8'), 'new');

    const other = join(dir, 'other');
    mkdirSync(join(dir, `.other.tmp-${deadPid()}-dd44.old`));
    writeFileSync(join(dir, listing(dir).find((n) => n.startsWith('.other'))!, 'f'), 'previous');
    assert.match(recoverDir(other, () => {})[0]!, /other: restored the previous folder that a killed process had moved away/);
    assert.equal(readFileSync(join(other, 'f'), 'utf8'), 'previous');
  }));

test('writeFileAtomic: errors name the user\'s path, never a temporary name; stale temporary files of the target are removed', () =>
  withDir(async (dir) => {
    const folder = join(dir, 'adir');
    mkdirSync(folder);
    assert.throws(() => writeFileAtomic(folder, 'x', { what: '-o' }), (err: Error) => err.message === `-o ${folder}: is a directory` && err.name === 'InputError');
    writeFileSync(join(dir, 'afile'), '');
    assert.throws(() => writeFileAtomic(join(dir, 'afile', 'x.mid'), 'x'), new RegExp(`^InputError: ${join(dir, 'afile', 'x.mid')}: a part of the path is a file, not a folder$`));
    const dead = deadPid();
    writeFileSync(join(dir, `.out.mid.${dead}.1700000000000.tmp`), 'half');
    writeFileSync(join(dir, `.other.mid.${dead}.1700000000000.tmp`), 'half');
    writeFileAtomic(join(dir, 'out.mid'), 'x');
    assert.deepEqual(listing(dir), [`.other.mid.${dead}.1700000000000.tmp`, 'adir', 'afile', 'out.mid']);
    await assert.rejects(writeDirAtomic(join(dir, 'afile'), () => {}), /^InputError: .*afile: exists and is not a folder$/);
  }));

test('writeFileAtomic follows symbolic links (the target is replaced, the link stays) and writes devices in place', () =>
  withDir((dir) => {
    const target = join(dir, 'real.txt');
    writeFileSync(target, 'old');
    symlinkSync('real.txt', join(dir, 'link.txt'));
    writeFileAtomic(join(dir, 'link.txt'), 'new');
    assert.ok(lstatSync(join(dir, 'link.txt')).isSymbolicLink(), 'the link is still a link');
    assert.equal(readFileSync(target, 'utf8'), 'new');
    // A dangling link: the file it points to is created.
    symlinkSync(join('sub', 'made.txt'), join(dir, 'dangling'));
    writeFileAtomic(join(dir, 'dangling'), 'made');
    assert.equal(readFileSync(join(dir, 'sub', 'made.txt'), 'utf8'), 'made');
    assert.ok(lstatSync(join(dir, 'dangling')).isSymbolicLink());
    // A character device (what /dev/stdout often is) is written, not renamed over.
    writeFileAtomic('/dev/null', 'nothing');
    assert.ok(lstatSync('/dev/null').isCharacterDevice());
    assert.deepEqual(listing(dir), ['dangling', 'link.txt', 'real.txt', 'sub']);
  }));

test('writeDirAtomic follows a symbolic link to a folder: the folder is replaced, the link stays', () =>
  withDir(async (dir) => {
    mkdirSync(join(dir, 'store'));
    await writeDirAtomic(join(dir, 'store', 'run'), (tmp) => writeFileSync(join(tmp, 'f'), 'v1'));
    symlinkSync(join('store', 'run'), join(dir, 'run'));
    await writeDirAtomic(join(dir, 'run'), (tmp) => writeFileSync(join(tmp, 'f'), 'v2'));
    assert.ok(lstatSync(join(dir, 'run')).isSymbolicLink());
    assert.equal(readFileSync(join(dir, 'store', 'run', 'f'), 'utf8'), 'v2');
    assert.deepEqual(listing(join(dir, 'store')), ['run']);
  }));

test('writeDirAtomic gives the folder the umask\'s permissions, not the private ones of a temporary folder', () =>
  withDir(async (dir) => {
    const before = process.umask(0o027);
    try {
      await writeDirAtomic(join(dir, 'a'), (tmp) => writeFileSync(join(tmp, 'f'), ''));
      assert.equal(statSync(join(dir, 'a')).mode & 0o777, 0o750);
      process.umask(0o022);
      await writeDirAtomic(join(dir, 'a'), (tmp) => writeFileSync(join(tmp, 'f'), ''));
      assert.equal(statSync(join(dir, 'a')).mode & 0o777, 0o755);
    } finally {
      process.umask(before);
    }
  }));
