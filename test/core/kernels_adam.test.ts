/** The clipped-Adam kernel (wasm/adam, src/kernels/adam.ts) of the sharded update: bit-identical to adamUpdateRange (itself bit-identical to Adam.apply, train_optim.test.ts) on a shared memory, ranges at any offset and length. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adamKernel, sharedArena } from '../../src/kernels/adam.ts';
import { adamStepConstants, adamUpdateRange } from '../../src/core/train/optim.ts';
import { assertCommittedWasm } from '../helpers/wasm_build.ts';

test('adam kernel = adamUpdateRange bit for bit, on ranges of any length and offset of a shared memory', async () => {
  const n = 1037;
  const base = 65536;
  const mem = sharedArena(base + 4 * n);
  assert.ok(mem, 'shared WebAssembly memories are supported in Node');
  assert.ok(mem.buffer instanceof SharedArrayBuffer);
  const k = await adamKernel(mem);
  assert.ok(k, 'the kernel instantiates on a shared memory');
  const f = new Float32Array(mem.buffer);
  const o = { p: base, g: base + n, m: base + 2 * n, v: base + 3 * n };
  for (let i = 0; i < n; i++) {
    f[o.p + i] = Math.sin(i);
    f[o.g + i] = Math.cos(i * 3) * (i % 7 === 0 ? 1e-6 : 2);
    f[o.m + i] = Math.sin(i * 7) * 0.01;
    f[o.v + i] = Math.abs(Math.sin(i * 5)) * 0.01;
  }
  const js = { p: f.slice(o.p, o.p + n), g: f.slice(o.g, o.g + n), m: f.slice(o.m, o.m + n), v: f.slice(o.v, o.v + n) };
  for (let step = 1; step <= 3; step++) {
    const c = adamStepConstants(step, 1e-3 * step);
    const coef = step === 2 ? 1 : 0.37;
    // Ranges of 0, 1, 3, 4 and many elements, at odd offsets.
    for (const [a, b] of [[0, 0], [0, 1], [1, 4], [4, 8], [8, 517], [517, n]] as const) k(o, a, b, coef, c);
    adamUpdateRange(js.p, js.g, js.m, js.v, 0, n, coef, c);
    for (const key of ['p', 'm', 'v'] as const) assert.deepEqual(f.slice(o[key], o[key] + n), js[key], `${key} after step ${step}`);
  }
});

test('the committed wasm module is what wasm/adam/build.sh makes of adam.c (where the same clang is installed)', (t) => assertCommittedWasm(t, 'adam', 'adam'));
