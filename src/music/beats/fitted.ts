/**
 * Weights fitted on POP909's dev songs (songs 1-300) by scripts/beats_fit.ts; regenerate with the command in
 * README "Beat tracking". TEMPO_WEIGHTS score the tempo candidates (candidates.ts, CANDIDATE_FEATURES order).
 */
export const TEMPO_WEIGHTS: readonly number[] = [-1.05789, -1.97539, 0.427792, 0.958775, -0.0303885, 0.360047, 3.81776, -0.840175, -1.98959, -0.978424, -2.64351, 8.4073, 0.423311, -0.389538, -1.64983, 2.08688, 1.03501, 0.357234, 1.09229, 0.0317277, -0.0456741, -0.221277, -0.263023, 0.242415, -0.139925, 0.149007, 0.0477242, -0.393132, -2.02197, 3.57682, 4.82266, 20.2835, -2.39657, 2.23643, 1.3421, 0.583263];
