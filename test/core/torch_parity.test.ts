// Numerical parity with PyTorch 1.13's torch.nn.Transformer(batch_first=True, dropout=0), on the fixtures
// written by scripts/fixtures/torch_transformer.py: outputs at non-padded target positions within 1e-4, and
// for the gradient fixture every parameter's gradient of sum(out * loss_weight) within 1e-3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tf, initBackend } from '../../src/backend.ts';
import { Rng } from '../../src/random.ts';
import { parseSafetensors, toFloat32, type SafeTensor } from '../../src/io/safetensors.ts';
import type { HostTensor } from '../../src/core/module.ts';
import { fromTorchBoolMask } from '../../src/core/masks.ts';
import { Transformer } from '../../src/core/transformer.ts';
import { isParityDataKey, transformerConfigFromTorch } from '../../src/core/torch_interop.ts';
import { assertClose, maxAbsDiff } from '../helpers/close.ts';

const DIR = fileURLToPath(new URL('../fixtures/transformer/', import.meta.url));
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.safetensors')).sort();
const MASK_OPTION = { src_key_padding_mask: 'srcPadding', tgt_key_padding_mask: 'tgtPadding', memory_key_padding_mask: 'memoryPadding', tgt_mask: 'tgtMask' } as const;

function tensorOf(t: SafeTensor | undefined, what: string): tf.Tensor {
  assert.ok(t, `fixture holds ${what}`);
  return t.dtype === 'F32' ? tf.tensor(toFloat32(t), t.shape) : tf.tensor(Int32Array.from(toFloat32(t)), t.shape, 'int32');
}

/** Values of a [B,T,...] array at the target positions where PyTorch's padding mask is 0 (real). */
function realRows(data: ArrayLike<number>, tgtPad: Uint8Array, rowSize: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < tgtPad.length; r++) if (tgtPad[r] === 0) for (let k = 0; k < rowSize; k++) out.push(data[r * rowSize + k] as number);
  return out;
}

test('the PyTorch fixtures are present', () => {
  assert.ok(FILES.length >= 4, `expected at least 4 fixtures in ${DIR}, found ${FILES.join(', ')}`);
  assert.ok(FILES.some((f) => f.startsWith('grads')), 'a gradient fixture exists');
});

for (const backend of ['wasm', 'cpu'] as const) {
  for (const file of FILES) {
    test(`${backend}: ${file} matches PyTorch`, async (t) => {
      await initBackend(backend);
      const n0 = tf.memory().numTensors;
      const { tensors, metadata } = parseSafetensors(new Uint8Array(readFileSync(DIR + file)));
      const cfg = transformerConfigFromTorch(metadata.config ?? 'null');
      const model = new Transformer(cfg, new Rng(0));
      const sd = new Map<string, HostTensor>();
      for (const [k, t] of tensors) if (!isParityDataKey(k)) sd.set(k, { shape: t.shape, data: toFloat32(t) });
      model.loadStateDict(sd); // strict: every parameter present, no unknown key
      assert.equal(sd.size, model.parameters().length);

      const src = tensorOf(tensors.get('src'), 'src');
      const tgt = tensorOf(tensors.get('tgt'), 'tgt');
      const opts: Record<string, tf.Tensor> = {};
      for (const [name, option] of Object.entries(MASK_OPTION)) {
        const raw = tensorOf(tensors.get(name), name);
        opts[option] = fromTorchBoolMask(raw); // PyTorch's 1 = blocked -> our true = may attend
        raw.dispose();
      }
      const tgtPadT = tensors.get('tgt_key_padding_mask') as SafeTensor;
      const tgtPad = Uint8Array.from(toFloat32(tgtPadT));
      const out = tensors.get('out') as SafeTensor;
      const d = cfg.dModel;

      const y = model.forward(src, tgt, opts);
      assert.deepEqual(y.shape, out.shape);
      const err = maxAbsDiff(realRows(y.dataSync(), tgtPad, d), realRows(toFloat32(out), tgtPad, d));
      t.diagnostic(`${backend} ${file}: out max_abs_err=${err.toExponential(2)}`);
      assert.ok(err <= 1e-4, `max abs error at real target positions ${err} > 1e-4`);
      y.dispose();

      const lossWeight = tensors.get('loss_weight');
      if (lossWeight) {
        const w = tensorOf(lossWeight, 'loss_weight');
        const params = model.namedParameters();
        let gradErr = 0;
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.forward(src, tgt, opts), w)) as tf.Scalar, params.map(([, v]) => v));
        for (const [name, v] of params) {
          const ref = tensors.get(`grad.${name}`);
          assert.ok(ref, `fixture holds grad.${name}`);
          // Matrices (Linear weights, in_proj_weight) are stored [in, out] here, [out, in] in PyTorch.
          const g = v.rank === 2 ? tf.transpose(grads[v.name] as tf.Tensor) : (grads[v.name] as tf.Tensor);
          assert.deepEqual(g.shape, ref.shape, `grad.${name} shape`);
          assertClose(g.dataSync(), toFloat32(ref), 1e-3, `grad.${name}`);
          gradErr = Math.max(gradErr, maxAbsDiff(g.dataSync(), toFloat32(ref)));
          if (g !== grads[v.name]) g.dispose();
        }
        t.diagnostic(`${backend} ${file}: ${params.length} gradients max_abs_err=${gradErr.toExponential(2)}`);
        tf.dispose([value, w, ...Object.values(grads)]);
      }
      tf.dispose([src, tgt, ...Object.values(opts)]);
      model.dispose();
      assert.equal(tf.memory().numTensors, n0, 'no tensor leaks');
    });
  }
}
