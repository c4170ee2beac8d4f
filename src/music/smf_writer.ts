/**
 * A Standard MIDI File writer in linear time, for the events `scoreToMidi` writes. Its bytes are the ones
 * midi-file's `writeMidi` gave for the same event lists (no running status, note-offs as 0x8n, text as one byte per
 * UTF-16 unit), which copied the whole track for every delta-time over 127 and took minutes on 50k notes.
 */
import { InputError } from '../errors.ts';

export type SmfOutEvent =
  | { deltaTime: number; type: 'noteOn' | 'noteOff'; channel: number; noteNumber: number; velocity: number }
  | { deltaTime: number; type: 'programChange'; channel: number; programNumber: number }
  | { deltaTime: number; type: 'setTempo'; microsecondsPerBeat: number }
  | { deltaTime: number; type: 'timeSignature'; numerator: number; denominator: number; metronome: number; thirtyseconds: number }
  | { deltaTime: number; type: 'marker' | 'trackName'; text: string }
  | { deltaTime: number; type: 'endOfTrack' };

/** The file's bytes: a header of `format` and `ticksPerBeat`, then one MTrk chunk per track. */
export function writeSmf(format: number, ticksPerBeat: number, tracks: readonly (readonly SmfOutEvent[])[]): Uint8Array {
  const out: number[] = [];
  pushText(out, 'MThd');
  pushUInt(out, 6, 4);
  pushUInt(out, format, 2);
  pushUInt(out, tracks.length, 2);
  pushUInt(out, ticksPerBeat & 0x7fff, 2);
  for (const track of tracks) {
    const t: number[] = [];
    for (const e of track) pushEvent(t, e);
    pushText(out, 'MTrk');
    pushUInt(out, t.length, 4);
    for (const b of t) out.push(b);
  }
  // Uint8Array.from keeps the low 8 bits of each value, as the old writer's callers got.
  return Uint8Array.from(out);
}

function pushEvent(t: number[], e: SmfOutEvent): void {
  pushVarInt(t, e.deltaTime);
  switch (e.type) {
    case 'noteOn':
    case 'noteOff':
      t.push(((e.type === 'noteOn' ? 0x90 : 0x80) | e.channel) & 0xff, e.noteNumber & 0xff, e.velocity & 0xff);
      break;
    case 'programChange':
      t.push((0xc0 | e.channel) & 0xff, e.programNumber & 0xff);
      break;
    case 'setTempo':
      t.push(0xff, 0x51, 3);
      pushUInt(t, e.microsecondsPerBeat, 3);
      break;
    case 'timeSignature':
      t.push(0xff, 0x58, 4, e.numerator & 0xff, Math.floor(Math.log(e.denominator) / Math.LN2) & 0xff, e.metronome & 0xff, (e.thirtyseconds || 8) & 0xff);
      break;
    case 'marker':
    case 'trackName':
      t.push(0xff, e.type === 'marker' ? 0x06 : 0x03);
      pushVarInt(t, e.text.length);
      pushText(t, e.text);
      break;
    case 'endOfTrack':
      t.push(0xff, 0x2f, 0);
      break;
  }
}

/** Big-endian unsigned integer of `bytes` bytes. */
function pushUInt(out: number[], v: number, bytes: number): void {
  for (let k = bytes - 1; k >= 0; k--) out.push((v >> (8 * k)) & 0xff);
}

/** One value per UTF-16 unit (its code point; the low 8 bits are kept when the file is made). */
function pushText(out: number[], s: string): void {
  for (let i = 0; i < s.length; i++) out.push(s.codePointAt(i) as number);
}

/** A variable-length quantity, with the old writer's 32-bit arithmetic. */
function pushVarInt(out: number[], v: number): void {
  if (v < 0) throw new InputError('MIDI writer', `expected a delta-time or length >= 0, got ${v}`);
  if (v <= 0x7f) {
    out.push(v & 0xff);
    return;
  }
  const groups = [v & 0x7f];
  for (let i = v >> 7; i; i >>= 7) {
    // Past 2^31 the 32-bit shift goes negative and never reaches 0 (the old writer looped for ever).
    if (groups.length > 5) throw new InputError('MIDI writer', `expected a delta-time or length below 2^31, got ${v}`);
    groups.push((i & 0x7f) | 0x80);
  }
  for (let k = groups.length - 1; k >= 0; k--) out.push(groups[k] as number);
}
