/**
 * Does a model read its emotion? For every validation clip of a dataset folder, the loss of its first N words
 * under each of the four Emotion words (inputs built as the model's emotionInput says); the quadrant with the
 * lowest loss is the model's own guess. Prints how often it guesses right (chance 25%), the mean loss gap
 * between the other quadrants and the true one, and the confusion (rows: true, columns: guessed).
 *
 *   node --import tsx scripts/emotion_probe.ts RUN_DIR DATASET_DIR [N=128]
 */
import { initBackend, tf } from '../src/backend.ts';
import { loadModel } from '../src/platform/run_folder.ts';
import { batchTensors, buildBatch } from '../src/cp/train/batches.ts';
import { cpLoss } from '../src/cp/train/loss.ts';
import { readDataset } from '../src/platform/dataset.ts';
import { FAMILY_INDEX, N_FAMILIES, emotionWord, type Emotion } from '../src/music/vocab.ts';

const [run, data, nArg] = process.argv.slice(2);
const N = Number(nArg ?? 128);
if (!run || !data || !(Number.isInteger(N) && N >= 1)) {
  console.error('usage: node --import tsx scripts/emotion_probe.ts RUN_DIR DATASET_DIR [N=128]');
  process.exit(2);
}
await initBackend('wasm');
const { model, vocab } = loadModel(run);
const clips = readDataset(data).valid.filter((c) => c.emotion > 0);
const confusion = [1, 2, 3, 4].map(() => [0, 0, 0, 0]);
let right = 0;
let gap = 0;
for (const c of clips) {
  const losses = ([1, 2, 3, 4] as Emotion[]).map((e) => {
    const words = c.words.slice();
    words[FAMILY_INDEX.emotion] = emotionWord(vocab, e)[FAMILY_INDEX.emotion] as number;
    const hb = buildBatch([{ name: c.name, emotion: e, words }], [{ clip: 0, start: 1 }], Math.min(N, words.length / N_FAMILIES - 1), model.config.emotionInput);
    const t = batchTensors(hb);
    const logits = model.forwardTrain(t.x, t.nextType); // (1, T, n_f) per family
    const l = cpLoss(logits, t.y, t.mask);
    const v = l.total.dataSync()[0] as number;
    tf.dispose([...Object.values(t), ...Object.values(logits), l.total, l.sums]);
    return v;
  });
  const guess = losses.indexOf(Math.min(...losses));
  (confusion[c.emotion - 1] as number[])[guess]! += 1;
  if (guess === c.emotion - 1) right++;
  gap += losses.reduce((s, v, i) => (i === c.emotion - 1 ? s : s + v / 3), 0) - (losses[c.emotion - 1] as number);
}
console.log(`${run}: ${clips.length} validation clips, first ${N} words: the lowest loss picks the true quadrant in ${right}/${clips.length} = ${(right / clips.length).toFixed(3)} (chance 0.25); mean loss gap (other quadrants - true) ${(gap / clips.length).toFixed(4)} nats`);
console.log('  rows: true Q1..Q4, columns: guessed Q1..Q4');
confusion.forEach((row, q) => console.log(`  Q${q + 1}: ${row.map((n) => String(n).padStart(3)).join(' ')}`));
model.dispose();
