/**
 * The onset-strength envelope: each onset event's strength (louder, larger, lower and longer events weigh more),
 * placed on a frame grid with sub-frame linear interpolation and smoothed by a short kernel.
 */
import type { OnsetEvent } from './onsets.ts';

/** Frames per second of the envelope (10 ms frames: well inside mir_eval's 70 ms window). */
export const FPS = 100;

export interface StrengthWeights {
  /** Weight of sqrt(summed velocity / 127). */
  loudness: number;
  /** Added when the event's lowest note is below `bassPitch`. */
  bass: number;
  bassPitch: number;
  /** Weight of the longest note struck, in seconds (capped at 1 s). */
  length: number;
}

export const DEFAULT_STRENGTH: StrengthWeights = { loudness: 1, bass: 0.5, bassPitch: 55, length: 0.5 };

export function eventStrength(e: OnsetEvent, w: StrengthWeights = DEFAULT_STRENGTH): number {
  return w.loudness * Math.sqrt(e.loudness) + (e.low < w.bassPitch ? w.bass : 0) + w.length * Math.min(e.longest, 1);
}

/** Every event's strength, scaled to a mean of 1 (all 1 when every strength is 0). */
export function eventStrengths(events: readonly OnsetEvent[], w: StrengthWeights = DEFAULT_STRENGTH): number[] {
  const raw = events.map((e) => eventStrength(e, w));
  const mean = raw.reduce((s, x) => s + x, 0) / Math.max(1, raw.length);
  return raw.map((s) => (mean > 0 ? s / mean : 1));
}

const KERNEL = [0.25, 0.6, 1, 0.6, 0.25];

/** The envelope over frames 0 .. nFrames-1 (frame f is time f / FPS); events outside are ignored. */
export function onsetEnvelope(events: readonly OnsetEvent[], strengths: readonly number[], nFrames: number): Float64Array {
  const raw = new Float64Array(nFrames);
  events.forEach((e, i) => {
    const x = e.time * FPS;
    const f = Math.floor(x);
    const frac = x - f;
    const s = strengths[i] as number;
    if (f >= 0 && f < nFrames) raw[f] = (raw[f] as number) + s * (1 - frac);
    if (f + 1 >= 0 && f + 1 < nFrames) raw[f + 1] = (raw[f + 1] as number) + s * frac;
  });
  const env = new Float64Array(nFrames);
  const h = KERNEL.length >> 1;
  for (let f = 0; f < nFrames; f++) {
    const v = raw[f] as number;
    if (v === 0) continue;
    for (let k = -h; k <= h; k++) {
      const g = f + k;
      if (g >= 0 && g < nFrames) env[g] = (env[g] as number) + v * (KERNEL[k + h] as number);
    }
  }
  return env;
}
