// Tuning helper (dev split only): node --import tsx scripts/beats_tune.ts POP909_DIR '{"tempo":{...}}' [every]
// (trackBeats' options; the downbeats are the tagger's unless they say "downbeatModel": "hand", which the hand
// cues' weights under "downbeat" need)
import { performance } from 'node:perf_hooks';
import { evaluatePiece, summarize } from '../src/music/beats/evaluate.ts';
import { pop909Songs, readPop909Song } from '../src/platform/beats_pop909.ts';

const [dir = '', json = '{}', every = '1'] = process.argv.slice(2);
const track = JSON.parse(json);
const songs = pop909Songs(dir, 'dev').filter((_, i) => i % Number(every) === 0);
const results = songs.map((s) => evaluatePiece(readPop909Song(dir, s), 1, () => performance.now(), { track }));
const sum = summarize(results);
console.log(JSON.stringify(sum));
if (process.env.VERBOSE) for (const r of results) if (r.beatF < 0.8 || r.downbeatF < 0.5) console.log(JSON.stringify(r));
