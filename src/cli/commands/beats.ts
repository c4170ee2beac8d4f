/**
 * `emopia beats IN.mid [--json]`: the beats, downbeats, meter and local tempo of a performed or transcribed piano
 * piece (src/music/beats/track.ts), in seconds of the file's own timeline. A piece too short or sparse to track
 * gets the file's own grid and a one-line warning on stderr.
 *
 * `emopia beats evaluate --data POP909_DIR [--split dev|test|all]`: the tracker's evaluation on POP909 songs
 * rendered as performances with a false grid (src/music/beats/render.ts), scored by mir_eval's rules; with
 * `--excerpt SECONDS` each song is cut to a seeded window of that length first (an EMOPIA clip is 18-110 s).
 */
import type { Command } from 'commander';
import { InputError, UsageError } from '../../errors.ts';
import { midiToScore } from '../../music/midi_io.ts';
import { evaluatePiece, summarize, type PieceResult, type Summary } from '../../music/beats/evaluate.ts';
import { trackBeats, DEFAULT_DOWNBEAT_MODEL, DOWNBEAT_MODELS, type BeatTracking, type DownbeatModel } from '../../music/beats/track.ts';
import { TAGGER_SONGS } from '../../music/beats/tagger_weights.ts';
import { pop909Songs, readPop909Song, DEV_LAST_SONG, type Pop909Split } from '../../platform/beats_pop909.ts';
import { parseIntOption, parseRangeOption } from '../options.ts';
import { startProgress } from '../progress.ts';
import { DOWNBEATS_HELP, parseChoice, readInput } from './_music_io.ts';

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The JSON object printed by `emopia beats --json` (times rounded to milliseconds). */
export function trackingJson(t: BeatTracking): Record<string, unknown> {
  const out: Record<string, unknown> = {
    beats: t.beats.map(r3),
    downbeats: t.downbeats.map(r3),
    meter: t.meter,
    tempo: t.tempo.map((p) => ({ time: r3(p.time), bpm: Math.round(p.bpm * 10) / 10 })),
    confidence: r3(t.confidence),
  };
  if (t.fallback !== undefined) out['fallback'] = t.fallback;
  return out;
}

function trackingText(file: string, t: BeatTracking): string {
  const bpms = t.tempo.map((p) => p.bpm).sort((a, b) => a - b);
  const median = bpms.length > 0 ? (bpms[bpms.length >> 1] as number) : 0;
  const lo = bpms[0] ?? 0;
  const hi = bpms[bpms.length - 1] ?? 0;
  const first = (xs: number[]): string => xs.slice(0, 8).map((x) => x.toFixed(2)).join(' ') + (xs.length > 8 ? ' ...' : '');
  return [
    `${file}: ${t.beats.length} beats, ${t.downbeats.length} downbeats, meter ${t.meter}/4${t.fallback !== undefined ? ' (file grid)' : ''}`,
    `tempo: ${median.toFixed(1)} BPM median (${lo.toFixed(1)}-${hi.toFixed(1)})`,
    `confidence: ${t.confidence.toFixed(3)}`,
    `beats (s): ${first(t.beats)}`,
    `downbeats (s): ${first(t.downbeats)}`,
    '',
  ].join('\n');
}

/** CPU milliseconds of this process (user + system): the time per song is then less sensitive to other load. */
const cpuClock = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function summaryText(split: string, s: Summary): string {
  const f = (x: { mean: number; median: number; below05: number }) => `mean ${x.mean.toFixed(3)}, median ${x.median.toFixed(3)}, below 0.5: ${x.below05}`;
  return [
    `${split}: ${s.pieces} songs`,
    `  beat F:     ${f(s.beatF)}`,
    `  downbeat F: ${f(s.downbeatF)}`,
    `  tempo accuracy (within 4%): ${s.tempoAccuracy.toFixed(3)}`,
    `  meter accuracy: ${s.meterAccuracy.toFixed(3)} (annotated 4: ${s.meters.annotated4}, ${s.meters.fourAs3} read as 3; annotated 3: ${s.meters.annotated3}, ${s.meters.threeAs4} read as 4)`,
    `  CPU ms per song: mean ${s.ms.mean.toFixed(1)}, median ${s.ms.median.toFixed(1)}, max ${s.ms.max.toFixed(1)}`,
    '',
  ].join('\n');
}

interface EvaluateCliOptions {
  data?: string;
  split: Pop909Split;
  seed: number;
  limit?: number;
  songs?: [number, number];
  excerpt?: number;
  json?: boolean;
  downbeats?: DownbeatModel;
  progress: boolean;
}

export function register(program: Command): void {
  const beats = program
    .command('beats')
    .description('beats, downbeats, meter and local tempo of a performed or transcribed piano MIDI file (or: beats evaluate)')
    .argument('<input.mid>', 'MIDI file')
    .option('--json', 'print one JSON object: {beats, downbeats, meter, tempo: [{time, bpm}], confidence, fallback?}')
    .option('--downbeats <model>', DOWNBEATS_HELP, parseChoice('downbeats', DOWNBEAT_MODELS))
    .action((input: string, opts: { json?: boolean; downbeats?: DownbeatModel }) => {
      const score = midiToScore(readInput(input), input);
      if (score.notes.length === 0) throw new InputError(input, 'no notes to track');
      const t = trackBeats(score, { downbeatModel: opts.downbeats });
      if (t.fallback !== undefined) process.stderr.write(`emopia beats: warning: ${input}: ${t.fallback}\n`);
      process.stdout.write(opts.json ? `${JSON.stringify(trackingJson(t))}\n` : trackingText(input, t));
    });
  beats
    .command('evaluate')
    .description(`score the tracker on POP909 songs rendered as performances (split by song number: dev 1-${DEV_LAST_SONG}, test the rest)`)
    .option('--data <dir>', 'POP909 folder (NNN.mid and annotations/NNN/beat_midi.txt)')
    .option('--split <name>', 'dev|test|all', parseChoice('split', ['dev', 'test', 'all'] as const), 'test')
    .option('--seed <n>', 'seed of the renderings (lead-in and tempo drift)', parseIntOption('seed', 0), 1)
    .option('--songs <first-last>', `only the songs so numbered within the split (e.g. ${TAGGER_SONGS[1] + 1}-909, the songs the downbeat tagger was not fitted on)`, parseRangeOption('songs'))
    .option('--limit <n>', 'only the first n songs of the split', parseIntOption('limit', 1))
    .option('--excerpt <seconds>', 'track only a seeded window of this many seconds of each song (like an EMOPIA clip)', parseIntOption('excerpt', 5))
    .option('--json', 'print one JSON object: {split, seed, range?, excerpt?, taggerFitted (songs the downbeat tagger was fitted on), summary, songs: [...]}')
    .option('--downbeats <model>', DOWNBEATS_HELP, parseChoice('downbeats', DOWNBEAT_MODELS))
    .option('--no-progress', 'no progress output')
    .action((opts: EvaluateCliOptions, cmd: Command) => {
      // `--json` after `evaluate` may be taken by the parent command, which has the same option.
      const json = opts.json === true || cmd.parent?.opts<{ json?: boolean }>().json === true;
      const downbeatModel = opts.downbeats ?? cmd.parent?.opts<{ downbeats?: DownbeatModel }>().downbeats;
      if (opts.data === undefined) throw new UsageError('beats evaluate', 'expected --data POP909_DIR (the folder with NNN.mid and annotations/)');
      const data = opts.data;
      const [first, last] = opts.songs ?? [1, Infinity];
      const songs = pop909Songs(data, opts.split)
        .filter((s) => s >= first && s <= last)
        .slice(0, opts.limit ?? Infinity);
      if (songs.length === 0) throw new InputError(data, `no annotated song numbered ${first}-${last} in the ${opts.split} split`);
      const progress = opts.progress ? startProgress('beats evaluate', songs.length, 'songs') : null;
      const results: PieceResult[] = [];
      songs.forEach((song, i) => {
        results.push(evaluatePiece(readPop909Song(data, song), opts.seed, cpuClock, { track: { downbeatModel }, ...(opts.excerpt === undefined ? {} : { excerpt: opts.excerpt }) }));
        progress?.update(i + 1);
      });
      progress?.stop();
      const summary = summarize(results);
      // The tagger's downbeats on songs it was fitted on are not a held-out figure: say how many there are.
      const taggerFitted = (downbeatModel ?? DEFAULT_DOWNBEAT_MODEL) === 'tagger' ? songs.filter((s) => s >= TAGGER_SONGS[0] && s <= TAGGER_SONGS[1]).length : 0;
      const range = opts.songs === undefined ? '' : `, songs ${first}-${last}`;
      if (json) process.stdout.write(`${JSON.stringify({ split: opts.split, seed: opts.seed, ...(opts.songs === undefined ? {} : { range: opts.songs }), ...(opts.excerpt === undefined ? {} : { excerpt: opts.excerpt }), taggerFitted, summary, songs: results })}\n`);
      else {
        process.stdout.write(summaryText(`${opts.split} (seed ${opts.seed}${range}${opts.excerpt === undefined ? '' : `, ${opts.excerpt} s excerpts`})`, summary));
        if (taggerFitted > 0) process.stdout.write(`  note: the downbeat tagger was fitted on ${taggerFitted} of these songs (POP909 ${TAGGER_SONGS[0]}-${TAGGER_SONGS[1]}); their downbeat F is not held out\n`);
      }
    });
}
