/**
 * Key finding from a duration-weighted pitch-class histogram: correlation with key profiles rotated to each of the
 * 12 tonics (Krumhansl-Kessler for the main estimate; Temperley's Kostka-Payne profiles as a second opinion).
 */
import { at } from './indexing.ts';
import { pearson } from './moments.ts';

/** Krumhansl-Kessler key profiles (major, minor), tonic first. */
export const KK_MAJOR = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88] as const;
export const KK_MINOR = [6.33, 2.68, 3.52, 5.38, 2.6, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17] as const;
/** Temperley's profiles from the Kostka-Payne corpus (major, minor), tonic first. */
export const TEMPERLEY_MAJOR = [0.748, 0.06, 0.488, 0.082, 0.67, 0.46, 0.096, 0.715, 0.104, 0.366, 0.057, 0.4] as const;
export const TEMPERLEY_MINOR = [0.712, 0.084, 0.474, 0.618, 0.049, 0.46, 0.105, 0.747, 0.404, 0.067, 0.133, 0.33] as const;

export interface KeyScore {
  tonic: number;
  major: boolean;
  corr: number;
}

/** The 24 keys scored by correlation with the rotated profiles, best first (ties: lower tonic, major first). */
export function rankKeys(pcWeights: readonly number[], majorProfile: readonly number[], minorProfile: readonly number[]): KeyScore[] {
  const out: KeyScore[] = [];
  for (let t = 0; t < 12; t++) {
    const rot = Array.from({ length: 12 }, (_, i) => at(pcWeights, (t + i) % 12));
    out.push({ tonic: t, major: true, corr: pearson(rot, majorProfile) }, { tonic: t, major: false, corr: pearson(rot, minorProfile) });
  }
  return out.sort((a, b) => b.corr - a.corr);
}

/** Best key by correlation with the rotated Krumhansl-Kessler profiles: tonic pitch class and correlations. */
export function estimateKey(pcWeights: readonly number[]): { tonic: number; mode: 'major' | 'minor'; major: number; minor: number } {
  let major = -Infinity;
  let minor = -Infinity;
  let majT = 0;
  let minT = 0;
  // One rotation array filled in place per tonic (estimateKey runs once per two-bar window).
  const rot = new Array<number>(12).fill(0);
  for (let t = 0; t < 12; t++) {
    for (let i = 0; i < 12; i++) rot[i] = at(pcWeights, (t + i) % 12);
    const cM = pearson(rot, KK_MAJOR);
    const cm = pearson(rot, KK_MINOR);
    if (cM > major) [major, majT] = [cM, t];
    if (cm > minor) [minor, minT] = [cm, t];
  }
  return major >= minor ? { tonic: majT, mode: 'major', major, minor } : { tonic: minT, mode: 'minor', major, minor };
}
