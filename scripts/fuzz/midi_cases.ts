/**
 * Fuzz cases of MIDI files: a seed file (synthetic, built here, or a real clip) and a chain of mutations, all a
 * function of (campaign seed, case index). `planCase` draws the plan (cheap, so the pool can name a case that
 * took its worker down); `buildCase` makes the bytes.
 *
 * Event-level mutations work on midi-file's event lists before writing: huge delta-times, notes never released,
 * extreme ticks per beat, long meta events, a 200k-note track, thousands of tempo changes, re-struck notes; the
 * writer may use running status. Byte-level mutations work on the written file: byte flips, truncation, chunk
 * lengths that lie, zero/huge/SMPTE division, a meta length that lies, inserted garbage, a wrong track count.
 */
import { parseMidi, writeMidi, type MidiData, type MidiEvent } from 'midi-file';
import { Rng } from '../../src/random.ts';
import { scoreToMidi } from '../../src/music/midi_io.ts';
import { emptyScore, type Note, type Score } from '../../src/music/score.ts';

export const EVENT_MUTATIONS = ['hugeDelta', 'noNoteOffs', 'ticksPerBeat', 'longMeta', 'bigTrack', 'manyTempos', 'restrikes', 'farNote'] as const;
export const BYTE_MUTATIONS = ['flip', 'truncate', 'chunkLength', 'division', 'metaLength', 'garbage', 'trackCount'] as const;
export type EventMutation = (typeof EVENT_MUTATIONS)[number];
export type ByteMutation = (typeof BYTE_MUTATIONS)[number];

export interface CasePlan {
  index: number;
  /** `piece`, `written` (by our own writer), `tiny`, or `clip:<n>` (the n-th real clip given). */
  seed: string;
  events: EventMutation[];
  bytes: ByteMutation[];
  running: boolean;
  pedal: 'ignore' | 'extend';
  /** Seed of everything drawn while building. */
  buildSeed: number;
}

export interface FuzzCase {
  plan: CasePlan;
  name: string;
  bytes: Uint8Array;
}

export function describePlan(p: CasePlan): string {
  const muts = [...p.events, ...p.bytes];
  return `#${p.index} ${p.seed}${muts.length ? ` + ${muts.join(' + ')}` : ''}${p.running ? ' (running status)' : ''}${p.pedal === 'extend' ? ' (pedal extend)' : ''}`;
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.nextInt(xs.length)] as T;

/** The plan of case `index` of campaign `seed`; `clips` is how many real clips there are. */
export function planCase(seed: number, index: number, clips: number): CasePlan {
  const rng = new Rng((seed * 1_000_003 + index * 7919) >>> 0);
  rng.next();
  const r = rng.next();
  const seedKind = clips > 0 && r < 0.3 ? `clip:${rng.nextInt(clips)}` : r < 0.6 ? 'piece' : r < 0.9 ? 'written' : 'tiny';
  const events: EventMutation[] = [];
  const bytes: ByteMutation[] = [];
  const nEvents = pick(rng, [0, 1, 1, 1, 2, 2, 3]);
  for (let k = 0; k < nEvents; k++) {
    let m = pick(rng, EVENT_MUTATIONS);
    // The 200k-note track is the slow kind of case: one case in about 60.
    if (m === 'bigTrack' && rng.next() < 0.75) m = 'hugeDelta';
    if (!events.includes(m)) events.push(m);
  }
  const nBytes = pick(rng, [0, 0, 0, 1, 1, 2, 3]);
  for (let k = 0; k < nBytes; k++) bytes.push(pick(rng, BYTE_MUTATIONS));
  return { index, seed: seedKind, events, bytes, running: rng.next() < 0.5, pedal: rng.next() < 0.25 ? 'extend' : 'ignore', buildSeed: rng.nextInt(2 ** 31) };
}

// ---------------------------------------------------------------- seeds

const noteOn = (channel: number, noteNumber: number, velocity: number, deltaTime = 0): MidiEvent => ({ deltaTime, type: 'noteOn', channel, noteNumber, velocity });
const noteOff = (channel: number, noteNumber: number, deltaTime = 0): MidiEvent => ({ deltaTime, type: 'noteOff', channel, noteNumber, velocity: 0 });
const endOfTrack = (): MidiEvent => ({ deltaTime: 0, type: 'endOfTrack', meta: true });

/** Absolute-tick items to a track with delta-times. */
function toTrack(items: Array<{ tick: number; event: MidiEvent }>): MidiEvent[] {
  items.sort((a, b) => a.tick - b.tick);
  let prev = 0;
  const out = items.map(({ tick, event }) => {
    const e = { ...event, deltaTime: tick - prev } as MidiEvent;
    prev = tick;
    return e;
  });
  out.push(endOfTrack());
  return out;
}

function randomNotes(rng: Rng, tpb: number, bars: number): Note[] {
  const notes: Note[] = [];
  const step = Math.max(1, Math.round(tpb / 2));
  for (let t = 0; t < bars * 4 * tpb; t += step * (1 + rng.nextInt(2))) {
    const n = 1 + rng.nextInt(4);
    for (let k = 0; k < n; k++) {
      const pitch = 30 + rng.nextInt(70);
      notes.push({ pitch, velocity: 1 + rng.nextInt(127), start: t, end: t + step * (1 + rng.nextInt(8)) });
    }
  }
  return notes;
}

/** A synthetic piece: tempo/meta track and one or two piano tracks (maybe a drum part), pedal, several channels. */
function pieceSeed(rng: Rng): MidiData {
  const tpb = pick(rng, [96, 120, 192, 384, 480, 960]);
  const bars = 1 + rng.nextInt(12);
  const meta: Array<{ tick: number; event: MidiEvent }> = [
    { tick: 0, event: { deltaTime: 0, type: 'timeSignature', numerator: pick(rng, [3, 4, 6]), denominator: 4, metronome: 24, thirtyseconds: 8, meta: true } },
    { tick: 0, event: { deltaTime: 0, type: 'setTempo', microsecondsPerBeat: 300000 + rng.nextInt(700000), meta: true } },
    { tick: 2 * tpb, event: { deltaTime: 0, type: 'setTempo', microsecondsPerBeat: 300000 + rng.nextInt(700000), meta: true } },
    { tick: 0, event: { deltaTime: 0, type: 'marker', text: pick(rng, ['C_M', 'A_m_E', 'intro', 'N_N']), meta: true } },
  ];
  const tracks: MidiEvent[][] = [toTrack(meta)];
  for (let k = 0, n = 1 + rng.nextInt(2); k < n; k++) {
    const items: Array<{ tick: number; event: MidiEvent }> = [];
    const channel = rng.next() < 0.15 ? 9 : rng.nextInt(4);
    for (const nt of randomNotes(rng, tpb, bars)) {
      items.push({ tick: nt.start, event: noteOn(channel, nt.pitch, nt.velocity) });
      items.push({ tick: nt.end, event: rng.next() < 0.3 ? noteOn(channel, nt.pitch, 0) : noteOff(channel, nt.pitch) });
    }
    for (let t = 0; t < bars * 4 * tpb; t += 2 * tpb) {
      items.push({ tick: t, event: { deltaTime: 0, type: 'controller', channel, controllerType: 64, value: 127 } });
      items.push({ tick: t + tpb, event: { deltaTime: 0, type: 'controller', channel, controllerType: 64, value: 0 } });
    }
    tracks.push(toTrack(items));
  }
  return { header: { format: 1, numTracks: tracks.length, ticksPerBeat: tpb }, tracks };
}

/** A score written by our own writer (overlapping notes of one pitch spread over channels). */
function writtenSeed(rng: Rng): Uint8Array {
  const notes = randomNotes(rng, 480, 1 + rng.nextInt(8));
  // Overlapping repeats of one pitch.
  for (let k = 0; k < 4; k++) notes.push({ pitch: 60, velocity: 70, start: k * 120, end: 2000 });
  const score: Score = {
    ...emptyScore(),
    notes,
    tempos: [{ tick: 0, bpm: 60 + rng.nextInt(120) }, { tick: 1920, bpm: 90 }],
    timeSignatures: [{ tick: 0, numerator: 4, denominator: 4 }],
    markers: [{ tick: 0, text: 'C_M' }, { tick: 960, text: 'G_7' }],
  };
  return scoreToMidi(score);
}

/** The issue's kind of file: one note, one tick per beat, a few bytes. */
function tinySeed(rng: Rng): MidiData {
  const held = 1 + rng.nextInt(0x0fffffff);
  const track = [noteOn(0, 22 + rng.nextInt(86), 64), noteOff(0, 60, 0), endOfTrack()];
  (track[1] as MidiEvent & { noteNumber: number }).noteNumber = (track[0] as MidiEvent & { noteNumber: number }).noteNumber;
  track[1]!.deltaTime = held;
  return { header: { format: 0, numTracks: 1, ticksPerBeat: 1 + rng.nextInt(2) }, tracks: [track] };
}

// ---------------------------------------------------------------- event-level mutations

function mutateEvents(data: MidiData, m: EventMutation, rng: Rng, bigTrack: number): void {
  const track = () => pick(rng, data.tracks);
  switch (m) {
    case 'hugeDelta': {
      for (let k = 0, n = 1 + rng.nextInt(3); k < n; k++) {
        const t = track();
        if (t.length === 0) continue;
        const e = pick(rng, t);
        e.deltaTime = rng.next() < 0.5 ? 0x0fffffff : 1 << (16 + rng.nextInt(12));
      }
      break;
    }
    case 'noNoteOffs': {
      const all = rng.next() < 0.5;
      data.tracks = data.tracks.map((t) => t.filter((e) => !((e.type === 'noteOff' || (e.type === 'noteOn' && e.velocity === 0)) && (all || rng.next() < 0.5))));
      // Keep the delta-times of removed events out of the picture: the following events come earlier.
      break;
    }
    case 'ticksPerBeat':
      data.header.ticksPerBeat = pick(rng, [1, 2, 3, 7, 24, 0x7fff]);
      break;
    case 'longMeta': {
      const len = pick(rng, [1000, 100_000, 1_000_000, 4_000_000]);
      const text = 'x'.repeat(len);
      const type = pick(rng, ['text', 'marker', 'lyrics', 'trackName', 'copyrightNotice'] as const);
      track().unshift({ deltaTime: 0, type, text, meta: true } as MidiEvent);
      if (rng.next() < 0.5) track().unshift({ deltaTime: 0, type: 'sequencerSpecific', data: new Array<number>(Math.min(len, 100_000)).fill(0x41), meta: true } as MidiEvent);
      break;
    }
    case 'bigTrack': {
      const n = Math.min(bigTrack, pick(rng, [25_000, 49_000, 200_000]));
      const items: MidiEvent[] = [];
      for (let k = 0; k < n; k++) {
        const pitch = 22 + rng.nextInt(86);
        items.push(noteOn(0, pitch, 1 + rng.nextInt(127), k === 0 ? 0 : rng.nextInt(30)), noteOff(0, pitch, 1 + rng.nextInt(200)));
      }
      items.push(endOfTrack());
      data.tracks.push(items);
      data.header.numTracks = data.tracks.length;
      break;
    }
    case 'manyTempos': {
      const items: MidiEvent[] = [];
      for (let k = 0, n = pick(rng, [1000, 20_000]); k < n; k++) items.push({ deltaTime: rng.nextInt(100), type: 'setTempo', microsecondsPerBeat: 1 + rng.nextInt(0xffffff), meta: true });
      items.push(endOfTrack());
      data.tracks.unshift(items);
      data.header.numTracks = data.tracks.length;
      break;
    }
    case 'restrikes': {
      const t = track();
      const at = rng.nextInt(t.length + 1);
      const pitch = 22 + rng.nextInt(86);
      const burst: MidiEvent[] = [];
      for (let k = 0, n = 1 + rng.nextInt(2000); k < n; k++) burst.push(noteOn(rng.nextInt(16), pitch, 1 + rng.nextInt(127), rng.nextInt(3)));
      t.splice(at, 0, ...burst);
      break;
    }
    case 'farNote': {
      // A note that starts very late: the piece becomes too long (refused), or just long.
      const t = track();
      const pitch = 22 + rng.nextInt(86);
      t.splice(Math.max(0, t.length - 1), 0, noteOn(0, pitch, 90, pick(rng, [0x0fffffff, 200_000, 2_000_000])), noteOff(0, pitch, pick(rng, [1, 0x0fffffff])));
      break;
    }
  }
}

// ---------------------------------------------------------------- byte-level mutations

function chunkStarts(bytes: Uint8Array): number[] {
  const out: number[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 8 <= bytes.length && out.length < 1000) {
    out.push(at);
    at += 8 + view.getUint32(at + 4);
  }
  return out;
}

function mutateBytes(bytes: Uint8Array, m: ByteMutation, rng: Rng): Uint8Array {
  const b = bytes.slice();
  const view = new DataView(b.buffer);
  switch (m) {
    case 'flip':
      for (let k = 0, n = 1 + rng.nextInt(8); k < n && b.length; k++) {
        const i = rng.nextInt(b.length);
        b[i] = rng.next() < 0.5 ? rng.nextInt(256) : (b[i] as number) ^ (1 << rng.nextInt(8));
      }
      return b;
    case 'truncate':
      return b.slice(0, rng.nextInt(b.length + 1));
    case 'chunkLength': {
      const starts = chunkStarts(b);
      if (starts.length === 0) return b;
      const at = pick(rng, starts);
      const len = view.getUint32(at + 4);
      view.setUint32(at + 4, pick(rng, [0, 1, 5, Math.max(0, len - 1), len + 1, len * 2, 0x7fffffff, 0xffffffff, rng.nextInt(2 ** 32)]) >>> 0);
      return b;
    }
    case 'division':
      if (b.length >= 14) view.setUint16(12, pick(rng, [0x0000, 0x0001, 0x7fff, 0xe728, 0xe250, 0xe719, 0xe278, 0x8000, 0xffff]));
      return b;
    case 'metaLength': {
      // A meta event whose length runs past its chunk: FF 01 followed by a 4-byte length.
      const i = Math.min(b.length, 22 + rng.nextInt(Math.max(1, b.length - 22)));
      const lie = [0xff, 0x01, 0x8f, 0xff, 0xff, 0x7f];
      const out = new Uint8Array(b.length + lie.length);
      out.set(b.subarray(0, i));
      out.set(lie, i);
      out.set(b.subarray(i), i + lie.length);
      return out;
    }
    case 'garbage': {
      const i = rng.nextInt(b.length + 1);
      const junk = Uint8Array.from({ length: 1 + rng.nextInt(64) }, () => rng.nextInt(256));
      const out = new Uint8Array(b.length + junk.length);
      out.set(b.subarray(0, i));
      out.set(junk, i);
      out.set(b.subarray(i), i + junk.length);
      return out;
    }
    case 'trackCount':
      if (b.length >= 14) {
        view.setUint16(8, pick(rng, [0, 1, 2, 3, 0xffff]));
        view.setUint16(10, pick(rng, [0, 1, 2, 100, 0xffff]));
      }
      return b;
  }
}

// ---------------------------------------------------------------- writing

const CHANNEL_TYPES: Record<string, number> = { noteOff: 0x8, noteOn: 0x9, noteAftertouch: 0xa, controller: 0xb, programChange: 0xc, channelAftertouch: 0xd, pitchBend: 0xe };
const TEXT_TYPES: Record<string, number> = { text: 0x01, copyrightNotice: 0x02, trackName: 0x03, instrumentName: 0x04, lyrics: 0x05, marker: 0x06, cuePoint: 0x07 };

function pushVlq(out: number[], v: number): void {
  const groups = [v & 0x7f];
  for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) groups.push((x & 0x7f) | 0x80);
  for (let i = groups.length - 1; i >= 0; i--) out.push(groups[i] as number);
}

/** The bytes of one event without its delta-time, through midi-file's writer (for the rarer kinds). */
function eventBytes(e: MidiEvent): number[] {
  const b = writeMidi({ header: { format: 0, numTracks: 1, ticksPerBeat: 480 }, tracks: [[{ ...e, deltaTime: 0 } as MidiEvent]] });
  return Array.from(b.slice(14 + 8 + 1));
}

/**
 * A standard MIDI file from event lists, in linear time (midi-file's writer concatenates arrays for every
 * multi-byte delta-time, which is quadratic on a 200k-note track); `running` drops repeated status bytes.
 */
export function serialize(data: MidiData, running: boolean): Uint8Array {
  const out: number[] = [0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 6];
  const division = data.header.ticksPerBeat ?? 480;
  out.push(0, data.header.format, (data.tracks.length >> 8) & 0xff, data.tracks.length & 0xff, (division >> 8) & 0x7f, division & 0xff);
  for (const track of data.tracks) {
    const t: number[] = [];
    let status = -1;
    for (const e of track) {
      pushVlq(t, e.deltaTime);
      // A note-off read from a note-on of velocity 0 is written back as one.
      const kind = e.type === 'noteOff' && (e as { byte9?: boolean }).byte9 ? 0x9 : CHANNEL_TYPES[e.type];
      if (kind !== undefined) {
        const ev = e as MidiEvent & { channel: number; noteNumber?: number; velocity?: number; controllerType?: number; value?: number; programNumber?: number; amount?: number };
        const st = (kind << 4) | (ev.channel & 0x0f);
        if (!(running && st === status)) t.push(st);
        status = st;
        if (kind === 0x8 || kind === 0x9 || kind === 0xa) t.push((ev.noteNumber ?? 0) & 0x7f, (ev.velocity ?? ev.amount ?? 0) & 0x7f);
        else if (kind === 0xb) t.push((ev.controllerType ?? 0) & 0x7f, (ev.value ?? 0) & 0x7f);
        else if (kind === 0xc) t.push((ev.programNumber ?? 0) & 0x7f);
        else if (kind === 0xd) t.push((ev.amount ?? 0) & 0x7f);
        else {
          const v = (ev.value ?? 0) + 8192;
          t.push(v & 0x7f, (v >> 7) & 0x7f);
        }
        continue;
      }
      status = -1; // meta and system events cancel running status
      const text = TEXT_TYPES[e.type];
      if (text !== undefined) {
        const s = (e as MidiEvent & { text: string }).text;
        t.push(0xff, text);
        pushVlq(t, s.length);
        for (let i = 0; i < s.length; i++) t.push(s.charCodeAt(i) & 0xff);
      } else if (e.type === 'setTempo') {
        const us = e.microsecondsPerBeat;
        t.push(0xff, 0x51, 3, (us >> 16) & 0xff, (us >> 8) & 0xff, us & 0xff);
      } else if (e.type === 'endOfTrack') {
        t.push(0xff, 0x2f, 0);
      } else if (e.type === 'sequencerSpecific') {
        const d = (e as MidiEvent & { data: ArrayLike<number> }).data;
        t.push(0xff, 0x7f);
        pushVlq(t, d.length);
        for (let i = 0; i < d.length; i++) t.push(d[i] as number);
      } else {
        for (const x of eventBytes(e)) t.push(x);
      }
    }
    out.push(0x4d, 0x54, 0x72, 0x6b, (t.length >>> 24) & 0xff, (t.length >> 16) & 0xff, (t.length >> 8) & 0xff, t.length & 0xff);
    for (const x of t) out.push(x);
  }
  return Uint8Array.from(out);
}

/** Builds the file of a plan; `clips` are the real clips' bytes; `bigTrack` caps the notes of a big track. */
export function buildCase(plan: CasePlan, clips: readonly Uint8Array[] = [], bigTrack = 200_000): FuzzCase {
  const rng = new Rng(plan.buildSeed);
  let data: MidiData | null = null;
  let bytes: Uint8Array;
  if (plan.seed.startsWith('clip:')) {
    bytes = clips[Number(plan.seed.slice(5))] ?? new Uint8Array(0);
    if (plan.events.length || plan.running) data = parseMidi(bytes);
  } else if (plan.seed === 'written') {
    bytes = writtenSeed(rng);
    if (plan.events.length || plan.running) data = parseMidi(bytes);
  } else {
    data = plan.seed === 'tiny' ? tinySeed(rng) : pieceSeed(rng);
    bytes = new Uint8Array(0);
  }
  if (data !== null) {
    for (const m of plan.events) mutateEvents(data, m, rng, bigTrack);
    data.header.numTracks = data.tracks.length;
    bytes = serialize(data, plan.running);
  }
  for (const m of plan.bytes) bytes = mutateBytes(bytes, m, rng);
  return { plan, name: `fuzz_${plan.index}.mid`, bytes };
}
