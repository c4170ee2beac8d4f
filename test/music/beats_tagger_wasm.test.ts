import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/random.ts';
import { TAGGER_FEATURES, taggerOutputs, taggerOutputsTs, unpackTagger, type TaggerWeights } from '../../src/music/beats/tagger.ts';
import { TAGGER_WASM_BASE64 } from '../../src/music/beats/tagger_binary.ts';
import { taggerWasmAvailable } from '../../src/music/beats/tagger_wasm.ts';
import { PACKED_TAGGERS } from '../../src/music/beats/tagger_weights.ts';
import { assertCommittedWasm } from '../helpers/wasm_build.ts';

test('the embedded tagger kernel is the one its header names (sha256), and it runs in Node', () => {
  const bytes = Buffer.from(TAGGER_WASM_BASE64, 'base64');
  const header = readFileSync(fileURLToPath(new URL('../../src/music/beats/tagger_binary.ts', import.meta.url)), 'utf8');
  assert.equal(/sha256 ([0-9a-f]{64})/.exec(header)?.[1], createHash('sha256').update(bytes).digest('hex'));
  assert.equal(taggerWasmAvailable(), true);
});

test('the committed tagger kernel is what wasm/tagger/build.sh makes of tagger.c (where its clang is installed)', (t) => {
  assertCommittedWasm(t, 'tagger', 'tagger', ['clang-14', 'clang'], 'src/music/beats/tagger_binary.ts');
});

/** Features of n beats drawn from the seeded generator, with some values far from the weights' scale. */
function features(rng: Rng, n: number): Float32Array[] {
  return Array.from({ length: n }, () => Float32Array.from({ length: TAGGER_FEATURES }, () => (rng.next() - 0.5) * (rng.next() < 0.1 ? 40 : 3)));
}

/** A random network with `c` channels (not a multiple of 4 tests the dot products' tails) and `classes` outputs. */
function randomTagger(rng: Rng, c: number, classes: number, dilations: number[]): TaggerWeights {
  const a = (len: number, scale: number): Float32Array => Float32Array.from({ length: len }, () => (rng.next() - 0.5) * scale);
  return { c, dilations, classes, inW: a(TAGGER_FEATURES * c, 0.5), inB: a(c, 0.2), blocks: dilations.map(() => ({ w: a(3 * c * c, 0.4), b: a(c, 0.2) })), outW: a(c * classes, 0.5), outB: a(classes, 0.2) };
}

test('the kernel gives the TypeScript network\'s outputs to the last bit: the shipped ensemble and random networks, any length', () => {
  const rng = new Rng(20);
  const nets: TaggerWeights[] = [...PACKED_TAGGERS.map(unpackTagger), randomTagger(rng, 6, 1, [1, 3]), randomTagger(rng, 13, 4, [1, 2, 4, 8]), randomTagger(rng, 32, 1, [1, 2, 4, 8, 16, 32])];
  for (const w of nets) {
    for (const n of [0, 1, 2, 5, 40, 333]) {
      const x = features(rng, n);
      const fast = taggerOutputs(x, w);
      const slow = taggerOutputsTs(x, w);
      assert.equal(fast.length, n);
      // deepStrictEqual on numbers is Object.is: the same doubles, bit for bit.
      assert.deepStrictEqual(fast, slow, `c ${w.c}, ${w.classes} classes, ${n} beats`);
    }
  }
});
