/**
 * `trackBeats`: the beats, downbeats, meter and local tempo of a performed or transcribed piano piece, in seconds
 * of the file's own timeline, from its notes alone.
 *
 * Method (chosen by measurement on POP909 renderings, see `emopia beats evaluate`): the notes become onset events
 * (onsets.ts) and an onset-strength envelope (envelope.ts); the beat period comes from a histogram of inter-onset
 * intervals with a comb over its multiples and a tempo prior (tempo.ts); Ellis's dynamic programme places the beats
 * (dp.ts), which are then moved onto the strongest onset close to them; the meter comes from bass, harmonic change,
 * accents and long notes at the beats (downbeats.ts); the downbeats are a Viterbi path over the log-odds of a learned
 * tagger over the tracked beats (tagger.ts), or with `downbeatModel: 'hand'` over those cues' score.
 *
 * Bounded on any input: the work is linear in the notes plus the piece's length in 10 ms frames, and a piece longer
 * than `maxSeconds` (default 1 hour), with fewer than 8 onset events, shorter than 4 s or without a periodicity
 * gets the file's own grid with `fallback` saying why. Deterministic (no randomness).
 */
import type { BeatGrid } from '../beat_grid.ts';
import type { Score } from '../score.ts';
import { chooseMeter, beatFeatures, decodeDownbeats, downbeatScores, DEFAULT_DOWNBEAT, type DownbeatWeights } from './downbeats.ts';
import { pickCandidate, tempoCandidates, type Candidate } from './candidates.ts';
import { DEFAULT_DP, type DpOptions } from './dp.ts';
import { TEMPO_WEIGHTS } from './fitted.ts';
import { DEFAULT_STRENGTH, eventStrengths, FPS, onsetEnvelope, type StrengthWeights } from './envelope.ts';
import { fileGrid } from './file_grid.ts';
import { onsetEvents, type OnsetEvent } from './onsets.ts';
import { taggerDownbeatLogits, unpackTagger, type TaggerWeights } from './tagger.ts';
import { PACKED_TAGGERS } from './tagger_weights.ts';
import { DEFAULT_TEMPO, estimatePeriod, type TempoOptions } from './tempo.ts';

export interface TempoPoint {
  /** Seconds (a beat). */
  time: number;
  bpm: number;
}

export interface BeatTracking extends BeatGrid {
  meter: 3 | 4;
  /** Local tempo at each beat: 60 over the median of the beat intervals around it (up to 4 on each side). */
  tempo: TempoPoint[];
  /**
   * 0..1: the share of onset strength that falls on the tracked grid (within a tenth of a beat of a beat or of the
   * midpoint between two beats). Low values mean the grid explains the notes poorly. 0 for the fallback.
   */
  confidence: number;
  /** Set when the file's own grid was returned instead of a tracked one: why, in one line. */
  fallback?: string;
  /**
   * What the meter was chosen from (absent for the fallback): the best downbeat contrasts of 3 and 4 beats to the
   * bar (downbeats.ts) and the tempo comb's ternary and duple readings at the beat period (tempo.ts).
   */
  meterEvidence?: MeterEvidence;
}

export interface MeterEvidence {
  three: number;
  four: number;
  combTriple: number;
  combDuple: number;
}

/** What places the downbeats (TrackOptions.downbeatModel). */
export const DOWNBEAT_MODELS = ['hand', 'tagger'] as const;
export type DownbeatModel = (typeof DOWNBEAT_MODELS)[number];
/** The downbeat model used when none is named. */
export const DEFAULT_DOWNBEAT_MODEL: DownbeatModel = 'tagger';

export interface TrackOptions {
  /** Pieces longer than this (seconds, from the first to the last onset) fall back to the file's grid. */
  maxSeconds?: number;
  strength?: Partial<StrengthWeights>;
  tempo?: Partial<TempoOptions>;
  dp?: Partial<DpOptions>;
  downbeat?: Partial<DownbeatWeights>;
  /** Move each beat to the strongest onset within this many seconds (0 turns it off; default 0.04). */
  snap?: number;
  /**
   * What places the downbeats (the meter is chosen from the hand score either way): 'tagger' (default), the learned
   * tagger's log-odds (tagger.ts, weights in tagger_weights.ts: downbeat F 0.753 against 0.711 on the POP909 songs
   * it was not fitted on, 601-909); 'hand', the hand score of downbeats.ts, about 2x faster, which the shipped
   * model's beat-true EMOPIA data was built with.
   */
  downbeatModel?: DownbeatModel;
  /** Weights of the tempo candidates' features (candidates.ts CANDIDATE_FEATURES; default the fitted TEMPO_WEIGHTS). */
  tempoWeights?: readonly number[];
}

export const MIN_EVENTS = 8;
export const MIN_SECONDS = 4;
export const DEFAULT_MAX_SECONDS = 3600;

function localTempo(beats: readonly number[]): TempoPoint[] {
  const out: TempoPoint[] = [];
  for (let i = 0; i < beats.length; i++) {
    const d: number[] = [];
    for (let k = Math.max(1, i - 3); k <= Math.min(beats.length - 1, i + 4); k++) d.push((beats[k] as number) - (beats[k - 1] as number));
    if (d.length === 0) continue;
    d.sort((a, b) => a - b);
    const m = d.length >> 1;
    const med = d.length % 2 === 1 ? (d[m] as number) : ((d[m - 1] as number) + (d[m] as number)) / 2;
    out.push({ time: beats[i] as number, bpm: 60 / med });
  }
  return out;
}

/** Share of strength within a tenth of a beat of a beat or a half beat. */
function gridConfidence(beats: readonly number[], events: readonly OnsetEvent[], strengths: readonly number[]): number {
  const grid: number[] = [];
  for (let i = 0; i < beats.length; i++) {
    grid.push(beats[i] as number);
    if (i + 1 < beats.length) grid.push(((beats[i] as number) + (beats[i + 1] as number)) / 2);
  }
  let on = 0;
  let all = 0;
  let g = 0;
  events.forEach((e, k) => {
    const s = strengths[k] as number;
    all += s;
    while (g + 1 < grid.length && (grid[g + 1] as number) <= e.time) g++;
    const ibi = beats.length > 1 ? ((beats[beats.length - 1] as number) - (beats[0] as number)) / (beats.length - 1) : 1;
    const near = Math.min(Math.abs(e.time - (grid[g] as number)), g + 1 < grid.length ? Math.abs((grid[g + 1] as number) - e.time) : Infinity);
    if (near <= 0.1 * ibi) on += s;
  });
  return all > 0 ? on / all : 0;
}

function fallbackTo(score: Score, why: string): BeatTracking {
  const g = fileGrid(score);
  return { beats: g.beats, downbeats: g.downbeats, meter: g.meter, tempo: localTempo(g.beats), confidence: 0, fallback: why };
}

type Prepared = { events: OnsetEvent[]; strengths: number[]; candidates: Candidate[]; meterComb: { duple: number; triple: number } };

/** The onset events, their strengths and the tempo candidates of a piece, or the fallback when it cannot be tracked. */
function prepare(score: Score, options: TrackOptions): Prepared | BeatTracking {
  const strengthW = { ...DEFAULT_STRENGTH, ...options.strength };
  const tempoOpts = { ...DEFAULT_TEMPO, ...options.tempo };
  const dpOpts = { ...DEFAULT_DP, ...options.dp };
  const maxSeconds = options.maxSeconds ?? DEFAULT_MAX_SECONDS;

  const events = onsetEvents(score).filter((e) => e.time >= 0);
  if (events.length < MIN_EVENTS) return fallbackTo(score, `too sparse to track: ${events.length} onset events, at least ${MIN_EVENTS} needed; the file's own grid is used`);
  const first = (events[0] as OnsetEvent).time;
  const last = (events[events.length - 1] as OnsetEvent).time;
  if (last - first < MIN_SECONDS) return fallbackTo(score, `too short to track: ${(last - first).toFixed(2)} s of onsets, at least ${MIN_SECONDS} s needed; the file's own grid is used`);
  if (last - first > maxSeconds) return fallbackTo(score, `too long to track: ${(last - first).toFixed(0)} s of onsets, the limit is ${maxSeconds} s; the file's own grid is used`);

  const strengths = eventStrengths(events, strengthW);
  const est = estimatePeriod(events, strengths, tempoOpts);
  if (est === null) return fallbackTo(score, "no periodicity in the onsets; the file's own grid is used");

  const lastFrame = Math.ceil(last * FPS);
  const env = onsetEnvelope(events, strengths, lastFrame + 3);
  const from = Math.max(0, Math.floor(first * FPS) - 2);
  const candidates = tempoCandidates({ events, strengths, env, histogram: est.histogram, period: est.period, from }, { tempo: tempoOpts, dp: dpOpts, snap: options.snap ?? 0.04 });
  return { events, strengths, candidates, meterComb: { duple: est.duple, triple: est.triple } };
}

/**
 * The tempo candidates of a piece (candidates.ts) with each one's features, for fitting their weights
 * (scripts/beats_fit.ts); empty when the piece falls back to the file's grid.
 */
export function trackCandidates(score: Score, options: TrackOptions = {}): Candidate[] {
  const p = prepare(score, options);
  return 'candidates' in p ? p.candidates : [];
}

let taggers: TaggerWeights[] | null = null;

/** The shipped tagger ensemble, unpacked on first use. */
function shippedTaggers(): TaggerWeights[] {
  taggers ??= PACKED_TAGGERS.map(unpackTagger);
  return taggers;
}

export function trackBeats(score: Score, options: TrackOptions = {}): BeatTracking {
  const downW = { ...DEFAULT_DOWNBEAT, ...options.downbeat };
  const p = prepare(score, options);
  if (!('candidates' in p)) return p;
  const { events, strengths, candidates } = p;
  const chosen = candidates[pickCandidate(candidates, options.tempoWeights ?? TEMPO_WEIGHTS)] as Candidate;
  const beats = chosen.beats;

  const cues = beatFeatures(beats, events, strengths);
  const scores = downbeatScores(cues, downW);
  const choice = chooseMeter(scores, downW);
  const emission = (options.downbeatModel ?? DEFAULT_DOWNBEAT_MODEL) === 'tagger' ? taggerDownbeatLogits(beats, events, strengths, shippedTaggers(), cues) : scores;
  const downbeats = decodeDownbeats(emission, choice.meter, downW.jump).map((i) => beats[i] as number);
  const meterEvidence = { three: choice.three, four: choice.four, combTriple: p.meterComb.triple, combDuple: p.meterComb.duple };
  return { beats, downbeats, meter: choice.meter, tempo: localTempo(beats), confidence: gridConfidence(beats, events, strengths), meterEvidence };
}
