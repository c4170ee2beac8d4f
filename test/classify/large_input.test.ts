/**
 * Valid but large input (issue 14.2): a piece of 160k notes and a MIDI file with a 150k-character text event
 * once overflowed the stack (a large array spread into a call) in the classifier and the MIDI reader. Files of
 * more than DEFAULT_MAX_NOTES (100k) notes are now refused while reading (issue 14's time bound); the library
 * reads them with a higher `maxNotes`, and the classifier takes such a score built in code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeMidi, type MidiEvent } from 'midi-file';
import { Rng } from '../../src/random.ts';
import { FAMILIES } from '../../src/music/vocab.ts';
import { emptyScore, type Note } from '../../src/music/score.ts';
import { DEFAULT_MAX_NOTES, midiToScore, scoreToMidi } from '../../src/music/midi_io.ts';
import { classifyScore } from '../../src/classify/classify.ts';
import { loadClassifier } from '../../src/platform/classifier.ts';
import { runCli } from '../helpers/cli.ts';

const NOTES = 160_000;
const TEXT = 150_000;

/** `count` notes (160k: 142k onsets, 8889 bars): a seeded random walk of 16ths, with a second note on beats 1 and 3. */
function bigScoreMidi(count = NOTES): Uint8Array {
  const rng = new Rng(11);
  const notes: Note[] = [];
  let pitch = 64;
  for (let t = 0; notes.length < count; t += 120) {
    pitch = Math.min(90, Math.max(40, pitch + rng.nextInt(7) - 3));
    notes.push({ pitch, velocity: 50 + rng.nextInt(60), start: t, end: t + 120 });
    if (t % 960 === 0 && notes.length < count) notes.push({ pitch: pitch - 12, velocity: 60, start: t, end: t + 480 });
  }
  const s = emptyScore();
  s.notes = notes;
  s.tempos = [{ tick: 0, bpm: 110 }];
  return scoreToMidi(s);
}

/** Two bars of triads with a 150k-character text event and a 150k-character marker at tick 0. */
function longTextMidi(): Uint8Array {
  const text = 'la '.repeat(TEXT / 3);
  const track: MidiEvent[] = [
    { deltaTime: 0, type: 'text', text, meta: true },
    { deltaTime: 0, type: 'marker', text, meta: true },
  ];
  // A triad per beat, 400 ticks long, alternating C and F major.
  for (let b = 0; b < 8; b++) {
    const root = 60 + (b % 2) * 5;
    [0, 4, 7].forEach((iv, k) => track.push({ deltaTime: b > 0 && k === 0 ? 80 : 0, type: 'noteOn', channel: 0, noteNumber: root + iv, velocity: 80 }));
    [0, 4, 7].forEach((iv, k) => track.push({ deltaTime: k === 0 ? 400 : 0, type: 'noteOff', channel: 0, noteNumber: root + iv, velocity: 0 }));
  }
  track.push({ deltaTime: 0, type: 'endOfTrack', meta: true });
  return Uint8Array.from(writeMidi({ header: { format: 0, numTracks: 1, ticksPerBeat: 480 }, tracks: [track] }));
}

test('a valid 160k-note piece is read (with a raised maxNotes) and classified', () => {
  assert.throws(() => midiToScore(bigScoreMidi(), 'big.mid'), /big\.mid: too many notes: more than 50000, the limit is 50000/);
  const score = midiToScore(bigScoreMidi(), 'big.mid', { maxNotes: NOTES });
  assert.equal(score.notes.length, NOTES);
  const c = classifyScore(loadClassifier(), score, 'big.mid');
  assert.equal(c.probs.length, 4);
  assert.ok(c.probs.every((p) => p > 0 && p < 1), `probabilities in (0, 1): ${c.probs}`);
  assert.ok(Math.abs(c.probs.reduce((a, b) => a + b, 0) - 1) < 1e-9);
});

test('a MIDI file with a 150k-character text event is read, encoded and classified', async () => {
  const bytes = longTextMidi();
  const score = midiToScore(bytes, 'text.mid');
  assert.equal(score.notes.length, 24, 'the notes around the long text are all read');
  assert.deepEqual(score.notes.slice(0, 4).map((n) => [n.pitch, n.start, n.end]), [[60, 0, 400], [64, 0, 400], [67, 0, 400], [65, 480, 880]]);
  // The marker is kept whole (our reader, smf.ts, decodes text without one function argument per byte).
  assert.equal(score.markers.length, 1);
  assert.equal(score.markers[0]!.text, 'la '.repeat(TEXT / 3));
  const dir = mkdtempSync(join(tmpdir(), 'emopia-large-'));
  try {
    const text = join(dir, 'text.mid');
    const big = join(dir, 'big.mid');
    const bad = join(dir, 'bad.mid');
    writeFileSync(text, bytes);
    writeFileSync(big, bigScoreMidi(DEFAULT_MAX_NOTES));
    writeFileSync(bad, 'MThd garbage');
    const [encoded, classified] = await Promise.all([runCli(['encode', text]), runCli(['classify', '--json', text, bad, big])]);
    assert.equal(encoded.code, 0, encoded.stderr);
    const enc = JSON.parse(encoded.stdout) as { words: number[][]; events: string[][] };
    const type = FAMILIES.indexOf('type');
    assert.equal(enc.events.filter((e) => e[type] === 'Note').length, 24, 'encode wrote a Note word per note');
    assert.equal(enc.words.length, enc.events.length);
    // The bad file gets one line; the two large valid files (the big one at the note limit) are classified; exit 1 for the bad one.
    assert.equal(classified.code, 1, classified.stderr);
    const rows = JSON.parse(classified.stdout) as Array<{ file: string; quadrant?: string; error?: string }>;
    assert.deepEqual(rows.map((r) => r.file), [text, bad, big]);
    assert.match(rows[0]!.quadrant ?? '', /^Q[1-4]$/);
    assert.match(rows[1]!.error ?? '', /bad\.mid: .*MIDI/);
    assert.match(rows[2]!.quadrant ?? '', /^Q[1-4]$/);
    const errs = classified.stderr.trim().split('\n');
    assert.equal(errs.length, 2, classified.stderr);
    assert.match(errs[0]!, /^emopia: .*bad\.mid: /);
    assert.equal(errs[1], 'emopia: classify: 1 of 3 files could not be classified');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
