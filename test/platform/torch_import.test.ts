/**
 * `emopia import` (src/platform/torch_import.ts): a `tiny` EMOPIA-architecture state dict saved by torch 1.13
 * (scripts/fixtures/torch_checkpoint.py) becomes a run folder whose teacher-forced logits equal the pure-PyTorch
 * model's (scripts/torch/cp_model.py) within 1e-4; EMOPIA's dictionary.pkl becomes the same vocabulary; bad
 * inputs are one-line errors naming the first offending key, family or file. Replaces the test of the removed
 * scripts/emopia_dictionary_to_vocab.py: no Python is needed any more.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, initBackend } from '../../src/backend.ts';
import { InputError } from '../../src/errors.ts';
import { FAMILIES, Vocab, type Family } from '../../src/music/vocab.ts';
import { loadModel } from '../../src/platform/run_folder.ts';
import { importCheckpoint, inferConfig, vocabFromDictionary } from '../../src/platform/torch_import.ts';
import { readTorchStateDict, writeTorchStateDict } from '../../src/io/torch_zip.ts';
import { maxAbsDiff } from '../helpers/close.ts';
import { runCli } from '../helpers/cli.ts';

const path = (name: string) => fileURLToPath(new URL(`../fixtures/torch/${name}`, import.meta.url));
const ref = JSON.parse(readFileSync(path('tiny_logits.json'), 'utf8')) as {
  config: Record<string, unknown>;
  words: number[][];
  next_type: number[];
  logits: Record<Family, number[][]>;
};

function withDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emopia-import-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** Largest |ours - PyTorch's| over every family's teacher-forced logits of the fixture's words. */
function logitsError(runDir: string): number {
  const { model } = loadModel(runDir);
  try {
    const T = ref.words.length;
    const words = tf.tensor3d(ref.words.flat(), [1, T, 8], 'int32');
    const nextType = tf.tensor2d(ref.next_type, [1, T], 'int32');
    const out = model.forwardTrain(words, nextType);
    let err = 0;
    for (const f of FAMILIES) err = Math.max(err, maxAbsDiff(out[f].dataSync() as Float32Array, ref.logits[f].flat()));
    tf.dispose([words, nextType, ...Object.values(out)]);
    return err;
  } finally {
    model.dispose();
  }
}

test("dictionary.pkl gives EMOPIA's values in EMOPIA's indices", () => {
  const vocab = vocabFromDictionary(readFileSync(path('dictionary.pkl')));
  assert.deepEqual(vocab.sizes(), [3, 4, 18, 4, 4, 3, 3, 5]);
  assert.equal(vocab.encode('barbeat', 'Bar'), 1);
  assert.equal(vocab.encode('barbeat', 'Beat_10'), 4);
  assert.equal(vocab.encode('tempo', 'Tempo_119'), 2);
  assert.equal(vocab.decode('emotion', 3), 3);
  assert.equal(vocab.decode('pitch', 0), 0);
});

test('dictionary.pkl refusals: a CP (7-family) dictionary, disagreeing halves, a hostile pickle', async () => {
  const { pickle, PyTuple } = await import('../../src/io/pickle.ts');
  const values = Vocab.fullGrid().toJSON().values as Record<string, Array<string | number>>;
  const dict = (drop?: string, bad?: boolean) => {
    const w2e = new Map(Object.entries(values).filter(([f]) => f !== drop).map(([f, vs]) => [f === 'barbeat' ? 'bar-beat' : f, new Map(vs.map((v, i) => [i, v]))]));
    const e2w = new Map([...w2e].map(([f, m]) => [f, new Map([...m].map(([i, v]) => [v, bad && f === 'pitch' && i === 3 ? 4 : i]))]));
    return pickle(new PyTuple([e2w, w2e] as never));
  };
  assert.deepEqual(vocabFromDictionary(dict()).sizes(), Vocab.fullGrid().sizes(), 'the full grid round-trips');
  assert.throws(() => vocabFromDictionary(dict('emotion')), /no emotion family: this is a CP \(7-family\) dictionary/);
  assert.throws(() => vocabFromDictionary(dict(undefined, true)), /family 'pitch': event2word and word2event disagree on "Note_Pitch_\d+"/);
  assert.throws(() => vocabFromDictionary(readFileSync(path('hostile.pkl')), 'd.pkl'), /^InputError: d\.pkl: refusing global posix\.system/);
});

test('the config inferred from shapes is the tiny preset with the fixture sizes', () => {
  const { tensors } = readTorchStateDict(readFileSync(path('tiny.pt')));
  const cfg = inferConfig(tensors, { preset: 'tiny' });
  assert.deepEqual(cfg, { ...ref.config, emotionInput: 'first' });
  const emopiaHeads = inferConfig(tensors, { heads: 4, attention: 'softmax' });
  assert.equal(emopiaHeads.nHeads, 4);
  assert.equal(emopiaHeads.attention, 'softmax');
  assert.equal(emopiaHeads.dModel, 32, 'sizes come from the shapes, not the preset');
});

test('import: logits after import equal PyTorch\'s within 1e-4 (config inferred, and from config.json)', withDir(async (dir) => {
  await initBackend('wasm');
  const r = await importCheckpoint({ checkpoint: path('tiny.pt'), vocab: path('dictionary.pkl'), out: join(dir, 'run'), preset: 'tiny' });
  assert.equal(r.wrapper, 'bare');
  assert.equal(r.parameters, 22652);
  const err = logitsError(join(dir, 'run'));
  assert.ok(err <= 1e-4, `max abs diff ${err}`);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(ref.config));
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocabFromDictionary(readFileSync(path('dictionary.pkl'))).toJSON()));
  await importCheckpoint({ checkpoint: path('tiny.pt'), vocab: join(dir, 'vocab.json'), config: join(dir, 'config.json'), out: join(dir, 'run2') });
  assert.equal(logitsError(join(dir, 'run2')), err, 'same weights either way');
}));

test('export then import: the run folder\'s state dict written as model.pt reads back to the same logits', withDir(async (dir) => {
  await initBackend('wasm');
  await importCheckpoint({ checkpoint: path('tiny.pt'), vocab: path('dictionary.pkl'), out: join(dir, 'run'), preset: 'tiny' });
  const { model } = loadModel(join(dir, 'run'));
  writeFileSync(join(dir, 'model.pt'), writeTorchStateDict(model.stateDict()));
  model.dispose();
  await importCheckpoint({ checkpoint: join(dir, 'model.pt'), vocab: join(dir, 'run', 'vocab.json'), config: join(dir, 'run', 'config.json'), out: join(dir, 'back') });
  assert.equal(logitsError(join(dir, 'back')), logitsError(join(dir, 'run')));
}));

test('import refusals name the first offending key, family or file', withDir(async (dir) => {
  await initBackend('wasm');
  const base = { checkpoint: path('tiny.pt'), vocab: path('dictionary.pkl'), preset: 'tiny' as const };
  const expectErr = async (req: Partial<Parameters<typeof importCheckpoint>[0]>, re: RegExp) => {
    await assert.rejects(importCheckpoint({ ...base, out: join(dir, 'out'), ...req }), (err: Error) => err instanceof InputError && re.test(err.message), re.source);
  };
  // A vocabulary that does not fit the checkpoint's embeddings.
  writeFileSync(join(dir, 'full.json'), JSON.stringify(Vocab.fullGrid().toJSON()));
  await expectErr({ vocab: join(dir, 'full.json') }, /vocabulary family tempo has 67 values but the config says 3 classes/);
  // A config whose sizes do not fit the tensors: the first offending key with expected and found shapes.
  writeFileSync(join(dir, 'cfg.json'), JSON.stringify({ ...ref.config, dFF: 48 }));
  await expectErr({ config: join(dir, 'cfg.json') }, /tiny\.pt: state dict 'transformer_encoder\.layers\.0\.linear1\.weight': expected shape \[48,32\], got \[64,32\]/);
  await expectErr({ heads: 5 }, /expected dModel \(32\) to be a multiple of nHeads \(5\)/);
  await expectErr({ checkpoint: path('wrapped_state_dict.pt') }, /cannot infer the config: no 'word_emb_tempo\.lut\.weight'/);
  await expectErr({ checkpoint: path('hostile.pt') }, /refusing global posix\.system/);
  await expectErr({ checkpoint: path('legacy.pt') }, /legacy torch\.save format/);
  await expectErr({ vocab: path('views.json') }, /views\.json: /);
  await expectErr({ maxBytes: 100_000 }, /tiny\.pt: file too large: 116965 bytes, the limit is 100000/);
  writeFileSync(join(dir, 'cut.pt'), readFileSync(path('tiny.pt')).subarray(0, 60_000));
  await expectErr({ checkpoint: join(dir, 'cut.pt') }, /cut\.pt: no end-of-central-directory record/);
  assert.throws(() => readFileSync(join(dir, 'out', 'config.json')), /ENOENT/, 'nothing was written');
}));

test('CLI: import then generate; an existing folder and a hostile checkpoint are one-line errors', withDir(async (dir) => {
  const run = join(dir, 'run');
  const r = await runCli(['import', path('tiny.pt'), '--vocab', path('dictionary.pkl'), '--preset', 'tiny', '-o', run]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /22652 parameters from a bare state dict; config inferred \(tiny preset for the rest\): d 32, 2 layers, 2 heads/);
  const g = await runCli(['generate', '--checkpoint', run, '--emotion', 'Q2', '--seed', '3', '--max-words', '40', '-o', join(dir, 'x.mid')]);
  assert.equal(g.code, 0, g.stderr);
  assert.equal(readFileSync(join(dir, 'x.mid')).subarray(0, 4).toString(), 'MThd');
  const again = await runCli(['import', path('tiny.pt'), '--vocab', path('dictionary.pkl'), '-o', run]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^emopia: .*run: already exists and is not empty/);
  const bad = await runCli(['import', path('hostile.pt'), '--vocab', path('dictionary.pkl'), '-o', join(dir, 'h')]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /refusing global posix\.system/);
}));
