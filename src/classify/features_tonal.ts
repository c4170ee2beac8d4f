/**
 * The classifier's second feature group, aimed at valence (added after the first 87, see features.ts): how clear
 * the key is and which mode wins under two profile sets, the scale degrees the bass and the top line dwell on,
 * major against minor 3rds/6ths/7ths, the share of beats under major, minor and diminished/augmented chords,
 * the roughness and consonance of sounding intervals weighted by how long they overlap, the mode of the ending
 * and of the first and last chords, the top line's range, rhythmic regularity and syncopation, and how velocity,
 * pitch and density move across the clip. Computed on the same quantized score as the first group.
 */
import { chordsPerBeat, type Chord } from '../music/chords.ts';
import { GRID } from '../music/vocab.ts';
import type { Note } from '../music/score.ts';
import { addAt, at } from './indexing.ts';
import { estimateKey, KK_MAJOR, KK_MINOR, rankKeys, TEMPERLEY_MAJOR, TEMPERLEY_MINOR } from './keys.ts';
import { mean } from './moments.ts';

const BEAT = GRID.ticksPerBeat;
const BAR = GRID.ticksPerBar;
const POS = GRID.ticksPerPosition;

export const TONAL_FEATURE_NAMES: readonly string[] = Object.freeze([
  'kk_clarity', 'kk_best_corr', 'kk_best_is_major', 'temperley_best_is_major', 'temperley_major_minus_minor', 'temperley_clarity',
  'bass_deg_tonic', 'bass_deg_fifth', 'bass_deg_min3', 'bass_deg_maj3', 'top_deg_min3', 'top_deg_maj3', 'top_deg_tonic',
  'third_major_share', 'sixth_major_share', 'seventh_major_share',
  'beats_major_chord', 'beats_minor_chord', 'beats_dim_aug_chord', 'major_minus_minor_chords',
  'roughness', 'consonance', 'ending_major_minus_minor', 'last_chord_major', 'first_chord_major',
  'top_range_p5_p95', 'top_p90', 'ioi_mode_share', 'onset_position_entropy', 'syncopation',
  'velocity_slope', 'pitch_slope', 'first_half_note_share',
]);

const MAJOR_Q = new Set(['M', 'M7', '7']);
const MINOR_Q = new Set(['m', 'm7']);
const DIM_AUG_Q = new Set(['o', 'o7', '/o7', '+']);
/** Roughness of an interval class in semitones mod 12 (0 unison/octave ... 1 minor second), a coarse dissonance scale. */
const ROUGHNESS = [0, 1, 0.8, 0.3, 0.25, 0.1, 0.7, 0.05, 0.3, 0.25, 0.5, 0.9];
/** Intervals mod 12 counted as consonant: unison/octave, 3rds, 4th, 5th, 6ths. */
const CONSONANT = new Set([0, 3, 4, 5, 7, 8, 9]);
const IS_CONSONANT: readonly boolean[] = Array.from({ length: 12 }, (_, d) => CONSONANT.has(d));

/**
 * The tonal features of sorted notes (by start, then pitch), grouped by onset, with the clip's KK tonic.
 * `beatChords` is `chordsPerBeat(notes)` from the first note's beat on, when the caller has it already.
 * In TONAL_FEATURE_NAMES order; non-finite values become 0.
 */
export function tonalFeatures(notes: readonly Note[], groups: readonly Note[][], tonic: number, beatChords?: ReadonlyArray<Chord | null>): number[] {
  const first = at(notes, 0).start;
  const last = notes.reduce((m, n) => Math.max(m, n.end), 0);
  const pcw = new Array<number>(12).fill(0);
  for (const n of notes) addAt(pcw, n.pitch % 12, n.end - n.start);
  const kk = rankKeys(pcw, KK_MAJOR, KK_MINOR);
  const tp = rankKeys(pcw, TEMPERLEY_MAJOR, TEMPERLEY_MINOR);
  const best = (ks: typeof kk, major: boolean) => ks.reduce((m, k) => (k.major === major ? Math.max(m, k.corr) : m), -Infinity);
  const f: number[] = [
    at(kk, 0).corr - at(kk, 1).corr, at(kk, 0).corr, at(kk, 0).major ? 1 : 0,
    at(tp, 0).major ? 1 : 0, best(tp, true) - best(tp, false), at(tp, 0).corr - at(tp, 1).corr,
  ];

  // Scale degrees (relative to the tonic) of the lowest and highest note of each onset, weighted by duration.
  const bassW = new Array<number>(12).fill(0);
  const topW = new Array<number>(12).fill(0);
  for (const g of groups) {
    const lo = at(g, 0);
    const hi = g.reduce((a, b) => (b.pitch > a.pitch ? b : a));
    addAt(bassW, (lo.pitch - tonic + 120) % 12, lo.end - lo.start);
    addAt(topW, (hi.pitch - tonic + 120) % 12, hi.end - hi.start);
  }
  const bs = bassW.reduce((a, b) => a + b, 0) || 1;
  const ts = topW.reduce((a, b) => a + b, 0) || 1;
  f.push(at(bassW, 0) / bs, at(bassW, 7) / bs, at(bassW, 3) / bs, at(bassW, 4) / bs, at(topW, 3) / ts, at(topW, 4) / ts, at(topW, 0) / ts);
  const rel = (i: number) => at(pcw, (tonic + i) % 12);
  const majorShare = (minorDeg: number, majorDeg: number) => (rel(minorDeg) + rel(majorDeg) > 0 ? rel(majorDeg) / (rel(minorDeg) + rel(majorDeg)) : 0.5);
  f.push(majorShare(3, 4), majorShare(8, 9), majorShare(10, 11));

  // Chords per beat from the first beat with a note.
  const chords = beatChords ?? chordsPerBeat(notes).slice(Math.floor(first / BEAT));
  const nb = chords.length || 1;
  const is = (set: Set<string>) => (c: Chord | null) => c !== null && set.has(c.quality);
  const maj = chords.filter(is(MAJOR_Q)).length / nb;
  const min = chords.filter(is(MINOR_Q)).length / nb;
  f.push(maj, min, chords.filter(is(DIM_AUG_Q)).length / nb, (maj - min) / (maj + min + 1e-6));

  // Intervals between notes that sound together, weighted by how long they overlap.
  let rough = 0;
  let cons = 0;
  let total = 0;
  // The hottest loop on a dense piece: the notes read without a check (j < notes.length bounds them).
  for (let i = 0; i < notes.length; i++) {
    const a = notes[i] as Note;
    for (let j = i + 1; j < notes.length && (notes[j] as Note).start < a.end; j++) {
      const b = notes[j] as Note;
      const overlap = Math.min(a.end, b.end) - b.start;
      if (overlap <= 0) continue;
      const d = Math.abs(a.pitch - b.pitch) % 12;
      rough += overlap * (ROUGHNESS[d] ?? at(ROUGHNESS, d));
      cons += IS_CONSONANT[d] === true ? overlap : 0;
      total += overlap;
    }
  }
  f.push(total ? rough / total : 0, total ? cons / total : 0);

  // The ending (last two bars) and the first and last recognised chords.
  const endW = new Array<number>(12).fill(0);
  for (const n of notes) if (n.start >= last - 2 * BAR) addAt(endW, n.pitch % 12, n.end - n.start);
  const endKey = estimateKey(endW);
  const withChord = chords.filter((c): c is Chord => c !== null);
  const majorChord = (c: Chord | undefined) => (c === undefined ? 0.5 : MAJOR_Q.has(c.quality) ? 1 : 0);
  f.push(endKey.major - endKey.minor, majorChord(withChord[withChord.length - 1]), majorChord(withChord[0]));

  // Top line register; rhythm.
  const top = Float64Array.from(groups.map((g) => g.reduce((m, n) => Math.max(m, n.pitch), 0))).sort();
  const topAt = (p: number) => at(top, Math.floor(p * (top.length - 1)));
  f.push(topAt(0.95) - topAt(0.05), topAt(0.9));
  const starts = groups.map((g) => at(g, 0).start);
  const ioi = starts.slice(1).map((s, i) => s - at(starts, i));
  const ioiCount = new Map<number, number>();
  for (const d of ioi) ioiCount.set(d, (ioiCount.get(d) ?? 0) + 1);
  let commonest = 0;
  for (const c of ioiCount.values()) commonest = Math.max(commonest, c);
  f.push(ioi.length ? commonest / ioi.length : 0);
  const perPos = new Array<number>(BAR / POS).fill(0);
  for (const s of starts) addAt(perPos, Math.round(((s - first) % BAR) / POS) % perPos.length, 1);
  let ent = 0;
  for (const c of perPos) if (c > 0) ent -= (c / starts.length) * Math.log2(c / starts.length);
  f.push(ent);
  // Syncopation: onsets off the 8th-note grid with no onset on the next beat.
  const onsetSet = new Set(starts.map((s) => s - first));
  let sync = 0;
  for (const s of onsetSet) if (s % (BEAT / 2) !== 0 && !onsetSet.has(Math.ceil(s / BEAT) * BEAT)) sync++;
  f.push(sync / onsetSet.size);

  // Trends over the clip: least-squares slopes of velocity and pitch against time (0..1), and how front-loaded it is.
  const span = Math.max(1, last - first);
  const t = notes.map((n) => (n.start - first) / span);
  const mt = mean(t);
  const slope = (ys: number[]) => {
    const my = mean(ys);
    let num = 0;
    let den = 0;
    for (let i = 0; i < t.length; i++) {
      const ti = t[i] as number;
      num += (ti - mt) * (at(ys, i) - my);
      den += (ti - mt) ** 2;
    }
    return den ? num / den : 0;
  };
  f.push(slope(notes.map((n) => n.velocity)), slope(notes.map((n) => n.pitch)), notes.filter((n) => n.start - first < span / 2).length / notes.length);
  if (f.length !== TONAL_FEATURE_NAMES.length) throw new Error(`tonalFeatures: ${f.length} values for ${TONAL_FEATURE_NAMES.length} names`);
  return f.map((x) => (Number.isFinite(x) ? x : 0));
}
