/**
 * Fits the tempo candidates' weights (src/music/beats/fitted.ts TEMPO_WEIGHTS) on POP909's dev songs only (1-300):
 * each song is rendered with several seeded warps (render.ts), whole and as a seeded 30 s excerpt, with seeded timing
 * jitter of 0, 10 or 20 ms (render.ts jitterNotes: transcriptions are not quantized); every tempo
 * candidate (candidates.ts) is scored by its beat F-measure against the warped annotations, and a conditional logit
 * (the softmax over one rendering's candidates, L2-penalised, full-batch gradient descent from zero) learns to put
 * its mass on the best ones. Deterministic.
 *
 *   node --import tsx scripts/beats_fit.ts POP909_DIR [--write] [--cache FILE]
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Rng } from '../src/random.ts';
import { CANDIDATE_FEATURES } from '../src/music/beats/candidates.ts';
import { excerptPerformance } from '../src/music/beats/evaluate.ts';
import { beatFMeasure } from '../src/music/beats/metrics.ts';
import { jitterNotes, randomWarp, renderPerformance, RENDER_BPM } from '../src/music/beats/render.ts';
import { trackCandidates } from '../src/music/beats/track.ts';
import { pop909Songs, readPop909Song } from '../src/platform/beats_pop909.ts';

const SEEDS = [101, 102, 103];
/** Timing jitter (seconds) of each seed's renderings, with velocity jitter of 12 when above 0: transcriptions are not quantized. */
const JITTER: Record<number, number> = { 101: 0, 102: 0.01, 103: 0.02 };
const EXCERPT = 30;
const L2 = 1e-3;
const STEPS = 3000;

interface Row { song: number; x: number[][]; f: number[] }

function collect(dir: string): Row[] {
  const rows: Row[] = [];
  for (const song of pop909Songs(dir, 'dev')) {
    const piece = readPop909Song(dir, song);
    for (const seed of SEEDS) {
      const rng = new Rng(seed * 100_003 + song);
      const whole = renderPerformance(piece.score, piece.grid, randomWarp(rng));
      const perSecond = (whole.score.ticksPerBeat * RENDER_BPM) / 60;
      const end = whole.score.notes.reduce((m, n) => Math.max(m, n.start), 0) / perSecond;
      const excerpt = excerptPerformance(whole, Math.max(0, end - EXCERPT) * rng.next(), EXCERPT);
      const jitter = JITTER[seed] ?? 0;
      for (const clean of [whole, excerpt]) {
        const perf = jitter > 0 ? { score: jitterNotes(clean.score, rng, jitter, 12), grid: clean.grid } : clean;
        const cands = trackCandidates(perf.score);
        if (cands.length < 2) continue;
        rows.push({ song, x: cands.map((c) => c.features), f: cands.map((c) => beatFMeasure(perf.grid.beats, c.beats)) });
      }
    }
    if (song % 50 === 0) console.error(`song ${song}: ${rows.length} renderings`);
  }
  return rows;
}

/** Soft targets: the candidates within 0.02 of the best F share the mass (none when no candidate reaches 0.5). */
function targets(f: number[]): number[] | null {
  const best = Math.max(...f);
  if (best < 0.5) return null;
  const on = f.map((v) => (v >= best - 0.02 ? 1 : 0));
  const n = on.reduce((a: number, b) => a + b, 0);
  return on.map((v) => v / n);
}

function fit(rows: Row[]): number[] {
  const K = CANDIDATE_FEATURES.length;
  const data = rows.map((r) => ({ x: r.x, t: targets(r.f) })).filter((d): d is { x: number[][]; t: number[] } => d.t !== null);
  // Standardize each feature over all candidates (the weights are mapped back to raw units at the end).
  const all = data.flatMap((d) => d.x);
  const mu = Array.from({ length: K }, (_, k) => all.reduce((s, x) => s + (x[k] as number), 0) / all.length);
  const sd = Array.from({ length: K }, (_, k) => Math.sqrt(all.reduce((s, x) => s + ((x[k] as number) - (mu[k] as number)) ** 2, 0) / all.length) || 1);
  const z = data.map((d) => ({ x: d.x.map((x) => x.map((v, k) => (v - (mu[k] as number)) / (sd[k] as number))), t: d.t }));
  const w = new Array<number>(K).fill(0);
  // Adam on the mean negative log-likelihood plus L2.
  const m = new Array<number>(K).fill(0);
  const v = new Array<number>(K).fill(0);
  const lr = 0.05;
  let loss = 0;
  for (let step = 1; step <= STEPS; step++) {
    const g = w.map((wk) => 2 * L2 * wk);
    loss = 0;
    for (const d of z) {
      const s = d.x.map((x) => x.reduce((a, xv, k) => a + xv * (w[k] as number), 0));
      const mx = Math.max(...s);
      const e = s.map((sv) => Math.exp(sv - mx));
      const tot = e.reduce((a, b) => a + b, 0);
      const p = e.map((ev) => ev / tot);
      d.t.forEach((tv, i) => { if (tv > 0) loss -= tv * Math.log(Math.max(1e-12, p[i] as number)); });
      for (let i = 0; i < d.x.length; i++) {
        const coef = ((p[i] as number) - (d.t[i] as number)) / z.length;
        const xi = d.x[i] as number[];
        for (let k = 0; k < K; k++) g[k] = (g[k] as number) + coef * (xi[k] as number);
      }
    }
    for (let k = 0; k < K; k++) {
      m[k] = 0.9 * (m[k] as number) + 0.1 * (g[k] as number);
      v[k] = 0.999 * (v[k] as number) + 0.001 * (g[k] as number) ** 2;
      w[k] = (w[k] as number) - (lr * ((m[k] as number) / (1 - 0.9 ** step))) / (Math.sqrt((v[k] as number) / (1 - 0.999 ** step)) + 1e-8);
    }
  }
  console.error(`fitted on ${z.length} renderings, loss ${(loss / z.length).toFixed(4)}`);
  return w.map((wk, k) => wk / (sd[k] as number));
}

function report(rows: Row[], w: number[], label: string): void {
  let chosen = 0;
  let base = 0;
  let oracle = 0;
  for (const r of rows) {
    const s = r.x.map((x) => x.reduce((a, xv, k) => a + xv * (w[k] as number), 0));
    chosen += r.f[s.indexOf(Math.max(...s))] as number;
    base += r.f[0] as number;
    oracle += Math.max(...r.f);
  }
  const n = rows.length || 1;
  console.error(`${label}: ${rows.length} renderings, beat F comb period ${(base / n).toFixed(4)}, chosen ${(chosen / n).toFixed(4)}, best candidate ${(oracle / n).toFixed(4)}`);
}

const args = process.argv.slice(2);
const dir = args[0] ?? '../shared/data/pop909';
const cacheAt = args.indexOf('--cache');
const cache = cacheAt >= 0 ? args[cacheAt + 1] : undefined;
const rows: Row[] = cache !== undefined && existsSync(cache) ? JSON.parse(readFileSync(cache, 'utf8')) : collect(dir);
if (cache !== undefined && !existsSync(cache)) writeFileSync(cache, JSON.stringify(rows));
// Fit on two thirds of the songs and report the held-out third, then refit on all.
const held = (r: Row): boolean => r.song % 3 === 0;
const wPart = fit(rows.filter((r) => !held(r)));
report(rows.filter((r) => !held(r)), wPart, 'fit part');
report(rows.filter(held), wPart, 'held-out dev third');
const w = fit(rows);
report(rows, w, 'all dev');
const line = `export const TEMPO_WEIGHTS: readonly number[] = [${w.map((x) => Number(x.toPrecision(6))).join(', ')}];`;
console.log(CANDIDATE_FEATURES.map((n, k) => `${n}: ${(w[k] as number).toPrecision(4)}`).join('\n'));
if (args.includes('--write')) {
  const file = new URL('../src/music/beats/fitted.ts', import.meta.url);
  const text = readFileSync(file, 'utf8').replace(/export const TEMPO_WEIGHTS: readonly number\[\] = \[[^\]]*\];/, line);
  writeFileSync(`${file.pathname}.tmp`, text);
  renameSync(`${file.pathname}.tmp`, file.pathname);
}
