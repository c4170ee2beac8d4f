/**
 * A two-piece dataset for the training tests, written by hand as readable compound words (no MIDI needed):
 * a Q1 piece (C major arpeggios, rising) and a Q3 piece (A minor, falling), two bars each.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventsToWords } from '../../src/music/cp_tokenizer.ts';
import { packWords, type Clip } from '../../src/music/dataset.ts';
import { FAMILIES, N_FAMILIES, Vocab, makeEvent, type CompoundEvent, type Emotion } from '../../src/music/vocab.ts';

function piece(emotion: Emotion, chord: string, pitches: number[], velocity: number): CompoundEvent[] {
  const ev: CompoundEvent[] = [makeEvent('Emotion', { emotion })];
  for (let bar = 0; bar < 2; bar++) {
    ev.push(makeEvent('Metrical', { barbeat: 'Bar' }));
    pitches.forEach((p, i) => {
      ev.push(makeEvent('Metrical', { tempo: i === 0 && bar === 0 ? 'Tempo_104' : 'CONTI', chord: i === 0 ? chord : 'CONTI', barbeat: `Beat_${i * 4}` }));
      ev.push(makeEvent('Note', { pitch: `Note_Pitch_${p + 12 * bar}`, duration: 'Note_Duration_480', velocity: `Note_Velocity_${velocity}` }));
      ev.push(makeEvent('Note', { pitch: `Note_Pitch_${p - 12}`, duration: 'Note_Duration_960', velocity: `Note_Velocity_${velocity - 20}` }));
    });
  }
  ev.push(makeEvent('Metrical', { barbeat: 'Bar' }));
  ev.push(makeEvent('EOS'));
  return ev;
}

export function twoPieces(vocab: Vocab): Clip[] {
  return [
    { name: 'Q1_up_0', emotion: 1, words: eventsToWords(piece(1, 'C_M', [60, 64, 67, 72], 90), vocab) },
    { name: 'Q3_down_0', emotion: 3, words: eventsToWords(piece(3, 'A_m', [69, 64, 60, 57], 60), vocab) },
  ];
}

/** Writes a dataset folder in `emopia dataset build`'s format. */
export function writeDataset(dir: string, vocab: Vocab, train: Clip[], valid: Clip[] = []): void {
  mkdirSync(dir, { recursive: true });
  const all = [...train.map((c) => ({ c, split: 'train' })), ...valid.map((c) => ({ c, split: 'valid' }))];
  let offset = 0;
  const clips = all.map(({ c, split }) => {
    const length = c.words.length / N_FAMILIES;
    const entry = { name: c.name, source: `${c.name}.mid`, song: c.name, emotion: c.emotion, split, offset, length, notes: 0 };
    offset += length;
    return entry;
  });
  const index = { format: 'emopia-ts/dataset', version: 1, families: [...FAMILIES], wordsFile: 'words.u16', seed: 0, validFraction: 0, clips, summary: {}, skipped: [] };
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab.toJSON()));
  writeFileSync(join(dir, 'words.u16'), packWords(all.map(({ c }) => c.words)));
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
}
