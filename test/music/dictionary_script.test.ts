/** scripts/emopia_dictionary_to_vocab.py on a pickle shaped as EMOPIA's dictionary.pkl (needs python3; skipped without). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vocab } from '../../src/index.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/emopia_dictionary_to_vocab.py', import.meta.url));
const hasPython = spawnSync('python3', ['--version']).status === 0;

// Writes a pickle shaped as EMOPIA's dictionary.pkl from value lists (JSON), with EMOPIA's 'bar-beat' key.
const MAKE_PICKLE = `
import json, pickle, sys
values = json.load(open(sys.argv[1]))
drop = sys.argv[3] if len(sys.argv) > 3 else None
w2e = {('bar-beat' if f == 'barbeat' else f): {i: v for i, v in enumerate(vals)} for f, vals in values.items() if f != drop}
e2w = {f: {v: i for i, v in d.items()} for f, d in w2e.items()}
pickle.dump((e2w, w2e), open(sys.argv[2], 'wb'))
`;

test('scripts/emopia_dictionary_to_vocab.py maps an EMOPIA dictionary one to one', { skip: hasPython ? false : 'python3 is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'emopia-dict-'));
  try {
    // An EMOPIA-like observed dictionary: a few velocities and tempos only.
    const values = Vocab.fullGrid().toJSON().values;
    const observed = { ...values, velocity: [0, 'Note_Velocity_40', 'Note_Velocity_64'], tempo: [0, 'CONTI', 'Tempo_119'] };
    writeFileSync(join(dir, 'values.json'), JSON.stringify(observed));
    execFileSync('python3', ['-c', MAKE_PICKLE, join(dir, 'values.json'), join(dir, 'dictionary.pkl')]);
    const out = execFileSync('python3', [SCRIPT, join(dir, 'dictionary.pkl'), '-o', join(dir, 'vocab.json')], { encoding: 'utf8' });
    assert.match(out, /sizes \[3, 135, 18, 4, 87, 18, 3, 5\]/);
    const vocab = Vocab.fromJSON(JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8')));
    assert.ok(vocab.equals(Vocab.fromValues(observed, { sort: false })));
    assert.equal(vocab.encode('velocity', 'Note_Velocity_64'), 2);
    assert.equal(vocab.encode('barbeat', 'Bar'), 1);
    // A CP dictionary (no emotion family) is refused with the reason.
    execFileSync('python3', ['-c', MAKE_PICKLE, join(dir, 'values.json'), join(dir, 'cp.pkl'), 'emotion']);
    const r = spawnSync('python3', [SCRIPT, join(dir, 'cp.pkl'), '-o', join(dir, 'cp.json')], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no emotion family: this is a CP \(7-family\) dictionary/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
