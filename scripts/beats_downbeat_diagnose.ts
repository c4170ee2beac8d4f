// Where the downbeat tracker loses on POP909's dev songs (dev only):
//   node --import tsx scripts/beats_downbeat_diagnose.ts [POP909_DIR] [--songs]
// Each song is rendered as `beats evaluate` does (seed 1) and tracked (the hand cues' downbeats); every tracked beat is matched to an annotated
// beat (within a fifth of a beat) and labelled with that beat's position in its annotated bar (0 = downbeat). A song
// whose tracked downbeats are mostly at one wrong position is "off by 1/2/3 beats"; "beats" when its beat F is below
// 0.8 (a tempo error). Two upper bounds on the same tracked beats: the best constant phase (every 3rd or 4th beat),
// and the Viterbi decoding (decodeDownbeats, same jump cost) of perfect scores (the annotated downbeats).
import { performance } from 'node:perf_hooks';
import { pop909Songs, readPop909Song } from '../src/platform/beats_pop909.ts';
import { annotatedBarPositions, evaluationRendering } from '../src/music/beats/evaluate.ts';
import { trackBeats } from '../src/music/beats/track.ts';
import { beatFMeasure } from '../src/music/beats/metrics.ts';
import { decodeDownbeats, DEFAULT_DOWNBEAT } from '../src/music/beats/downbeats.ts';

const dir = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : '../shared/data/pop909';
const listSongs = process.argv.includes('--songs');

const t0 = performance.now();
const classes: Record<string, { songs: number; loss: number }> = {};
const sums = { downbeatF: 0, constantPhase: 0, perfectScores: 0 };
const songs = pop909Songs(dir, 'dev');
for (const id of songs) {
  const piece = readPop909Song(dir, id);
  const perf = evaluationRendering(piece, 1);
  const t = trackBeats(perf.score, { downbeatModel: 'hand' });
  const ref = perf.grid;
  const pos = annotatedBarPositions(t.beats, ref);
  const dF = beatFMeasure(ref.downbeats, t.downbeats);
  const bF = beatFMeasure(ref.beats, t.beats);
  let constant = 0;
  for (const m of [3, 4]) for (let p = 0; p < m; p++) constant = Math.max(constant, beatFMeasure(ref.downbeats, t.beats.filter((_, i) => i % m === p)));
  const perfect = beatFMeasure(ref.downbeats, decodeDownbeats(pos.map((p) => (p === 0 ? 3 : 0)), t.meter, DEFAULT_DOWNBEAT.jump).map((i) => t.beats[i] as number));
  const index = new Map(t.beats.map((b, i) => [b, i]));
  const at = [0, 0, 0, 0];
  for (const d of t.downbeats) {
    const p = pos[index.get(d) as number] as number;
    if (p >= 0 && p < 4) at[p] = (at[p] as number) + 1;
  }
  const total = Math.max(1, t.downbeats.length);
  const wrong = [1, 2, 3].find((k) => (at[k] as number) > 0.5 * total);
  const cls = bF < 0.8 ? 'beats' : wrong !== undefined ? `off by ${wrong}` : (at[0] as number) > 0.5 * total ? 'mostly right' : 'mixed';
  const c = (classes[cls] ??= { songs: 0, loss: 0 });
  c.songs++;
  c.loss += 1 - dF;
  sums.downbeatF += dF;
  sums.constantPhase += constant;
  sums.perfectScores += perfect;
  if (listSongs && dF < 0.5) console.log(JSON.stringify({ id, class: cls, beatF: +bF.toFixed(3), downbeatF: +dF.toFixed(3), constantPhase: +constant.toFixed(3), perfectScores: +perfect.toFixed(3), downbeatsAtPosition: at }));
}
const n = songs.length;
const round = (x: number): number => Math.round(x * 1000) / 1000;
console.log(
  JSON.stringify({
    songs: n,
    downbeatF: round(sums.downbeatF / n),
    bestConstantPhase: round(sums.constantPhase / n),
    perfectScoresViterbi: round(sums.perfectScores / n),
    // loss: the class's share of the mean downbeat F lost (sum of 1 - F over its songs, divided by all songs)
    classes: Object.fromEntries(Object.entries(classes).map(([k, v]) => [k, { songs: v.songs, loss: round(v.loss / n) }])),
    seconds: round((performance.now() - t0) / 1000),
  }),
);
