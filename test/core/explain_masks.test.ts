// `emopia explain masks` through the real binary: the JSON holds the seed's matrices computed by the library,
// the text is the lesson, and bad lengths are one-line usage errors (exit 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.ts';
import { assertClose } from '../helpers/close.ts';

test('explain masks --json: the seed walkthrough as plain arrays', async () => {
  const r = await runCli(['explain', 'masks', '--json', '--backend', 'cpu']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  for (const key of ['padding_mask', 'causal_mask', 'cross_mask', 'positional_encoding', 'masked_scores']) assert.ok(key in j, `key ${key}`);
  // Defaults: source lengths 2,4, target lengths 4,3, d 6.
  assert.deepEqual(j.padding_mask, [
    [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]],
  ]);
  assert.deepEqual(j.causal_mask, [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]);
  assert.deepEqual(j.cross_mask, [
    [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]],
    [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]],
  ]);
  const pe = j.positional_encoding as number[][];
  assert.equal(pe.length, 4);
  assertClose(pe.flat(), [
    0, 1, 0, 1, 0, 1,
    0.8415, 0.5403, 0.0464, 0.9989, 0.0022, 1,
    0.9093, -0.4161, 0.0927, 0.9957, 0.0043, 1,
    0.1411, -0.99, 0.1388, 0.9903, 0.0065, 1,
  ], 5e-5, 'positional table');
  // Masked scores: exactly -1e9 where the adjacency is 0, the unmasked score elsewhere; softmax rows sum to 1.
  const adj = (j.padding_mask as number[][][]).flat(2);
  const scores = (j.scores as number[][][]).flat(2);
  const masked = (j.masked_scores as number[][][]).flat(2);
  assert.equal(masked.length, 32);
  masked.forEach((v, i) => assert.equal(v, adj[i] === 1 ? scores[i] : -1e9, `entry ${i}`));
  assert.ok(new Set(scores).size > 16, 'scores are random numbers');
  for (const row of (j.attention_weights as number[][][]).flat()) assertClose([row.reduce((a, b) => a + b, 0)], [1], 1e-5, 'row sum');
});

test('explain masks: the text lesson and other lengths', async () => {
  const r = await runCli(['explain', 'masks', '--src-lengths', '1,3,2', '--tgt-lengths', '2,2,1', '--d-model', '4', '--backend', 'cpu']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /adjacency matrix/);
  assert.match(r.stdout, /\[B, S, S\] = \[3, 3, 3\]/);
  assert.match(r.stdout, /\[B, T, S\] = \[3, 2, 3\]/);
  assert.match(r.stdout, /-1e9/);
  // The positional table's second row for d = 4: sin 1, cos 1, sin 0.01, cos 0.01 (0.99995).
  assert.match(r.stdout, /0\.8415 +0\.5403 +0\.0100 +1\.0000/);
});

test('explain masks: bad lengths are one-line usage errors (exit 2)', async () => {
  for (const args of [['--src-lengths', '2,x'], ['--src-lengths', '2,4', '--tgt-lengths', '3'], ['--src-lengths', '0,4']]) {
    const r = await runCli(['explain', 'masks', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^emopia: --(src|tgt)-lengths: expected/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
