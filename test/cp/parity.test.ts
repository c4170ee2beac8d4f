/**
 * Parity with PyTorch: a micro compound-word Transformer written by scripts/fixtures/cp_model.py (EMOPIA's
 * architecture and state_dict keys, with `pos_emb.pe`), loaded by name; teacher-forced logits of every family
 * must match PyTorch's, and so must the step-by-step logits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { tf, initBackend } from '../../src/backend.ts';
import { readSafetensorsFile } from '../../src/io/safetensors_node.ts';
import { stateDictFromSafetensors } from '../../src/io/safetensors.ts';
import { FAMILIES } from '../../src/music/vocab.ts';
import { validateConfig } from '../../src/cp/config.ts';
import { CPTransformer, disposeState } from '../../src/cp/model.ts';
import { assertClose } from '../helpers/close.ts';

for (const kind of ['linear', 'softmax'] as const) {
  test(`${kind}: logits equal PyTorch's for EMOPIA-named weights (full pass and step by step)`, async () => {
    await initBackend('wasm');
    const file = readSafetensorsFile(fileURLToPath(new URL(`../fixtures/cp/cp_${kind}.safetensors`, import.meta.url)));
    const cfg = validateConfig(JSON.parse(file.metadata.config ?? 'null'));
    assert.equal(cfg.attention, kind);
    const sd = stateDictFromSafetensors(file, (name) => !name.startsWith('input.') && !name.startsWith('logits.'));
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
    // Step by step: type logits at position t come from h_t alone.
    let state = model.initState(B);
    const typeRef = file.tensors.get('logits.type')!.data as Float32Array;
    const nType = cfg.nClasses.type;
    for (let t = 0; t < T; t++) {
      const w = tf.tidy(() => tf.slice(words, [0, t, 0], [B, 1, 8]).reshape([B, 8]));
      const r = model.step(w, state);
      state = r.state;
      const lt = model.typeLogits(r.h);
      const want = Array.from({ length: B * nType }, (_, i) => typeRef[(Math.floor(i / nType) * T + t) * nType + (i % nType)] as number);
      assertClose(lt.dataSync(), want, 2e-5, `${kind} step type logits at ${t}`);
      tf.dispose([w, r.h, lt]);
    }
    disposeState(state);
    tf.dispose([words, nextType, ...Object.values(logits)]);
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
}
