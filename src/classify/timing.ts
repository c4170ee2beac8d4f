/**
 * Time helpers for the statistics and features: the quantized view of a score that real clips and generated pieces share.
 */
import { GRID, TEMPO_BINS } from '../music/vocab.ts';
import { quantize, roundHalfEven, sortNotes, type Score } from '../music/score.ts';
import { atConstantTempo } from '../music/time_map.ts';

/**
 * The score as the compound words see it (EMOPIA's grid): leading empty bars removed, onsets on 16ths, durations
 * rounded to 16ths and clipped to a bar (0 -> 60 ticks, as decoding does), velocities binned, pitches outside
 * 22..107 dropped. A real clip seen this way is comparable with a generated piece, which only ever has such notes.
 * Tempos keep their exact BPM (not the tokenizer's 3-BPM bins, which would show EMOPIA's 120 as 119), moved by the
 * same offset. Throws InputError (from `quantize`) when no note is in range.
 */
export function quantizedScore(score: Score, what = 'score'): Score {
  const q = quantize(score, { chords: 'none' }, what);
  const offset = q.stats.leadingBarsRemoved * GRID.ticksPerBar;
  const P = GRID.ticksPerPosition;
  const notes = q.notes.map((n) => ({ pitch: n.pitch, velocity: n.velocity, start: n.onset, end: n.onset + (n.duration > 0 ? n.duration : P / 2) }));
  const byTick = new Map<number, number>();
  for (const t of [...score.tempos].sort((a, b) => a.tick - b.tick)) {
    // The tokenizer's rounding (half to even), so that a change lands on the position its Metrical word has.
    const at = Math.max(0, roundHalfEven((t.tick - offset) / P) * P);
    byTick.set(at, t.bpm); // the last change at or before a grid tick wins
  }
  const tempos = [...byTick.entries()].sort((a, b) => a[0] - b[0]).map(([tick, bpm]) => ({ tick, bpm }));
  if (!tempos.some((t) => t.tick === 0)) tempos.unshift({ tick: 0, bpm: tempos[0]?.bpm ?? 120 });
  return { ticksPerBeat: 480, notes: sortNotes(notes), tempos, timeSignatures: [], markers: [], pedals: [] };
}

/**
 * The score as the classifier and the musical statistics see every piece: written at EMOPIA's nominal 120 BPM with
 * each note kept at its time in seconds (`atConstantTempo`), then `quantizedScore`. The classifier learned from
 * EMOPIA's files, whose beats are 0.5 s whatever the music's tempo; a piece with a real tempo map (a beat-true
 * model's, an encoded `--grid beats` file) is measured as it would look written that way. Real EMOPIA clips, and
 * any piece whose tempos all lie within half a tempo step of 120 BPM, are unchanged by the first step.
 */
export function classifierScore(score: Score, what = 'score'): Score {
  const nominal = score.tempos.every((t) => Math.abs(t.bpm - EMOPIA_BPM) <= TEMPO_HALF_STEP);
  return quantizedScore(nominal ? score : atConstantTempo(score, EMOPIA_BPM), what);
}

/** The tempo EMOPIA's files all say. */
const EMOPIA_BPM = 120;
/**
 * Half a step of the tempo family (3 BPM apart): a piece whose tempos all lie this close to 120 BPM is read as it
 * is, since the tokenizer cannot say 120 exactly (its nearest value is 119, which a model trained on EMOPIA's
 * nominal grid writes throughout).
 */
const TEMPO_HALF_STEP = (TEMPO_BINS[1]! - TEMPO_BINS[0]!) / 2;
