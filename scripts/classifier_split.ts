/**
 * Writes the classifier's song-level split of the EMOPIA clips (see src/classify/split.ts):
 *   node --import tsx scripts/classifier_split.ts [EMOPIA_DIR] [--seed N] [-o data/emopia_cls_split.json]
 * EMOPIA_DIR defaults to $EMOPIA_DIR or ../shared/data/emopia. The committed file was made with seed 5.
 */
import { parseIntOption } from '../src/cli/options.ts';
import { writeFileAtomic } from '../src/platform/atomic.ts';
import { listMidiFiles } from '../src/platform/dataset.ts';
import { makeSplit } from '../src/classify/split.ts';

const args = process.argv.slice(2);
let dir = process.env.EMOPIA_DIR ?? '../shared/data/emopia';
let seed = 5;
let out = 'data/emopia_cls_split.json';
for (let i = 0; i < args.length; i++) {
  const a = args[i] as string;
  if (a === '--seed') seed = parseIntOption('seed', 0)(args[++i] ?? '');
  else if (a === '-o') out = args[++i] as string;
  else dir = a;
}
const split = makeSplit(listMidiFiles(dir), seed);
const { train, valid, test, ...head } = split;
// One clip per line keeps the file diffable.
const list = (xs: string[]) => `[\n${xs.map((x) => `    ${JSON.stringify(x)}`).join(',\n')}\n  ]`;
const json = `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "train": ${list(train)},\n  "valid": ${list(valid)},\n  "test": ${list(test)}\n}\n`;
JSON.parse(json);
writeFileAtomic(out, json);
console.log(`${out}: seed ${seed}`);
for (const [s, v] of Object.entries(split.summary)) console.log(`  ${s}: ${v.clips} clips, ${v.songs} songs, per quadrant ${v.perQuadrant.join(' / ')}`);
