/** Builds small MIDI files for the tests, event by event (midi-file), so that each test says what its file holds. */
import { writeMidi, type MidiEvent } from 'midi-file';

export interface FxNote {
  pitch: number;
  start: number;
  end: number;
  velocity?: number;
  channel?: number;
}
export interface FxTrack {
  notes?: FxNote[];
  /** Other events at absolute ticks (deltaTime is filled in). */
  events?: Array<{ tick: number; event: MidiEvent }>;
}

export function midiBytes(tracks: FxTrack[], opts: { ticksPerBeat?: number; tempos?: Array<{ tick: number; bpm: number }> } = {}): Uint8Array {
  const out: MidiEvent[][] = tracks.map((t, i) => {
    const items: Array<{ tick: number; order: number; event: MidiEvent }> = [];
    if (i === 0) for (const tp of opts.tempos ?? []) items.push({ tick: tp.tick, order: 0, event: { deltaTime: 0, type: 'setTempo', microsecondsPerBeat: Math.round(60e6 / tp.bpm), meta: true } });
    for (const e of t.events ?? []) items.push({ tick: e.tick, order: 1, event: e.event });
    for (const n of t.notes ?? []) {
      const channel = n.channel ?? 0;
      items.push({ tick: n.start, order: 3, event: { deltaTime: 0, type: 'noteOn', channel, noteNumber: n.pitch, velocity: n.velocity ?? 80 } });
      items.push({ tick: n.end, order: 2, event: { deltaTime: 0, type: 'noteOff', channel, noteNumber: n.pitch, velocity: 0 } });
    }
    items.sort((a, b) => a.tick - b.tick || a.order - b.order);
    let prev = 0;
    const evs = items.map((x) => {
      const e = { ...x.event, deltaTime: x.tick - prev } as MidiEvent;
      prev = x.tick;
      return e;
    });
    evs.push({ deltaTime: 0, type: 'endOfTrack', meta: true });
    return evs;
  });
  return Uint8Array.from(writeMidi({ header: { format: 1, numTracks: out.length, ticksPerBeat: opts.ticksPerBeat ?? 480 }, tracks: out }));
}

/** A chord of `pitches` held from `start` to `end`. */
export function chord(pitches: number[], start: number, end: number, velocity = 80): FxNote[] {
  return pitches.map((pitch) => ({ pitch, start, end, velocity }));
}
