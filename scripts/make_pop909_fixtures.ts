/**
 * Writes the two small POP909-like songs of test/fixtures/pop909/ (made up here, not cut from POP909):
 *   node --import tsx scripts/make_pop909_fixtures.ts [-o test/fixtures/pop909]
 * Each is `NNN.mid` (three tracks MELODY, BRIDGE, PIANO at 480 ticks per beat and a steady 120 BPM tempo map that
 * does not follow the music, as POP909's files often do not) with `annotations/NNN/beat_midi.txt` (POP909's
 * layout: `seconds half_bar_flag downbeat_flag`). Every note sits on an 8th of the annotated beats, so a beat-true
 * encoding puts every onset on an even position.
 * - 101: 4/4 at a tempo drifting from 90 to 80 BPM, a one-beat pickup, 6 bars; the first beat at 0.37 s.
 * - 102: 4/4 at 100 BPM with one 2-beat bar after bar 2 (a 2/4 bar, stretched over one CP bar), 5 bars.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeMidi, type MidiEvent } from 'midi-file';

interface Song {
  name: string;
  /** Beat times in seconds, and the indices of the downbeats. */
  beats: number[];
  downbeats: number[];
}

function beatTimes(first: number, n: number, beatSeconds: (k: number) => number): number[] {
  const out = [first];
  for (let k = 1; k < n; k++) out.push((out[k - 1] as number) + beatSeconds(k - 1));
  return out.map((t) => Math.round(t * 1e6) / 1e6);
}

const song101: Song = (() => {
  const beats = beatTimes(0.37, 1 + 6 * 4, (k) => 60 / (90 - (10 * k) / 24));
  return { name: '101', beats, downbeats: Array.from({ length: 7 }, (_, i) => 1 + 4 * i).filter((i) => i < beats.length) };
})();
const song102: Song = (() => {
  const beats = beatTimes(0.8, 4 + 4 + 2 + 4 + 4 + 1, () => 0.6);
  return { name: '102', beats, downbeats: [0, 4, 8, 10, 14, 18] };
})();

/** Seconds -> ticks of the file's 120 BPM map (960 ticks a second). */
const tick = (sec: number) => Math.round(sec * 960);
/** The time of beat `b` plus `eighths` 8ths, on the annotated beats. */
function at(song: Song, b: number, eighths: number): number {
  const t0 = song.beats[b] as number;
  const t1 = song.beats[b + 1] ?? t0 + (t0 - (song.beats[b - 1] as number));
  return t0 + (eighths / 2) * (t1 - t0);
}

function midiOf(song: Song): Uint8Array {
  type Timed = { tick: number; order: number; event: MidiEvent };
  const track = (name: string, notes: Array<{ pitch: number; on: number; off: number; velocity: number }>): MidiEvent[] => {
    const items: Timed[] = [{ tick: 0, order: 0, event: { deltaTime: 0, type: 'trackName', text: name, meta: true } }];
    for (const n of notes) {
      items.push({ tick: tick(n.on), order: 2, event: { deltaTime: 0, type: 'noteOn', channel: 0, noteNumber: n.pitch, velocity: n.velocity } });
      items.push({ tick: tick(n.off), order: 1, event: { deltaTime: 0, type: 'noteOff', channel: 0, noteNumber: n.pitch, velocity: 0 } });
    }
    items.sort((a, b) => a.tick - b.tick || a.order - b.order);
    let prev = 0;
    const out = items.map((x) => {
      const e = { ...x.event, deltaTime: x.tick - prev } as MidiEvent;
      prev = x.tick;
      return e;
    });
    out.push({ deltaTime: 0, type: 'endOfTrack', meta: true });
    return out;
  };
  const melody: Array<{ pitch: number; on: number; off: number; velocity: number }> = [];
  const bridge: typeof melody = [];
  const piano: typeof melody = [];
  const scale = [60, 62, 64, 65, 67, 69, 71, 72];
  const last = song.beats.length - 1;
  for (let b = 0; b < last; b++) {
    const down = song.downbeats.includes(b);
    // Melody: two 8ths a beat (one on the pickup), a step of the scale each.
    for (let e = 0; e < 2; e++) melody.push({ pitch: scale[(2 * b + e) % scale.length] as number, on: at(song, b, e), off: at(song, b, e + 0.9), velocity: 90 });
    // Bridge: an off-beat 8th now and then.
    if (b % 3 === 1) bridge.push({ pitch: 55, on: at(song, b, 1), off: at(song, b, 1.8), velocity: 70 });
    // Piano: a chord on each downbeat (C or G), held two beats; a bass note on every other beat.
    if (down) for (const p of b % 8 < 4 ? [48, 52, 55] : [43, 47, 50]) piano.push({ pitch: p, on: at(song, b, 0), off: at(song, b, 3.8), velocity: 80 });
    else if (b % 2 === 0) piano.push({ pitch: 36, on: at(song, b, 0), off: at(song, b, 1.8), velocity: 75 });
  }
  const tempo: MidiEvent[] = [
    { deltaTime: 0, type: 'setTempo', microsecondsPerBeat: 500000, meta: true },
    { deltaTime: 0, type: 'timeSignature', numerator: 4, denominator: 4, metronome: 24, thirtyseconds: 8, meta: true },
    { deltaTime: 0, type: 'endOfTrack', meta: true },
  ];
  return Uint8Array.from(writeMidi({ header: { format: 1, numTracks: 4, ticksPerBeat: 480 }, tracks: [tempo, track('MELODY', melody), track('BRIDGE', bridge), track('PIANO', piano)] }));
}

function beatText(song: Song): string {
  // POP909 marks every other beat in the second column (half bars) and downbeats in the third.
  const down = new Set(song.downbeats);
  let sinceDown = 0;
  return song.beats
    .map((t, i) => {
      if (down.has(i)) sinceDown = 0;
      const line = `${t} ${sinceDown % 2 === 0 ? '1.0' : '0.0'} ${down.has(i) ? '1.0' : '0.0'}`;
      sinceDown++;
      return line;
    })
    .join('\n')
    .concat('\n');
}

const args = process.argv.slice(2);
const out = args[0] === '-o' && args[1] !== undefined ? args[1] : 'test/fixtures/pop909';
for (const song of [song101, song102]) {
  mkdirSync(join(out, 'annotations', song.name), { recursive: true });
  writeFileSync(join(out, `${song.name}.mid`), midiOf(song));
  writeFileSync(join(out, 'annotations', song.name, 'beat_midi.txt'), beatText(song));
}
process.stdout.write(`wrote ${out}: 101.mid, 102.mid and their annotations\n`);
