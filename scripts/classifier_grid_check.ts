/**
 * Does the classifier read a beat-true piece as it reads EMOPIA's own files? Each valid and test clip of the
 * classifier's split is classified twice: as the file is (`classifierScore`), and after re-gridding onto the
 * tracker's beats (`regrid(trackedBeatGrid)`, what `encode --grid beats` and a beat-true model's decoded pieces
 * look like: 16ths of the tracked beats, a tempo map), read back the same way. If the two accuracies agree, the
 * conditioning figures of a beat-true model are not lowered by the grid itself.
 *   node --import tsx scripts/classifier_grid_check.ts [--data EMOPIA_DIR] [--split data/emopia_cls_split.json]
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { midiToScore } from '../src/music/midi_io.ts';
import { regrid, trackedBeatGrid } from '../src/music/regrid.ts';
import { classifierScore } from '../src/classify/timing.ts';
import { accuracy, classifyScore } from '../src/classify/classify.ts';
import { parseSplit } from '../src/classify/split.ts';
import { emotionFromName } from '../src/music/dataset.ts';
import { loadClassifier } from '../src/platform/classifier.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: process.env.EMOPIA_DIR ?? '../shared/data/emopia' },
    split: { type: 'string', default: 'data/emopia_cls_split.json' },
  },
});
const split = parseSplit(JSON.parse(readFileSync(args.split, 'utf8')), args.split);
const model = loadClassifier();
const f = (x: number) => x.toFixed(3);
for (const set of ['valid', 'test'] as const) {
  const truth: number[] = [];
  const asFile: number[] = [];
  const onBeats: number[] = [];
  for (const name of split[set]) {
    const file = join(args.data, `${name}.mid`);
    const score = midiToScore(readFileSync(file), file);
    truth.push(emotionFromName(file));
    asFile.push(classifyScore(model, classifierScore(score, file), file).quadrant);
    onBeats.push(classifyScore(model, classifierScore(regrid(score, trackedBeatGrid(score), {}, file).score, file), file).quadrant);
  }
  const a = accuracy(truth, asFile);
  const b = accuracy(truth, onBeats);
  const same = asFile.filter((q, i) => q === onBeats[i]).length;
  console.log(`${set} (${truth.length} clips): as the file 4Q ${f(a.quadrant)} arousal ${f(a.arousal)} valence ${f(a.valence)}; ` +
    `on the tracked beats 4Q ${f(b.quadrant)} arousal ${f(b.arousal)} valence ${f(b.valence)}; same quadrant ${same}/${truth.length}`);
}
