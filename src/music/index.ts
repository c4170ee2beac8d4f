/**
 * The music library: MIDI <-> Score <-> EMOPIA compound words, and the dataset format. No node:fs here or below
 * (the file-system parts are in `src/platform/dataset.ts` and the CLI), so this runs in a browser too.
 *
 * Stable API (for src/cp and the CLI):
 *   FAMILIES: readonly ['tempo','chord','barbeat','type','pitch','duration','velocity','emotion']; Family; FAMILY_INDEX
 *   WORD_TYPES: ['EOS','Emotion','Metrical','Note']; WordType; EMOTIONS {Q1:1..Q4:4}; Emotion = 0|1|2|3|4
 *   class Vocab { static fullGrid(); static fromValues(values, {sort}); static fromJSON(json); toJSON(): VocabJSON;
 *                 size(f): number; sizes(): number[]; values(f); has(f, v); encode(f, value): number;
 *                 decode(f, index): VocabValue; encodeEvent(ev): number[]; decodeWord(word): CompoundEvent;
 *                 equals(other): boolean; id(): string | null }
 *   emotionWord(vocab, 1..4 | 'Q1'..'Q4'), barWord(vocab), eosWord(vocab), defaultPrompt(vocab, emotion): number[] (8 each)
 *   typeAllowedValues(vocab): Record<WordType, Record<Family, number[]>>   allowed value indices per type
 *   checkWords(vocab, words): string[]                                     layout problems, [] when well formed
 *   midiToScore(bytes, what?): Score; readMidi(bytes, what?): {score, info}; scoreToMidi(score): Uint8Array
 *   scoreToWords(score, vocab, {emotion, chords, pedal}): {words: Int32Array (n*8), events, stats}
 *   wordsToScore(words, vocab): {score, emotion, skipped}; scoreToEvents / eventsToScore (readable words)
 *   regrid(score, beatGrid, {meter?}): {score, meter, stretchedBars, pickupBeats, secondsOf, maxTempoDrift}  beat-true score
 *   beatTrueRoundTrip(score, beatGrid, opts?): {notesIn, notesOut, errors (s), words}  onset error after encode/decode
 *   parseDataset(indexJson, vocabJson, bytes): Dataset; emotionFromName, songOf, splitBySong, datasetStats
 *   readDataset(dir), buildDataset(midiDir, outDir, opts): in src/platform/dataset.ts (Node only; re-exported by src/index.ts)
 *     Dataset = {vocab: Vocab, train: Clip[], valid: Clip[]}; Clip = {name, emotion, words: Int32Array (n*8)}
 */
export * from './vocab.ts';
export * from './grammar.ts';
export * from './score.ts';
export * from './time_map.ts';
export * from './beat_grid.ts';
export * from './regrid.ts';
export * from './round_trip.ts';
export * from './beats/index.ts';
export * from './midi_io.ts';
export * from './chords.ts';
export * from './cp_tokenizer.ts';
export * from './dataset.ts';
