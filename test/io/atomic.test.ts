// Atomic writes: a file or folder is either the previous one or the complete new one, and no temporary
// name is left beside it, whether the write succeeds or fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDirAtomic, writeFileAtomic } from '../../src/io/atomic.ts';

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
