/**
 * Weights fitted on POP909's dev songs (songs 1-300) by scripts/beats_fit.ts; regenerate with the command in
 * README "Beat tracking". TEMPO_WEIGHTS score the tempo candidates (candidates.ts, CANDIDATE_FEATURES order).
 */
export const TEMPO_WEIGHTS: readonly number[] = [-1.35165, -1.78828, 0.48, 0.967438, 0.0809707, 0.378524, 3.44832, -1.39082, -2.68698, -0.696832, -3.18353, 8.40874, 0.40776, -0.433202, -1.54385, 2.00566, 0.965074, -0.144319, 2.00008, 0.329654, 0.155345, -0.286989, -0.339002, 0.611219, -0.0717457, 0.0257682, 0.0872343, -0.200722, -2.93342, 3.33188, 3.17748, 18.0709, -2.88339, 2.82987, 1.44753, 0.884856];
