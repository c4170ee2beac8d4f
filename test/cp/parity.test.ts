/**
 * Parity with PyTorch: a micro compound-word Transformer written by scripts/fixtures/cp_model.py (EMOPIA's
 * architecture and state_dict keys, with `pos_emb.pe`), loaded by name; teacher-forced logits of every family
 * must match PyTorch's, and so must the step-by-step logits of every engine in the ENGINES table (the fast
 * engine compared with PyTorch directly, not only with our own full pass).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { tf, initBackend } from '../../src/backend.ts';
import { readSafetensorsFile } from '../../src/platform/safetensors_file.ts';
import { stateDictFromSafetensors } from '../../src/io/safetensors.ts';
import { FAMILIES, type Family } from '../../src/music/vocab.ts';
import { validateConfig } from '../../src/cp/config.ts';
import { CPTransformer, NON_TYPE_FAMILIES } from '../../src/cp/model.ts';
import { ENGINE_NAMES, openStepper } from '../../src/cp/engine.ts';
import { assertClose } from '../helpers/close.ts';

/** The fixture of one attention kind: its config, its state dict (EMOPIA's keys) and the whole file. */
function load(kind: 'linear' | 'softmax') {
  const file = readSafetensorsFile(fileURLToPath(new URL(`../fixtures/cp/cp_${kind}.safetensors`, import.meta.url)));
  const cfg = validateConfig(JSON.parse(file.metadata.config ?? 'null'));
  assert.equal(cfg.attention, kind);
  const sd = stateDictFromSafetensors(file, (name) => !name.startsWith('input.') && !name.startsWith('logits.'));
  return { cfg, sd, file };
}

for (const kind of ['linear', 'softmax'] as const) {
  test(`${kind}: teacher-forced logits of the full pass equal PyTorch's for EMOPIA-named weights`, async () => {
    await initBackend('wasm');
    const { cfg, sd, file } = load(kind);
    assert.ok(sd.has('pos_emb.pe'), 'the fixture carries the positional buffer, as EMOPIA checkpoints do');
    const before = tf.memory().numTensors;
    const model = new CPTransformer(cfg);
    model.loadStateDict(sd);
    const wordsT = file.tensors.get('input.words')!;
    const typeT = file.tensors.get('input.next_type')!;
    const [B, T] = wordsT.shape as [number, number, number];
    const words = tf.tensor3d(wordsT.data as Int32Array, [B, T, 8], 'int32');
    const nextType = tf.tensor2d(typeT.data as Int32Array, [B, T], 'int32');
    const logits = model.forwardTrain(words, nextType);
    for (const f of FAMILIES) {
      const ref = file.tensors.get(`logits.${f}`)!;
      assert.deepEqual(logits[f].shape, ref.shape, `${f} shape`);
      assertClose(logits[f].dataSync(), ref.data as Float32Array, 2e-5, `${kind} logits.${f}`);
    }
    tf.dispose([words, nextType, ...Object.values(logits)]);
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  for (const engine of ENGINE_NAMES) {
    test(`${kind}, ${engine} engine: step-by-step logits of every family equal PyTorch's`, async () => {
      await initBackend('wasm');
      const { cfg, sd, file } = load(kind);
      const before = tf.memory().numTensors;
      const model = new CPTransformer(cfg);
      model.loadStateDict(sd);
      const wordsT = file.tensors.get('input.words')!;
      const typeT = file.tensors.get('input.next_type')!.data as Int32Array;
      const [B, T] = wordsT.shape as [number, number, number];
      const ids = wordsT.data as Int32Array; // (B, T, 8)
      /** PyTorch's logits of families `fs` at position t, [B, sum n_f] flat. */
      const ref = (fs: readonly Family[], t: number): number[] =>
        Array.from({ length: B }, (_, b) =>
          fs.flatMap((f) => {
            const n = cfg.nClasses[f];
            return Array.from((file.tensors.get(`logits.${f}`)!.data as Float32Array).subarray((b * T + t) * n, (b * T + t + 1) * n));
          }),
        ).flat();
      const stepper = openStepper(model, B, engine);
      for (let t = 0; t < T; t++) {
        stepper.feed(Array.from({ length: B }, (_, b) => Array.from(ids.subarray((b * T + t) * 8, (b * T + t + 1) * 8))));
        assertClose(stepper.typeLogits(), ref(['type'], t), 2e-5, `${kind} ${engine} type logits at ${t}`);
        const types = Array.from({ length: B }, (_, b) => typeT[b * T + t] as number);
        assertClose(stepper.restLogits(types), ref(NON_TYPE_FAMILIES, t), 2e-5, `${kind} ${engine} other logits at ${t}`);
      }
      stepper.dispose();
      model.dispose();
      assert.equal(tf.memory().numTensors, before);
    });
  }
}
