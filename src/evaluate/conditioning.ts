/**
 * How well a compound-word model follows the emotion asked for (issue 5): generate pieces for each requested
 * quadrant with src/cp/generate.ts, classify each with the symbolic classifier (src/classify/), and collect a
 * confusion matrix (rows = requested quadrant, columns = classified), the conditioning accuracy (4Q, arousal,
 * valence), the musical statistics of the pieces per quadrant and their musical structure (structure.ts). No file
 * system here; the caller supplies model and classifier. This sits above both the generator and the classifier,
 * which know nothing of each other.
 *
 * Statistics are computed on the pieces as the compound words see them (`quantizedScore`), for generated and
 * real clips alike. A generated piece without notes cannot be classified: it is counted in `noNotes` of its row
 * and as a miss in the accuracies, so each row of `confusion` plus `noNotes` sums to the pieces generated.
 */
import { generateBatch, type GuidanceContrast } from '../cp/generate.ts';
import type { CPTransformer } from '../cp/model.ts';
import type { SamplingOverrides } from '../cp/sampling.ts';
import type { RecallOptions } from '../cp/recall.ts';
import type { PerQuadrant } from '../cp/generation_defaults.ts';
import { wordsToScore } from '../music/cp_tokenizer.ts';
import type { Vocab } from '../music/vocab.ts';
import { Rng } from '../random.ts';
import { accuracy, type Accuracy } from '../classify/classify.ts';
import { measure } from '../classify/measure.ts';
import { QUADRANTS, type ClassifierJSON } from '../classify/model.ts';
import { summarizeStats, type PieceStats, type StatKey, type StatSummary } from '../classify/stats.ts';
import { quantizedScore } from '../classify/timing.ts';
import { structureStats, summarizeStructure, type StructureKey, type StructureStats, type StructureSummary } from './structure.ts';

export interface EvaluateOptions {
  /** Quadrants to request, 1..4 (default all four). */
  quadrants?: Array<1 | 2 | 3 | 4>;
  perEmotion: number;
  seed: number;
  maxBars?: number;
  maxWords?: number;
  sampling?: SamplingOverrides;
  /** Emotion guidance (generate.ts `guidance`; default 1, none). */
  guidance?: number;
  /** What guidance pushes away from (generate.ts `contrast`). */
  contrast?: GuidanceContrast;
  /** Bar recall (generate.ts `recall`; default none). */
  recall?: RecallOptions;
  /** Per-quadrant settings (generate.ts `perQuadrant`). */
  perQuadrant?: PerQuadrant;
  /** Called after each piece: requested quadrant, index within it, pieces done, total, classified name or null. */
  onPiece?: (info: { quadrant: number; index: number; done: number; total: number; classified: string | null; words: number }) => void;
  /** Pieces generated together in one batch (default 1); results agree across batch sizes up to float rounding. */
  batch?: number;
  /** Called during generation with the words generated so far by the longest piece of the current batch. */
  onWord?: (generated: number) => void;
}

export interface PieceResult {
  requested: number;
  index: number;
  seed: number;
  words: number;
  bars: number;
  stoppedBy: string;
  notes: number;
  /** 1..4, or null without notes. */
  classified: number | null;
  probs: number[] | null;
  stats: PieceStats | null;
  /** Musical structure (structure.ts) on the same grid as `stats`; null without notes. */
  structure: StructureStats | null;
}

/** `Accuracy` over every piece generated (n), pieces without notes counting as misses. */
export type ConditioningAccuracy = Accuracy;

export interface EvaluationResult {
  quadrants: number[];
  perEmotion: number;
  seed: number;
  /** confusion[i][j]: pieces requested as quadrants[i] and classified as Q(j+1). */
  confusion: number[][];
  /** Pieces per requested quadrant that had no notes. */
  noNotes: number[];
  accuracy: ConditioningAccuracy;
  /** Per requested quadrant: mean/std of each statistic over its pieces that have notes. */
  stats: Record<string, Record<StatKey, StatSummary>>;
  /** Per requested quadrant: mean/std/n of each structure statistic over its pieces that have notes. */
  structure: Record<string, Record<StructureKey, StructureSummary>>;
  pieces: PieceResult[];
}

/** Generates, classifies and measures `perEmotion` pieces per quadrant. Seeds: one per piece, drawn from one master Rng. */
export function evaluateConditioning(model: CPTransformer, vocab: Vocab, classifier: ClassifierJSON, opts: EvaluateOptions): EvaluationResult {
  const quadrants = opts.quadrants ?? [1, 2, 3, 4];
  const master = new Rng(opts.seed);
  const total = quadrants.length * opts.perEmotion;
  const pieces: PieceResult[] = [];
  const confusion = quadrants.map(() => [0, 0, 0, 0]);
  const noNotes = quadrants.map(() => 0);
  const batch = Math.max(1, Math.floor(opts.batch ?? 1));
  quadrants.forEach((q, qi) => {
    const seeds = Array.from({ length: opts.perEmotion }, () => Math.floor(master.next() * 4294967296));
    for (let k0 = 0; k0 < seeds.length; k0 += batch) {
      const chunk = seeds.slice(k0, k0 + batch);
      const gen = { emotion: q, maxBars: opts.maxBars, maxWords: opts.maxWords, sampling: opts.sampling, guidance: opts.guidance, contrast: opts.contrast, recall: opts.recall, perQuadrant: opts.perQuadrant, onWord: opts.onWord };
      generateBatch(model, vocab, gen, chunk.map((s) => new Rng(s))).forEach((r, c) => {
        const { score } = wordsToScore(r.words, vocab);
        const measured = score.notes.length ? measure(classifier, score) : null;
        const piece: PieceResult = {
          requested: q, index: k0 + c, seed: chunk[c] as number, words: r.generated, bars: r.bars, stoppedBy: r.stoppedBy,
          notes: score.notes.length, classified: measured?.classified ?? null, probs: measured?.probs ?? null, stats: measured?.stats ?? null,
          structure: measured ? structureStats(quantizedScore(score)) : null,
        };
        if (measured) confusion[qi]![measured.classified - 1]! += 1;
        else noNotes[qi]! += 1;
        pieces.push(piece);
        const classified = measured ? (QUADRANTS[measured.classified - 1] as string) : null;
        opts.onPiece?.({ quadrant: q, index: piece.index, done: pieces.length, total, classified, words: r.generated });
      });
    }
  });
  const stats: EvaluationResult['stats'] = {};
  const structure: EvaluationResult['structure'] = {};
  quadrants.forEach((q) => {
    stats[`Q${q}`] = summarizeStats(pieces.filter((p) => p.requested === q && p.stats).map((p) => p.stats as PieceStats));
    structure[`Q${q}`] = summarizeStructure(pieces.filter((p) => p.requested === q && p.structure).map((p) => p.structure as StructureStats));
  });
  return { quadrants, perEmotion: opts.perEmotion, seed: opts.seed, confusion, noNotes, accuracy: conditioningAccuracy(pieces), stats, structure, pieces };
}

/** Accuracy of the classified quadrants against the requested ones; pieces without notes count as misses. */
export function conditioningAccuracy(pieces: readonly PieceResult[]): ConditioningAccuracy {
  return accuracy(pieces.map((p) => p.requested), pieces.map((p) => p.classified));
}
