/**
 * Trains the emotion classifier shipped in models/classifier:
 *   node --import tsx scripts/train_classifier.ts [--data EMOPIA_DIR] [--split data/emopia_cls_split.json]
 *        [-o models/classifier] [--seed 1] [--members 5]
 * Features of every clip (src/classify/features.ts), a small grid of logistic regressions / MLPs trained on the
 * train set, model selection on valid (cross-entropy), an ensemble of seeds of the chosen one, scored once on test. Prints 4Q,
 * arousal and valence accuracy on train, valid and test; writes OUT/classifier.json.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIntOption } from '../src/cli/options.ts';
import { writeFileAtomic } from '../src/io/atomic.ts';
import { listMidiFiles } from '../src/music/dataset_node.ts';
import { baseName, emotionFromName } from '../src/music/dataset.ts';
import { midiToScore } from '../src/music/midi_io.ts';
import { FEATURE_NAMES, scoreFeatures } from '../src/classify/features.ts';
import { parseSplit, SPLIT_SETS, type SplitSet } from '../src/classify/split.ts';
import { defaultGrid, selectModel, type LabelledRows } from '../src/classify/train.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: process.env.EMOPIA_DIR ?? '../shared/data/emopia' },
    split: { type: 'string', default: 'data/emopia_cls_split.json' },
    out: { type: 'string', short: 'o', default: 'models/classifier' },
    seed: { type: 'string', default: '1' },
    members: { type: 'string', default: '5' },
  },
});
const dataDir = args.data;
const splitPath = args.split;
const outDir = args.out;
const seed = parseIntOption('seed', 0)(args.seed);
const members = parseIntOption('members', 1)(args.members);

const split = parseSplit(JSON.parse(readFileSync(splitPath, 'utf8')), splitPath);
const setOf = new Map<string, SplitSet>();
for (const s of SPLIT_SETS) for (const c of split[s]) setOf.set(c, s);
const rows: Record<SplitSet, LabelledRows> = { train: { X: [], y: [] }, valid: { X: [], y: [] }, test: { X: [], y: [] } };
const t0 = Date.now();
let missing = 0;
for (const file of listMidiFiles(dataDir)) {
  const name = baseName(file);
  const set = setOf.get(name);
  if (!set) {
    missing++;
    continue;
  }
  const x = scoreFeatures(midiToScore(readFileSync(file), file), file);
  rows[set].X.push(x);
  rows[set].y.push(emotionFromName(name));
}
const counts = SPLIT_SETS.map((s) => `${s} ${rows[s].X.length}`).join(', ');
console.log(`features: ${FEATURE_NAMES.length} per clip; ${counts} clips (${missing} files not in the split) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
const grid = defaultGrid();
const t1 = Date.now();
const r = selectModel(rows.train, rows.valid, rows.test, FEATURE_NAMES, grid, { seed, members }, (i, c, best) =>
  console.log(`  [${i + 1}/${grid.length}] hidden [${c.hidden.join(',')}] l2 ${c.l2}: lowest valid CE ${best.crossEntropy.toFixed(3)} at epoch ${best.epoch} (4Q ${best.quadrant.toFixed(3)})`),
);
const fmt = (a: { quadrant: number; arousal: number; valence: number; n: number }) =>
  `4Q ${a.quadrant.toFixed(3)}  arousal ${a.arousal.toFixed(3)}  valence ${a.valence.toFixed(3)}  (n=${a.n})`;
console.log(`chosen: hidden [${r.chosen.hidden.join(',')}], l2 ${r.chosen.l2}, ${r.chosen.epoch} epochs (of ${grid.length} candidates), ensemble of ${members} seeds (${((Date.now() - t1) / 1000).toFixed(1)} s)`);
console.log(`train: ${fmt(r.train)}`);
console.log(`valid: ${fmt(r.valid)}`);
if (r.test) console.log(`test:  ${fmt(r.test)}`);
const round = (x: number) => Math.round(x * 1e6) / 1e6;
const model = {
  ...r.model,
  mean: r.model.mean.map(round),
  std: r.model.std.map(round),
  members: r.model.members.map((layers) => layers.map((L) => ({ weight: L.weight.map((row) => row.map(round)), bias: L.bias.map(round) }))),
  training: {
    command: `node --import tsx scripts/train_classifier.ts --data EMOPIA_DIR --split ${splitPath} -o ${outDir} --seed ${seed} --members ${members}`,
    split: { file: splitPath, seed: split.seed, clips: Object.fromEntries(SPLIT_SETS.map((s) => [s, rows[s].X.length])) },
    chosen: r.chosen,
    candidates: grid.length,
    accuracy: { train: r.train, valid: r.valid, test: r.test, searchValid: r.search },
  },
};
writeFileAtomic(join(outDir, 'classifier.json'), JSON.stringify(model) + '\n');
console.log(`wrote ${join(outDir, 'classifier.json')}`);
