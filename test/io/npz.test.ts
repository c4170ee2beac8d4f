/** src/io/npz.ts: numpy's own np.savez output read exactly; our writer read back; bad arrays refused in one line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../src/errors.ts';
import { parseNpy, parseNpz, serializeNpy, serializeNpz } from '../../src/io/npz.ts';
import { toFloat32, type SafeTensor } from '../../src/io/safetensors.ts';

test('np.savez output (numpy 1.x, stored zip entries): dtypes, shapes and values', () => {
  const a = parseNpz(new Uint8Array(readFileSync(fileURLToPath(new URL('../fixtures/torch/numpy.npz', import.meta.url)))));
  assert.deepEqual([...a.keys()].sort(), ['f32', 'flags', 'mask', 'seq_len', 'x']);
  const x = a.get('x')!;
  assert.equal(x.dtype, 'I64');
  assert.deepEqual(x.shape, [2, 3, 4]);
  assert.deepEqual(Array.from(x.data as BigInt64Array), Array.from({ length: 24 }, (_, i) => BigInt(i - 5)));
  assert.deepEqual([a.get('mask')!.dtype, a.get('mask')!.shape, Array.from(a.get('mask')!.data as Float64Array)], ['F64', [1, 3], [1, 0, 0.5]]);
  assert.deepEqual([a.get('flags')!.dtype, Array.from(a.get('flags')!.data as Uint8Array)], ['BOOL', [1, 0, 1]]);
  assert.deepEqual([a.get('f32')!.shape, Array.from(toFloat32(a.get('f32')!))], [[], [2.5]]);
});

test('our .npz round-trips, and every .npy header ends on a 64-byte boundary as numpy writes it', () => {
  const arrays: Array<[string, SafeTensor]> = [
    ['x', { dtype: 'I64', shape: [2, 2], data: BigInt64Array.from([1n, -2n, 3n, 2n ** 40n]) }],
    ['v', { dtype: 'F64', shape: [3], data: Float64Array.from([0.25, -1, 1e300]) }],
    ['u', { dtype: 'U16', shape: [0, 4], data: new Uint16Array(0) }],
  ];
  const back = parseNpz(serializeNpz(arrays));
  for (const [name, t] of arrays) {
    assert.deepEqual(back.get(name), { dtype: t.dtype, shape: t.shape, data: t.data }, name);
    const npy = serializeNpy(t);
    assert.equal((10 + new DataView(npy.buffer).getUint16(8, true)) % 64, 0);
  }
});

test('refused: Fortran order, object arrays, big-endian, short data, not an npy', () => {
  const make = (header: string, data: Uint8Array) => {
    const h = new TextEncoder().encode(header.padEnd(118) + '\n');
    const out = new Uint8Array(10 + h.length + data.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(out.buffer).setUint16(8, h.length, true);
    out.set(h, 10);
    out.set(data, 10 + h.length);
    return out;
  };
  const cases: Array<[Uint8Array, RegExp]> = [
    [make("{'descr': '<i8', 'fortran_order': True, 'shape': (1,), }", new Uint8Array(8)), /Fortran-order arrays are not supported/],
    [make("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), /dtype '\|O' is not supported/],
    [make("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)), /dtype '>f4' is not supported/],
    [make("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", new Uint8Array(20)), /a <f4 \[2,3\] array needs 24 bytes of data, the file has 20/],
    [new TextEncoder().encode('PK nonsense'), /not a \.npy array/],
  ];
  for (const [bytes, re] of cases) assert.throws(() => parseNpy(bytes, 'a.npy'), (e: Error) => e instanceof InputError && re.test(e.message), re.source);
});
