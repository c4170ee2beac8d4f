/**
 * Beat and downbeat tracking for performed or transcribed piano MIDI (browser-safe):
 *   trackBeats(score, options?): BeatTracking   beats, downbeats (seconds), meter 3|4, tempo curve, confidence, fallback?
 *                                               (options.downbeatModel: 'tagger', learned, default, or 'hand')
 *   beatFMeasure(ref, est, {window, minTime}?)  mir_eval's beat F-measure (+-70 ms, one-to-one, times before 5 s ignored)
 *   renderPerformance(score, grid, warp)        an annotated piece as a 120 BPM, 384-tick performance with a false grid
 *   evaluatePiece / summarizeBeatResults        the evaluation behind `emopia beats evaluate`
 */
export { trackBeats, DEFAULT_DOWNBEAT_MODEL, DOWNBEAT_MODELS, type BeatTracking, type DownbeatModel, type TempoPoint, type TrackOptions } from './track.ts';
export { beatFMeasure, countMatches, medianTempo, tempoMatches, F_WINDOW, MIN_BEAT_TIME } from './metrics.ts';
export { randomWarp, renderPerformance, warpTime, type Warp, type RandomWarpOptions } from './render.ts';
export { evaluatePiece, summarize as summarizeBeatResults, type AnnotatedPiece, type PieceResult, type Summary as BeatEvaluationSummary } from './evaluate.ts';
