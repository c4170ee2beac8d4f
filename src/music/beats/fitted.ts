/**
 * Weights fitted on POP909's dev songs (songs 1-300) by scripts/beats_fit.ts; regenerate with the command in
 * README "Beat tracking". TEMPO_WEIGHTS score the tempo candidates (candidates.ts, CANDIDATE_FEATURES order).
 */
export const TEMPO_WEIGHTS: readonly number[] = [-1.0763, -2.1099, -0.0700232, 0.984128, 0.12506, 0.27337, 3.31861, -1.05318, -4.19417, 0.162428, -3.45733, 7.54768, 0.406778, -0.291811, -1.48483, 1.98016, 1.12394, -0.19514, 1.17046, -0.377003, 0.270776, -0.254601, -0.0503157, 0.238684, -0.435542, 0.652163, 0.143369, 0.988711, -2.55002, 0.720689, -0.0467635, 18.514, -2.4175, 2.16211, -0.117824, -0.1511];
