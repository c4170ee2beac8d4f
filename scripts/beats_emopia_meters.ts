// How the beat tracker reads the meter of EMOPIA's clips (mostly 4/4 pop piano): the number read as 3/4 and as 4/4,
// and the files that fell back to their own grid. node --import tsx scripts/beats_emopia_meters.ts [EMOPIA_DIR] [--list]
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { midiToScore } from '../src/music/midi_io.ts';
import { trackBeats } from '../src/music/beats/track.ts';
import { listMidiFiles } from '../src/platform/dataset.ts';

const dir = process.argv[2] ?? '../shared/data/emopia';
const list = process.argv.includes('--list');
const files = listMidiFiles(dir);
let three = 0;
let four = 0;
let fallback = 0;
let pedals = 0;
for (const path of files) {
  const score = midiToScore(new Uint8Array(readFileSync(path)), path);
  if (score.pedals.length > 0) pedals++;
  const t = trackBeats(score);
  if (t.fallback !== undefined) fallback++;
  else if (t.meter === 3) {
    three++;
    if (list) console.log('3/4', basename(path));
  } else four++;
}
console.log(JSON.stringify({ files: files.length, three, four, fallback, withPedals: pedals }));
