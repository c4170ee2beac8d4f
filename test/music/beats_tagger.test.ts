import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBarPositions, decodeDownbeats } from '../../src/music/beats/downbeats.ts';
import { TAGGER_FEATURES, unpackTagger } from '../../src/music/beats/tagger.ts';
import { PACKED_TAGGERS } from '../../src/music/beats/tagger_weights.ts';
import { DEFAULT_DOWNBEAT_MODEL, trackBeats } from '../../src/music/beats/track.ts';
import { midiToScore } from '../../src/music/midi_io.ts';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { steadyPiece } from './_beats.ts';

test('the shipped tagger unpacks to weights of the sizes its shape says', () => {
  assert.ok(PACKED_TAGGERS.length > 0);
  for (const p of PACKED_TAGGERS) {
    const w = unpackTagger(p);
    assert.equal(w.inW.length, TAGGER_FEATURES * w.c);
    assert.equal(w.inB.length, w.c);
    assert.equal(w.blocks.length, w.dilations.length);
    for (const b of w.blocks) assert.equal(b.w.length, 3 * w.c * w.c);
    assert.equal(w.outW.length, w.c * w.classes);
    assert.ok([...Array.from(w.inW), ...Array.from(w.outW)].every(Number.isFinite));
  }
});

test('decodeBarPositions with the downbeat emission only is decodeDownbeats', () => {
  const scores = [3, 0, -1, 0.5, 2.5, 0, 0, 1, 0, 3, 0, 0, 0.2, 2.8, 0.1, -0.4];
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  for (const meter of [3, 4] as const) for (const jump of [1, 8]) assert.deepEqual(decodeBarPositions(scores.map((s) => [s - mean, 0, 0, 0]), meter, jump), decodeDownbeats(scores, meter, jump));
});

test('the tagger and the hand score both find the downbeats of a steady 4/4 piece', () => {
  const p = steadyPiece({ bpm: 100, meter: 4, bars: 16 });
  for (const downbeatModel of ['tagger', 'hand'] as const) {
    const t = trackBeats(p.score, { downbeatModel });
    assert.equal(t.downbeats.length, p.downbeats.length, downbeatModel);
    t.downbeats.forEach((d, i) => assert.ok(Math.abs(d - (p.downbeats[i] as number)) < 0.02, `${downbeatModel} downbeat ${i}: ${d}`));
  }
});

test('trackBeats without a downbeat model uses the tagger (DEFAULT_DOWNBEAT_MODEL): POP909 song 101, where the two disagree', () => {
  const score = midiToScore(new Uint8Array(readFileSync(fileURLToPath(new URL('../fixtures/pop909/101.mid', import.meta.url)))), '101.mid');
  const byDefault = trackBeats(score);
  assert.equal(DEFAULT_DOWNBEAT_MODEL, 'tagger');
  assert.deepEqual(byDefault.downbeats, trackBeats(score, { downbeatModel: 'tagger' }).downbeats);
  const hand = trackBeats(score, { downbeatModel: 'hand' });
  assert.deepEqual(hand.beats, byDefault.beats, 'the same beats: only the downbeats depend on the model');
  assert.notDeepEqual(hand.downbeats, byDefault.downbeats);
});
