/**
 * Ticks <-> seconds through a score's tempo map. A Score's ticks are beats of the file's own grid (480 per beat);
 * the music's real beats, when they are known (a beat tracker, a dataset's annotations), are in seconds of the
 * same timeline, so these two functions are the bridge between them.
 */
import { GRID } from './vocab.ts';
import type { Score, TempoChange } from './score.ts';

interface Segment {
  tick: number;
  sec: number;
  /** Seconds per tick from here to the next change. */
  spt: number;
}

const DEFAULT_SPT = 60 / 120 / GRID.ticksPerBeat; // MIDI's default 120 BPM

function segments(tempos: readonly TempoChange[]): Segment[] {
  const ts = [...tempos].filter((t) => t.bpm > 0).sort((a, b) => a.tick - b.tick);
  const out: Segment[] = [{ tick: 0, sec: 0, spt: DEFAULT_SPT }];
  for (const t of ts) {
    const last = out[out.length - 1] as Segment;
    const tick = Math.max(t.tick, last.tick);
    const seg = { tick, sec: last.sec + (tick - last.tick) * last.spt, spt: 60 / t.bpm / GRID.ticksPerBeat };
    if (tick === last.tick) out[out.length - 1] = seg;
    else out.push(seg);
  }
  return out;
}

/** The last segment whose start (by `key`) is at or before `x`; segments are sorted and the first starts at 0. */
function segmentAt(segs: readonly Segment[], key: 'tick' | 'sec', x: number): Segment {
  let lo = 0;
  let hi = segs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((segs[mid] as Segment)[key] <= x) lo = mid;
    else hi = mid - 1;
  }
  return segs[lo] as Segment;
}

/** A function tick -> seconds for the tempo map (120 BPM before the first change, as MIDI's default). */
export function secondsAt(tempos: readonly TempoChange[]): (tick: number) => number {
  const segs = segments(tempos);
  return (x: number): number => {
    const s = segmentAt(segs, 'tick', x);
    return s.sec + (x - s.tick) * s.spt;
  };
}

/** The inverse of `secondsAt`: a function seconds -> tick for the same tempo map. */
export function ticksAt(tempos: readonly TempoChange[]): (seconds: number) => number {
  const segs = segments(tempos);
  return (t: number): number => {
    const s = segmentAt(segs, 'sec', t);
    return s.tick + (t - s.sec) / s.spt;
  };
}

/**
 * The score re-timed to one constant tempo with every event kept at its time in seconds: how the piece looks
 * written as a transcription is (EMOPIA's files say 120 BPM whatever the music's tempo). A score whose tempo map
 * already is `bpm` throughout comes back unchanged (the same object).
 */
export function atConstantTempo(score: Score, bpm = 120): Score {
  if (score.tempos.every((t) => t.bpm === bpm)) return score;
  const sec = secondsAt(score.tempos);
  const perSecond = (bpm / 60) * GRID.ticksPerBeat;
  const tick = (t: number) => sec(t) * perSecond;
  return {
    ...score,
    notes: score.notes.map((n) => ({ ...n, start: tick(n.start), end: tick(n.end) })),
    tempos: [{ tick: 0, bpm }],
    timeSignatures: [],
    markers: score.markers.map((m) => ({ ...m, tick: tick(m.tick) })),
    pedals: score.pedals.map((p) => ({ ...p, tick: tick(p.tick) })),
  };
}
