/**
 * The notes of a score as onset events in seconds: notes struck within a few milliseconds of each other are one
 * event (a chord, a hand spread), with the strength, lowest pitch and pitch classes the tracker reads.
 */
import type { Score } from '../score.ts';
import { secondsAt } from '../time_map.ts';

export interface OnsetEvent {
  /** Seconds of the first note of the event. */
  time: number;
  /** Number of notes. */
  size: number;
  /** Sum of the notes' velocities / 127. */
  loudness: number;
  /** Lowest pitch struck. */
  low: number;
  /** Longest note struck, seconds. */
  longest: number;
  /** Duration-weighted pitch-class profile of the notes struck (12 values). */
  chroma: Float64Array;
}

/** Notes starting within this many seconds of an event's first note join it. */
export const CHORD_SPREAD = 0.03;

/** The onset events of `score`, in time order. Notes with a non-finite time are ignored. */
export function onsetEvents(score: Score): OnsetEvent[] {
  const sec = secondsAt(score.tempos);
  const notes = score.notes
    .map((n) => ({ t: sec(n.start), d: Math.max(0, sec(n.end) - sec(n.start)), pitch: n.pitch, velocity: n.velocity }))
    .filter((n) => Number.isFinite(n.t) && Number.isFinite(n.d))
    .sort((a, b) => a.t - b.t);
  const events: OnsetEvent[] = [];
  let cur: OnsetEvent | null = null;
  for (const n of notes) {
    if (cur === null || n.t - cur.time > CHORD_SPREAD) {
      cur = { time: n.t, size: 0, loudness: 0, low: 128, longest: 0, chroma: new Float64Array(12) };
      events.push(cur);
    }
    cur.size++;
    cur.loudness += Math.min(127, Math.max(1, n.velocity)) / 127;
    cur.low = Math.min(cur.low, n.pitch);
    cur.longest = Math.max(cur.longest, n.d);
    const pc = ((n.pitch % 12) + 12) % 12;
    cur.chroma[pc] = (cur.chroma[pc] as number) + Math.min(n.d, 2);
  }
  return events;
}
