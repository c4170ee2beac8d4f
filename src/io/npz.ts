/**
 * numpy's `.npy` arrays and `.npz` archives (what `np.savez` writes and `np.load` reads), in memory and
 * browser-safe. An `.npz` is a zip of stored `<name>.npy` entries (src/io/zip.ts); an `.npy` is
 *   "\x93NUMPY", major, minor, header length (u16 in version 1, u32 in 2 and 3), a Python dict literal
 *   {'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and '\n' so the data starts at
 *   a multiple of 64, then the elements in C order.
 * Arrays are SafeTensor values (the dtype names of src/io/safetensors.ts). Only little-endian C-order arrays of
 * the dtypes below are read; anything else (object arrays, Fortran order, big-endian) is a one-line InputError.
 */
import { InputError, fmtShape } from '../errors.ts';
import type { SafeData, SafeDType, SafeTensor } from './safetensors.ts';
import { readZip, writeZip } from './zip.ts';

const DESCR: Readonly<Record<string, SafeDType>> = {
  '<f8': 'F64', '<f4': 'F32', '<f2': 'F16', '<i8': 'I64', '<u8': 'U64', '<i4': 'I32', '<u4': 'U32', '<i2': 'I16',
  '<u2': 'U16', '|i1': 'I8', '|u1': 'U8', '|b1': 'BOOL',
};
const DESCR_OF = Object.fromEntries(Object.entries(DESCR).map(([d, t]) => [t, d])) as Partial<Record<SafeDType, string>>;
const WIDTH: Record<SafeDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1 };
const MAKE: Record<SafeDType, (b: ArrayBuffer) => SafeData> = {
  F64: (b) => new Float64Array(b), F32: (b) => new Float32Array(b), F16: (b) => new Uint16Array(b), BF16: (b) => new Uint16Array(b),
  I64: (b) => new BigInt64Array(b), U64: (b) => new BigUint64Array(b), I32: (b) => new Int32Array(b), U32: (b) => new Uint32Array(b),
  I16: (b) => new Int16Array(b), U16: (b) => new Uint16Array(b), I8: (b) => new Int8Array(b), U8: (b) => new Uint8Array(b), BOOL: (b) => new Uint8Array(b),
};
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** One `.npy` file's bytes -> its array. */
export function parseNpy(bytes: Uint8Array, what = 'npy'): SafeTensor {
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) throw new InputError(what, 'not a .npy array (no \\x93NUMPY magic)');
  const major = bytes[6] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major < 1 || major > 3) throw new InputError(what, `.npy format version ${major}, expected 1 to 3`);
  const headerLen = major === 1 ? view.getUint16(8, true) : bytes.length >= 12 ? view.getUint32(8, true) : Infinity;
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) throw new InputError(what, `header of ${headerLen} bytes runs past the end (truncated)`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new InputError(what, `unreadable header ${JSON.stringify(header.trim().slice(0, 80))}`);
  const dtype = DESCR[descr];
  if (!dtype) throw new InputError(what, `dtype '${descr}' is not supported (expected one of ${Object.keys(DESCR).join(' ')})`);
  if (fortran !== 'False') throw new InputError(what, 'Fortran-order arrays are not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (!shape.every((n) => Number.isSafeInteger(n) && n >= 0)) throw new InputError(what, `bad shape (${shapeText})`);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = bytes.subarray(start + headerLen);
  if (data.length !== n * WIDTH[dtype]) throw new InputError(what, `a ${descr} ${fmtShape(shape)} array needs ${n * WIDTH[dtype]} bytes of data, the file has ${data.length}`);
  return { dtype, shape, data: MAKE[dtype](data.slice().buffer) };
}

/** An array as `.npy` bytes (version 1.0, header padded to 64 bytes). */
export function serializeNpy(t: SafeTensor): Uint8Array {
  const descr = DESCR_OF[t.dtype];
  if (!descr) throw new InputError('npy', `dtype ${t.dtype} has no numpy equivalent here`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new InputError('npy', `shape ${fmtShape(t.shape)} has ${n} elements, data has ${t.data.length}`);
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = new TextEncoder().encode(header);
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(10 + head.length + raw.length);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  out.set(raw, 10 + head.length);
  return out;
}

/** The arrays of an `.npz` by name (without `.npy`). */
export function parseNpz(bytes: Uint8Array, what = 'npz'): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [name, data] of readZip(bytes, what)) {
    if (!name.endsWith('.npy')) throw new InputError(what, `entry '${name}' is not a .npy array`);
    out.set(name.slice(0, -4), parseNpy(data, `${what}: ${name}`));
  }
  return out;
}

/** Arrays as an uncompressed `.npz` (as np.savez writes), in the given order. */
export function serializeNpz(arrays: ReadonlyArray<readonly [string, SafeTensor]>): Uint8Array {
  return writeZip(arrays.map(([name, t]) => [`${name}.npy`, serializeNpy(t)] as const));
}
