/**
 * Decoding variants of the downbeat tagger's log-odds, measured on POP909's dev halves (dev only), from two ensembles
 * that scripts/beats_tagger.ts fitted and saved, one on the odd songs and one on the even ones (each half is decoded
 * with the ensemble that did not see it):
 *
 *   node --import tsx scripts/beats_tagger.ts POP909_DIR --fit odd  --steps 400 --ensemble 5 --seed 1 --hyper '{"lr":0.001}' --save ODD.json
 *   node --import tsx scripts/beats_tagger.ts POP909_DIR --fit even --steps 400 --ensemble 5 --seed 1 --hyper '{"lr":0.001}' --save EVEN.json
 *   node --import tsx scripts/beats_tagger_decode.ts ODD.json EVEN.json [--cache DIR]
 *
 * (the same --cache as the fits). Prints mean downbeat F of the odd / even songs' seed-1 renderings for: the bar
 * length (in tracked beats) chosen per song by the Viterbi path's score over the log-odds plus a bias, among 2, 4, 8
 * (4/4) or 3, 6 (3/4), with the best choice per song as a bound; 6-beat bars for every 3/4 song; other jump costs;
 * the log-odds averaged over key transpositions of the chroma.
 */
import { readFileSync } from 'node:fs';
import { BASS_CHROMA_AT, CHROMA_AT, TAGGER_FEATURES as F, taggerLogits, unpackTagger, type PackedTagger, type TaggerWeights } from '../src/music/beats/tagger.ts';
import { beatFMeasure } from '../src/music/beats/metrics.ts';
import { barPath, decodeDownbeats } from '../src/music/beats/downbeats.ts';
import { DEFAULT_CACHE, loadCache, type Rendering } from './beats_tagger_cache.ts';


const args = process.argv.slice(2);
const ci = args.indexOf('--cache');
const cache = ci >= 0 ? (args[ci + 1] as string) : DEFAULT_CACHE;
const [oddFile, evenFile] = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--cache');
if (oddFile === undefined || evenFile === undefined) throw new Error('usage: beats_tagger_decode.ts ODD.json EVEN.json [--cache DIR]');
const ensemble = (f: string): TaggerWeights[] => (JSON.parse(readFileSync(f, 'utf8')) as PackedTagger[]).map(unpackTagger);
const fittedOnOdd = ensemble(oddFile);
const fittedOnEven = ensemble(evenFile);
const { renderings, x: X } = loadCache(cache);
const evals = renderings.filter((r) => r.seed === 1);

/** The Viterbi path of downbeats.ts (barPath) over the log-odds `e` with bars of `m` beats: downbeat indices and score. */
function viterbi(e: readonly number[], m: number, jump: number): { down: number[]; score: number } {
  const p = barPath(e.length, m, jump, (i, k) => (k === 0 ? (e[i] as number) : 0));
  return { down: p.downbeats, score: p.score };
}

/** The held-out ensemble's mean log-odds, the chroma blocks rotated by each of `rotations` and averaged. */
function logOdds(r: Rendering, rotations: readonly number[]): number[] {
  const ws = r.song % 2 === 1 ? fittedOnEven : fittedOnOdd;
  const base = r.pos.map((_, t) => X.subarray((r.at + t) * F, (r.at + t + 1) * F));
  const out = new Array<number>(base.length).fill(0);
  for (const rot of rotations) {
    const x = base.map((row) => {
      const o = Float32Array.from(row);
      for (const off of [CHROMA_AT, BASS_CHROMA_AT]) for (let c = 0; c < 12; c++) o[off + ((c + rot) % 12)] = row[off + c] as number;
      return o;
    });
    for (const w of ws) taggerLogits(x, w).forEach((v, i) => (out[i] = (out[i] as number) + v / ws.length / rotations.length));
  }
  return out;
}

/** The log-odds less their mean over the piece, as decodeDownbeats reads them. */
const centred = (e: readonly number[]): number[] => {
  const mean = e.reduce((a, b) => a + b, 0) / Math.max(1, e.length);
  return e.map((x) => x - mean);
};
const plain = new Map(evals.map((r) => [r, r.fallback ? [] : logOdds(r, [0])]));
/** Mean downbeat F of the odd and of the even songs, `decode` giving a rendering's downbeat indices. */
function halves(label: string, decode: (r: Rendering, e: number[]) => number[]): void {
  const sum = [0, 0];
  const count = [0, 0];
  for (const r of evals) {
    const h = r.song % 2;
    const down = r.fallback ? r.downbeats : decode(r, plain.get(r) as number[]).map((i) => r.beats[i] as number);
    sum[h] = (sum[h] as number) + beatFMeasure(r.refDownbeats, down);
    count[h] = (count[h] as number) + 1;
  }
  console.log(`${label}: odd ${((sum[1] as number) / (count[1] as number)).toFixed(4)}, even ${((sum[0] as number) / (count[0] as number)).toFixed(4)}`);
}

halves('shipped decoding (decodeDownbeats: bars of the hand meter, jump 8)', (r, e) => decodeDownbeats(e, r.meter, 8));
for (const bias of [-1, -0.5, 0, 0.5, 1, 1.5]) {
  halves(`bar length by path score, bias ${bias}`, (r, e) => {
    const b = e.map((x) => x + bias);
    const paths = (r.meter === 4 ? [2, 4, 8] : [3, 6]).map((m) => viterbi(b, m, 8));
    return paths.reduce((a, p) => (p.score > a.score ? p : a)).down;
  });
}
const better: Record<string, number> = {};
halves('bar length, the best per song (a bound)', (r, e) => {
  const lengths = r.meter === 4 ? [4, 2, 8] : [3, 6];
  const paths = lengths.map((m) => viterbi(e, m, 8).down);
  const f = paths.map((d) => beatFMeasure(r.refDownbeats, d.map((i) => r.beats[i] as number)));
  const best = f.indexOf(Math.max(...f));
  if ((f[best] as number) > (f[0] as number) + 0.05) better[`${r.meter} -> ${lengths[best]}`] = (better[`${r.meter} -> ${lengths[best]}`] ?? 0) + 1;
  return paths[best] as number[];
});
console.log(`  songs where another bar length scores 0.05 more: ${JSON.stringify(better)}`);
halves('6-beat bars for 3/4 songs', (r, e) => viterbi(centred(e), r.meter === 3 ? 6 : 4, 8).down);
for (const jump of [4, 6, 12, 16, 24]) halves(`jump ${jump}`, (r, e) => decodeDownbeats(e, r.meter, jump));
for (const rotations of [[0, 4, 8], [0, 3, 6, 9], Array.from({ length: 12 }, (_, k) => k)]) {
  halves(`log-odds averaged over ${rotations.length} transpositions`, (r) => decodeDownbeats(logOdds(r, rotations), r.meter, 8));
}
