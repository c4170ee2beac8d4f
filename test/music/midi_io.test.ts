/** MIDI bytes <-> Score: rescaling, merging tracks, drums, tempo map and pedal, re-strikes, writing, and each bad file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_NOTES, InputError, readMidi, scoreToMidi, midiToScore, applySustain, emptyScore, type Score } from '../../src/index.ts';
import { midiBytes, chord } from './_midi.ts';

const notesOf = (s: Score) => s.notes.map((n) => [n.pitch, n.start, n.end, n.velocity]);

test('ticks are rescaled to 480 per beat (EMOPIA clips use 384)', () => {
  const bytes = midiBytes([{ notes: [{ pitch: 60, start: 384, end: 576, velocity: 70 }, { pitch: 62, start: 1, end: 385 }] }], { ticksPerBeat: 384, tempos: [{ tick: 0, bpm: 120 }] });
  const { score, info } = readMidi(bytes);
  assert.equal(info.sourceTicksPerBeat, 384);
  assert.deepEqual(notesOf(score), [[62, 1.25, 481.25, 80], [60, 480, 720, 70]]);
  assert.deepEqual(score.tempos, [{ tick: 0, bpm: 120 }]);
});

test('non-drum tracks and channels merge into one part; drum notes are dropped and counted', () => {
  const bytes = midiBytes([
    { notes: [{ pitch: 72, start: 0, end: 480 }] },
    { notes: [{ pitch: 60, start: 0, end: 480, channel: 1 }, { pitch: 36, start: 0, end: 100, channel: 9 }, { pitch: 38, start: 480, end: 500, channel: 9 }] },
    { notes: [{ pitch: 48, start: 960, end: 1440, channel: 2 }] },
  ]);
  const { score, info } = readMidi(bytes);
  assert.deepEqual(score.notes.map((n) => n.pitch), [60, 72, 48]);
  assert.equal(info.drumNotesDropped, 2);
  assert.equal(info.tracks, 3);
});

test('tempo map, time signatures, markers and sustain pedal are kept; a file without tempo gets 120 BPM', () => {
  const bytes = midiBytes(
    [
      {
        notes: [{ pitch: 60, start: 0, end: 240 }],
        events: [
          { tick: 0, event: { deltaTime: 0, type: 'timeSignature', numerator: 3, denominator: 4, metronome: 24, thirtyseconds: 8, meta: true } },
          { tick: 960, event: { deltaTime: 0, type: 'marker', text: 'C_M', meta: true } },
          { tick: 100, event: { deltaTime: 0, type: 'controller', channel: 0, controllerType: 64, value: 127 } },
          { tick: 900, event: { deltaTime: 0, type: 'controller', channel: 0, controllerType: 64, value: 0 } },
        ],
      },
    ],
    { tempos: [{ tick: 0, bpm: 90 }, { tick: 1920, bpm: 150 }] },
  );
  const s = midiToScore(bytes);
  assert.deepEqual(s.tempos.map((t) => [t.tick, Math.round(t.bpm * 1000) / 1000]), [[0, 90], [1920, 150]]);
  assert.deepEqual(s.timeSignatures, [{ tick: 0, numerator: 3, denominator: 4 }]);
  assert.deepEqual(s.markers, [{ tick: 960, text: 'C_M' }]);
  assert.deepEqual(s.pedals, [{ tick: 100, down: true }, { tick: 900, down: false }]);
  assert.deepEqual(applySustain(s).notes.map((n) => [n.start, n.end]), [[0, 900]]);
  const plain = midiToScore(midiBytes([{ notes: [{ pitch: 60, start: 0, end: 240 }] }]));
  assert.deepEqual(plain.tempos, [{ tick: 0, bpm: 120 }]);
});

test('overlapping notes of one pitch: a re-strike ends the sounding note; a missing note-off ends at the track end', () => {
  const on = (tick: number, vel = 80) => ({ tick, event: { deltaTime: 0, type: 'noteOn' as const, channel: 0, noteNumber: 60, velocity: vel } });
  const off = (tick: number) => ({ tick, event: { deltaTime: 0, type: 'noteOff' as const, channel: 0, noteNumber: 60, velocity: 0 } });
  const endAt = (tick: number) => ({ tick, event: { deltaTime: 0, type: 'text' as const, text: 'end', meta: true as const } });
  // on 0, on 240 (re-strike), off 480, off 600 (nothing sounding: ignored); on 960 never released.
  const { score, info } = readMidi(midiBytes([{ events: [on(0, 50), on(240, 90), off(480), off(600), on(960), endAt(1500)] }]));
  assert.deepEqual(notesOf(score), [[60, 0, 240, 50], [60, 240, 480, 90], [60, 960, 1500, 80]]);
  assert.equal(info.restrikes, 1);
  assert.equal(info.unterminated, 1);
  // Writers that put the next note-on before the previous note-off at one tick: both notes keep their length.
  const { score: s2, info: i2 } = readMidi(midiBytes([{ events: [on(0), on(480), off(480), off(960)] }]));
  assert.deepEqual(notesOf(s2), [[60, 0, 480, 80], [60, 480, 960, 80]]);
  assert.equal(i2.restrikes, 0);
});

test('scoreToMidi -> midiToScore gives the same notes, also overlapping and repeated notes of one pitch', () => {
  const s = emptyScore();
  s.notes = [
    { pitch: 60, velocity: 80, start: 0, end: 960 },
    { pitch: 60, velocity: 70, start: 480, end: 720 },
    { pitch: 60, velocity: 60, start: 480, end: 600 },
    { pitch: 64, velocity: 127, start: 0, end: 0 },
    { pitch: 67, velocity: 40, start: 1920, end: 3840 },
  ];
  s.tempos = [{ tick: 0, bpm: 119 }, { tick: 1920, bpm: 62 }];
  s.markers = [{ tick: 0, text: 'C_M' }];
  const back = midiToScore(scoreToMidi(s));
  assert.deepEqual(notesOf(back), [[60, 0, 960, 80], [64, 0, 0, 127], [60, 480, 600, 60], [60, 480, 720, 70], [67, 1920, 3840, 40]]);
  assert.deepEqual(back.tempos.map((t) => [t.tick, Math.round(t.bpm * 100) / 100]), [[0, 119], [1920, 62]]);
  assert.deepEqual(back.markers, [{ tick: 0, text: 'C_M' }]);
});

test('bad input: each gets an InputError that names the file and the cause', () => {
  const good = midiBytes([{ notes: chord([60, 64, 67], 0, 480) }]);
  const withDivision = (d: number) => {
    const b = good.slice();
    b[12] = d >> 8;
    b[13] = d & 0xff;
    return b;
  };
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['empty file', new Uint8Array(0), /^x\.mid: empty file \(0 bytes\)/],
    ['wrong header', new TextEncoder().encode('RIFF....WAVEfmt '), /^x\.mid: not a standard MIDI file: expected header 'MThd', got 'RIFF'/],
    ['header only', good.slice(0, 10), /^x\.mid: truncated: the MIDI header needs 14 bytes, the file has 10/],
    ['truncated track', good.slice(0, good.length - 5), /^x\.mid: truncated: chunk 'MTrk' at byte 14 declares \d+ bytes, \d+ remain/],
    ['missing track', good.slice(0, 14), /^x\.mid: truncated: header declares 1 tracks, found 0/],
    ['zero ticks per beat', withDivision(0), /^x\.mid: zero ticks per beat/],
    ['SMPTE division', withDivision(0xe728), /^x\.mid: SMPTE time division \(25 frames\/s, 40 ticks\/frame\) is not supported/],
  ];
  for (const [what, bytes, re] of cases) {
    assert.throws(() => readMidi(bytes, 'x.mid'), (e: unknown) => e instanceof InputError && re.test(e.message), what);
  }
  // A corrupt event inside a well-formed chunk: status byte 0xF4 is undefined in MIDI.
  const corrupt = good.slice();
  corrupt[22 + 1] = 0xf4;
  assert.throws(() => readMidi(corrupt, 'x.mid'), /InputError: x\.mid: corrupt MIDI data in track 0: unexpected status byte 0xf4 in a track \(event at byte 22\)/);
  // What the old reader (midi-file) read past or misread silently: an event cut by the end of its chunk, a
  // delta-time of 5 bytes, a data byte with the high bit set, running status with no status before it.
  const track = (events: number[]) => {
    const head = [0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 0, 0, 1, 0x01, 0xe0];
    const n = events.length;
    return Uint8Array.from([...head, 0x4d, 0x54, 0x72, 0x6b, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, ...events]);
  };
  const strict: Array<[number[], RegExp]> = [
    [[0x00, 0x90, 60], /track 0: the event runs past the end of its track chunk \(event at byte 22\)/],
    [[0x80, 0x80, 0x80, 0x80, 0x01, 0x90, 60, 64], /track 0: delta-time longer than 4 bytes/],
    [[0x00, 0x90, 60, 200], /track 0: expected a data byte \(0\.\.127\), got 0xc8/],
    [[0x00, 60, 64], /track 0: running status before any status byte/],
    [[0x00, 0xff, 0x51, 0x02, 1, 2], /track 0: expected length 3 for setTempo, got 2/],
    [[0x00, 0xff, 0x06, 0x10, 0x41], /track 0: meta event of 16 bytes runs past the end of its track chunk/],
  ];
  for (const [events, re] of strict) assert.throws(() => readMidi(track(events), 'x.mid'), (e: unknown) => e instanceof InputError && re.test(e.message), re.source);
  // A 1 MB marker is read whole (midi-file overflowed the stack on it), and running status carries notes.
  const text = Array.from({ length: 1 << 20 }, (_, i) => 65 + (i % 26));
  const long = track([0x00, 0xff, 0x06, 0xc0, 0x80, 0x00, ...text, 0x00, 0x90, 60, 64, 0x10, 64, 0, 0x00, 0xff, 0x2f, 0x00]);
  const { score } = readMidi(long, 'x.mid');
  assert.equal(score.markers[0]!.text.length, 1 << 20);
  assert.equal(score.markers[0]!.text.slice(0, 3), 'ABC');
  assert.deepEqual(score.notes.map((n) => [n.pitch, n.start, n.end]), [[60, 0, 16]]);
  assert.throws(() => readMidi(good, 'x.mid', { maxBytes: 20 }), /InputError: x\.mid: file too large: \d+ bytes, the limit is 20/);
});

test('the note limit is checked while reading: maxNotes notes are read, one more is an InputError', () => {
  const s = emptyScore();
  s.notes = Array.from({ length: 50 }, (_, i) => ({ pitch: 60 + (i % 12), velocity: 80, start: i * 120, end: i * 120 + 240 }));
  const bytes = scoreToMidi(s);
  assert.equal(midiToScore(bytes, 'x.mid', { maxNotes: 50 }).notes.length, 50);
  assert.throws(() => midiToScore(bytes, 'x.mid', { maxNotes: 49 }), (e: unknown) => e instanceof InputError && e.message === 'x.mid: too many notes: more than 49, the limit is 49');
  // Re-strikes and notes never released count as notes too.
  const restruck = emptyScore();
  restruck.notes = Array.from({ length: 10 }, (_, i) => ({ pitch: 60, velocity: 80, start: i * 10, end: 200 }));
  assert.equal(midiToScore(scoreToMidi(restruck), 'r.mid', { maxNotes: 10 }).notes.length, 10);
  assert.throws(() => midiToScore(scoreToMidi(restruck), 'r.mid', { maxNotes: 9 }), /too many notes/);
  assert.equal(DEFAULT_MAX_NOTES, 50_000);
});
