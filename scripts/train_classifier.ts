/**
 * Trains the emotion classifier shipped in models/classifier:
 *   node --import tsx scripts/train_classifier.ts [--data EMOPIA_DIR] [--split data/emopia_cls_split.json]
 *        [-o models/classifier] [--seed 1] [--k 5] [--reps 2] [--no-test]
 * 1. Features of every clip (src/classify/features.ts).
 * 2. Selection without the test clips: each candidate recipe (src/classify/recipe.ts) is scored by song-level
 *    k-fold cross-validation over the train+valid clips (k folds x reps deals); the lowest pooled held-out
 *    cross-entropy wins.
 * 3. The winner is trained on the train clips (cross-validation showed no gain from more clips, and valid then
 *    stays held out) and scored on train, valid and, unless --no-test, once on test. Writes OUT/classifier.json
 *    (not with --no-test).
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIntOption } from '../src/cli/options.ts';
import { writeFileAtomic } from '../src/platform/atomic.ts';
import { listMidiFiles } from '../src/platform/dataset.ts';
import { baseName, emotionFromName } from '../src/music/dataset.ts';
import { midiToScore } from '../src/music/midi_io.ts';
import { FEATURE_NAMES, scoreFeatures } from '../src/classify/features.ts';
import { parseSplit, SPLIT_SETS, type SplitSet } from '../src/classify/split.ts';
import { evaluateRows, type LabelledRows, type Scored } from '../src/classify/scoring.ts';
import { candidateRecipes, trainRecipe } from '../src/classify/recipe.ts';
import { crossValidate } from '../src/classify/cv.ts';
import type { TreeJSON } from '../src/classify/boost.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: process.env.EMOPIA_DIR ?? '../shared/data/emopia' },
    split: { type: 'string', default: 'data/emopia_cls_split.json' },
    out: { type: 'string', short: 'o', default: 'models/classifier' },
    seed: { type: 'string', default: '1' },
    k: { type: 'string', default: '5' },
    reps: { type: 'string', default: '2' },
    'no-test': { type: 'boolean', default: false },
  },
});
const dataDir = args.data;
const splitPath = args.split;
const outDir = args.out;
const seed = parseIntOption('seed', 0)(args.seed);
const k = parseIntOption('k', 2)(args.k);
const reps = parseIntOption('reps', 1)(args.reps);
const noTest = args['no-test'];

const split = parseSplit(JSON.parse(readFileSync(splitPath, 'utf8')), splitPath);
const setOf = new Map<string, SplitSet>();
for (const s of SPLIT_SETS) for (const c of split[s]) setOf.set(c, s);
const rows: Record<SplitSet, LabelledRows & { names: string[] }> = { train: { X: [], y: [], names: [] }, valid: { X: [], y: [], names: [] }, test: { X: [], y: [], names: [] } };
const t0 = Date.now();
let missing = 0;
for (const file of listMidiFiles(dataDir)) {
  const name = baseName(file);
  const set = setOf.get(name);
  if (!set) {
    missing++;
    continue;
  }
  if (set === 'test' && noTest) continue; // never even read
  rows[set].X.push(scoreFeatures(midiToScore(readFileSync(file), file), file));
  rows[set].y.push(emotionFromName(name));
  rows[set].names.push(name);
}
const counts = SPLIT_SETS.map((s) => `${s} ${rows[s].X.length}`).join(', ');
console.log(`features: ${FEATURE_NAMES.length} per clip; ${counts} clips (${missing} files not in the split) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const fmt = (a: Scored) => `4Q ${a.quadrant.toFixed(3)}  arousal ${a.arousal.toFixed(3)}  valence ${a.valence.toFixed(3)}  CE ${a.crossEntropy.toFixed(3)}  (n=${a.n})`;
const devNames = [...rows.train.names, ...rows.valid.names];
const devX = [...rows.train.X, ...rows.valid.X];
const candidates = candidateRecipes(seed);
const t1 = Date.now();
console.log(`cross-validation over train+valid (${devNames.length} clips, ${k} song-level folds x ${reps}):`);
const cv = candidates.map((recipe, i) => {
  const s = crossValidate(devNames, devX, FEATURE_NAMES, recipe, { k, reps, seed: 100 });
  console.log(`  [${i + 1}/${candidates.length}] ${recipe.name}: ${fmt(s)}`);
  return { recipe: recipe.name, ...s };
});
let best = 0;
cv.forEach((s, i) => {
  if (s.crossEntropy < (cv[best] as Scored).crossEntropy) best = i;
});
const recipe = candidates[best]!;
const model = trainRecipe(rows.train.X, rows.train.y, FEATURE_NAMES, recipe);
const train = evaluateRows(model, rows.train);
const valid = evaluateRows(model, rows.valid);
const test = noTest ? null : evaluateRows(model, rows.test);
console.log(`chosen (lowest CV cross-entropy): ${recipe.name}; trained on the train clips (${((Date.now() - t1) / 1000).toFixed(1)} s)`);
console.log(`train: ${fmt(train)}`);
console.log(`valid: ${fmt(valid)}`);
if (test) console.log(`test:  ${fmt(test)}`);
if (noTest) {
  console.log('--no-test: nothing written');
  process.exit(0);
}
const round = (x: number) => Number(x.toPrecision(6));
const roundTree = (t: TreeJSON): TreeJSON => (typeof t === 'number' ? round(t) : [t[0], t[1], roundTree(t[2]), roundTree(t[3])]);
const roundNets = (nets: typeof model.members | undefined) => nets?.map((layers) => layers.map((L) => ({ weight: L.weight.map((row) => row.map(round)), bias: L.bias.map(round) })));
const out = {
  ...model,
  mean: model.mean.map(round),
  std: model.std.map(round),
  members: roundNets(model.members),
  ...(model.arousal ? { arousal: roundNets(model.arousal), valence: roundNets(model.valence) } : {}),
  ...(model.boosted ? { boosted: model.boosted.map((b) => ({ classes: b.classes, rounds: b.rounds.map((r) => r.map(roundTree)) })) } : {}),
  training: {
    command: `node --import tsx scripts/train_classifier.ts --data EMOPIA_DIR --split ${splitPath} -o ${outDir} --seed ${seed} --k ${k} --reps ${reps}`,
    split: { file: splitPath, seed: split.seed, clips: Object.fromEntries(SPLIT_SETS.map((s) => [s, rows[s].X.length])) },
    selection: `lowest pooled held-out cross-entropy of ${k}-fold song-level cross-validation x ${reps} over train+valid; the winner trained on train`,
    recipe,
    cv,
    accuracy: { train, valid, test },
  },
};
writeFileAtomic(join(outDir, 'classifier.json'), JSON.stringify(out) + '\n');
console.log(`wrote ${join(outDir, 'classifier.json')}`);
