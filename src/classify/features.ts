/**
 * The classifier's per-clip features: a fixed-length vector of musically meaningful numbers computed from a
 * score on EMOPIA's grid (`quantizedScore`), so that real clips and generated pieces are measured alike.
 * Times are in beats (480 ticks), not seconds: EMOPIA's MIDIs all say 120 BPM whatever the music's tempo, so
 * seconds would only rescale beats; tempo itself is left out for the same reason (it is constant on real clips).
 *
 * Groups (see FEATURE_NAMES): density and texture, pitch and register, melody (top note per onset) and bass
 * (lowest note per onset), velocity, durations and inter-onset intervals, rhythm positions, key and mode
 * (Krumhansl-Kessler profiles), the pitch-class histogram rotated to the estimated tonic and its entropy, chord
 * qualities per beat (the tokenizer's chord recogniser), interval classes between simultaneous notes, and the
 * tonal group of features_tonal.ts (key clarity, scale degrees, consonance, ending, rhythm regularity, trends).
 */
import { InputError } from '../errors.ts';
import { chordsPerBeat } from '../music/chords.ts';
import { GRID, QUALITIES } from '../music/vocab.ts';
import type { Note, Score } from '../music/score.ts';
import { addAt, at } from './indexing.ts';
import { entropyBits } from './stats.ts';
import { estimateKey } from './keys.ts';
import { mean, quantile, std } from './moments.ts';
import { TONAL_FEATURE_NAMES, tonalFeatures } from './features_tonal.ts';
import { classifierScore } from './timing.ts';

export { estimateKey, KK_MAJOR, KK_MINOR } from './keys.ts';

const BEAT = GRID.ticksPerBeat;
const BAR = GRID.ticksPerBar;
const POS = GRID.ticksPerPosition;

/** Chords named by degree and quality relative to the estimated tonic: [name, semitones above tonic, major?]. */
const ROMAN: ReadonlyArray<[string, number, boolean]> = [
  ['I', 0, true], ['IV', 5, true], ['V', 7, true], ['bVI', 8, true], ['bVII', 10, true], ['bIII', 3, true],
  ['i', 0, false], ['ii', 2, false], ['iii', 4, false], ['iv', 5, false], ['v', 7, false], ['vi', 9, false],
];
const MAJORISH = new Set(['M', 'M7', '7']);
const MINORISH = new Set(['m', 'm7']);

const base = [
  'log_notes_per_beat', 'log_onsets_per_beat', 'notes_per_onset', 'mean_polyphony', 'max_onset_size', 'bar_density_cv',
  'pitch_mean', 'pitch_std', 'pitch_p10', 'pitch_p90', 'share_low_pitch', 'share_high_pitch',
  'melody_mean', 'melody_std', 'bass_mean', 'bass_std', 'spread_mean',
  'melody_abs_interval', 'melody_repeat', 'melody_step', 'melody_leap', 'melody_up',
  'velocity_mean', 'velocity_std', 'velocity_p10', 'velocity_p90', 'bar_velocity_std', 'melody_velocity_gap',
  'log_duration_mean', 'log_duration_std', 'share_short', 'share_long',
  'log_ioi_mean', 'log_ioi_std', 'share_downbeat', 'share_on_beat', 'share_off_16th',
  'key_major_corr', 'key_minor_corr', 'key_mode', 'pc_entropy',
];
export const FEATURE_NAMES: readonly string[] = Object.freeze([
  ...base,
  ...Array.from({ length: 12 }, (_, i) => `pc_rel_${i}`),
  'chord_beats', 'chord_changes',
  ...QUALITIES.map((q) => `chord_${q}`),
  ...Array.from({ length: 6 }, (_, i) => `ic_${i + 1}`),
  ...ROMAN.map(([name]) => `roman_${name}`),
  'local_minor_share', 'local_key_changes', 'local_mode_mean',
  ...TONAL_FEATURE_NAMES,
]);

/** The feature vector of any score: put on EMOPIA's grid (`classifierScore`), then `clipFeatures`. */
export function scoreFeatures(score: Score, what = 'score'): Float64Array {
  return clipFeatures(classifierScore(score, what), what);
}

/** The feature vector of a quantized score (see `quantizedScore`), in FEATURE_NAMES order. */
export function clipFeatures(score: Score, what = 'score'): Float64Array {
  const notes: Note[] = [...score.notes].sort((a, b) => a.start - b.start || a.pitch - b.pitch);
  if (notes.length === 0) throw new InputError(what, 'no notes to classify');
  const first = at(notes, 0).start;
  const last = notes.reduce((m, n) => Math.max(m, n.end), 0);
  const beats = Math.max(0.25, (last - first) / BEAT);
  const f: number[] = [];

  // Onset groups.
  const groups: Note[][] = [];
  for (const n of notes) {
    const g = groups[groups.length - 1];
    if (g && at(g, 0).start === n.start) g.push(n);
    else groups.push([n]);
  }
  const bars = Math.floor((last - 1 - first) / BAR) + 1;
  const perBar = new Array<number>(Math.max(1, bars)).fill(0);
  const barVel: number[][] = Array.from({ length: Math.max(1, bars) }, () => []);
  for (const n of notes) {
    const b = Math.min(perBar.length - 1, Math.floor((n.start - first) / BAR));
    addAt(perBar, b, 1);
    at(barVel, b).push(n.velocity);
  }
  const durSum = notes.reduce((s, n) => s + (n.end - n.start), 0);
  f.push(
    Math.log(notes.length / beats),
    Math.log(groups.length / beats),
    notes.length / groups.length,
    durSum / (beats * BEAT),
    groups.reduce((m, g) => Math.max(m, g.length), -Infinity),
    mean(perBar) > 0 ? std(perBar) / mean(perBar) : 0,
  );

  const pitches = notes.map((n) => n.pitch);
  f.push(mean(pitches), std(pitches), quantile(pitches, 0.1), quantile(pitches, 0.9), mean(pitches.map((p) => (p < 48 ? 1 : 0))), mean(pitches.map((p) => (p > 72 ? 1 : 0))));

  const tops = groups.map((g) => g.reduce((a, b) => (b.pitch > a.pitch ? b : a)));
  const bottoms = groups.map((g) => g.reduce((a, b) => (b.pitch < a.pitch ? b : a)));
  const mel = tops.map((n) => n.pitch);
  const bass = bottoms.map((n) => n.pitch);
  f.push(mean(mel), std(mel), mean(bass), std(bass), mean(mel.map((p, i) => p - at(bass, i))));
  const iv = mel.slice(1).map((p, i) => p - at(mel, i));
  const absIv = iv.map(Math.abs);
  f.push(
    mean(absIv),
    mean(absIv.map((d) => (d === 0 ? 1 : 0))),
    mean(absIv.map((d) => (d >= 1 && d <= 2 ? 1 : 0))),
    mean(absIv.map((d) => (d >= 5 ? 1 : 0))),
    mean(iv.map((d) => (d > 0 ? 1 : 0))),
  );

  const vel = notes.map((n) => n.velocity);
  const barMeans = barVel.filter((v) => v.length).map(mean);
  f.push(mean(vel), std(vel), quantile(vel, 0.1), quantile(vel, 0.9), std(barMeans), mean(tops.map((n) => n.velocity)) - mean(vel));

  const logDur = notes.map((n) => Math.log2(Math.max(60, n.end - n.start) / BEAT));
  f.push(mean(logDur), std(logDur), mean(notes.map((n) => (n.end - n.start <= POS ? 1 : 0))), mean(notes.map((n) => (n.end - n.start >= 2 * BEAT ? 1 : 0))));

  const starts = groups.map((g) => at(g, 0).start);
  const logIoi = starts.slice(1).map((s, i) => Math.log2((s - at(starts, i)) / BEAT));
  const pos = starts.map((s) => Math.round(((s - first) % BAR) / POS));
  f.push(
    mean(logIoi),
    std(logIoi),
    mean(pos.map((p) => (p === 0 ? 1 : 0))),
    mean(pos.map((p) => (p % 4 === 0 ? 1 : 0))),
    mean(pos.map((p) => (p % 2 === 1 ? 1 : 0))),
  );

  // Key and pitch classes, weighted by duration.
  const pcw = new Array<number>(12).fill(0);
  const pcc = new Array<number>(12).fill(0);
  for (const n of notes) {
    addAt(pcw, n.pitch % 12, n.end - n.start);
    addAt(pcc, n.pitch % 12, 1);
  }
  const key = estimateKey(pcw);
  f.push(key.major, key.minor, key.major - key.minor, entropyBits(pcc));
  const totalW = pcw.reduce((a, b) => a + b, 0);
  for (let i = 0; i < 12; i++) f.push(at(pcw, (key.tonic + i) % 12) / totalW);

  // Chords per beat.
  const chords = chordsPerBeat(notes).slice(Math.floor(first / BEAT));
  const withChord = chords.filter((c) => c !== null);
  let changes = 0;
  for (let i = 1; i < chords.length; i++) {
    const a = chords[i - 1];
    const b = chords[i];
    if ((a?.root ?? -1) !== (b?.root ?? -1) || (a?.quality ?? '') !== (b?.quality ?? '')) changes++;
  }
  f.push(chords.length ? withChord.length / chords.length : 0, chords.length > 1 ? changes / (chords.length - 1) : 0);
  for (const q of QUALITIES) f.push(withChord.length ? withChord.filter((c) => c?.quality === q).length / withChord.length : 0);

  // Interval classes between notes struck together.
  const ic = new Array<number>(6).fill(0);
  let pairs = 0;
  for (const g of groups) {
    if (g.length > 12 && g.every((n) => Number.isInteger(n.pitch))) {
      // A big chord (thousands of notes at one onset in a fuzzed file): the same counts from pitch classes, in
      // linear time (the class of a pair depends only on the difference of their pitch classes).
      const h = new Array<number>(12).fill(0);
      for (const n of g) addAt(h, ((n.pitch % 12) + 12) % 12, 1);
      for (let a = 0; a < 12; a++) {
        for (let b = a + 1; b < 12; b++) {
          const c = Math.min(b - a, 12 - (b - a));
          const count = at(h, a) * at(h, b);
          addAt(ic, c - 1, count);
          pairs += count;
        }
      }
      continue;
    }
    for (let i = 0; i < g.length; i++) {
      for (let j = i + 1; j < g.length; j++) {
        const d = Math.abs(at(g, i).pitch - at(g, j).pitch) % 12;
        const c = Math.min(d, 12 - d);
        if (c > 0) {
          addAt(ic, c - 1, 1);
          pairs++;
        }
      }
    }
  }
  for (const c of ic) f.push(pairs ? c / pairs : 0);

  // Chords as degrees of the key.
  for (const [, deg, maj] of ROMAN) {
    const hits = withChord.filter((c) => c && (c.root - key.tonic + 12) % 12 === deg && (maj ? MAJORISH : MINORISH).has(c.quality)).length;
    f.push(withChord.length ? hits / withChord.length : 0);
  }
  // Local keys over two-bar windows.
  const windows: number[][] = [];
  for (const n of notes) {
    const w = Math.floor((n.start - first) / (2 * BAR));
    while (windows.length <= w) windows.push(new Array<number>(12).fill(0));
    addAt(at(windows, w), n.pitch % 12, n.end - n.start);
  }
  const local = windows.filter((w) => w.some((x) => x > 0)).map((w) => estimateKey(w));
  let keyChanges = 0;
  for (let i = 1; i < local.length; i++) if (at(local, i).tonic !== at(local, i - 1).tonic || at(local, i).mode !== at(local, i - 1).mode) keyChanges++;
  f.push(
    local.length ? local.filter((k) => k.mode === 'minor').length / local.length : 0,
    local.length > 1 ? keyChanges / (local.length - 1) : 0,
    mean(local.map((k) => k.major - k.minor)),
  );
  for (const x of tonalFeatures(notes, groups, key.tonic, chords)) f.push(x);
  if (f.length !== FEATURE_NAMES.length) throw new Error(`clipFeatures: ${f.length} values for ${FEATURE_NAMES.length} names`);
  return Float64Array.from(f, (x) => (Number.isFinite(x) ? x : 0));
}
