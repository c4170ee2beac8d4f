/** The library's MIDI writer gives midi-file's bytes for the events scoreToMidi writes, in linear time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeMidi, type MidiEvent } from 'midi-file';
import { InputError, midiToScore, scoreToMidi } from '../../src/index.ts';
import { writeSmf, type SmfOutEvent } from '../../src/music/smf_writer.ts';
import { Rng } from '../../src/random.ts';

/** midi-file's bytes for the same tracks (its events carry the same fields). */
const reference = (tracks: SmfOutEvent[][]) =>
  Uint8Array.from(writeMidi({ header: { format: 1, numTracks: tracks.length, ticksPerBeat: 480 }, tracks: tracks as unknown as MidiEvent[][] }));

function randomTrack(rng: Rng, n: number): SmfOutEvent[] {
  const delta = () => [0, 1, 127, 128, 16_383, 16_384, 0x0fffffff, 0x10000000, 2 ** 31 - 1][rng.nextInt(9)] as number;
  const out: SmfOutEvent[] = [];
  for (let k = 0; k < n; k++) {
    const r = rng.nextInt(6);
    const channel = rng.nextInt(16);
    if (r === 0) out.push({ deltaTime: delta(), type: rng.next() < 0.5 ? 'noteOn' : 'noteOff', channel, noteNumber: rng.nextInt(128), velocity: rng.nextInt(128) });
    else if (r === 1) out.push({ deltaTime: delta(), type: 'programChange', channel, programNumber: rng.nextInt(128) });
    else if (r === 2) out.push({ deltaTime: delta(), type: 'setTempo', microsecondsPerBeat: 1 + rng.nextInt(0xffffff) });
    else if (r === 3) out.push({ deltaTime: delta(), type: 'timeSignature', numerator: 1 + rng.nextInt(15), denominator: 2 ** rng.nextInt(6), metronome: 24, thirtyseconds: 8 });
    // Text beyond Latin-1 (é, €, an emoji's two UTF-16 units) and a length over 127.
    else out.push({ deltaTime: delta(), type: r === 4 ? 'marker' : 'trackName', text: `C_M é€😀${'x'.repeat(rng.nextInt(300))}` });
  }
  out.push({ deltaTime: 0, type: 'endOfTrack' });
  return out;
}

test('writeSmf gives midi-file writeMidi bytes on random event lists (delta-times up to 2^31 - 1, long and non-Latin-1 text)', () => {
  const rng = new Rng(11);
  for (let k = 0; k < 40; k++) {
    const tracks = [randomTrack(rng, rng.nextInt(60)), randomTrack(rng, rng.nextInt(60))];
    assert.deepEqual(writeSmf(1, 480, tracks), reference(tracks));
  }
});

test('writeSmf refuses a negative delta-time and one of 2^31 or more (midi-file looped for ever on those)', () => {
  for (const deltaTime of [-1, 2 ** 31, 2 ** 32 - 1]) {
    assert.throws(() => writeSmf(1, 480, [[{ deltaTime, type: 'endOfTrack' }]]), InputError);
  }
});

test('scoreToMidi writes 50k notes with long gaps at once, and they read back', () => {
  const rng = new Rng(4);
  const notes = Array.from({ length: 50_000 }, (_, k) => ({ pitch: 22 + rng.nextInt(86), velocity: 1 + rng.nextInt(127), start: k * 300, end: k * 300 + 1 + rng.nextInt(600) }));
  const bytes = scoreToMidi({ ticksPerBeat: 480, notes, tempos: [{ tick: 0, bpm: 100 }], timeSignatures: [], markers: [], pedals: [] });
  const back = midiToScore(bytes, 'written');
  assert.equal(back.notes.length, 50_000);
  assert.deepEqual(back.notes.map((n) => [n.pitch, n.start, n.end]), [...notes].sort((a, b) => a.start - b.start || a.pitch - b.pitch).map((n) => [n.pitch, n.start, n.end]));
});
