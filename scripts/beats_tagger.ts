/**
 * Fits the downbeat tagger (src/music/beats/tagger.ts) on POP909 songs (the dev songs 1-300 unless --songs says
 * otherwise; the shipped weights on 1-600, so that 601-909 stay unseen), and measures it on dev halves (odd and even
 * songs) or on the songs --eval names: each song is rendered as `beats evaluate` does (seed 1) and with seeded warps and
 * timing jitter (seeds 201-203, 0/10/20 ms, as scripts/beats_fit.ts; --renderings N: seeds 201..200+N), tracked (trackBeats, hand downbeats), and each tracked beat
 * is labelled with its annotated bar position (0 = downbeat, -1 = no annotated beat within a fifth of a beat,
 * masked out). The network is trained with tfjs (masked logistic loss, Adam, seeded initialisation and windows,
 * random key transposition of the chroma blocks) on windows of WINDOW beats; the held-out half is scored with the
 * plain-TypeScript forward pass and the Viterbi of downbeats.ts (jump 8, the hand meter), as downbeat F-measure
 * of the seed-1 renderings, for the hand score, the tagger's log-odds and their sum.
 *
 *   node --import tsx scripts/beats_tagger.ts POP909_DIR [--cache DIR] [--songs A-B] [--fit none|odd|even|q1|q0|all] [--seed N]
 *     [--steps N] [--ensemble K] [--every N] [--hyper JSON] [--renderings N] [--save FILE] [--write]
 *   node --import tsx scripts/beats_tagger.ts POP909_DIR --cache DIR --songs 1-600 --train 4:0,1,2 --eval '4:3@1-300;4:3@301-600' ...
 *
 * The renderings' features are cached in DIR (default beats_tagger in the system's temporary folder; delete it after changing tagger.ts's
 * features). --fit none prints the hand score's figures; --fit odd trains on the odd dev songs and reports the even
 * ones (and vice versa), every N steps with --every and for each ensemble size; q1 / q0 fit on songs 1 / 0 (mod 4)
 * and report 3 / 2 (mod 4); --fit all trains on every song of the cache and, with --write, writes
 * src/music/beats/tagger_weights.ts. --songs A-B collects songs A..B into the cache (default the dev songs, 1-300;
 * the dev halves and q1/q0 assume them). --train M:r1,r2[@A-B] fits on the songs whose number mod M is r1 or r2 (within
 * A..B) and --eval (the same form, several separated by ';') measures the songs named: a learning curve or a
 * held-out check on any part of the cache. The shipped weights: --songs 1-600 --fit all --seed 1 --ensemble 5
 * --steps 400 --hyper '{"lr":0.001,"c":48}' --write (their file's header has the command). Deterministic for a given seed and cache. --save FILE writes the fitted ensemble
 * (packed, as JSON) for scripts/beats_tagger_decode.ts; --renderings needs its own --cache.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, tf } from '../src/backend.ts';
import { float32ToFloat16 } from '../src/io/safetensors.ts';
import { Rng } from '../src/random.ts';
import type { BeatGrid } from '../src/music/beat_grid.ts';
import { decodeBarPositions, decodeDownbeats, downbeatScores, beatFeatures, DEFAULT_DOWNBEAT } from '../src/music/beats/downbeats.ts';
import { eventStrengths } from '../src/music/beats/envelope.ts';
import { annotatedBarPositions, evaluationRendering } from '../src/music/beats/evaluate.ts';
import { beatFMeasure } from '../src/music/beats/metrics.ts';
import { onsetEvents } from '../src/music/beats/onsets.ts';
import { jitterNotes, randomWarp, renderPerformance } from '../src/music/beats/render.ts';
import { BASS_CHROMA_AT, CHROMA_AT, TAGGER_FEATURES, taggerFeatures, taggerLogits, taggerLogProbs, unpackTagger, type PackedTagger, type TaggerWeights } from '../src/music/beats/tagger.ts';
import { trackBeats } from '../src/music/beats/track.ts';
import type { Score } from '../src/music/score.ts';
import { DEV_LAST_SONG, pop909Songs, readPop909Song } from '../src/platform/beats_pop909.ts';
import { DEFAULT_CACHE, loadCache, type Rendering } from './beats_tagger_cache.ts';

/** The training renderings' seeds (--renderings N: 201 .. 200+N, default 3) and their timing jitter (0, 10, 20 ms in turn). */
const trainSeeds = (n: number): number[] => Array.from({ length: n }, (_, i) => 201 + i);
const jitterOf = (seed: number): number => [0, 0.01, 0.02][(seed - 201) % 3] as number;
const F = TAGGER_FEATURES;


function inputs(score: Score, beats: readonly number[]): { x: Float32Array[]; hand: number[] } {
  const events = onsetEvents(score).filter((e) => e.time >= 0);
  const strengths = eventStrengths(events);
  const cues = beatFeatures(beats, events, strengths);
  return { x: taggerFeatures(beats, events, strengths, cues), hand: downbeatScores(cues, DEFAULT_DOWNBEAT) };
}

function collect(dir: string, cache: string, renderings: number, songs: [number, number] = [1, DEV_LAST_SONG]): { renderings: Rendering[]; x: Float32Array } {
  const meta: Rendering[] = [];
  const chunks: Float32Array[] = [];
  let at = 0;
  for (const song of pop909Songs(dir, 'all').filter((s) => s >= songs[0] && s <= songs[1])) {
    const piece = readPop909Song(dir, song);
    const perfs: { seed: number; score: Score; grid: BeatGrid }[] = [{ seed: 1, ...evaluationRendering(piece, 1) }];
    for (const seed of trainSeeds(renderings)) {
      const rng = new Rng(seed * 100_003 + song);
      const whole = renderPerformance(piece.score, piece.grid, randomWarp(rng));
      const jitter = jitterOf(seed);
      perfs.push({ seed, score: jitter > 0 ? jitterNotes(whole.score, rng, jitter, 12) : whole.score, grid: whole.grid });
    }
    for (const p of perfs) {
      const t = trackBeats(p.score, { downbeatModel: 'hand' });
      const fallback = t.fallback !== undefined;
      const { x, hand } = fallback ? { x: [], hand: [] } : inputs(p.score, t.beats);
      meta.push({ song, seed: p.seed, beats: t.beats, refDownbeats: p.grid.downbeats, meter: t.meter, downbeats: t.downbeats, fallback, hand, pos: fallback ? [] : annotatedBarPositions(t.beats, p.grid), at });
      for (const r of x) chunks.push(r);
      at += x.length;
    }
    if (song % 25 === 0) console.error(`song ${song}: ${meta.length} renderings, ${at} beats`);
  }
  const all = new Float32Array(at * F);
  chunks.forEach((r, i) => all.set(r, i * F));
  mkdirSync(cache, { recursive: true });
  writeFileSync(join(cache, 'meta.json'), JSON.stringify(meta));
  writeFileSync(join(cache, 'x.bin'), Buffer.from(all.buffer));
  return { renderings: meta, x: all };
}


interface Hyper {
  c: number;
  dilations: number[];
  window: number;
  batch: number;
  steps: number;
  lr: number;
  l2: number;
  /** Dropout on the block outputs (0 = none). */
  dropout: number;
  /** Features left out (their input weights are 0): e.g. the chroma blocks 0-23. */
  drop: number[];
  /** 1: downbeat or not (logistic); 4: bar positions 0..3 (softmax; beats at positions 4+ masked out). */
  classes: number;
  /** Decay of the weights' moving average. */
  ema: number;
  /**
   * 1: a tracked beat inside the annotated span with no annotated beat near it (an off-beat of a song tracked at
   * twice its tempo) is a negative example; 0: it is masked out like the rest of the unlabelled beats.
   */
  unmatched: number;
  /**
   * 1: leave out of the training the songs whose notes sit a beat after the annotated downbeats (more than half of
   * the hand cues' downbeats of the song's seed-1 rendering fall on annotated beat 2), where the annotations and
   * every cue disagree.
   */
  dropLate: number;
}

const HYPER: Hyper = { c: 32, dilations: [1, 2, 4, 8, 16, 32], window: 256, batch: 16, steps: 1500, lr: 2e-3, l2: 1e-4, dropout: 0, drop: [], ema: 0.99, classes: 1, unmatched: 0, dropLate: 0 };

function fit(data: { renderings: Rendering[]; x: Float32Array }, train: Rendering[], hp: Hyper, seed: number, every = 0, onCheck?: (w: TaggerWeights, step: number) => void): TaggerWeights {
  const rng = new Rng(seed);
  const C = hp.c;
  const init = (rows: number, cols: number, scale: number): tf.Variable => {
    const a = new Float32Array(rows * cols);
    const s = scale * Math.sqrt(2 / (rows + cols));
    for (let i = 0; i < a.length; i++) a[i] = (rng.next() + rng.next() + rng.next() - 1.5) * 2 * s;
    return tf.variable(tf.tensor2d(a, [rows, cols]));
  };
  const inW = init(F, C, 1);
  const inB = tf.variable(tf.zeros([C]));
  const blocks = hp.dilations.map(() => ({ w: init(3 * C, C, 0.5), b: tf.variable(tf.zeros([C])) }));
  const K = hp.classes;
  const outW = init(C, K, 0.1);
  const outB = tf.variable(K === 1 ? tf.tensor1d([-1]) : tf.zeros([K]));
  const weights: tf.Variable[] = [inW, ...blocks.map((b) => b.w), outW];
  const opt = tf.train.adam(hp.lr);
  const L = hp.window;
  const late = new Set(
    data.renderings
      .filter((r) => r.seed === 1 && !r.fallback && hp.dropLate > 0)
      .filter((r) => {
        const index = new Map(r.beats.map((b, i) => [b, i]));
        const atTwo = r.downbeats.filter((d) => r.pos[index.get(d) ?? -1] === 1).length;
        return atTwo > 0.5 * r.downbeats.length;
      })
      .map((r) => r.song),
  );
  if (late.size > 0) console.error(`left out: ${late.size} songs a beat late`);
  const usable = train.filter((r) => r.pos.length > 0 && !late.has(r.song));
  // Sample renderings in proportion to their length.
  const cum: number[] = [];
  let total = 0;
  for (const r of usable) cum.push((total += r.pos.length));
  const pick = (): Rendering => {
    const u = rng.next() * total;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cum[mid] as number) > u) hi = mid;
      else lo = mid + 1;
    }
    return usable[lo] as Rendering;
  };
  const keep = new Float32Array(F).fill(1);
  for (const k of hp.drop) keep[k] = 0;
  const keepT = tf.tensor1d(keep);
  // An exponential moving average of the weights (decay hp.ema; 0 = the last weights) is what is returned.
  const all: tf.Variable[] = [inW, inB, ...blocks.flatMap((b) => [b.w, b.b]), outW, outB];
  const avgW: Float32Array[] = all.map((v) => Float32Array.from(v.dataSync()));
  const current = (): TaggerWeights => {
    const a = (k: number): number[] => Array.from(avgW[k] as Float32Array);
    return {
      c: C,
      dilations: hp.dilations,
      inW: a(0).map((v, i) => v * (keep[Math.floor(i / C)] as number)),
      inB: a(1),
      blocks: blocks.map((_, i) => ({ w: a(2 + 2 * i), b: a(3 + 2 * i) })),
      classes: K,
      outW: a(all.length - 2),
      outB: a(all.length - 1),
    };
  };
  let avg = 0;
  for (let step = 1; step <= hp.steps; step++) {
    const xb = new Float32Array(hp.batch * L * F);
    const yb = new Float32Array(hp.batch * L * K);
    const mb = new Float32Array(hp.batch * L);
    const vb = new Float32Array(hp.batch * L);
    for (let b = 0; b < hp.batch; b++) {
      const r = pick();
      const n = r.pos.length;
      const start = n > L ? Math.floor(rng.next() * (n - L + 1)) : 0;
      const rot = Math.floor(rng.next() * 12);
      for (let t = 0; t < Math.min(L, n); t++) {
        const src = (r.at + start + t) * F;
        const dst = (b * L + t) * F;
        for (let k = 0; k < F; k++) xb[dst + k] = data.x[src + k] as number;
        for (const off of [CHROMA_AT, BASS_CHROMA_AT]) for (let c = 0; c < 12; c++) xb[dst + off + ((c + rot) % 12)] = data.x[src + off + c] as number;
        const p = r.pos[start + t] as number;
        vb[b * L + t] = 1;
        if (K === 1) {
          const beat = r.beats[start + t] as number;
          const inside = beat > (r.refDownbeats[0] ?? Infinity) && beat < (r.refDownbeats[r.refDownbeats.length - 1] ?? -Infinity);
          mb[b * L + t] = p >= 0 || (hp.unmatched > 0 && inside) ? 1 : 0;
          yb[b * L + t] = p === 0 ? 1 : 0;
        } else {
          mb[b * L + t] = p >= 0 && p < K ? 1 : 0;
          if (p >= 0 && p < K) yb[(b * L + t) * K + p] = 1;
        }
      }
    }
    const loss = tf.tidy(() => {
      const x = tf.mul(tf.tensor3d(xb, [hp.batch, L, F]), keepT);
      const y = K === 1 ? tf.tensor2d(yb, [hp.batch, L]) : tf.tensor3d(yb, [hp.batch, L, K]);
      const m = tf.tensor2d(mb, [hp.batch, L]);
      const valid = tf.tensor3d(vb, [hp.batch, L, 1]);
      return opt.minimize(() => {
        let h = tf.mul(tf.reshape(tf.add(tf.matMul(tf.reshape(x, [hp.batch * L, F]), inW), inB), [hp.batch, L, C]), valid) as tf.Tensor3D;
        hp.dilations.forEach((d, i) => {
          const blk = blocks[i] as { w: tf.Variable; b: tf.Variable };
          const left = tf.slice(tf.pad(h, [[0, 0], [d, 0], [0, 0]]), [0, 0, 0], [hp.batch, L, C]);
          const right = tf.slice(tf.pad(h, [[0, 0], [0, d], [0, 0]]), [0, d, 0], [hp.batch, L, C]);
          const cat = tf.reshape(tf.concat([left, h, right], 2), [hp.batch * L, 3 * C]);
          let o = tf.reshape(tf.relu(tf.add(tf.matMul(cat, blk.w), blk.b)), [hp.batch, L, C]);
          if (hp.dropout > 0) o = tf.dropout(o, hp.dropout, undefined, rng.nextSeed());
          h = tf.mul(tf.add(h, o), valid) as tf.Tensor3D;
        });
        const out = tf.add(tf.matMul(tf.reshape(h, [hp.batch * L, C]), outW), outB);
        let bce: tf.Tensor;
        if (K === 1) {
          const logits = tf.reshape(out, [hp.batch, L]);
          bce = tf.sub(tf.add(tf.relu(logits), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))), tf.mul(logits, y));
        } else {
          const lsm = tf.reshape(tf.logSoftmax(out), [hp.batch, L, K]);
          bce = tf.neg(tf.sum(tf.mul(lsm, y), 2));
        }
        const data = tf.div(tf.sum(tf.mul(bce, m)), tf.maximum(tf.sum(m), 1));
        const reg = tf.mul(hp.l2, tf.addN(weights.map((w) => tf.sum(tf.square(w)))));
        return tf.add(data, reg) as tf.Scalar;
      }, true) as tf.Scalar;
    });
    avg = step === 1 ? loss.dataSync()[0] as number : 0.98 * avg + 0.02 * (loss.dataSync()[0] as number);
    loss.dispose();
    const decay = Math.min(hp.ema, 1 - 1 / step);
    all.forEach((v, k) => {
      const cur = v.dataSync();
      const acc = avgW[k] as Float32Array;
      for (let i = 0; i < acc.length; i++) acc[i] = decay * (acc[i] as number) + (1 - decay) * (cur[i] as number);
    });
    if (step % 100 === 0) console.error(`step ${step}: loss ${avg.toFixed(4)}`);
    if (every > 0 && step % every === 0 && onCheck) onCheck(roundTrip(current()), step);
  }
  return roundTrip(current());
}

function rows(data: { x: Float32Array }, r: Rendering): Float32Array[] {
  return r.pos.map((_, t) => data.x.subarray((r.at + t) * F, (r.at + t + 1) * F));
}

function meanLogits(x: Float32Array[], ws: TaggerWeights[]): number[] {
  const out = new Array<number>(x.length).fill(0);
  for (const w of ws) taggerLogits(x, w).forEach((v, i) => (out[i] = (out[i] as number) + v / ws.length));
  return out;
}

function meanLogProbs(x: Float32Array[], ws: TaggerWeights[]): number[][] {
  const all = ws.map((w) => taggerLogProbs(x, w));
  return x.map((_, i) => (all[0]?.[i] ?? []).map((_v, k) => all.reduce((a, lp) => a + (lp[i]?.[k] as number), 0) / ws.length));
}

/** Mean downbeat F of the seed-1 renderings `evals` under each emission. */
function measure(data: { x: Float32Array }, evals: Rendering[], ws: TaggerWeights | TaggerWeights[] | null, label: string): Record<string, number> {
  const w = ws === null ? null : Array.isArray(ws) ? ws : [ws];
  const variants: Record<string, (hand: number[], logit: number[]) => number[]> = {
    hand: (h) => h,
    ...(w === null ? {} : { tagger: (_h: number[], l: number[]) => l, sum: (h: number[], l: number[]) => h.map((v, i) => v + (l[i] as number)), 'hand+0.5tagger': (h: number[], l: number[]) => h.map((v, i) => v + 0.5 * (l[i] as number)), '2tagger': (_h: number[], l: number[]) => l.map((v) => 2 * v) }),
  };
  const positions = w !== null && (w[0] as TaggerWeights).classes > 1;
  const sums: Record<string, number> = Object.fromEntries([...Object.keys(variants), ...(positions ? ['positions'] : [])].map((k) => [k, 0]));
  for (const r of evals) {
    const logit = w === null || r.fallback ? [] : meanLogits(rows(data, r), w);
    for (const [k, f] of Object.entries(variants)) {
      const down = r.fallback ? r.downbeats : decodeDownbeats(f(r.hand, logit), r.meter, DEFAULT_DOWNBEAT.jump).map((i) => r.beats[i] as number);
      sums[k] = (sums[k] as number) + beatFMeasure(r.refDownbeats, down);
    }
    if (positions && w !== null) {
      const down = r.fallback ? r.downbeats : r.meter === 4 ? decodeBarPositions(meanLogProbs(rows(data, r), w), 4, DEFAULT_DOWNBEAT.jump).map((i) => r.beats[i] as number) : decodeDownbeats(logit, r.meter, DEFAULT_DOWNBEAT.jump).map((i) => r.beats[i] as number);
      sums.positions = (sums.positions as number) + beatFMeasure(r.refDownbeats, down);
    }
  }
  const out = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, Math.round((v / evals.length) * 10000) / 10000]));
  console.log(JSON.stringify({ measured: label, songs: evals.length, ...out }));
  return out;
}

function pack(w: TaggerWeights): PackedTagger {
  const b64 = (xs: ArrayLike<number>): string => {
    const buf = Buffer.alloc(2 * xs.length);
    float32ToFloat16(Float32Array.from(xs)).forEach((h, k) => buf.writeUInt16LE(h, 2 * k));
    return buf.toString('base64');
  };
  return { c: w.c, dilations: [...w.dilations], classes: w.classes, inW: b64(w.inW), inB: b64(w.inB), blocks: w.blocks.map((b) => ({ w: b64(b.w), b: b64(b.b) })), outW: b64(w.outW), outB: b64(w.outB) };
}

/** The weights as the tracker will read them (half floats). */
function roundTrip(w: TaggerWeights): TaggerWeights {
  return unpackTagger(pack(w));
}

function weightsFile(ws: TaggerWeights[], seed: number, hp: Hyper, songs: readonly [number, number]): string {
  const packed = ws.map(pack);
  return [
    '/**',
    " * The downbeat tagger's weights (src/music/beats/tagger.ts; an ensemble whose log-odds are averaged; arrays as",
    ` * base64 half floats), fitted on POP909's songs ${songs[0]}-${songs[1]} by`,
    ` *   node --import tsx scripts/beats_tagger.ts POP909_DIR --songs ${songs[0]}-${songs[1]} --fit all --seed ${seed} --ensemble ${ws.length} --steps ${hp.steps} --hyper '${JSON.stringify(hp)}' --write`,
    ' * (with a --cache of its own). Generated; do not edit.',
    ' */',
    "import type { PackedTagger } from './tagger.ts';",
    '',
    `/** The POP909 songs (first and last number) the tagger was fitted on: its downbeat figures on them are not held out. */`,
    `export const TAGGER_SONGS: readonly [number, number] = [${songs[0]}, ${songs[1]}];`,
    '',
    `export const PACKED_TAGGERS: readonly PackedTagger[] = ${JSON.stringify(packed, null, 1)};`,
    '',
  ].join('\n');
}

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const dir = args[0] ?? '../shared/data/pop909';
const cache = opt('--cache') ?? DEFAULT_CACHE;
const which = opt('--fit') ?? 'odd';
const seed = Number(opt('--seed') ?? 1);
const hp: Hyper = { ...HYPER, ...(opt('--steps') ? { steps: Number(opt('--steps')) } : {}), ...(opt('--hyper') ? JSON.parse(opt('--hyper') as string) : {}) };
const songRange = (opt('--songs') ?? `1-${DEV_LAST_SONG}`).split('-').map(Number) as [number, number];
const data = existsSync(join(cache, 'x.bin')) ? loadCache(cache) : collect(dir, cache, Number(opt('--renderings') ?? 3), songRange);
{
  // A cache collected for other songs would silently fit on them: it must hold exactly the songs asked for.
  const cached = new Set(data.renderings.map((r) => r.song));
  const wanted = pop909Songs(dir, 'all').filter((s) => s >= songRange[0] && s <= songRange[1]);
  if (cached.size !== wanted.length || wanted.some((s) => !cached.has(s))) {
    throw new Error(`the cache ${cache} holds ${cached.size} songs, not the ${wanted.length} of ${songRange.join('-')}: give each --songs its own --cache`);
  }
}
await initBackend('wasm');
const isOdd = (r: Rendering): boolean => r.song % 2 === 1;
const evalsOf = (pred: (r: Rendering) => boolean): Rendering[] => data.renderings.filter((r) => r.seed === 1 && pred(r));
const every = Number(opt('--every') ?? 0);
const ensemble = Number(opt('--ensemble') ?? 1);
/** Songs by residue and range: 'M:c1,c2' (song % M in {c1, c2}), optionally '@A-B' (songs A..B). */
const modSet = (spec: string): ((r: Rendering) => boolean) => {
  const [mod, range] = spec.split('@');
  const [m, classes] = (mod ?? '').split(':');
  const keep = new Set((classes ?? '').split(',').map(Number));
  const [a, b] = (range ?? '1-9999').split('-').map(Number) as [number, number];
  return (r) => keep.has(r.song % Number(m)) && r.song >= a && r.song <= b;
};
if (opt('--train') !== undefined) {
  // A learning curve: fit on the songs of some residues and measure others, e.g. --train 4:0,1,2 --eval 4:3.
  const inTrain = modSet(opt('--train') as string);
  const train = data.renderings.filter(inTrain);
  const evalSpecs = (opt('--eval') ?? '2:0').split(';');
  console.error(`fitting on songs ${opt('--train')}: ${new Set(train.map((r) => r.song)).size} songs, ${train.length} renderings, ${JSON.stringify(hp)}, seed ${seed}`);
  const models: TaggerWeights[] = [];
  for (let e = 0; e < ensemble; e++) models.push(fit(data, train, hp, seed + e));
  for (const spec of evalSpecs) measure(data, evalsOf(modSet(spec)), models, `${spec} held out, ensemble of ${ensemble}`);
} else if (which === 'q1' || which === 'q0') {
  // Model selection inside one half: fit on songs = 1 (mod 4) and measure on 3 (mod 4), or 0 and 2 (mod 4).
  const r0 = which === 'q1' ? 1 : 0;
  const train = data.renderings.filter((r) => r.song % 4 === r0);
  const evals = evalsOf((r) => r.song % 4 === r0 + 2);
  console.error(`fitting on songs ${r0} (mod 4): ${train.length} renderings, ${JSON.stringify(hp)}, seed ${seed}`);
  measure(data, evals, null, `${r0 + 2} (mod 4)`);
  fit(data, train, hp, seed, every || hp.steps, (w, step) => measure(data, evals, w, `${r0 + 2} (mod 4) at step ${step}`));
} else if (which === 'none') {
  measure(data, evalsOf(isOdd), null, 'odd');
  measure(data, evalsOf((r) => !isOdd(r)), null, 'even');
  measure(data, evalsOf(() => true), null, 'all dev');
} else {
  const train = data.renderings.filter((r) => (which === 'all' ? true : which === 'odd' ? isOdd(r) : !isOdd(r)));
  console.error(`fitting on ${which} songs of the cache (${new Set(train.map((r) => r.song)).size}): ${train.length} renderings, ${JSON.stringify(hp)}, seed ${seed}`);
  const heldOut = evalsOf((r) => (which === 'odd' ? !isOdd(r) : isOdd(r)));
  const models: TaggerWeights[] = [];
  for (let e = 0; e < ensemble; e++) {
    models.push(fit(data, train, hp, seed + e, which === 'all' ? 0 : every, (cw, step) => measure(data, heldOut, cw, `held out at step ${step} (model ${e})`)));
    if (which !== 'all' && e > 0) measure(data, heldOut, models, `held out, ensemble of ${e + 1}`);
  }
  const w = models;
  const save = opt('--save');
  if (save !== undefined) writeFileSync(save, JSON.stringify(w.map(pack)));
  if (which !== 'all') measure(data, evalsOf((r) => (which === 'odd' ? !isOdd(r) : isOdd(r))), w, which === 'odd' ? 'even (held out)' : 'odd (held out)');
  measure(data, evalsOf((r) => (which === 'odd' ? isOdd(r) : which === 'even' ? !isOdd(r) : true)), w, `${which} (fitted)`);
  if (which === 'all' && args.includes('--write')) {
    const file = new URL('../src/music/beats/tagger_weights.ts', import.meta.url).pathname;
    writeFileSync(`${file}.tmp`, weightsFile(w, seed, hp, songRange));
    renameSync(`${file}.tmp`, file);
  }
}
