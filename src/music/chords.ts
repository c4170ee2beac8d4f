/**
 * A chord recogniser, written for this project to give the same chords as chorder's `Dechorder.dechord`
 * (joshuachang2311/chorder), which CP and EMOPIA used through CP's `dataset/analyzer.py`:
 *
 * - For every 1-beat and 2-beat window, a pitch-class profile weighted by how long each pitch sounds inside it.
 * - Each root with some weight is scored against six triad templates (M, m, o, +, sus2, sus4); the best score wins
 *   (the first on ties: roots from C, qualities in that order). Below 10 x the window length: no chord.
 * - The lowest pitch that sounds at least 1/8 of the window is the bass; some triads over a bass a third or so
 *   below are renamed to a seventh chord on the bass (M over bass -3 -> m7, m over -4 -> M7, ...); then M becomes
 *   M7 or 7 and m becomes m7 when the sevenths are present. A chord without a bass is "no chord".
 * - A pair of 1-beat chords replaces the 2-beat chord covering them when both score at least half of its score.
 * - As chorder does, a window only sees notes whose onset is among the ten distinct onsets before the window or
 *   later, so a very long note held under many onsets drops out of later windows.
 *
 * The chords go one per beat; consecutive equal chords (root, quality and bass) are merged, and the result is
 * written as `root_quality` (bass dropped) or `N_N`, as CP's analyzer does.
 */
import { GRID, NO_CHORD, QUALITIES, ROOTS, chordValue, type Quality } from './vocab.ts';
import type { Note } from './score.ts';

export interface Chord {
  root: number;
  quality: Quality;
  bass: number;
}
export interface ChordMarker {
  /** Tick of the beat where the chord starts (multiple of 480). */
  tick: number;
  /** `C_M`, ..., or `N_N`. */
  text: string;
  chord: Chord | null;
}

// Template weights over the 12 intervals above the root.
const TEMPLATES: ReadonlyArray<[Quality, readonly number[]]> = [
  ['M', [10, -2, -1, -2, 10, -5, -2, 10, -2, -1, -2, 0]],
  ['m', [10, -2, -1, 10, -2, -5, -2, 10, -1, -2, 0, -2]],
  ['o', [10, -2, -1, 10, -2, -1, 10, -2, -2, 1, -1, -2]],
  ['+', [10, -2, -1, -2, 10, -1, -2, -2, 10, -1, -2, 0]],
  ['sus2', [10, -2, 5, -2, -1, -5, -2, 5, -2, -1, -2, 0]],
  ['sus4', [10, -2, -1, -2, -5, 5, -2, 5, -2, -1, -2, 0]],
];
// (quality, interval root-bass, new quality): the triad is re-read as a chord on the bass.
const OVER_BASS: ReadonlyArray<[Quality, number, Quality]> = [
  ['o', 4, '7'],
  ['o', 3, 'o7'],
  ['M', 3, 'm7'],
  ['m', 4, 'M7'],
  ['m', 3, '/o7'],
  ['sus2', 5, 'sus4'],
  ['sus4', 7, 'sus2'],
];

/** Notes grouped by onset, sorted, to find the notes of a window quickly. */
interface Timepoints {
  starts: number[];
  groups: Note[][];
}

function timepoints(notes: readonly Note[]): Timepoints {
  // A stable sort by onset keeps each group in the notes' order; sorted input (the usual case) is not re-sorted.
  let sorted = true;
  for (let i = 1; i < notes.length && sorted; i++) sorted = (notes[i - 1] as Note).start <= (notes[i] as Note).start;
  const byOnset = sorted ? notes : [...notes].sort((a, b) => a.start - b.start);
  const starts: number[] = [];
  const groups: Note[][] = [];
  for (const n of byOnset) {
    if (starts.length && starts[starts.length - 1] === n.start) (groups[groups.length - 1] as Note[]).push(n);
    else {
      starts.push(n.start);
      groups.push([n]);
    }
  }
  return { starts, groups };
}

function lowerBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if ((xs[m] as number) < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

function notesIn(tp: Timepoints, start: number, end: number): Note[] {
  const from = Math.max(lowerBound(tp.starts, start) - 10, 0);
  const to = lowerBound(tp.starts, end);
  const out: Note[] = [];
  for (let i = from; i < to; i++) for (const n of tp.groups[i] as Note[]) if (n.start < end && n.end >= start) out.push(n);
  return out;
}

// Scratch arrays of chordOf (zeroed again before it returns).
const BY_PITCH = new Float64Array(128);
const SEEN = new Uint8Array(128);
const PROFILE_TWICE = new Float64Array(24);

/** The chord of the notes sounding in [start, end), with its score (-1 when none). */
export function chordOf(notes: readonly Note[], start: number, end: number): { chord: Chord | null; score: number } {
  const profile = new Array<number>(12).fill(0);
  // Sounding length per MIDI pitch (the usual 0..127 in an array; any other pitch in a map).
  const byPitch = BY_PITCH;
  const seen = SEEN;
  let others: Map<number, number> | null = null;
  for (const n of notes) {
    const span = Math.min(end, n.end) - Math.max(start, n.start);
    profile[n.pitch % 12] = (profile[n.pitch % 12] as number) + span;
    if (Number.isInteger(n.pitch) && n.pitch >= 0 && n.pitch < 128) {
      byPitch[n.pitch] = (byPitch[n.pitch] as number) + span;
      seen[n.pitch] = 1;
    } else {
      others ??= new Map();
      others.set(n.pitch, (others.get(n.pitch) ?? 0) + span);
    }
  }
  let bass: number | null = null;
  const enough = (end - start) / 8;
  if (others === null) {
    for (let p = 0; p < 128; p++) {
      if (seen[p] === 1 && (byPitch[p] as number) >= enough) {
        bass = p % 12;
        break;
      }
    }
  } else {
    const all = new Map(others);
    for (let p = 0; p < 128; p++) if (seen[p] === 1) all.set(p, (all.get(p) ?? 0) + (byPitch[p] as number));
    for (const p of [...all.keys()].sort((a, b) => a - b)) {
      if ((all.get(p) as number) >= enough) {
        bass = p % 12;
        break;
      }
    }
  }
  // Leave the scratch arrays clean for the next call.
  for (const n of notes) {
    if (Number.isInteger(n.pitch) && n.pitch >= 0 && n.pitch < 128) {
      byPitch[n.pitch] = 0;
      seen[n.pitch] = 0;
    }
  }
  let best = 0;
  let root = -1;
  let quality: Quality | null = null;
  // The profile twice over, so that interval k above root r is at r + k (the same products, in the same order).
  const twice = PROFILE_TWICE;
  for (let i = 0; i < 24; i++) twice[i] = profile[i % 12] as number;
  for (let r = 0; r < 12; r++) {
    if (profile[r] === 0) continue;
    for (let t = 0; t < TEMPLATES.length; t++) {
      const [q, w] = TEMPLATES[t] as [Quality, readonly number[]];
      let s = 0;
      for (let k = 0; k < 12; k++) s += (twice[r + k] as number) * (w[k] as number);
      if (s > best) {
        best = s;
        root = r;
        quality = q;
      }
    }
  }
  if (quality === null || best < (end - start) * 10) return { chord: null, score: -1 };
  if (bass !== null) {
    const rule = OVER_BASS.find(([q, iv]) => q === quality && (root - (bass as number) + 12) % 12 === iv);
    if (rule) {
      root = bass;
      quality = rule[2];
    }
  }
  const at = (iv: number) => profile[(root + iv) % 12] as number;
  if (quality === 'M') {
    if (at(11) > 0 && at(11) > at(10)) quality = 'M7';
    else if (at(10) > 0 && at(10) > at(11)) quality = '7';
  }
  if (quality === 'm' && at(10) > 0) quality = 'm7';
  // chorder calls a chord without a bass incomplete, and CP writes it as no chord.
  return { chord: bass === null ? null : { root, quality, bass }, score: best };
}

function chordsPerWindow(tp: Timepoints, window: number, from: number, maxTick: number) {
  const out: Array<{ chord: Chord | null; score: number }> = [];
  for (let t = from; t < maxTick; t += window) out.push(chordOf(notesIn(tp, t, t + window), t, t + window));
  return out;
}

/**
 * One chord per beat (chorder's `dechord`), from tick 0 to the end of the last note. `from` and `until` limit the
 * walk to the beats between them (rounded out to whole pairs of beats, so that the pairing of 1-beat and 2-beat
 * windows is the one of the full walk): the chords of those beats are the same either way, and a note held for
 * millions of beats, or a piece that starts after millions of empty ones, costs nothing outside them. Element i
 * of the result is the chord of beat `firstBeat(from) + i`.
 */
export function chordsPerBeat(notes: readonly Note[], until = Infinity, from = 0): Array<Chord | null> {
  const B = GRID.ticksPerBeat;
  const start = firstBeat(from) * B;
  const limit = Math.ceil(Math.max(0, until) / (2 * B)) * 2 * B;
  const maxTick = Math.min(limit, notes.reduce((m, n) => Math.max(m, n.end), 0));
  const tp = timepoints(notes);
  const one = chordsPerWindow(tp, B, start, maxTick);
  const two = chordsPerWindow(tp, 2 * B, start, maxTick).map((c) => ({ chord: c.chord, score: c.score / 2 }));
  const out: Array<Chord | null> = [];
  two.forEach((pair, i) => {
    const prev = one[2 * i] ?? { chord: null, score: -1 };
    const next = one[2 * i + 1];
    if (next) {
      if (prev.score >= pair.score && next.score >= pair.score) out.push(prev.chord, next.chord);
      else out.push(pair.chord, pair.chord);
    } else out.push(prev.score > pair.score ? prev.chord : pair.chord);
  });
  return out;
}

/** The first beat of a walk from tick `from`: the even beat at or before it (pairs of beats start at even beats). */
function firstBeat(from: number): number {
  return Math.max(0, Math.floor(from / (2 * GRID.ticksPerBeat)) * 2);
}

/** The chord value of the vocabulary (`C_M`, ...; `N_N` for no chord). */
export function chordName(chord: Chord | null): string {
  return chord === null ? NO_CHORD : chordValue(chord.root, chord.quality);
}

const sameChord = (a: Chord | null, b: Chord | null) =>
  a === b || (a !== null && b !== null && a.root === b.root && a.quality === b.quality && a.bass === b.bass);

/**
 * Chord markers as CP's analyzer writes them: one per beat, consecutive repeats merged. With `from`/`until`, only
 * the beats between them are walked (see `chordsPerBeat`), and the first of them always gets a marker: the chord in
 * force there, which the full walk may have marked earlier.
 */
export function recogniseChords(notes: readonly Note[], until = Infinity, from = 0): ChordMarker[] {
  const out: ChordMarker[] = [];
  const first = firstBeat(from);
  let prev: Chord | null | undefined;
  chordsPerBeat(notes, until, from).forEach((c, i) => {
    if (prev !== undefined && sameChord(prev, c)) return;
    prev = c;
    out.push({ tick: (first + i) * GRID.ticksPerBeat, text: chordName(c), chord: c });
  });
  return out;
}

const CHORD_RE = new RegExp(`^(?:N_N(?:_N)?|(${ROOTS.map((r) => r.replace('#', '\\#')).join('|')})_(${QUALITIES.map((q) => q.replace(/[+/]/g, '\\$&')).join('|')})(?:_[A-G]#?)?)$`);

/** The chord value (`C_M`, `N_N`) of a marker text in our form or CP's `root_quality_bass`, or null if none. */
export function chordFromMarker(text: string): string | null {
  const m = CHORD_RE.exec(text);
  if (!m) return null;
  return m[1] === undefined ? NO_CHORD : `${m[1]}_${m[2]}`;
}
