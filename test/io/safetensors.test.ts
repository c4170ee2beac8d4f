// Safetensors at byte level (hand-built files, serialised layout), round trips of every dtype, f16/bf16
// rounding, state dicts, corrupt files and the Node file helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseSafetensors,
  serializeSafetensors,
  float32ToFloat16,
  float16ToFloat32,
  float32ToBfloat16,
  bfloat16ToFloat32,
  toFloat32,
  stateDictFromSafetensors,
  safetensorsFromStateDict,
  type SafeTensor,
} from '../../src/io/safetensors.ts';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/platform/safetensors_file.ts';
import { InputError } from '../../src/errors.ts';

/** Builds a file by hand: length prefix, the header text as given (no padding added), then the data bytes. */
function handBuilt(header: string, data: number[] | Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function throwsInput(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.match(err.message, re);
    assert.ok(!err.message.includes('\n'), 'message is one line');
    return true;
  });
}

test('hand-built file: F32, I64 and BOOL tensors at byte level, with metadata', () => {
  const header = '{"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[2],"data_offsets":[8,24]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"m":{"dtype":"BOOL","shape":[1,3],"data_offsets":[24,27]}}';
  const data = [
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, // F32 1.0, -2.0
    0x05, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // I64 5, -1
    1, 0, 1, // BOOL
  ];
  const p = parseSafetensors(handBuilt(header, data));
  assert.deepEqual(p.metadata, { format: 'pt' });
  assert.deepEqual([...p.tensors.keys()].sort(), ['a', 'b', 'm']);
  const a = p.tensors.get('a')!;
  assert.equal(a.dtype, 'F32');
  assert.deepEqual(a.shape, [2]);
  assert.deepEqual([...(a.data as Float32Array)], [1, -2]);
  assert.deepEqual([...(p.tensors.get('b')!.data as BigInt64Array)], [5n, -1n]);
  const m = p.tensors.get('m')!;
  assert.deepEqual(m.shape, [1, 3]);
  assert.deepEqual([...m.data as Uint8Array], [1, 0, 1]);
  assert.deepEqual([...toFloat32(p.tensors.get('b')!)], [5, -1]);
});

test('serialized bytes follow the format: u64 length, space padding to 8, widest dtype first', () => {
  const bytes = serializeSafetensors({ x: { dtype: 'U8', shape: [3], data: new Uint8Array([7, 8, 9]) }, y: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } }, { k: 'v' });
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const n = view.getUint32(0, true);
  assert.equal(view.getUint32(4, true), 0);
  assert.equal(n % 8, 0, 'header length is a multiple of 8');
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.match(text, /^\{.*\} *$/);
  const h = JSON.parse(text);
  assert.deepEqual(h.__metadata__, { k: 'v' });
  assert.deepEqual(h.y, { dtype: 'F32', shape: [1], data_offsets: [0, 4] });
  assert.deepEqual(h.x, { dtype: 'U8', shape: [3], data_offsets: [4, 7] });
  assert.deepEqual([...bytes.subarray(8 + n)], [0x00, 0x00, 0x80, 0x3f, 7, 8, 9]);
  assert.equal(bytes.length, 8 + n + 7);
});

test('round trip of every dtype, including empty and scalar shapes', () => {
  const tensors: Record<string, SafeTensor> = {
    f64: { dtype: 'F64', shape: [2, 2], data: new Float64Array([1.5, -1e300, Math.PI, 0]) },
    f32: { dtype: 'F32', shape: [3], data: new Float32Array([0.1, -0, 3.4e38]) },
    f16: { dtype: 'F16', shape: [2], data: float32ToFloat16([0.5, -65504]) },
    bf16: { dtype: 'BF16', shape: [2], data: float32ToBfloat16([1, -3]) },
    i64: { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 62n), 123n]) },
    u64: { dtype: 'U64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
    i32: { dtype: 'I32', shape: [1, 2], data: new Int32Array([-2147483648, 2147483647]) },
    u32: { dtype: 'U32', shape: [1], data: new Uint32Array([4294967295]) },
    i16: { dtype: 'I16', shape: [2], data: new Int16Array([-32768, 32767]) },
    u16: { dtype: 'U16', shape: [1], data: new Uint16Array([65535]) },
    i8: { dtype: 'I8', shape: [3], data: new Int8Array([-128, 0, 127]) },
    u8: { dtype: 'U8', shape: [2], data: new Uint8Array([0, 255]) },
    bool: { dtype: 'BOOL', shape: [2, 1], data: new Uint8Array([1, 0]) },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    scalar: { dtype: 'I32', shape: [], data: new Int32Array([42]) },
  };
  const back = parseSafetensors(serializeSafetensors(tensors, { note: 'ünïcode ✓' }));
  assert.deepEqual(back.metadata, { note: 'ünïcode ✓' });
  assert.equal(back.tensors.size, Object.keys(tensors).length);
  for (const [name, t] of Object.entries(tensors)) {
    const b = back.tensors.get(name)!;
    assert.equal(b.dtype, t.dtype, name);
    assert.deepEqual(b.shape, t.shape, name);
    assert.equal(b.data.constructor, t.data.constructor, name);
    assert.deepEqual([...(b.data as ArrayLike<unknown> as unknown[])], [...(t.data as ArrayLike<unknown> as unknown[])], name);
  }
  assert.deepEqual([...toFloat32(back.tensors.get('bf16')!)], [1, -3]);
  assert.deepEqual([...toFloat32(back.tensors.get('f16')!)], [0.5, -65504]);
  assert.deepEqual([...toFloat32(back.tensors.get('i8')!)], [-128, 0, 127]);
});

test('parsing reads tensors from an unaligned view of a larger buffer', () => {
  const bytes = serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([3, 4]) } });
  const big = new Uint8Array(bytes.length + 3);
  big.set(bytes, 3);
  const p = parseSafetensors(big.subarray(3));
  assert.deepEqual([...(p.tensors.get('w')!.data as Float32Array)], [3, 4]);
});

test('float16: known values (round to nearest even, subnormals, inf, nan)', () => {
  const cases: Array<[number, number, number]> = [
    // input, half bits, value back
    [1, 0x3c00, 1],
    [-2, 0xc000, -2],
    [65504, 0x7bff, 65504],
    [6.1e-5, 0x03ff, 6.097555160522461e-5], // just below the smallest normal: largest subnormal
    [5.96e-8, 0x0001, 5.960464477539063e-8], // smallest subnormal
    [2.98e-8, 0x0000, 0], // below half of it
    [Infinity, 0x7c00, Infinity],
    [-Infinity, 0xfc00, -Infinity],
    [0.1, 0x2e66, 0.0999755859375],
    [65520, 0x7c00, Infinity], // halfway to 2^16 rounds up (to even) -> overflow
    [65519, 0x7bff, 65504],
    [-0, 0x8000, -0],
    [1 + 2 ** -11, 0x3c00, 1], // tie: to even (down)
    [1 + 3 * 2 ** -11, 0x3c02, 1 + 2 ** -9], // tie: to even (up)
  ];
  const bits = float32ToFloat16(cases.map((c) => c[0]));
  const back = float16ToFloat32(bits);
  cases.forEach(([x, h, v], i) => {
    assert.equal(bits[i], h, `f16 bits of ${x}`);
    assert.ok(Object.is(back[i], v), `f16 value of ${x}: ${back[i]} vs ${v}`);
  });
  const nan = float32ToFloat16([NaN]);
  assert.equal((nan[0]! & 0x7c00), 0x7c00);
  assert.notEqual(nan[0]! & 0x03ff, 0);
  assert.ok(Number.isNaN(float16ToFloat32(nan)[0]));
});

test('float16: every finite half survives a round trip, and midpoints round to the even neighbour', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const vals = float16ToFloat32(all);
  const again = float32ToFloat16(vals);
  for (let i = 0; i < 65536; i++) {
    if (((i >> 10) & 0x1f) === 0x1f && (i & 0x3ff)) continue; // NaNs
    assert.equal(again[i], i, `bits ${i.toString(16)}`);
  }
  // Midpoints between consecutive positive finite halves (exactly representable in float32).
  const mids: number[] = [];
  for (let i = 0; i < 0x7bff; i++) mids.push(((vals[i] as number) + (vals[i + 1] as number)) / 2);
  const r = float32ToFloat16(mids);
  for (let i = 0; i < 0x7bff; i++) assert.equal(r[i], i % 2 === 0 ? i : i + 1, `midpoint above ${i.toString(16)}`);
});

test('bfloat16: rounding to nearest even and back', () => {
  const b = float32ToBfloat16([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -Infinity, NaN]);
  assert.deepEqual([...b.slice(0, 4)], [0x3f80, 0x3f80, 0x3f82, 0xff80]);
  const f = bfloat16ToFloat32(b);
  assert.deepEqual([...f.slice(0, 4)], [1, 1, 1 + 2 ** -6, -Infinity]);
  assert.ok(Number.isNaN(f[4]));
});

test('state dicts: F32 exact and F16 within half precision; filter picks names', () => {
  const sd = new Map([
    ['layer.weight', { shape: [2, 3], data: new Float32Array([0.1, 0.2, -0.3, 1, 2, 3]) }],
    ['layer.bias', { shape: [2], data: new Float32Array([-1.25, 7]) }],
  ]);
  const p32 = parseSafetensors(safetensorsFromStateDict(sd, { metadata: { step: '3' } }));
  assert.deepEqual(p32.metadata, { step: '3' });
  const back = stateDictFromSafetensors(p32);
  for (const [k, t] of sd) {
    assert.deepEqual(back.get(k)!.shape, t.shape);
    assert.deepEqual([...back.get(k)!.data], [...t.data]);
  }
  const p16 = parseSafetensors(safetensorsFromStateDict(sd, { dtype: 'F16' }));
  assert.equal(p16.tensors.get('layer.weight')!.dtype, 'F16');
  const w = stateDictFromSafetensors(p16, (n) => n.endsWith('weight'));
  assert.deepEqual([...w.keys()], ['layer.weight']);
  const d = w.get('layer.weight')!.data;
  sd.get('layer.weight')!.data.forEach((v, i) => assert.ok(Math.abs(d[i]! - v) <= Math.abs(v) * 2 ** -11, `${d[i]} vs ${v}`));
});

test('corrupt files: one clear InputError each', () => {
  const good = (h: string, n: number) => handBuilt(h, new Array(n).fill(0));
  const f32 = (offs: string, shape = '[2]') => `{"a":{"dtype":"F32","shape":${shape},"data_offsets":${offs}}}`;
  throwsInput(() => parseSafetensors(new Uint8Array([1, 2, 3])), /truncated.*3 bytes/);
  const long = new Uint8Array(16);
  new DataView(long.buffer).setUint32(0, 100, true);
  throwsInput(() => parseSafetensors(long), /header length 100 exceeds the 8 bytes/);
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setUint32(4, 1, true);
  throwsInput(() => parseSafetensors(huge), /header length 4294967296 exceeds/);
  throwsInput(() => parseSafetensors(handBuilt('{"a":', [])), /not valid JSON/);
  throwsInput(() => parseSafetensors(handBuilt('[1,2]   ', [])), /header must start with '\{', got byte 0x5b/);
  throwsInput(() => parseSafetensors(handBuilt(' {}', [])), /header must start with '\{', got byte 0x20/);
  throwsInput(() => parseSafetensors(handBuilt('{}[]', [])), /not valid JSON/);
  const badUtf8 = handBuilt('{"a":1}', []);
  badUtf8[10] = 0xff;
  throwsInput(() => parseSafetensors(badUtf8), /UTF-8/);
  throwsInput(() => parseSafetensors(good('{"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}', 1)), /tensor 'a': unknown dtype "F8"/);
  throwsInput(() => parseSafetensors(good(f32('[0,8]', '[2.5]'), 8)), /tensor 'a': shape must be/);
  throwsInput(() => parseSafetensors(good(f32('[0,8]', '[-2]'), 8)), /tensor 'a': shape must be/);
  throwsInput(() => parseSafetensors(good(f32('[0]'), 8)), /data_offsets must be/);
  throwsInput(() => parseSafetensors(good(f32('[0,16]'), 8)), /\[0,16\] are out of range of the 8-byte/);
  throwsInput(() => parseSafetensors(good(f32('[8,0]'), 8)), /out of range/);
  throwsInput(() => parseSafetensors(good(f32('[0,8]', '[3]'), 8)), /F32 \[3\] needs 12 bytes, but data_offsets \[0,8\] hold 8/);
  throwsInput(
    () => parseSafetensors(good('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12)),
    /'a' and 'b' overlap/,
  );
  throwsInput(() => parseSafetensors(good('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8)), /bytes 0\.\.4 .* belong to no tensor/);
  throwsInput(() => parseSafetensors(good(f32('[0,8]'), 12)), /12 bytes but the tensors cover 8/);
  throwsInput(() => parseSafetensors(good('{"__metadata__":{"n":1}}', 0)), /__metadata__ 'n' must be a string/);
  throwsInput(() => parseSafetensors(good('{"__metadata__":[]}', 0)), /__metadata__ must be an object/);
  throwsInput(() => parseSafetensors(good('{"a":[1]}', 0)), /tensor 'a': expected an object/);
  throwsInput(() => parseSafetensors(handBuilt('{"m":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}', [2])), /BOOL element 0 is 2/);
  // A truncated copy of a valid file.
  const full = serializeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
  throwsInput(() => parseSafetensors(full.subarray(0, full.length - 2)), /out of range/);
});

test('serializing bad tensors: one clear InputError each', () => {
  throwsInput(() => serializeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), /'a': shape \[3\] has 3 elements, data has 2/);
  throwsInput(() => serializeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }), /'a': F32 data must be held in a Float32Array, got Float64Array/);
  throwsInput(() => serializeSafetensors({ a: { dtype: 'X' as 'F32', shape: [1], data: new Float32Array(1) } }), /unknown dtype/);
  throwsInput(() => serializeSafetensors({ a: { dtype: 'BOOL', shape: [1], data: new Uint8Array([3]) } }), /BOOL data must hold only 0 and 1/);
  throwsInput(() => serializeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }), /reserved/);
});

test('files: write atomically, read back, one-line errors for missing, directory and garbage files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  try {
    const path = join(dir, 'sub', 'w.safetensors');
    writeSafetensorsFile(path, { w: { dtype: 'I32', shape: [2], data: new Int32Array([1, -1]) } }, { a: 'b' });
    const p = readSafetensorsFile(path);
    assert.deepEqual([...(p.tensors.get('w')!.data as Int32Array)], [1, -1]);
    assert.deepEqual(p.metadata, { a: 'b' });
    throwsInput(() => readSafetensorsFile(join(dir, 'nope.safetensors')), /nope\.safetensors: no such file/);
    throwsInput(() => readSafetensorsFile(dir), /is a directory/);
    const junk = join(dir, 'junk.txt');
    writeFileSync(junk, 'hello, this is not a safetensors file');
    throwsInput(() => readSafetensorsFile(junk), /junk\.txt: safetensors: header length \d+ exceeds/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
