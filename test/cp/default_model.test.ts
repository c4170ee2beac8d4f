// Which run folder generate and evaluate load when --checkpoint is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveCheckpoint } from '../../src/platform/default_model.ts';

test('a given --checkpoint wins; else the default folder when it holds a model; else a one-line usage error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'emopia-default-'));
  try {
    assert.equal(resolveCheckpoint('runs/x', dir), 'runs/x');
    assert.throws(() => resolveCheckpoint(undefined, dir), /^UsageError: --checkpoint: required: the shipped default model \(models\/default\) is missing/);
    writeFileSync(join(dir, 'model.safetensors'), '');
    assert.equal(resolveCheckpoint(undefined, dir), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
