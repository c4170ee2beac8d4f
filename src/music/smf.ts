/**
 * A strict reader of Standard MIDI File bytes into event lists (the events `midi_io.ts` uses; others are
 * skipped). It reads what midi-file's `parseMidi` reads, the same way, on every well-formed file (running status
 * is kept across meta and system events as it does; a note-on of velocity 0 is a note-off), and refuses with an
 * InputError what that parser read past or misread silently: events cut by the end of their chunk, delta-times or
 * lengths longer than 4 bytes, data bytes with the high bit set, running status before any status. Long text
 * events are read in linear time (the old reader overflowed the stack on a 1 MB marker).
 */
import { InputError } from '../errors.ts';

export type SmfEvent =
  | { deltaTime: number; type: 'noteOn' | 'noteOff'; channel: number; noteNumber: number; velocity: number }
  | { deltaTime: number; type: 'controller'; channel: number; controllerType: number; value: number }
  | { deltaTime: number; type: 'setTempo'; microsecondsPerBeat: number }
  | { deltaTime: number; type: 'timeSignature'; numerator: number; denominator: number }
  | { deltaTime: number; type: 'marker'; text: string }
  | { deltaTime: number; type: 'other' };

export interface SmfData {
  format: number;
  /** The header's count of tracks. */
  numTracks: number;
  /** The header's division word: ticks per beat unless bit 15 (SMPTE) is set. */
  division: number;
  /** The first `numTracks` MTrk chunks (chunks of other types are skipped). */
  tracks: SmfEvent[][];
}

/** Latin-1 text of `bytes` (one character per byte, as midi-file reads it), in pieces that fit on the stack. */
function latin1(bytes: Uint8Array): string {
  const parts: string[] = [];
  // apply takes the typed array as it is (a spread would walk it through an iterator, 3x slower on a 4 MB marker).
  for (let i = 0; i < bytes.length; i += 8192) parts.push(String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]));
  return parts.join('');
}

/** Fixed lengths of the meta events whose length midi-file checks. */
const META_LENGTH: Record<number, readonly number[]> = { 0x00: [2], 0x20: [1], 0x21: [1], 0x2f: [0], 0x51: [3], 0x54: [5], 0x58: [2, 4], 0x59: [2] };
const META_NAME: Record<number, string> = { 0x00: 'sequenceNumber', 0x20: 'channelPrefix', 0x21: 'portPrefix', 0x2f: 'endOfTrack', 0x51: 'setTempo', 0x54: 'smpteOffset', 0x58: 'timeSignature', 0x59: 'keySignature' };

function parseTrack(bytes: Uint8Array, start: number, end: number, what: string, trackNo: number): SmfEvent[] {
  const events: SmfEvent[] = [];
  let pos = start;
  let eventStart = start;
  const bad = (why: string) => new InputError(what, `corrupt MIDI data in track ${trackNo}: ${why} (event at byte ${eventStart})`);
  const byte = (): number => {
    if (pos >= end) throw bad('the event runs past the end of its track chunk');
    return bytes[pos++] as number;
  };
  const data = (): number => {
    const b = byte();
    if (b & 0x80) throw bad(`expected a data byte (0..127), got 0x${b.toString(16)}`);
    return b;
  };
  const varInt = (name: string): number => {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const b = byte();
      v = v * 128 + (b & 0x7f);
      if (!(b & 0x80)) return v;
    }
    throw bad(`${name} longer than 4 bytes`);
  };
  let running = -1;
  while (pos < end) {
    eventStart = pos;
    const deltaTime = varInt('delta-time');
    let status = byte();
    if (status === 0xff) {
      const type = byte();
      const length = varInt('meta event length');
      if (pos + length > end) throw bad(`meta event of ${length} bytes runs past the end of its track chunk`);
      const allowed = META_LENGTH[type];
      if (allowed && !allowed.includes(length)) throw bad(`expected length ${allowed.join(' or ')} for ${META_NAME[type]}, got ${length}`);
      const body = bytes.subarray(pos, pos + length);
      pos += length;
      if (type === 0x51) events.push({ deltaTime, type: 'setTempo', microsecondsPerBeat: ((body[0] as number) << 16) + ((body[1] as number) << 8) + (body[2] as number) });
      else if (type === 0x58) events.push({ deltaTime, type: 'timeSignature', numerator: body[0] as number, denominator: 2 ** (body[1] as number) });
      else if (type === 0x06) events.push({ deltaTime, type: 'marker', text: latin1(body) });
      else events.push({ deltaTime, type: 'other' });
      continue;
    }
    if (status === 0xf0 || status === 0xf7) {
      const length = varInt('system exclusive length');
      if (pos + length > end) throw bad(`system exclusive event of ${length} bytes runs past the end of its track chunk`);
      pos += length;
      events.push({ deltaTime, type: 'other' });
      continue;
    }
    if (status >= 0xf0) throw bad(`unexpected status byte 0x${status.toString(16)} in a track`);
    let first: number;
    if (status & 0x80) {
      running = status;
      first = data();
    } else {
      if (running < 0) throw bad('running status before any status byte');
      first = status;
      status = running;
    }
    const channel = status & 0x0f;
    switch (status >> 4) {
      case 0x8:
        events.push({ deltaTime, type: 'noteOff', channel, noteNumber: first, velocity: data() });
        break;
      case 0x9: {
        const velocity = data();
        events.push({ deltaTime, type: velocity === 0 ? 'noteOff' : 'noteOn', channel, noteNumber: first, velocity });
        break;
      }
      case 0xb:
        events.push({ deltaTime, type: 'controller', channel, controllerType: first, value: data() });
        break;
      case 0xa:
      case 0xe:
        data();
        events.push({ deltaTime, type: 'other' });
        break;
      default: // 0xc program change, 0xd channel pressure: one data byte
        events.push({ deltaTime, type: 'other' });
        break;
    }
  }
  return events;
}

/**
 * Parses MIDI bytes whose chunk structure is already checked (header 'MThd' of at least 6 bytes, every chunk
 * inside the file). Throws InputError naming `what`.
 */
export function parseSmf(bytes: Uint8Array, what: string): SmfData {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getUint32(4);
  const out: SmfData = { format: view.getUint16(8), numTracks: view.getUint16(10), division: view.getUint16(12), tracks: [] };
  let at = 8 + headerLen;
  while (at + 8 <= bytes.length && out.tracks.length < out.numTracks) {
    const len = view.getUint32(at + 4);
    const id = String.fromCharCode(...bytes.subarray(at, at + 4));
    if (id === 'MTrk') out.tracks.push(parseTrack(bytes, at + 8, Math.min(bytes.length, at + 8 + len), what, out.tracks.length));
    at += 8 + len;
  }
  return out;
}
