/**
 * Cuts the tiny real MIDI files of test/fixtures/midi/ from POP909 and EMOPIA, and writes each one's table of
 * expected compound words (`<name>.words.tsv`), to be reviewed by hand before committing:
 *   node --import tsx scripts/cut_midi_fixtures.ts DATA_DIR [-o test/fixtures/midi]
 * DATA_DIR holds `pop909/` and `emopia/` (the project's shared data folder).
 *
 * A cut keeps the source file as it is (format, ticks per beat, tracks, channels, running order of events) and
 * takes the events of whole bars [from, to) of its tick grid (4 beats a bar), shifted to start at tick 0:
 * - notes whose note-on falls in the window, each with its own note-off (even past the window's end);
 * - every other event in the window (tempo changes, pedal, time signatures, ...);
 * - the state at the window's start, at tick 0: the last tempo, time and key signature, program of each channel
 *   and controller value (sustain pedal) before it, and the track names.
 * Notes still sounding at the window's start are left out. The script checks that the library reads the cut file
 * as exactly the source notes that start in the window, shifted, and stops otherwise.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMidi, writeMidi, type MidiEvent } from 'midi-file';
import { writeFileAtomic } from '../src/platform/atomic.ts';
import { readMidi } from '../src/music/midi_io.ts';
import { scoreToEvents } from '../src/music/cp_tokenizer.ts';
import { FAMILIES, type CompoundEvent, type Emotion } from '../src/music/vocab.ts';

export interface Cut {
  /** Path under the data folder. */
  source: string;
  /** Whole bars [from, to) of the source's tick grid, counted from 0. */
  from: number;
  to: number;
  /** Output name without extension. */
  name: string;
  emotion: Emotion;
}

export const CUTS: readonly Cut[] = [
  { source: 'pop909/002.mid', from: 21, to: 23, name: 'pop909_002_bars21-22', emotion: 0 },
  { source: 'pop909/009.mid', from: 8, to: 10, name: 'pop909_009_bars8-9', emotion: 0 },
  { source: 'emopia/Q2_1EDThWjNxOI_1.mid', from: 4, to: 6, name: 'emopia_Q2_1EDThWjNxOI_1_bars4-5', emotion: 2 },
  { source: 'emopia/Q3_NTI9ode6bRk_0.mid', from: 2, to: 5, name: 'emopia_Q3_NTI9ode6bRk_0_bars2-4', emotion: 3 },
];

/** The compound words as a table: a header of family names, then one row per word, values as vocabulary strings. */
export function wordsTable(events: readonly CompoundEvent[]): string {
  const rows = [FAMILIES.join('\t'), ...events.map((ev) => FAMILIES.map((f) => String(ev[f])).join('\t'))];
  return `${rows.join('\n')}\n`;
}

const isNoteOff = (e: MidiEvent) => e.type === 'noteOff' || (e.type === 'noteOn' && e.velocity === 0);

/** The events of one track in the window [a, b) (source ticks), with the state at `a` first. */
function cutTrack(events: MidiEvent[], a: number, b: number): MidiEvent[] {
  const state = new Map<string, MidiEvent>();
  // Per channel*128+pitch: whether the sounding note (if any) is one we keep.
  const sounding = new Map<number, 'before' | 'kept'>();
  const out: Array<{ tick: number; event: MidiEvent }> = [];
  let tick = 0;
  for (const e of events) {
    tick += e.deltaTime;
    if (e.type === 'endOfTrack') continue;
    if (e.type === 'noteOn' || e.type === 'noteOff') {
      const key = e.channel * 128 + e.noteNumber;
      if (isNoteOff(e)) {
        if (sounding.get(key) === 'kept') out.push({ tick: tick - a, event: e });
        sounding.delete(key);
      } else if (tick < a) sounding.set(key, 'before');
      else if (tick < b) {
        sounding.set(key, 'kept');
        out.push({ tick: tick - a, event: e });
      } else sounding.delete(key);
      continue;
    }
    if (tick < a) {
      const k =
        e.type === 'programChange' ? `program ${e.channel}`
        : e.type === 'controller' ? `cc ${e.channel} ${e.controllerType}`
        : e.type === 'trackName' || e.type === 'setTempo' || e.type === 'timeSignature' || e.type === 'keySignature' ? e.type
        : null;
      if (k !== null) state.set(k, e);
    } else if (tick < b) out.push({ tick: tick - a, event: e });
  }
  const head = [...state.values()].map((event) => ({ tick: 0, event }));
  const all = [...head, ...out];
  let prev = 0;
  const track = all.map(({ tick: t, event }) => {
    const e = { ...event, deltaTime: t - prev } as MidiEvent;
    prev = t;
    return e;
  });
  track.push({ deltaTime: Math.max(0, b - a - prev), type: 'endOfTrack', meta: true });
  return track;
}

/** Cuts bars [from, to) of a MIDI file; returns the new file's bytes. */
export function cutMidi(bytes: Uint8Array, from: number, to: number): Uint8Array {
  const data = parseMidi(bytes);
  const tpb = data.header.ticksPerBeat ?? 480;
  const a = from * 4 * tpb;
  const b = to * 4 * tpb;
  const tracks = data.tracks.map((t) => cutTrack(t, a, b));
  return Uint8Array.from(writeMidi({ header: { ...data.header, numTracks: tracks.length }, tracks }));
}

const noteKey = (n: { pitch: number; start: number; end: number; velocity: number }) => `${n.pitch}@${n.start}-${n.end}v${n.velocity}`;

/** Stops unless the cut reads as the source's notes that start in the window, shifted to tick 0. */
function checkCut(source: Uint8Array, cut: Uint8Array, c: Cut): void {
  const a = c.from * 1920;
  const b = c.to * 1920;
  const want = readMidi(source, c.source).score.notes.filter((n) => n.start >= a && n.start < b).map((n) => noteKey({ ...n, start: n.start - a, end: n.end - a }));
  const got = readMidi(cut, c.name).score.notes.map(noteKey);
  if (want.join() !== got.join()) throw new Error(`${c.name}: the cut reads as ${got.length} notes, the source has ${want.length} in bars ${c.from}..${c.to - 1}`);
}

function main(): void {
  const args = process.argv.slice(2);
  let data: string | undefined;
  let out = 'test/fixtures/midi';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-o') out = args[++i] ?? out;
    else data = args[i];
  }
  if (data === undefined) {
    console.error('usage: node --import tsx scripts/cut_midi_fixtures.ts DATA_DIR [-o test/fixtures/midi]');
    process.exit(2);
  }
  mkdirSync(out, { recursive: true });
  for (const c of CUTS) {
    const source = new Uint8Array(readFileSync(join(data, c.source)));
    const bytes = cutMidi(source, c.from, c.to);
    checkCut(source, bytes, c);
    const { events, stats } = scoreToEvents(readMidi(bytes, c.name).score, { emotion: c.emotion });
    writeFileAtomic(join(out, `${c.name}.mid`), bytes);
    writeFileAtomic(join(out, `${c.name}.words.tsv`), wordsTable(events));
    console.log(`${c.name}: ${bytes.length} bytes, ${stats.notes} notes, ${stats.bars} bars, ${events.length} words`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
