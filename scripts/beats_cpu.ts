// CPU time of trackBeats on three POP909 songs (8 runs each): node --import tsx scripts/beats_cpu.ts [POP909_DIR] [hand]
// (the default downbeats, the tagger's, or with `hand` the hand cues')
import { Rng } from '../src/random.ts';
import { readPop909Song } from '../src/platform/beats_pop909.ts';
import { randomWarp, renderPerformance } from '../src/music/beats/render.ts';
import { trackBeats } from '../src/music/beats/track.ts';
for (const s of [2, 100, 250]) {
  const p = readPop909Song(process.argv[2] ?? '../shared/data/pop909', s);
  const perf = renderPerformance(p.score, p.grid, randomWarp(new Rng(3)));
  const xs: number[] = [];
  for (let k = 0; k < 8; k++) { const c = process.cpuUsage(); trackBeats(perf.score, process.argv[3] === 'hand' ? { downbeatModel: 'hand' } : {}); const d = process.cpuUsage(c); xs.push((d.user + d.system) / 1000); }
  xs.sort((a, b) => a - b);
  console.log(s, perf.score.notes.length, 'cpu ms min/med/max', xs[0]!.toFixed(1), xs[4]!.toFixed(1), xs[7]!.toFixed(1));
}
