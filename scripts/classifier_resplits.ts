/**
 * How much the classifier's test figure depends on which songs are held out: the shipped classifier's recipe
 * (read from models/classifier/classifier.json: training.recipe, see src/classify/recipe.ts) retrained on K other
 * song-level splits of the train+valid clips only (the test clips are never used), each scored on its own
 * held-out part (~81 clips, the same share as our test set).
 *   node --import tsx scripts/classifier_resplits.ts [--data EMOPIA_DIR] [--split data/emopia_cls_split.json] [--k 10]
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { parseIntOption } from '../src/cli/options.ts';
import { listMidiFiles } from '../src/platform/dataset.ts';
import { baseName, emotionFromName } from '../src/music/dataset.ts';
import { midiToScore } from '../src/music/midi_io.ts';
import { FEATURE_NAMES, scoreFeatures } from '../src/classify/features.ts';
import { makeSplit, parseSplit } from '../src/classify/split.ts';
import { trainRecipe, type Recipe } from '../src/classify/recipe.ts';
import { InputError } from '../src/errors.ts';
import { evaluateRows } from '../src/classify/scoring.ts';
import { loadClassifier } from '../src/platform/classifier.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: process.env.EMOPIA_DIR ?? '../shared/data/emopia' },
    split: { type: 'string', default: 'data/emopia_cls_split.json' },
    k: { type: 'string', default: '10' },
  },
});
const dataDir = args.data;
const split = parseSplit(JSON.parse(readFileSync(args.split, 'utf8')));
const K = parseIntOption('k', 1)(args.k);
const recipe = (loadClassifier().training as { recipe?: Recipe } | undefined)?.recipe;
if (!recipe?.net) throw new InputError('models/classifier/classifier.json', 'expected training.recipe (written by scripts/train_classifier.ts)');
const dev = new Set([...split.train, ...split.valid]);
const feats = new Map<string, Float64Array>();
for (const f of listMidiFiles(dataDir)) {
  const n = baseName(f);
  if (dev.has(n)) feats.set(n, scoreFeatures(midiToScore(readFileSync(f), f), f));
}
console.log(`recipe: ${recipe.name} (seed ${recipe.seed}); ${feats.size} train+valid clips`);
const rows = (names: string[]) => ({ X: names.map((n) => feats.get(n) as Float64Array), y: names.map(emotionFromName) });
const all: number[][] = [];
for (let k = 0; k < K; k++) {
  const s = makeSplit([...feats.keys()], 1000 + k);
  const train = rows([...s.train, ...s.valid]);
  const test = rows(s.test);
  const model = trainRecipe(train.X, train.y, FEATURE_NAMES, recipe);
  const a = evaluateRows(model, test);
  all.push([a.quadrant, a.arousal, a.valence]);
  console.log(`  re-split ${k + 1} (seed ${1000 + k}): held out ${a.n} clips, ${s.summary.test.songs} songs: 4Q ${a.quadrant.toFixed(3)}  arousal ${a.arousal.toFixed(3)}  valence ${a.valence.toFixed(3)}`);
}
const col = (j: number) => all.map((r) => r[j] as number);
const m = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(m(xs.map((x) => (x - m(xs)) ** 2)));
const fmt = (j: number) => `${m(col(j)).toFixed(3)} ± ${sd(col(j)).toFixed(3)} (min ${Math.min(...col(j)).toFixed(3)}, max ${Math.max(...col(j)).toFixed(3)})`;
console.log(`mean ± std over ${K} re-splits: 4Q ${fmt(0)}; arousal ${fmt(1)}; valence ${fmt(2)}`);
