/**
 * MIDI bytes <-> Score (after magenta-js `core/midi_io.ts`). Knows nothing of tokens.
 *
 * Reading (the bytes parsed by our strict reader, smf.ts, after the chunk structure is checked here) merges every
 * non-drum track and channel into one piano part, rescales ticks to 480 per beat, and keeps
 * tempo changes, time signatures, markers and sustain-pedal events. Drum notes (channel 10) are dropped and
 * counted. Note pairing: a note-on for a pitch that is already sounding on that channel ends the sounding note
 * there (a re-strike); a note-off with nothing sounding is ignored; notes still sounding at the end of their
 * track end at the track's last event.
 *
 * Writing: format 1, a tempo/marker track and one piano track (program 0), 480 ticks per beat. Notes of one pitch
 * that overlap (EMOPIA's words allow it) are spread over channels, so that reading the file back gives them all.
 */
import { parseSmf, type SmfEvent } from './smf.ts';
import { writeSmf, type SmfOutEvent } from './smf_writer.ts';
import { InputError } from '../errors.ts';
import { emptyScore, sortNotes, type Note, type Score } from './score.ts';

export interface ReadMidiOptions {
  /** Files larger than this are refused (default 32 MiB). */
  maxBytes?: number;
  /** Files with more (non-drum) notes than this are refused, counted while reading (default 50,000). */
  maxNotes?: number;
}

/** What reading had to do to the file, for summaries. */
export interface MidiReadInfo {
  sourceTicksPerBeat: number;
  tracks: number;
  drumNotesDropped: number;
  /** Note-ons on an already sounding pitch, which ended the sounding note. */
  restrikes: number;
  /** Notes without a note-off, ended at their track's end. */
  unterminated: number;
}

export const DEFAULT_MAX_MIDI_BYTES = 32 * 1024 * 1024;
/**
 * The most notes a file may hold. Every later stage (sorting, chords, tokenizing, the classifier's features) is
 * linear or near-linear in notes, so this bounds their time; 50,000 is about 10 times a long POP909 song and
 * 50 times a long EMOPIA clip.
 */
export const DEFAULT_MAX_NOTES = 50_000;
const DRUM_CHANNEL = 9;

function ascii(bytes: Uint8Array, at: number, n: number): string {
  let s = '';
  for (let i = at; i < at + n && i < bytes.length; i++) {
    const c = bytes[i] as number;
    s += c >= 32 && c < 127 ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s;
}

/** Structural checks that midi-file does not make (it reads past the end of truncated data silently). */
function checkStructure(bytes: Uint8Array, what: string): void {
  if (bytes.length === 0) throw new InputError(what, 'empty file (0 bytes), expected a standard MIDI file');
  if (ascii(bytes, 0, 4) !== 'MThd') throw new InputError(what, `not a standard MIDI file: expected header 'MThd', got '${ascii(bytes, 0, 4)}'`);
  if (bytes.length < 14) throw new InputError(what, `truncated: the MIDI header needs 14 bytes, the file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getUint32(4);
  if (headerLen < 6) throw new InputError(what, `corrupt MIDI header: expected length >= 6, got ${headerLen}`);
  const division = view.getUint16(12);
  if (division & 0x8000) {
    const fps = 256 - (division >> 8);
    throw new InputError(what, `SMPTE time division (${fps} frames/s, ${division & 0xff} ticks/frame) is not supported, expected ticks per beat`);
  }
  if (division === 0) throw new InputError(what, 'zero ticks per beat in the MIDI header, expected a positive number');
  const declared = view.getUint16(10);
  let at = 8 + headerLen;
  let tracks = 0;
  while (at < bytes.length) {
    if (at + 8 > bytes.length) throw new InputError(what, `truncated: chunk header at byte ${at} needs 8 bytes, ${bytes.length - at} remain`);
    const len = view.getUint32(at + 4);
    if (at + 8 + len > bytes.length) {
      throw new InputError(what, `truncated: chunk '${ascii(bytes, at, 4)}' at byte ${at} declares ${len} bytes, ${bytes.length - at - 8} remain`);
    }
    if (ascii(bytes, at, 4) === 'MTrk') tracks++;
    at += 8 + len;
  }
  if (tracks < declared) throw new InputError(what, `truncated: header declares ${declared} tracks, found ${tracks}`);
}

/** Parses MIDI bytes into a Score and a report of what was dropped or repaired. Throws InputError on bad input. */
export function readMidi(bytes: Uint8Array, what = 'MIDI', opts: ReadMidiOptions = {}): { score: Score; info: MidiReadInfo } {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_MIDI_BYTES;
  if (bytes.length > maxBytes) throw new InputError(what, `file too large: ${bytes.length} bytes, the limit is ${maxBytes}`);
  checkStructure(bytes, what);
  const data = parseSmf(bytes, what);
  const tpb = data.division;
  const scale = 480 / tpb;
  const score = emptyScore();
  const info: MidiReadInfo = { sourceTicksPerBeat: tpb, tracks: data.tracks.length, drumNotesDropped: 0, restrikes: 0, unterminated: 0 };
  const notes: Note[] = [];
  const maxNotes = opts.maxNotes ?? DEFAULT_MAX_NOTES;
  for (const track of data.tracks) readTrack(track, scale, score, notes, info, maxNotes, what);
  score.notes = sortNotes(notes);
  score.tempos.sort((a, b) => a.tick - b.tick);
  if (!score.tempos.some((t) => t.tick === 0)) score.tempos.unshift({ tick: 0, bpm: 120 });
  score.timeSignatures.sort((a, b) => a.tick - b.tick);
  score.markers.sort((a, b) => a.tick - b.tick);
  score.pedals.sort((a, b) => a.tick - b.tick);
  return { score, info };
}

/** MIDI bytes to a Score (see `readMidi`). */
export function midiToScore(bytes: Uint8Array, what = 'MIDI', opts: ReadMidiOptions = {}): Score {
  return readMidi(bytes, what, opts).score;
}

function readTrack(events: SmfEvent[], scale: number, score: Score, notes: Note[], info: MidiReadInfo, maxNotes: number, what: string): void {
  let tick = 0;
  // Sounding notes by channel*128+pitch, and the tick at which a re-strike ended the previous one.
  const open = new Map<number, Note>();
  const restruckAt = new Map<number, number>();
  for (const e of events) {
    tick += e.deltaTime;
    const t = tick * scale;
    switch (e.type) {
      case 'noteOn':
      case 'noteOff': {
        if (e.channel === DRUM_CHANNEL) {
          if (e.type === 'noteOn') info.drumNotesDropped++;
          break;
        }
        const key = e.channel * 128 + e.noteNumber;
        const cur = open.get(key);
        if (e.type === 'noteOn') {
          // Every note so far is either kept or still sounding; this one would be one more.
          if (notes.length + open.size >= maxNotes) throw new InputError(what, `too many notes: more than ${maxNotes}, the limit is ${maxNotes}`);
          if (cur) {
            cur.end = t;
            notes.push(cur);
            info.restrikes++;
            restruckAt.set(key, t);
          }
          open.set(key, { pitch: e.noteNumber, velocity: e.velocity, start: t, end: t });
        } else if (cur) {
          // A note-off right after a re-strike at the same tick belongs to the note that the re-strike ended
          // (files that write on-before-off at one tick): the new note keeps sounding.
          if (cur.start === t && restruckAt.get(key) === t) {
            restruckAt.delete(key);
            info.restrikes--;
            break;
          }
          cur.end = t;
          notes.push(cur);
          open.delete(key);
        }
        break;
      }
      case 'setTempo':
        score.tempos.push({ tick: t, bpm: 60_000_000 / e.microsecondsPerBeat });
        break;
      case 'timeSignature':
        score.timeSignatures.push({ tick: t, numerator: e.numerator, denominator: e.denominator });
        break;
      case 'marker':
        score.markers.push({ tick: t, text: e.text });
        break;
      case 'controller':
        if (e.controllerType === 64 && e.channel !== DRUM_CHANNEL) score.pedals.push({ tick: t, down: e.value >= 64 });
        break;
      default:
        break;
    }
  }
  for (const n of open.values()) {
    n.end = tick * scale;
    notes.push(n);
    info.unterminated++;
  }
}

/** Writes a Score as a format-1 MIDI file at 480 ticks per beat, with one piano track. */
export function scoreToMidi(score: Score): Uint8Array {
  type Timed = { tick: number; order: number; event: SmfOutEvent };
  const meta: Timed[] = [];
  const piano: Timed[] = [];
  const tick = (t: number) => Math.max(0, Math.round(t));
  const ts = score.timeSignatures.length ? score.timeSignatures : [{ tick: 0, numerator: 4, denominator: 4 }];
  for (const s of ts) {
    meta.push({ tick: tick(s.tick), order: 0, event: { deltaTime: 0, type: 'timeSignature', numerator: s.numerator, denominator: s.denominator, metronome: 24, thirtyseconds: 8 } });
  }
  for (const t of score.tempos) {
    const us = Math.round(60_000_000 / t.bpm);
    meta.push({ tick: tick(t.tick), order: 1, event: { deltaTime: 0, type: 'setTempo', microsecondsPerBeat: Math.min(0xffffff, Math.max(1, us)) } });
  }
  for (const m of score.markers) meta.push({ tick: tick(m.tick), order: 2, event: { deltaTime: 0, type: 'marker', text: m.text } });

  piano.push({ tick: 0, order: 0, event: { deltaTime: 0, type: 'trackName', text: 'piano' } });
  // A pitch that is still sounding on channel 0 when it is struck again goes to the next free channel (10, the
  // drum channel, skipped), so overlapping and repeated notes of one pitch read back exactly.
  const notes = sortNotes(score.notes.map((n) => ({ ...n, start: tick(n.start), end: Math.max(tick(n.start), tick(n.end)) })));
  const busyUntil: number[][] = [];
  const channelsUsed = new Set<number>([0]);
  for (const n of notes) {
    let ch = 0;
    for (; ch < 16; ch++) {
      if (ch === DRUM_CHANNEL) continue;
      const row = (busyUntil[ch] ??= new Array<number>(128).fill(-1));
      if ((row[n.pitch] as number) < n.start || ((row[n.pitch] as number) === n.start && n.end > n.start)) break;
    }
    if (ch === 16) {
      // Sixteen voices of one pitch at once: cut the note short rather than lose it.
      ch = 0;
      n.end = n.start;
    }
    (busyUntil[ch] as number[])[n.pitch] = n.end;
    channelsUsed.add(ch);
    const velocity = Math.min(127, Math.max(1, Math.round(n.velocity)));
    // At one tick, note-offs (order 2) go before note-ons (order 3); a zero-length note's off follows its on.
    piano.push({ tick: n.start, order: 3, event: { deltaTime: 0, type: 'noteOn', channel: ch, noteNumber: n.pitch, velocity } });
    piano.push({ tick: n.end, order: n.end === n.start ? 4 : 2, event: { deltaTime: 0, type: 'noteOff', channel: ch, noteNumber: n.pitch, velocity: 0 } });
  }
  for (const ch of channelsUsed) piano.push({ tick: 0, order: 1, event: { deltaTime: 0, type: 'programChange', channel: ch, programNumber: 0 } });
  const toTrack = (items: Timed[]): SmfOutEvent[] => {
    items.sort((a, b) => a.tick - b.tick || a.order - b.order);
    let prev = 0;
    const out: SmfOutEvent[] = items.map(({ tick: t, event }) => {
      const e = { ...event, deltaTime: t - prev };
      prev = t;
      return e;
    });
    out.push({ deltaTime: 0, type: 'endOfTrack' });
    return out;
  };
  return writeSmf(1, 480, [toTrack(meta), toTrack(piano)]);
}
