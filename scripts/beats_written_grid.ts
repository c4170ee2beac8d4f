/**
 * Does a piece keep the beat it was written with? Tracks every MIDI file in each sub-folder of DIR (trackBeats, the
 * default tracker) and scores the tracked beats and downbeats against the file's own written grid (file_grid.ts: its
 * tempo map, 480 ticks per beat, bars of its time signature) by the evaluation's rules (metrics.ts: +-70 ms,
 * one-to-one, times before 5 s ignored). Meant for generated pieces (their grid is the one the model wrote) beside
 * real clips written onto the tracker's own beats (encode --grid beats, then decode), whose score is the bar they
 * are measured against. Prints one line per sub-folder. The model card's "Does it keep a beat" has the commands:
 *
 *   node --import tsx scripts/beats_written_grid.ts DIR
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { midiToScore } from '../src/music/midi_io.ts';
import { fileGrid } from '../src/music/beats/file_grid.ts';
import { beatFMeasure, medianTempo, tempoMatches } from '../src/music/beats/metrics.ts';
import { trackBeats } from '../src/music/beats/track.ts';

const root = process.argv[2];
if (root === undefined) throw new Error('usage: beats_written_grid.ts DIR (sub-folders of MIDI files)');
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;
for (const sub of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
  const beatF: number[] = [];
  const downF: number[] = [];
  let tempoOk = 0;
  let octave = 0;
  for (const f of readdirSync(join(root, sub)).filter((n) => n.toLowerCase().endsWith('.mid')).sort()) {
    const score = midiToScore(readFileSync(join(root, sub, f)), f);
    const written = fileGrid(score);
    const tracked = trackBeats(score);
    beatF.push(beatFMeasure(written.beats, tracked.beats));
    downF.push(beatFMeasure(written.downbeats, tracked.downbeats));
    if (tempoMatches(written.beats, tracked.beats)) tempoOk++;
    const r = medianTempo(tracked.beats) / medianTempo(written.beats);
    if (Math.abs(Math.log2(r)) > 0.9 && Math.abs(Math.log2(r)) < 1.1) octave++;
  }
  console.log(
    `${sub}: ${beatF.length} pieces; beat F mean ${mean(beatF).toFixed(3)} (median ${median(beatF).toFixed(3)}); downbeat F mean ${mean(downF).toFixed(3)} (median ${median(downF).toFixed(3)}); tempo within 4%: ${tempoOk}, doubled or halved: ${octave}`,
  );
}
