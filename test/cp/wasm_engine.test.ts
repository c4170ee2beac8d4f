/**
 * The `wasm` engine (src/cp/wasm/, kernel wasm/step/step.c): the embedded module is the one its header names and
 * has the exports the loader expects; the packed weight layout round-trips; its logits equal the fast engine's,
 * the full pass's and PyTorch's (committed fixtures) on shapes that exercise every tail (widths not multiples of
 * 16 or 4, a softmax cache that grows); a row of a batch equals the same sequence stepped alone, to the bit;
 * a disposed stepper's packed weights are reused only while the model's parameters are unchanged; `auto` picks it
 * in Node. (engine.test.ts and parity.test.ts also loop over it with the other engines.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { tf, initBackend } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import { FAMILIES, type Family } from '../../src/music/vocab.ts';
import { makeConfig, validateConfig } from '../../src/cp/config.ts';
import { CPTransformer, NON_TYPE_FAMILIES } from '../../src/cp/model.ts';
import { autoEngine, disposeStepWeights, openStepper, prepareStepWeights } from '../../src/cp/engine.ts';
import { STEP_EXPORTS, instantiateStep, stepWasmBytes, wasmStepAvailable } from '../../src/cp/wasm/loader.ts';
import { STEP_WASM_SHA256 } from '../../src/cp/wasm/step_binary.ts';
import { LAYER_BYTES, MODEL_BYTES, WasmStepper, inLinearTablesHost } from '../../src/cp/wasm/wasm_engine.ts';
import { pad16, packMatrix, padVector, unpackMatrix } from '../../src/cp/wasm/pack.ts';
import { readSafetensorsFile } from '../../src/platform/safetensors_file.ts';
import { stateDictFromSafetensors } from '../../src/io/safetensors.ts';
import { assertClose } from '../helpers/close.ts';

test('the embedded module is the one its header names, with the exports and struct sizes the loader expects', () => {
  const bytes = stepWasmBytes();
  assert.equal(createHash('sha256').update(bytes).digest('hex'), STEP_WASM_SHA256);
  const m = new WebAssembly.Module(bytes);
  assert.deepEqual(WebAssembly.Module.imports(m), [], 'no imports: it needs nothing from its host');
  const exports = Object.fromEntries(WebAssembly.Module.exports(m).map((e) => [e.name, e.kind]));
  assert.deepEqual(exports, STEP_EXPORTS);
  assert.ok(wasmStepAvailable());
  const k = instantiateStep();
  assert.equal(k.modelSize, MODEL_BYTES, 'step.c Model');
  assert.equal(k.layerSize, LAYER_BYTES, 'step.c Layer');
  assert.ok(k.heapBase > 0 && k.heapBase <= k.memory.buffer.byteLength);
  assert.notEqual(instantiateStep().memory, k.memory, 'each instance has its own memory');
});

test('packMatrix: [out-block of 16][in][16] with zero padding, and unpackMatrix inverts it', () => {
  const rng = new Rng(3);
  for (const [inF, outF] of [[5, 37], [16, 16], [1, 1], [7, 48]] as const) {
    const w = Float32Array.from({ length: inF * outF }, () => rng.next() - 0.5);
    const p = packMatrix(w, inF, outF);
    assert.equal(p.length, pad16(outF) * inF);
    // Element (k, o) of W sits in block o/16, row k, lane o%16.
    for (let k = 0; k < inF; k++) {
      for (let o = 0; o < pad16(outF); o++) {
        const got = p[(Math.floor(o / 16) * inF + k) * 16 + (o % 16)];
        assert.equal(got, o < outF ? w[k * outF + o] : 0, `(${k}, ${o}) of ${inF} x ${outF}`);
      }
    }
    assert.deepEqual(unpackMatrix(p, inF, outF), w);
  }
  assert.deepEqual(Array.from(padVector(Float32Array.of(1, 2, 3))), [1, 2, 3, ...new Array(13).fill(0)]);
  assert.throws(() => packMatrix(new Float32Array(5), 2, 3), RangeError);
});

const CLASSES: Record<Family, number> = { tempo: 7, chord: 9, barbeat: 5, type: 4, pitch: 11, duration: 6, velocity: 5, emotion: 5 };

test('cp_in_table computes the in_linear tables to the bit as the float64 reference in TypeScript does (d 38, odd embeddings)', async () => {
  await initBackend('wasm');
  const embSizes: Record<Family, number> = { tempo: 3, chord: 5, barbeat: 2, type: 3, pitch: 7, duration: 1, velocity: 4, emotion: 2 };
  const cfg = makeConfig('tiny', CLASSES, { dModel: 38, nHeads: 2, dFF: 20, nLayers: 1, embSizes });
  const model = new CPTransformer(cfg, new Rng(5));
  const w = prepareStepWeights(model);
  try {
    const want = inLinearTablesHost(w); // per family (V_f, d)
    const k = instantiateStep();
    const d = cfg.dModel;
    const pd = pad16(d);
    const W = w.inLinear.w.dataSync() as Float32Array; // (E, d)
    const base = Math.ceil(k.heapBase / 16) * 16;
    const embAt = base + W.length * 4; // (V, e) of the widest family: 77 floats here
    const [accAt, outAt] = [embAt + 1024, embAt + 1024 + 8 * d + 16];
    k.memory.grow(1);
    const f32 = new Float32Array(k.memory.buffer);
    f32.set(W, base / 4);
    let off = 0;
    FAMILIES.forEach((f, fi) => {
      const [V, e] = [cfg.nClasses[f], cfg.embSizes[f]];
      f32.set(w.emb[f], embAt / 4);
      k.inTable(embAt, V, e, base + off * d * 4, d, outAt, accAt);
      const got = new Float32Array(V * d);
      for (let v = 0; v < V; v++) got.set(f32.subarray(outAt / 4 + v * pd, outAt / 4 + v * pd + d), v * d);
      assert.deepEqual(new Uint32Array(got.buffer), new Uint32Array((want[fi] as Float32Array).slice().buffer), f);
      off += e;
    });
  } finally {
    disposeStepWeights(w);
    model.dispose();
  }
});

for (const attention of ['linear', 'softmax'] as const) {
  test(`${attention}: odd widths (d 36, 3 heads of 12, ff 20, odd embeddings), batch 3, 70 words: logits equal the fast engine's and the full pass's`, async () => {
    await initBackend('wasm');
    const embSizes: Record<Family, number> = { tempo: 3, chord: 5, barbeat: 2, type: 3, pitch: 7, duration: 1, velocity: 4, emotion: 2 };
    const cfg = makeConfig('tiny', CLASSES, { attention, dModel: 36, nHeads: 3, dFF: 20, nLayers: 2, embSizes, chunkSize: 5 });
    const model = new CPTransformer(cfg, new Rng(7));
    const rng = new Rng(11);
    const [B, T] = [3, 70]; // T > 64: the softmax cache starts at 64 rows per sequence and must grow
    const words = Array.from({ length: B }, () => Array.from({ length: T }, () => FAMILIES.map((f) => rng.nextInt(CLASSES[f]))));
    const types = Array.from({ length: B }, () => Array.from({ length: T }, () => rng.nextInt(CLASSES.type)));
    const x = tf.tensor3d(words.flat(2), [B, T, 8], 'int32');
    const nt = tf.tensor2d(types.flat(), [B, T], 'int32');
    const full = model.forwardTrain(x, nt);
    const want = (fs: readonly Family[], t: number): Float32Array => {
      const w = tf.tidy(() => tf.concat(fs.map((f) => tf.slice(full[f], [0, t, 0], [B, 1, CLASSES[f]]).reshape([B, CLASSES[f]])), 1)); // (B, sum n_f)
      const a = w.dataSync() as Float32Array;
      w.dispose();
      return a;
    };
    const wasm = openStepper(model, B, 'wasm');
    const fast = openStepper(model, B, 'fast');
    for (let t = 0; t < T; t++) {
      const fed = words.map((w) => w[t] as number[]);
      const ty = types.map((r) => r[t] as number);
      wasm.feed(fed);
      fast.feed(fed);
      const tl = wasm.typeLogits();
      assertClose(tl, fast.typeLogits(), 1e-4, `type logits against fast at ${t}`);
      assertClose(tl, want(['type'], t), 1e-4, `type logits against the full pass at ${t}`);
      const rl = wasm.restLogits(ty);
      assertClose(rl, fast.restLogits(ty), 1e-4, `other logits against fast at ${t}`);
      assertClose(rl, want(NON_TYPE_FAMILIES, t), 1e-4, `other logits against the full pass at ${t}`);
    }
    wasm.dispose();
    fast.dispose();
    tf.dispose([x, nt, ...Object.values(full)]);
    model.dispose();
  });

  test(`${attention}: a row of a batch equals the same sequence stepped alone, to the bit`, async () => {
    await initBackend('wasm');
    const model = new CPTransformer(makeConfig('tiny', CLASSES, { attention }), new Rng(5));
    const rng = new Rng(2);
    const T = 20;
    const words = Array.from({ length: 3 }, () => Array.from({ length: T }, () => FAMILIES.map((f) => rng.nextInt(CLASSES[f]))));
    const batch = openStepper(model, 3, 'wasm');
    const alone = openStepper(model, 1, 'wasm'); // the last row: block1 in a batch of 3, block1 alone
    const first = openStepper(model, 1, 'wasm'); // the first row: block2 in the batch, block1 alone
    const nt = CLASSES.type;
    const nr = NON_TYPE_FAMILIES.reduce((s, f) => s + CLASSES[f], 0);
    for (let t = 0; t < T; t++) {
      batch.feed(words.map((w) => w[t] as number[]));
      alone.feed([words[2]![t]!]);
      first.feed([words[0]![t]!]);
      const tl = batch.typeLogits();
      assert.deepEqual(alone.typeLogits(), tl.slice(2 * nt, 3 * nt), `row 2 type logits at ${t}`);
      assert.deepEqual(first.typeLogits(), tl.slice(0, nt), `row 0 type logits at ${t}`);
      const rl = batch.restLogits([1, 2, 3]);
      assert.deepEqual(alone.restLogits([3]), rl.slice(2 * nr, 3 * nr), `row 2 other logits at ${t}`);
      assert.deepEqual(first.restLogits([1]), rl.slice(0, nr), `row 0 other logits at ${t}`);
    }
    for (const s of [batch, alone, first]) s.dispose();
    model.dispose();
  });

  test(`${attention}: step-by-step logits of every family equal PyTorch's (fixture cp_${attention})`, async () => {
    await initBackend('wasm');
    const file = readSafetensorsFile(fileURLToPath(new URL(`../fixtures/cp/cp_${attention}.safetensors`, import.meta.url)));
    const cfg = validateConfig(JSON.parse(file.metadata.config ?? 'null'));
    const model = new CPTransformer(cfg);
    model.loadStateDict(stateDictFromSafetensors(file, (name) => !name.startsWith('input.') && !name.startsWith('logits.')));
    const wordsT = file.tensors.get('input.words')!;
    const typeT = file.tensors.get('input.next_type')!.data as Int32Array;
    const [B, T] = wordsT.shape as [number, number, number];
    const ids = wordsT.data as Int32Array; // (B, T, 8)
    const ref = (fs: readonly Family[], t: number): number[] =>
      Array.from({ length: B }, (_, b) =>
        fs.flatMap((f) => {
          const n = cfg.nClasses[f];
          return Array.from((file.tensors.get(`logits.${f}`)!.data as Float32Array).subarray((b * T + t) * n, (b * T + t + 1) * n));
        }),
      ).flat();
    const s = openStepper(model, B, 'wasm');
    for (let t = 0; t < T; t++) {
      s.feed(Array.from({ length: B }, (_, b) => Array.from(ids.subarray((b * T + t) * 8, (b * T + t + 1) * 8))));
      assertClose(s.typeLogits(), ref(['type'], t), 2e-5, `type logits at ${t}`);
      assertClose(s.restLogits(Array.from({ length: B }, (_, b) => typeT[b * T + t] as number)), ref(NON_TYPE_FAMILIES, t), 2e-5, `other logits at ${t}`);
    }
    s.dispose();
    model.dispose();
  });
}

for (const attention of ['linear', 'softmax'] as const) {
  test(`${attention}: a disposed stepper's packed weights serve the model's next stepper (fresh state, any batch) until a parameter changes`, async () => {
    await initBackend('wasm');
    const model = new CPTransformer(makeConfig('tiny', CLASSES, { attention }), new Rng(8));
    const rng = new Rng(4);
    const T = 70; // softmax: the first stepper's cache grows past 64 rows; the next starts from an empty one
    const words = Array.from({ length: T }, () => FAMILIES.map((f) => rng.nextInt(CLASSES[f])));
    /** Type and other logits of every word, stepped alone on a new stepper; also whether it reused an instance. */
    const run = (B: number) => {
      const w = prepareStepWeights(model);
      const s = new WasmStepper(w, B);
      const out: Float32Array[] = [];
      for (let t = 0; t < T; t++) {
        s.feed(new Float32Array(B * w.inLinear.w.shape[0]).map((_, i) => (w.emb.tempo[(words[t]![0]! * 8 + i) % w.emb.tempo.length] as number)), t);
        out.push(s.typeLogits(), s.restLogits(new Float32Array(B * CLASSES.type).fill(0.5)));
      }
      const reused = s.reused;
      s.dispose();
      disposeStepWeights(w);
      return { out, reused };
    };
    const a = run(1);
    const b = run(1);
    assert.equal(b.reused, true, 'the second stepper reuses the first one\'s instance');
    assert.deepEqual(b.out, a.out, 'same logits from a reused instance (its state starts from zeros)');
    const c = run(3); // another batch size on the same instance
    assert.equal(c.reused, true);
    assert.deepEqual(c.out.map((o, i) => o.slice(0, a.out[i]!.length)), a.out, 'row 0 of a batch of 3 on the reused instance');
    // A parameter assigned new values (as training and loadStateDict do): repacked, and the logits follow.
    const v = model.proj.type.weight as tf.Variable;
    const r = tf.mul(v, 2);
    v.assign(r);
    r.dispose();
    const d = run(1);
    assert.equal(d.reused, false, 'a changed parameter forces a new packing');
    assert.notDeepEqual(d.out[0], a.out[0]);
    assert.deepEqual(run(1).out, d.out);
    model.dispose();
  });
}

test('auto picks the wasm engine in Node, at one sequence and at several', () => {
  assert.equal(autoEngine(1), 'wasm');
  assert.equal(autoEngine(8), 'wasm');
});
