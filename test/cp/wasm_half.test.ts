/**
 * The `wasm` engine's half-precision weights (src/cp/wasm/pack.ts `packHalfMatrix`, step.c `matvec_h`): the exact
 * float32 -> half conversion over every finite half, the packed layout, and the engine on a model whose weights are
 * all halves: asked for halves (float32 is the default), it holds them as halves and its logits equal the float32 kernel's to the bit (also on a step whose
 * inputs are too large to scale by 2^112), alone and in a batch, for both attention kinds; one weight that is not
 * a half keeps the model in float32; `auto` picks float32 for small models and halves for large ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import { FAMILIES, type Family } from '../../src/music/vocab.ts';
import { makeConfig } from '../../src/cp/config.ts';
import { CPTransformer } from '../../src/cp/model.ts';
import { disposeStepWeights, prepareStepWeights } from '../../src/cp/engine.ts';
import { HALF_ABOVE_BYTES, WasmStepper, autoWeightForm, stepMatrixBytes } from '../../src/cp/wasm/wasm_engine.ts';
import { halfBitsOf, halfSlot, packHalfMatrix, packMatrix, pad16 } from '../../src/cp/wasm/pack.ts';
import { instantiateStep } from '../../src/cp/wasm/loader.ts';
import { float16ToFloat32, float32ToFloat16 } from '../../src/io/safetensors.ts';

const bitsOf = (x: number): number => new Uint32Array(Float32Array.of(x).buffer)[0] as number;

test('halfBitsOf: every finite half comes back from its float32; values between halves or out of range give -1', () => {
  for (let h = 0; h < 0x10000; h++) {
    if (((h >> 10) & 0x1f) === 0x1f) continue; // infinities and NaNs: never weights
    const x = float16ToFloat32(Uint16Array.of(h))[0] as number;
    assert.equal(halfBitsOf(bitsOf(x)), h, `half 0x${h.toString(16)} (${x})`);
  }
  for (const x of [1 / 3, 1 + 2 ** -11, 2 ** -25, 3 * 2 ** -25, 65536, 65520, -1e-30, 2 ** -130, Infinity, -Infinity, NaN]) {
    assert.equal(halfBitsOf(bitsOf(x)), -1, String(x));
  }
  assert.equal(halfBitsOf(bitsOf(-0)), 0x8000);
  assert.equal(halfBitsOf(bitsOf(65504)), 0x7bff);
  assert.equal(halfBitsOf(bitsOf(2 ** -24)), 1);
});

test('packHalfMatrix: blocks of 16 outputs, rows of 16 halves in halfSlot order, zero padding; null for a weight that is not a half', () => {
  assert.deepEqual([...Array.from({ length: 16 }, (_, o) => halfSlot(o))].sort((a, b) => a - b), Array.from({ length: 16 }, (_, i) => i));
  assert.deepEqual(Array.from({ length: 8 }, (_, o) => halfSlot(o)), [0, 2, 4, 6, 1, 3, 5, 7]);
  const rng = new Rng(3);
  for (const [inF, outF] of [[5, 37], [16, 16], [1, 1], [7, 48]] as const) {
    const w = float16ToFloat32(float32ToFloat16(Float32Array.from({ length: inF * outF }, () => rng.next() - 0.5)));
    const p = packHalfMatrix(w, inF, outF);
    assert.ok(p);
    assert.equal(p.length, pad16(outF) * inF);
    for (let k = 0; k < inF; k++) {
      for (let o = 0; o < pad16(outF); o++) {
        const got = p[(Math.floor(o / 16) * inF + k) * 16 + halfSlot(o % 16)] as number;
        assert.equal(got, o < outF ? halfBitsOf(bitsOf(w[k * outF + o] as number)) : 0, `(${k}, ${o}) of ${inF} x ${outF}`);
      }
    }
    w[w.length - 1] = 1 / 3;
    assert.equal(packHalfMatrix(w, inF, outF), null);
  }
  assert.throws(() => packHalfMatrix(new Float32Array(5), 2, 3), RangeError);
});

test('the kernel packs as pack.ts does (halves and float32) and stops at a value that is not a half', () => {
  const k = instantiateStep();
  k.memory.grow(8);
  const base = Math.ceil(k.heapBase / 16) * 16;
  const rng = new Rng(5);
  // Halves of every kind: normals of both signs, subnormals, zeros, the largest.
  const special = [0, -0, 2 ** -24, -(2 ** -24), 3 * 2 ** -20, 2 ** -14, 65504, -65504, 1, -1];
  for (const [inF, outF] of [[5, 37], [16, 16], [3, 1], [7, 48], [33, 20]] as const) {
    const n = inF * outF;
    const w = float16ToFloat32(float32ToFloat16(Float32Array.from({ length: n }, (_, i) => (i % 7 === 3 ? special[i % special.length] as number : (rng.next() - 0.5) * 4))));
    const src = base;
    const dst = src + 4 * n + 64;
    const f32 = () => new Float32Array(k.memory.buffer);
    f32().set(w, src / 4);
    const m = pad16(outF) * inF;
    new Uint8Array(k.memory.buffer, dst, 4 * m).fill(0xee); // the kernel must write every slot, padding included
    assert.equal(k.packHalf(src, inF, outF, dst), 1, `${inF} x ${outF}`);
    assert.deepEqual(new Uint16Array(k.memory.buffer, dst, m), packHalfMatrix(w, inF, outF), `halves of ${inF} x ${outF}`);
    new Uint8Array(k.memory.buffer, dst, 4 * m).fill(0xee);
    k.packF32(src, inF, outF, dst);
    assert.deepEqual(new Float32Array(k.memory.buffer, dst, m), packMatrix(w, inF, outF), `float32 of ${inF} x ${outF}`);
    for (const at of [0, n - 1, Math.floor(n / 2)]) {
      for (const bad of [1 / 3, 2 ** -25, 70000]) {
        const v = Float32Array.from(w);
        v[at] = bad;
        f32().set(v, src / 4);
        assert.equal(k.packHalf(src, inF, outF, dst), 0, `${bad} at ${at} of ${n}`);
        assert.equal(packHalfMatrix(v, inF, outF), null);
      }
    }
  }
});

const CLASSES: Record<Family, number> = { tempo: 7, chord: 9, barbeat: 5, type: 4, pitch: 11, duration: 6, velocity: 5, emotion: 5 };

/** A model with odd widths whose every parameter is rounded to a half. */
function halfModel(attention: 'linear' | 'softmax', seed: number): CPTransformer {
  const embSizes: Record<Family, number> = { tempo: 3, chord: 5, barbeat: 2, type: 3, pitch: 7, duration: 1, velocity: 4, emotion: 2 };
  const cfg = makeConfig('tiny', CLASSES, { attention, dModel: 36, nHeads: 3, dFF: 20, nLayers: 2, embSizes, chunkSize: 5 });
  const model = new CPTransformer(cfg, new Rng(seed));
  for (const v of model.parameters()) {
    const r = tf.tensor(float16ToFloat32(float32ToFloat16(v.dataSync() as Float32Array)), v.shape);
    v.assign(r);
    r.dispose();
  }
  return model;
}

for (const attention of ['linear', 'softmax'] as const) {
  test(`${attention}: a model of halves is held as halves, and its logits equal the float32 kernel's to the bit (batch 1 and 3, huge inputs too)`, async () => {
    await initBackend('wasm');
    const model = halfModel(attention, 7);
    const w = prepareStepWeights(model);
    const E = w.inLinear.w.shape[0];
    const eType = model.config.embSizes.type;
    const rng = new Rng(11);
    for (const B of [1, 3]) {
      const f32 = new WasmStepper(w, B, { weights: 'f32' });
      const half = new WasmStepper(w, B, { weights: 'half' });
      const dflt = new WasmStepper(w, B);
      assert.equal(dflt.half, false, 'auto: float32 for a model this small');
      dflt.dispose();
      assert.equal(f32.half, false);
      assert.equal(half.half, true);
      for (let t = 0; t < 70; t++) {
        // Steps 5 and 6: inputs beyond 2^16, which the kernel cannot scale by 2^112 (it scales the weights then).
        const scale = t === 5 || t === 6 ? 3e5 : 2;
        const emb = Float32Array.from({ length: B * E }, () => (rng.next() - 0.5) * scale); // (B, E)
        const te = Float32Array.from({ length: B * eType }, () => rng.next() - 0.5); // (B, e_type)
        f32.feed(emb, t);
        half.feed(emb, t);
        const want = f32.typeLogits();
        assert.ok(want.every(Number.isFinite));
        assert.deepEqual(half.typeLogits(), want, `type logits at ${t}, batch ${B}`);
        assert.deepEqual(half.restLogits(te), f32.restLogits(te), `other logits at ${t}, batch ${B}`);
      }
      f32.dispose();
      half.dispose();
    }
    disposeStepWeights(w);
    model.dispose();
  });
}

test('one weight that is not a half keeps every matrix in float32', async () => {
  await initBackend('wasm');
  const model = halfModel('linear', 3);
  const v = model.proj.type.weight as tf.Variable;
  const a = Float32Array.from(v.dataSync() as Float32Array);
  a[0] = 1 / 3;
  const r = tf.tensor(a, v.shape);
  v.assign(r);
  r.dispose();
  const w = prepareStepWeights(model);
  const s = new WasmStepper(w, 1, { weights: 'half' });
  assert.equal(s.half, false);
  s.dispose();
  disposeStepWeights(w);
  model.dispose();
});

test('auto holds float32 up to 24 MiB of float32 matrices (the small preset, the shipped size) and halves above (the emopia preset)', () => {
  const classes = Object.fromEntries(FAMILIES.map((f) => [f, 50])) as Record<Family, number>;
  const small = makeConfig('small', classes);
  const emopia = makeConfig('emopia', classes);
  assert.ok(stepMatrixBytes(small) > 12e6 && stepMatrixBytes(small) < HALF_ABOVE_BYTES, String(stepMatrixBytes(small)));
  assert.ok(stepMatrixBytes(emopia) > 100e6, String(stepMatrixBytes(emopia)));
  assert.equal(autoWeightForm(small), 'f32');
  assert.equal(autoWeightForm(emopia), 'half');
  // The count matches the matrices the engine packs.
  const model = halfModel('linear', 2);
  const w = prepareStepWeights(model);
  const packed = [w.inLinear, w.typeHead, w.concatType, w.rest, ...w.layers.flatMap((L) => [L.qkv, L.out, L.ff1, L.ff2])];
  assert.equal(stepMatrixBytes(model.config), 4 * packed.reduce((n, p) => n + p.w.size, 0));
  disposeStepWeights(w);
  model.dispose();
});
