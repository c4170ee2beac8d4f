// CPU time of trackBeats on three POP909 songs (8 runs each), and of the tagger's network alone (the shipped
// ensemble on the same songs' tracked beats) on its WebAssembly kernel and in TypeScript:
//   taskset -c 1 node --import tsx scripts/beats_cpu.ts [POP909_DIR] [hand]
// (trackBeats with the default downbeats, the tagger's, or with `hand` the hand cues'). Prints min/median/max.
import { Rng } from '../src/random.ts';
import { readPop909Song } from '../src/platform/beats_pop909.ts';
import { eventStrengths } from '../src/music/beats/envelope.ts';
import { onsetEvents } from '../src/music/beats/onsets.ts';
import { randomWarp, renderPerformance } from '../src/music/beats/render.ts';
import { taggerFeatures, taggerOutputs, taggerOutputsTs, unpackTagger } from '../src/music/beats/tagger.ts';
import { PACKED_TAGGERS } from '../src/music/beats/tagger_weights.ts';
import { trackBeats } from '../src/music/beats/track.ts';

const RUNS = 8;
/** CPU milliseconds of `f`, RUNS times, as min/median/max. */
function cpu(f: () => void): string {
  const xs: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    const c = process.cpuUsage();
    f();
    const d = process.cpuUsage(c);
    xs.push((d.user + d.system) / 1000);
  }
  xs.sort((a, b) => a - b);
  return `${xs[0]!.toFixed(1)} / ${xs[RUNS >> 1]!.toFixed(1)} / ${xs[RUNS - 1]!.toFixed(1)}`;
}

const models = PACKED_TAGGERS.map(unpackTagger);
for (const s of [2, 100, 250]) {
  const p = readPop909Song(process.argv[2] ?? '../shared/data/pop909', s);
  const perf = renderPerformance(p.score, p.grid, randomWarp(new Rng(3)));
  const track = cpu(() => trackBeats(perf.score, process.argv[3] === 'hand' ? { downbeatModel: 'hand' } : {}));
  const beats = trackBeats(perf.score).beats;
  const events = onsetEvents(perf.score).filter((e) => e.time >= 0);
  const x = taggerFeatures(beats, events, eventStrengths(events));
  const kernel = cpu(() => models.forEach((w) => taggerOutputs(x, w)));
  const ts = cpu(() => models.forEach((w) => taggerOutputsTs(x, w)));
  console.log(`song ${s}: ${perf.score.notes.length} notes, ${beats.length} beats; CPU ms min / median / max of ${RUNS}: trackBeats ${track}; the tagger's network (${models.length} models) on its kernel ${kernel}, in TypeScript ${ts}`);
}
