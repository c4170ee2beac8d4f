/** `emopia evaluate` carries the structure block (text and JSON), on a tiny random-init model and two hand-made real clips. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/random.ts';
import { Vocab, FAMILIES } from '../../src/music/vocab.ts';
import { emptyScore, type Note } from '../../src/music/score.ts';
import { scoreToMidi } from '../../src/music/midi_io.ts';
import { makeConfig } from '../../src/cp/config.ts';
import { CPTransformer } from '../../src/cp/model.ts';
import { saveModel } from '../../src/platform/run_folder.ts';
import { initBackend } from '../../src/backend.ts';
import { STRUCTURE_KEYS } from '../../src/evaluate/structure.ts';
import { runCli } from '../helpers/cli.ts';

/** Two bars of a triad on every beat (roots C F G C from `base`), each 400 ticks long: quantized to 360 (3 16ths). */
function triadsMidi(base: number): Uint8Array {
  const s = emptyScore();
  const notes: Note[] = [];
  for (let b = 0; b < 8; b++) {
    const root = base + [0, 5, 7, 0][b % 4]!;
    for (const iv of [0, 4, 7]) notes.push({ pitch: root + iv, velocity: 80, start: b * 480, end: b * 480 + 400 });
  }
  s.notes = notes;
  s.tempos = [{ tick: 0, bpm: 120 }];
  return scoreToMidi(s);
}

test('evaluate: the structure block, generated beside real, with the targets checked', async () => {
  await initBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'emopia-structure-'));
  try {
    const run = join(dir, 'run');
    const vocab = Vocab.fullGrid();
    const classes = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<(typeof FAMILIES)[number], number>;
    const model = new CPTransformer(makeConfig('tiny', classes), new Rng(2));
    const sd = model.stateDict();
    sd.get('proj_type.bias')!.data[vocab.encode('type', 'EOS')] = -30; // keeps generating up to --max-words
    model.loadStateDict(sd);
    saveModel(run, model, vocab);
    model.dispose();
    const real = join(dir, 'real');
    mkdirSync(real);
    writeFileSync(join(real, 'Q1_song_0.mid'), triadsMidi(60));
    writeFileSync(join(real, 'Q4_song_1.mid'), triadsMidi(55));
    const common = ['evaluate', '--checkpoint', run, '--per-emotion', '2', '--max-words', '40', '--seed', '1', '--real', real, '--grid', 'file', '--no-progress'];
    const [t, j] = await Promise.all([runCli(common), runCli([...common, '--json'])]);
    assert.equal(j.code, 0, j.stderr);
    const res = JSON.parse(j.stdout);
    const st = res.structure;
    assert.equal(st.grid, 'file');
    assert.equal(st.tolerance, 0.2);
    // The real Q1 clip by hand: 4 onsets a bar, all on 8ths; both bars alike (grooving 1, the second repeats the
    // first); three notes sounding whenever any does; 24 notes over 7 beats + 360 ticks; 3 16ths each; 120 BPM.
    const q1 = st.real.Q1;
    const want: Record<string, number> = {
      onsetPositions: 4, eighthShare: 1, grooving: 1, repeatShare: 1, polyphony: 3, notesPerBeat: 24 / 7.75, noteLength: 3, tempo: 120,
    };
    for (const [k, v] of Object.entries(want)) assert.ok(Math.abs(q1[k].mean - v) < 1e-9, `real Q1 ${k}: ${q1[k].mean} against ${v}`);
    assert.equal(q1.onsetPositions.n, 1);
    // Per bar C E G / F A C / G B D / C E G: 7 pitch classes over 12 notes; by hand for bar 0.
    const counts = [3, 0, 1, 0, 2, 1, 0, 3, 0, 1, 0, 1]; // C C# D D# E F F# G G# A A# B (12 notes)
    const h = -counts.filter((c) => c > 0).reduce((s, c) => s + (c / 12) * Math.log2(c / 12), 0);
    assert.ok(Math.abs(q1.pcEntropy1.mean - h) < 1e-9, 'pitch-class entropy of a bar');
    assert.deepEqual(Object.keys(st.real), ['Q1', 'Q4']);
    // Generated: every quadrant, every statistic; comparison only where real clips exist.
    assert.deepEqual(Object.keys(st.generated), ['Q1', 'Q2', 'Q3', 'Q4']);
    for (const q of ['Q1', 'Q2', 'Q3', 'Q4']) for (const k of STRUCTURE_KEYS) assert.ok(k in st.generated[q], `${q} ${k}`);
    assert.deepEqual(Object.keys(st.comparison), ['Q1', 'Q4']);
    for (const q of ['Q1', 'Q4']) for (const k of STRUCTURE_KEYS) {
      const c = st.comparison[q][k];
      if (c.ratio === null) assert.equal(c.within, false);
      else {
        assert.ok(Math.abs(c.ratio - st.generated[q][k].mean / st.real[q][k].mean) < 1e-12);
        assert.equal(c.within, Math.abs(c.ratio - 1) <= 0.2 + 1e-12, `${q} ${k}`);
      }
      assert.equal(st.misses[q].includes(k), !c.within);
    }
    assert.deepEqual(Object.keys(st.lowArousal), ['Q3', 'Q4']);
    assert.equal(st.lowArousal.Q3.met, st.lowArousal.Q3.notesPerBeat >= 2.2);
    // Each piece with notes carries its own structure; the quadrant mean is their mean.
    const q2 = res.pieces.filter((p: { requested: number; structure: unknown }) => p.requested === 2 && p.structure);
    if (q2.length) {
      const m = q2.reduce((s: number, p: { structure: { noteLength: number } }) => s + p.structure.noteLength, 0) / q2.length;
      assert.ok(Math.abs(st.generated.Q2.noteLength.mean - m) < 1e-9);
    }
    // The conditioning figures are where they were.
    for (const k of ['confusion', 'noNotes', 'accuracy', 'stats', 'real']) assert.ok(k in res, k);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /musical structure per quadrant, mean \(generated \| real on the file grid \(generated\/real, \* outside ±20%\)\)/);
    assert.match(t.stdout, /\n {2}onset positions per bar \(16ths\) +.*\| 4\.00 \(/);
    assert.match(t.stdout, /\ntarget: every statistic within ±20% of the real clips: Q1 \d+\/10, Q4 \d+\/10\n/);
    assert.match(t.stdout, /\ntarget: low arousal at least 2\.2 notes per beat: Q3 [\d.-]+ (met|MISSED), Q4 [\d.-]+ (met|MISSED)\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
