/**
 * `emopia evaluate --checkpoint RUN_DIR --per-emotion 25 [--seed N] [--json] [--svg FILE]`: generates pieces for
 * each quadrant, classifies them with the symbolic classifier, and prints the confusion matrix (rows = requested
 * quadrant, columns = classified), the conditioning accuracy (4Q, arousal, valence), and the musical statistics
 * per quadrant beside those of the real clips (--real DIR, or $EMOPIA_DIR; none when neither is given), and the
 * musical structure per quadrant (src/evaluate/structure.ts), generated beside real, against issue 9's targets.
 */
import type { Command } from 'commander';
import { initBackend, type BackendName } from '../../backend.ts';
import { InputError, UsageError } from '../../errors.ts';
import { writeFileAtomic } from '../../platform/atomic.ts';
import { loadModel } from '../../platform/run_folder.ts';
import { resolveCheckpoint } from '../../platform/default_model.ts';
import { midiToScore } from '../../music/midi_io.ts';
import { emotionFromName } from '../../music/dataset.ts';
import { listMidiFiles } from '../../platform/dataset.ts';
import { evaluateConditioning, type EvaluationResult } from '../../evaluate/conditioning.ts';
import { QUADRANTS } from '../../classify/model.ts';
import { DEFAULT_CLASSIFIER_DIR, loadClassifier } from '../../platform/classifier.ts';
import { pieceStats, STAT_KEYS, STAT_LABELS, summarizeStats, type PieceStats, type StatKey, type StatSummary } from '../../classify/stats.ts';
import { statsChartSvg } from '../../classify/svg.ts';
import { classifierScore, quantizedScore } from '../../classify/timing.ts';
import { regrid, trackedBeatGrid } from '../../music/regrid.ts';
import { DOWNBEAT_MODELS, type DownbeatModel } from '../../music/beats/track.ts';
import type { Score } from '../../music/score.ts';
import {
  compareStructure, STRUCTURE_KEYS, STRUCTURE_LABELS, structureStats, summarizeStructure,
  type StructureKey, type StructureReport, type StructureStats, type StructureSummary,
} from '../../evaluate/structure.ts';
import { parseBackend, parseEmotionList, parseIntOption } from '../options.ts';
import { startProgress } from '../progress.ts';
import { DOWNBEATS_HELP, parseChoice, readInput } from './_music_io.ts';
import { addSamplingOptions, describeSampling, resolveSampling, type SamplingCliOptions } from './_sampling.ts';
import { samplingTable } from '../../cp/sampling.ts';
import { GENERATION_DEFAULTS } from '../../cp/generation_defaults.ts';

interface EvaluateCliOptions extends SamplingCliOptions {
  checkpoint?: string;
  perEmotion: number;
  seed: number;
  emotions: string;
  maxBars: number;
  maxWords?: number;
  classifier: string;
  real?: string;
  grid: RealGrid;
  downbeats?: DownbeatModel;
  json: boolean;
  svg?: string;
  backend: BackendName;
  batch: number;
  progress: boolean;
}

type Stats = Record<StatKey, StatSummary>;
type Structure = Record<StructureKey, StructureSummary>;

/**
 * The grids a real clip's structure is measured on: `file`, the file's own tick grid (EMOPIA's nominal 120 BPM,
 * whose bar lines do not match the music), or `beats`, the beats and downbeats the tracker finds (`--grid beats`
 * of encode and dataset build: what a beat-true model learned from).
 */
export const REAL_GRIDS = ['file', 'beats'] as const;
export type RealGrid = (typeof REAL_GRIDS)[number];

/**
 * One real clip's structure as the structure statistics see it: the one place where the real clips' grid is
 * chosen. The clip is read, re-timed onto the tracked beats for `beats` (the file's own grid for a clip the
 * tracker cannot follow; its downbeats from `downbeats`), and quantized as the compound words see it (`quantizedScore`). Throws InputError for
 * a clip that is not MIDI or has no note in range.
 */
export function realClipScore(file: string, grid: RealGrid = 'file', score: Score = midiToScore(readInput(file), file), downbeats?: DownbeatModel): Score {
  if (grid === 'file') return quantizedScore(score, file);
  if (grid === 'beats') return quantizedScore(regrid(score, trackedBeatGrid(score, downbeats), {}, file).score, file);
  throw new InputError(file, `unknown grid '${String(grid)}', expected one of ${REAL_GRIDS.join(', ')}`);
}

/** "Q1,q3" -> [1, 3]; anything else is a usage error (exit 2), as a bad --emotion in every command. */
export function parseQuadrants(value: string): Array<1 | 2 | 3 | 4> {
  return parseEmotionList('emotions')(value);
}

interface RealStats {
  stats: Record<string, Stats>;
  structure: Record<string, Structure>;
  clips: Record<string, number>;
  skipped: number;
}

/**
 * Statistics and structure of the real clips per quadrant (named Q<k>_...): the statistics as the classifier sees
 * a clip (`classifierScore`, EMOPIA's grid), the structure on `grid` (`realClipScore`).
 */
function realStats(dir: string, progress: boolean, grid: RealGrid = 'file', downbeats?: DownbeatModel): RealStats {
  const files = listMidiFiles(dir).filter((f) => emotionFromName(f) !== 0);
  if (files.length === 0) throw new InputError(dir, 'no MIDI files named Q1_... to Q4_... (expected EMOPIA clips)');
  const per: Record<string, PieceStats[]> = { Q1: [], Q2: [], Q3: [], Q4: [] };
  const perStructure: Record<string, StructureStats[]> = { Q1: [], Q2: [], Q3: [], Q4: [] };
  const bar = progress ? startProgress('real clips', files.length, 'files') : null;
  let skipped = 0;
  files.forEach((f, i) => {
    try {
      const score = midiToScore(readInput(f), f);
      per[`Q${emotionFromName(f)}`]!.push(pieceStats(classifierScore(score, f)));
      perStructure[`Q${emotionFromName(f)}`]!.push(structureStats(realClipScore(f, grid, score, downbeats)));
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      skipped++;
      process.stderr.write(`emopia: ${err.message} (real clip skipped)\n`);
    }
    bar?.update(i + 1);
  });
  bar?.stop();
  const stats: Record<string, Stats> = {};
  const structure: Record<string, Structure> = {};
  const clips: Record<string, number> = {};
  for (const q of QUADRANTS) {
    clips[q] = per[q]!.length;
    if (per[q]!.length) stats[q] = summarizeStats(per[q]!);
    if (perStructure[q]!.length) structure[q] = summarizeStructure(perStructure[q]!);
  }
  return { stats, structure, clips, skipped };
}

const pct = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '-');
const pad = (s: string, n: number) => s.padStart(n);

/** The structure table: per statistic and quadrant, generated | real (ratio, * outside the tolerance), then the targets. */
function structureLines(r: EvaluationResult, real: Record<string, Structure> | null, cmp: StructureReport, grid: RealGrid): string[] {
  const lines: string[] = [];
  const tol = Math.round(cmp.tolerance * 100);
  lines.push(`musical structure per quadrant, mean (generated${real ? ` | real on the ${grid} grid (generated/real, * outside ±${tol}%)` : ''})`);
  const qs = r.quadrants.map((q) => `Q${q}`);
  const w = real ? 26 : 10;
  lines.push(`  ${''.padEnd(40)}${qs.map((q) => pad(q, w)).join('')}`);
  const num = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(2) : '-');
  for (const k of STRUCTURE_KEYS) {
    const cells = qs.map((q) => {
      const g = num(r.structure[q]?.[k].mean);
      if (!real) return pad(g, w);
      const c = cmp.comparison[q]?.[k];
      const ratio = c && Number.isFinite(c.ratio) ? ` (${c.ratio.toFixed(2)}${c.within ? ' ' : '*'})` : ' (-    )';
      return pad(`${g} | ${num(real[q]?.[k].mean)}${ratio}`, w);
    });
    lines.push(`  ${STRUCTURE_LABELS[k].padEnd(40)}${cells.join('')}`);
  }
  lines.push('');
  if (real) {
    const within = qs.filter((q) => cmp.comparison[q]).map((q) => `${q} ${STRUCTURE_KEYS.length - (cmp.misses[q]?.length ?? 0)}/${STRUCTURE_KEYS.length}`);
    lines.push(`target: every statistic within ±${tol}% of the real clips: ${within.length ? within.join(', ') : 'no quadrant with real clips'}`);
  }
  const low = Object.entries(cmp.lowArousal).map(([q, v]) => `${q} ${num(v.notesPerBeat)} ${v.met ? 'met' : 'MISSED'}`);
  if (low.length) lines.push(`target: low arousal at least ${Object.values(cmp.lowArousal)[0]!.target} notes per beat: ${low.join(', ')}`);
  return lines;
}

function report(r: EvaluationResult, real: RealStats | null, cmp: StructureReport, grid: RealGrid, what: string, how: string): string {
  const lines: string[] = [];
  lines.push(`emopia evaluate: ${what}: ${r.perEmotion} pieces per quadrant, seed ${r.seed}; ${how}`);
  lines.push('');
  lines.push('confusion matrix (rows: requested quadrant, columns: classified)');
  lines.push(`       ${QUADRANTS.map((q) => pad(q, 5)).join('')}${pad('none', 6)}${pad('total', 7)}`);
  r.quadrants.forEach((q, i) => {
    const row = r.confusion[i] as number[];
    const total = row.reduce((a, b) => a + b, 0) + (r.noNotes[i] as number);
    lines.push(`  Q${q}   ${row.map((c) => pad(String(c), 5)).join('')}${pad(String(r.noNotes[i]), 6)}${pad(String(total), 7)}`);
  });
  const a = r.accuracy;
  lines.push('');
  lines.push(`conditioning accuracy (n=${a.n}): 4Q ${pct(a.quadrant)}  arousal ${pct(a.arousal)}  valence ${pct(a.valence)}`);
  lines.push('');
  lines.push(`musical statistics per quadrant, mean ± std (generated${real ? ' | real' : ''})`);
  const qs = r.quadrants.map((q) => `Q${q}`);
  const w = real ? 30 : 16;
  lines.push(`  ${''.padEnd(36)}${qs.map((q) => pad(q, w)).join('')}`);
  const cell = (s: StatSummary | undefined) => (s && Number.isFinite(s.mean) ? `${s.mean.toFixed(2)}±${s.std.toFixed(2)}` : '-');
  for (const k of STAT_KEYS) {
    const cells = qs.map((q) => pad(real ? `${cell(r.stats[q]?.[k])} | ${cell(real.stats[q]?.[k])}` : cell(r.stats[q]?.[k]), w));
    lines.push(`  ${STAT_LABELS[k].padEnd(36)}${cells.join('')}`);
  }
  lines.push('');
  lines.push(...structureLines(r, real?.structure ?? null, cmp, grid));
  return lines.join('\n') + '\n';
}

export function register(program: Command): void {
  const cmd = program
    .command('evaluate')
    .description('generate pieces per emotion, classify them, and report the confusion matrix, conditioning accuracy and musical statistics')
    .option('--checkpoint <run_dir>', 'run folder with model.safetensors, config.json, vocab.json (default: the shipped models/default)')
    .option('--per-emotion <n>', 'pieces generated per quadrant', parseIntOption('per-emotion', 1, 100000), GENERATION_DEFAULTS.perEmotion)
    .option('--seed <n>', 'sampling seed', parseIntOption('seed', 0), GENERATION_DEFAULTS.seed)
    .option('--emotions <list>', 'quadrants to request, comma-separated', GENERATION_DEFAULTS.quadrants.map((q) => `Q${q}`).join(','))
    .option('--max-bars <n>', "bars per generated piece (fewer than generate's, about a real clip's length)", parseIntOption('max-bars', 1), GENERATION_DEFAULTS.evaluateMaxBars)
    .option('--max-words <n>', 'words per generated piece (default: no limit but the model length)', parseIntOption('max-words', 1));
  addSamplingOptions(cmd)
    .option('--classifier <dir|file>', 'emotion classifier', DEFAULT_CLASSIFIER_DIR)
    .option('--real <dir>', 'real EMOPIA clips for the statistics (default $EMOPIA_DIR)')
    .option('--grid <mode>', "the real clips' grid for the structure statistics: beats (tracked, as a beat-true model learned) or file (the files' nominal 120 BPM ticks)", parseChoice('grid', REAL_GRIDS), 'beats')
    .option('--downbeats <model>', `the real clips' downbeats with --grid beats: ${DOWNBEATS_HELP}`, parseChoice('downbeats', DOWNBEAT_MODELS))
    .option('--json', 'print the results as JSON')
    .option('--svg <file>', 'write an SVG chart of the statistics per quadrant')
    .option('--batch <n>', 'pieces generated together (faster; the same pieces up to float rounding)', parseIntOption('batch', 1, 256), GENERATION_DEFAULTS.batch)
    .option('--backend <name>', 'wasm (default), cpu, or tensorflow', parseBackend, 'wasm')
    .option('--no-progress', 'no progress output')
    .action(async (opts: EvaluateCliOptions) => {
      const quadrants = parseQuadrants(opts.emotions);
      if (opts.downbeats !== undefined && opts.grid !== 'beats') throw new UsageError('--downbeats', `only with --grid beats, got --grid ${opts.grid}`);
      const checkpoint = resolveCheckpoint(opts.checkpoint);
      const { sampling, guidance, contrast, recall, perQuadrant } = resolveSampling(opts, checkpoint);
      const classifier = loadClassifier(opts.classifier);
      const realDir = opts.real ?? process.env.EMOPIA_DIR;
      // Every input is read before any work: the model (a missing or bad run folder fails at once), then the real
      // clips (a bad folder fails before minutes of generation).
      await initBackend(opts.backend);
      const { model, vocab } = loadModel(checkpoint);
      const grid = opts.grid;
      const real = realDir ? realStats(realDir, opts.progress, grid, opts.downbeats) : null;
      // The shipped model is named as the package names it, not by where this machine installed it.
      const shown = opts.checkpoint ?? 'models/default';
      let result: EvaluationResult;
      try {
        const bar = opts.progress ? startProgress('evaluate', quadrants.length * opts.perEmotion, 'pieces') : null;
        let done = 0;
        let info = '';
        result = evaluateConditioning(model, vocab, classifier, {
          quadrants, perEmotion: opts.perEmotion, seed: opts.seed, maxBars: opts.maxBars, maxWords: opts.maxWords, batch: opts.batch, guidance, contrast, sampling, recall, perQuadrant,
          onWord: (n) => bar?.update(done, `${info}generating: ${n} words`),
          onPiece: (p) => {
            done = p.done;
            info = `last: Q${p.quadrant} #${p.index + 1} ${p.words} words -> ${p.classified ?? 'no notes'}; `;
            bar?.update(p.done, info);
          },
        });
        bar?.stop();
      } finally {
        model.dispose();
      }
      if (opts.svg) {
        const series = [{ label: 'generated', stats: result.stats }];
        if (real) series.push({ label: 'real (EMOPIA)', stats: real.stats });
        writeFileAtomic(opts.svg, statsChartSvg(series, quadrants.map((q) => `Q${q}`), `Musical statistics per quadrant: ${shown}`));
      }
      const cmp = compareStructure(result.structure, real?.structure ?? null);
      if (opts.json) {
        const { pieces, structure, ...rest } = result;
        process.stdout.write(`${JSON.stringify({
          checkpoint: shown, ...rest, guidance, contrast, recall, sampling: samplingTable(sampling), rows: 'requested quadrant', columns: [...QUADRANTS],
          real: real ? { dir: realDir, clips: real.clips, skipped: real.skipped, stats: real.stats } : null,
          structure: { grid, generated: structure, real: real?.structure ?? null, ...cmp },
          pieces,
        }, null, 1)}\n`);
      } else process.stdout.write(report(result, real, cmp, grid, shown, describeSampling(sampling, guidance, contrast, recall, perQuadrant)));
      if (opts.svg) process.stderr.write(`emopia evaluate: wrote ${opts.svg}\n`);
    });
}
