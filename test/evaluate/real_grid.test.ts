/**
 * The grids a piece is measured on: `classifierScore` (EMOPIA's nominal 120 BPM, seconds kept) for the classifier
 * and the musical statistics, and `realClipScore` (file or tracked beats) for the real clips' structure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scoreToMidi } from '../../src/music/midi_io.ts';
import { renderPerformance } from '../../src/music/beats/render.ts';
import { atConstantTempo, secondsAt } from '../../src/music/time_map.ts';
import { classifierScore, quantizedScore } from '../../src/classify/timing.ts';
import { scoreFeatures } from '../../src/classify/features.ts';
import { realClipScore } from '../../src/cli/commands/evaluate.ts';
import { steadyPiece } from '../music/_beats.ts';

const BAR = 1920;

test('atConstantTempo keeps every note at its time in seconds, and leaves a 120 BPM score as it is', () => {
  const { score } = steadyPiece({ bpm: 80, meter: 4, bars: 4 });
  const at120 = atConstantTempo(score);
  assert.deepEqual(at120.tempos, [{ tick: 0, bpm: 120 }]);
  const before = secondsAt(score.tempos);
  const after = secondsAt(at120.tempos);
  assert.equal(at120.notes.length, score.notes.length);
  score.notes.forEach((n, i) => {
    const m = at120.notes[i]!;
    assert.ok(Math.abs(after(m.start) - before(n.start)) < 1e-9 && Math.abs(after(m.end) - before(n.end)) < 1e-9, `note ${i}`);
  });
  // One beat at 80 BPM is 0.75 s: 1.5 beats at 120 BPM.
  assert.equal(at120.notes.find((n) => n.start > 0)!.start, 240 * 1.5);
  assert.equal(atConstantTempo(at120), at120, 'already at 120 BPM: the same object');
});

test('classifierScore: the same music written at its own tempo or as a 120 BPM transcription gives the same features', () => {
  const { score, beats } = steadyPiece({ bpm: 80, meter: 4, bars: 8 });
  const written = renderPerformance(score, { beats, downbeats: [] }, { leadIn: 0, amplitude: 0, period: 30, phase: 0 }).score;
  assert.deepEqual(written.tempos, [{ tick: 0, bpm: 120 }]);
  assert.deepEqual(classifierScore(score).notes, classifierScore(written).notes);
  assert.deepEqual([...scoreFeatures(score)], [...scoreFeatures(written)]);
  // Without the re-timing the beats of the music would count as EMOPIA's beats: a different picture.
  assert.notDeepEqual(quantizedScore(score).notes, quantizedScore(written).notes);
});

test('classifierScore reads a piece at 119 BPM (the tokenizer\'s value nearest EMOPIA\'s 120) as it is, and one at 116 re-timed', () => {
  const { score } = steadyPiece({ bpm: 119, meter: 4, bars: 8 });
  assert.deepEqual(classifierScore(score), quantizedScore(score));
  const slower = { ...score, tempos: [{ tick: 0, bpm: 116 }] };
  assert.notDeepEqual(classifierScore(slower).notes, quantizedScore(slower).notes);
});

test('realClipScore: a 96 BPM piece transcribed at a nominal 120 BPM has its bass on the bar lines only on the tracked grid', () => {
  const { score, beats, downbeats } = steadyPiece({ bpm: 96, meter: 4, bars: 16 });
  const written = renderPerformance(score, { beats, downbeats }, { leadIn: 0.37, amplitude: 0, period: 30, phase: 0 }).score;
  const dir = mkdtempSync(join(tmpdir(), 'emopia-real-grid-'));
  try {
    const file = join(dir, 'Q1_piece_0.mid');
    writeFileSync(file, scoreToMidi(written));
    const onBars = (s: ReturnType<typeof realClipScore>) => s.notes.filter((n) => n.pitch < 48).map((n) => n.start % BAR === 0);
    const tracked = realClipScore(file, 'beats');
    assert.equal(onBars(tracked).length, 16);
    assert.ok(onBars(tracked).every(Boolean), 'every bass note on a bar line of the tracked grid');
    const tempo = tracked.tempos.map((t) => t.bpm);
    assert.ok(tempo.every((b) => Math.abs(b - 96) <= 3), `tempo words near 96 BPM, got ${tempo.join(',')}`);
    const file120 = realClipScore(file, 'file');
    assert.ok(onBars(file120).filter(Boolean).length < 8, 'on the nominal grid the bass drifts across the bar lines');
    assert.deepEqual(file120.tempos, [{ tick: 0, bpm: 120 }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
