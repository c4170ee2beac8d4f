/**
 * Onset error of beat-true words after a round trip, on POP909 with its beat annotations: each song is re-timed
 * onto `annotations/NNN/beat_midi.txt`, encoded, decoded to a MIDI file and read back, and every onset is compared
 * in seconds with the original file's (from the first kept bar line; see src/music/round_trip.ts).
 *   node --import tsx scripts/beat_true_round_trip.ts [POP909_DIR] [--songs N] [--pedal ignore|extend]
 * POP909_DIR defaults to ../shared/data/pop909 (NNN.mid and annotations/NNN/beat_midi.txt).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listMidiFiles } from '../src/platform/dataset.ts';
import { baseName } from '../src/music/dataset.ts';
import { midiToScore } from '../src/music/midi_io.ts';
import { parseBeatAnnotations } from '../src/music/beat_grid.ts';
import { regrid } from '../src/music/regrid.ts';
import { beatTrueRoundTrip } from '../src/music/round_trip.ts';

const args = process.argv.slice(2);
let dir = '../shared/data/pop909';
let songs = Infinity;
let pedal: 'ignore' | 'extend' = 'ignore';
for (let i = 0; i < args.length; i++) {
  const a = args[i] as string;
  if (a === '--songs') songs = Number(args[++i]);
  else if (a === '--pedal') pedal = args[++i] === 'extend' ? 'extend' : 'ignore';
  else dir = a;
}

const all: number[] = [];
const songMax: number[] = [];
const drifts: number[] = [];
let notesIn = 0;
let notesOut = 0;
let done = 0;
for (const path of listMidiFiles(dir)
  .filter((p) => !p.includes('annotations'))
  .slice(0, songs)) {
  const stem = baseName(path);
  const score = midiToScore(readFileSync(path), path);
  const grid = parseBeatAnnotations(readFileSync(join(dir, 'annotations', stem, 'beat_midi.txt'), 'utf8'));
  const rt = beatTrueRoundTrip(score, grid, { pedal });
  drifts.push(regrid(score, grid).maxTempoDrift);
  const abs = rt.errors.map(Math.abs);
  all.push(...abs);
  songMax.push(Math.max(...abs));
  notesIn += rt.notesIn;
  notesOut += rt.notesOut;
  done++;
}
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] as number;
const ms = (x: number) => `${(1000 * x).toFixed(1)} ms`;
const a = sorted(all);
const mean = a.reduce((s, x) => s + x, 0) / a.length;
const m = sorted(songMax);
const d = sorted(drifts);
process.stdout.write(
  [
    `${done} songs, ${notesIn} notes in, ${notesOut} out, ${a.length} onsets compared`,
    `onset error: mean ${ms(mean)}, median ${ms(pct(a, 0.5))}, p95 ${ms(pct(a, 0.95))}, p99 ${ms(pct(a, 0.99))}, max ${ms(a[a.length - 1] as number)}`,
    `per-song max: median ${ms(pct(m, 0.5))}, p95 ${ms(pct(m, 0.95))}`,
    `tempo-map drift alone (binned tempos vs the beats, per song max): median ${ms(pct(d, 0.5))}, p95 ${ms(pct(d, 0.95))}, max ${ms(d[d.length - 1] as number)}`,
  ].join('\n') + '\n',
);
