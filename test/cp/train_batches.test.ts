/** Training windows and batches: window counts and coverage, (seed, step) determinism, EOS padding and the loss mask. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { batchAt, batchesPerEpoch, batchTensors, buildBatch, coveringWindows, epochWindows, windowStarts } from '../../src/cp/train/batches.ts';
import type { Clip } from '../../src/music/dataset.ts';
import { Rng } from '../../src/random.ts';
import { FAMILY_INDEX, N_FAMILIES, type Emotion } from '../../src/music/vocab.ts';

const F = N_FAMILIES;
const TYPE = FAMILY_INDEX.type;
const EMO = FAMILY_INDEX.emotion;

/** A clip whose word i has pitch column = i (so positions are readable) and an Emotion word first. */
function clip(name: string, n: number, emotion: Emotion): Clip {
  const words = new Int32Array(n * F);
  for (let i = 0; i < n; i++) {
    words[i * F + TYPE] = i === 0 ? 1 : 3;
    words[i * F + FAMILY_INDEX.pitch] = i;
  }
  words[EMO] = emotion;
  return { name, emotion, words };
}

const clips = [clip('Q1_a_0', 30, 1), clip('Q3_b_0', 5, 3), clip('Q4_c_0', 12, 4)];
const opts = { seq: 8, batch: 2, seed: 7 };

test('windows: long clips give ceil((n-1)/seq) random windows, short clips one; all start with the Emotion word', () => {
  const refs = epochWindows(clips, opts, 0);
  // 30 words -> ceil(29/8) = 4 windows; 5 words -> 1; 12 words -> ceil(11/8) = 2.
  assert.equal(refs.length, 7);
  assert.deepEqual([0, 1, 2].map((c) => refs.filter((r) => r.clip === c).length), [4, 1, 2]);
  assert.equal(batchesPerEpoch(clips, opts), 4);
  const starts = refs.filter((r) => r.clip === 0).map((r) => r.start).sort((a, b) => a - b);
  assert.ok(starts.every((s) => s >= 1 && s <= 30 - 8), `starts within [1, n - seq]: ${starts}`);
  assert.equal(starts[0], 1, 'one window starts at the beginning');
  assert.equal(starts[3], 30 - 8, 'one window ends at the end');
  const hb = buildBatch(clips, refs, opts.seq);
  assert.equal(hb.T, 8);
  for (let b = 0; b < hb.B; b++) {
    const ref = refs[b]!;
    const c = clips[ref.clip]!;
    assert.equal(hb.x[b * hb.T * F + TYPE], 1, 'x starts with an Emotion word');
    assert.equal(hb.x[b * hb.T * F + EMO], c.emotion, "... carrying the clip's emotion");
    // After the head, x continues at words[start] and y is x shifted by one.
    if (hb.T > 1 && ref.start + 1 < c.words.length / F) assert.equal(hb.x[(b * hb.T + 1) * F + FAMILY_INDEX.pitch], ref.start);
    assert.equal(hb.y[b * hb.T * F + FAMILY_INDEX.pitch], ref.start);
  }
});

test('the windows of a long clip cover every word in every epoch, at starts that vary', () => {
  const rng = new Rng(11);
  for (const [n, seq] of [[30, 8], [10, 8], [1025, 1024], [3000, 1024], [5000, 1024], [101, 10], [2049, 64]] as const) {
    const seen = new Set<string>();
    for (let epoch = 0; epoch < 20; epoch++) {
      const starts = windowStarts(n, seq, rng);
      assert.equal(starts.length, Math.ceil((n - 1) / seq), `n ${n}, seq ${seq}: window count`);
      const covered = new Uint8Array(n);
      for (const s of starts) {
        assert.ok(s >= 1 && s + seq <= n, `n ${n}, seq ${seq}: start ${s} inside the clip`);
        covered.fill(1, s, s + seq);
      }
      assert.equal(covered.subarray(1).indexOf(0), -1, `n ${n}, seq ${seq}: every word after the head is in a window (${starts})`);
      seen.add(starts.join(','));
    }
    if (Math.ceil((n - 1) / seq) > 2 && (n - 1) % seq !== 0) assert.ok(seen.size > 1, `n ${n}, seq ${seq}: starts vary between epochs`);
  }
});

test('windows and batches are deterministic for (seed, step) and change with the seed and the epoch', () => {
  const a = epochWindows(clips, opts, 0);
  assert.deepEqual(epochWindows(clips, opts, 0), a);
  assert.notDeepEqual(epochWindows(clips, { ...opts, seed: 8 }, 0), a);
  assert.notDeepEqual(epochWindows(clips, opts, 1), a);
  // Step 5 is the second batch of epoch 1, whatever was computed before.
  const s5 = batchAt(clips, opts, 5);
  assert.equal(s5.epoch, 1);
  assert.equal(s5.index, 1);
  assert.deepEqual(s5.refs, epochWindows(clips, opts, 1).slice(2, 4));
  // The last batch of an epoch holds the remainder.
  assert.equal(batchAt(clips, opts, 3).refs.length, 1);
});

test('padding uses the all-zero EOS word and the loss mask covers exactly the real targets', async () => {
  await initBackend('wasm');
  // Clip 1 (5 words) whole from its start, and clip 0 from word 10 (a mid-song window).
  const hb = buildBatch(clips, [{ clip: 1, start: 1 }, { clip: 0, start: 10 }], opts.seq);
  assert.equal(hb.T, 8);
  // Sample 0: x = words 0..3 then padding, y = words 1..4 then padding; mask 1 on the 4 real targets.
  assert.deepEqual(Array.from(hb.mask.subarray(0, 8)), [1, 1, 1, 1, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(hb.x.subarray(4 * F, 8 * F)), new Array(4 * F).fill(0), 'x padding is EOS (all zero)');
  assert.deepEqual(Array.from(hb.y.subarray(4 * F, 8 * F)), new Array(4 * F).fill(0), 'y padding is EOS (all zero)');
  // Sample 1: x = [Emotion, w10..w16], y = [w10..w17]; the first target (w10, unpredictable from the head) is masked.
  assert.deepEqual(Array.from(hb.mask.subarray(8, 16)), [0, 1, 1, 1, 1, 1, 1, 1]);
  const yPitch = Array.from({ length: 8 }, (_, t) => hb.y[(8 + t) * F + FAMILY_INDEX.pitch]);
  assert.deepEqual(yPitch, [10, 11, 12, 13, 14, 15, 16, 17]);
  assert.equal(hb.words, 4 + 7);
  const before = tf.memory().numTensors;
  const t = batchTensors(hb);
  assert.deepEqual(t.x.shape, [2, 8, 8]);
  assert.deepEqual(Array.from(t.nextType.dataSync()).slice(0, 5), [3, 3, 3, 3, 0], 'nextType is the type column of y');
  tf.dispose(Object.values(t));
  assert.equal(tf.memory().numTensors, before);
});

test('validation windows score every target word exactly once, in order, without randomness', () => {
  assert.deepEqual(coveringWindows(clips, 8), [
    { clip: 0, start: 1 }, { clip: 0, start: 8 }, { clip: 0, start: 15 }, { clip: 0, start: 22 },
    { clip: 1, start: 1 },
    { clip: 2, start: 1 }, { clip: 2, start: 8 },
  ]);
  for (const [n, seq] of [[30, 8], [9, 8], [10, 8], [2, 8], [1025, 1024], [3000, 1024], [17, 2]] as const) {
    const c = clip('Q1_x_0', n, 1);
    const refs = coveringWindows([c], seq);
    const scored = new Array<number>(n).fill(0); // times each word is a target with mask 1
    const hb = buildBatch([c], refs, seq);
    for (let b = 0; b < hb.B; b++) {
      for (let t = 0; t < hb.T; t++) if (hb.mask[b * hb.T + t] === 1) scored[hb.y[(b * hb.T + t) * F + FAMILY_INDEX.pitch]!]! += 1;
    }
    assert.deepEqual(scored, [0, ...new Array<number>(n - 1).fill(1)], `n ${n}, seq ${seq}`);
  }
});

test("emotionInput 'every': the inputs carry the head's emotion in every real word; targets and padding do not", () => {
  const refs = [{ clip: 1, start: 1 }, { clip: 0, start: 10 }];
  const first = buildBatch(clips, refs, opts.seq);
  const every = buildBatch(clips, refs, opts.seq, 'every');
  const emo = (x: Int32Array, b: number) => Array.from({ length: 8 }, (_, t) => x[(b * 8 + t) * F + EMO]);
  assert.deepEqual(emo(first.x, 0), [3, 0, 0, 0, 0, 0, 0, 0], 'EMOPIA: only the Emotion word');
  assert.deepEqual(emo(every.x, 0), [3, 3, 3, 3, 0, 0, 0, 0], 'clip Q3: 4 real inputs, then EOS padding');
  assert.deepEqual(emo(every.x, 1), [1, 1, 1, 1, 1, 1, 1, 1], 'clip Q1, mid-song window');
  assert.deepEqual(Array.from(every.y), Array.from(first.y), 'targets unchanged');
  assert.deepEqual(Array.from(every.mask), Array.from(first.mask));
  for (let i = 0; i < every.x.length; i++) if (i % F !== EMO) assert.equal(every.x[i], first.x[i], `x[${i}] outside the emotion family`);
});

test('emotion dropout: the same windows in the same order, a seeded share of them read with emotion 0', () => {
  const many = Array.from({ length: 40 }, (_, i) => clip(`Q${(i % 4) + 1}_s${i}_0`, 30, ((i % 4) + 1) as Emotion));
  const plain = epochWindows(many, opts, 0);
  const dropped = epochWindows(many, { ...opts, emotionDropout: 0.25 }, 0);
  assert.deepEqual(dropped.map(({ clip, start }) => ({ clip, start })), plain, 'windows and order as without dropout');
  assert.ok(plain.every((r) => r.neutral === undefined));
  const neutral = dropped.filter((r) => r.neutral).length;
  // 160 windows at p = 0.25: 40 expected, binomial std 5.5; a bound of 4 std cannot fail by chance in practice.
  assert.equal(dropped.length, 160);
  assert.ok(neutral >= 18 && neutral <= 62, `neutral windows ${neutral} of 160`);
  assert.deepEqual(epochWindows(many, { ...opts, emotionDropout: 0.25 }, 0), dropped, 'seeded: the same draws again');
  assert.notDeepEqual(epochWindows(many, { ...opts, emotionDropout: 0.25 }, 1).map((r) => !!r.neutral), dropped.map((r) => !!r.neutral), 'another epoch, other draws');
  assert.deepEqual(batchAt(many, { ...opts, emotionDropout: 0.25 }, 3).refs, dropped.slice(6, 8), 'a step rebuilds its draws');
});

test('emotion dropout: a neutral window reads the Emotion word 0 (and emotion 0 in every input under every); targets unchanged', () => {
  const refs = [{ clip: 0, start: 1 }, { clip: 0, start: 1, neutral: true as const }];
  for (const mode of ['first', 'every'] as const) {
    const hb = buildBatch(clips, refs, opts.seq, mode);
    const emo = (b: number) => Array.from({ length: 8 }, (_, t) => hb.x[(b * 8 + t) * F + EMO]);
    assert.deepEqual(emo(0), mode === 'every' ? [1, 1, 1, 1, 1, 1, 1, 1] : [1, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(emo(1), [0, 0, 0, 0, 0, 0, 0, 0], `${mode}: neutral`);
    for (let i = 0; i < 8 * F; i++) {
      if (i % F !== EMO) assert.equal(hb.x[8 * F + i], hb.x[i], `${mode}: x[${i}] outside the emotion family`);
      assert.equal(hb.y[8 * F + i], hb.y[i], `${mode}: y[${i}]`);
    }
  }
  assert.equal(clips[0]!.words[EMO], 1, 'the clip itself is unchanged');
});
