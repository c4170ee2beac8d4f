/**
 * Safetensors: read and write the format of huggingface/safetensors, byte for byte, with no file system
 * (browser-safe; Node's file helpers are in src/platform/safetensors_file.ts).
 *
 * Layout of a file:
 *   8 bytes   N, the header's length, unsigned 64-bit little-endian
 *   N bytes   a UTF-8 JSON object {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}},
 *             padded with spaces so that the data starts at a multiple of 8
 *   the rest  the byte buffer; each tensor's offsets are relative to its start, little-endian, row-major.
 * Tensors may appear in any order, but must not overlap and together must cover the buffer exactly.
 *
 * Element data is kept in a typed array of the dtype's width: F16 and BF16 as their raw bits (Uint16Array),
 * I64/U64 as BigInt64Array/BigUint64Array, BOOL as a Uint8Array of 0/1. `toFloat32` converts any of them.
 */
import { InputError, fmtShape } from '../errors.ts';

export const SAFE_DTYPES = ['F64', 'F32', 'F16', 'BF16', 'I64', 'U64', 'I32', 'U32', 'I16', 'U16', 'I8', 'U8', 'BOOL'] as const;
export type SafeDType = (typeof SAFE_DTYPES)[number];

export type SafeData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: SafeData;
}

export interface ParsedSafetensors {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** Bytes per element, and the typed array that holds each dtype. */
const DTYPE_INFO: Record<SafeDType, { bytes: number; make: (buf: ArrayBuffer, n: number) => SafeData; is: (d: SafeData) => boolean }> = {
  F64: { bytes: 8, make: (b, n) => new Float64Array(b, 0, n), is: (d) => d instanceof Float64Array },
  F32: { bytes: 4, make: (b, n) => new Float32Array(b, 0, n), is: (d) => d instanceof Float32Array },
  F16: { bytes: 2, make: (b, n) => new Uint16Array(b, 0, n), is: (d) => d instanceof Uint16Array },
  BF16: { bytes: 2, make: (b, n) => new Uint16Array(b, 0, n), is: (d) => d instanceof Uint16Array },
  I64: { bytes: 8, make: (b, n) => new BigInt64Array(b, 0, n), is: (d) => d instanceof BigInt64Array },
  U64: { bytes: 8, make: (b, n) => new BigUint64Array(b, 0, n), is: (d) => d instanceof BigUint64Array },
  I32: { bytes: 4, make: (b, n) => new Int32Array(b, 0, n), is: (d) => d instanceof Int32Array },
  U32: { bytes: 4, make: (b, n) => new Uint32Array(b, 0, n), is: (d) => d instanceof Uint32Array },
  I16: { bytes: 2, make: (b, n) => new Int16Array(b, 0, n), is: (d) => d instanceof Int16Array },
  U16: { bytes: 2, make: (b, n) => new Uint16Array(b, 0, n), is: (d) => d instanceof Uint16Array },
  I8: { bytes: 1, make: (b, n) => new Int8Array(b, 0, n), is: (d) => d instanceof Int8Array },
  U8: { bytes: 1, make: (b, n) => new Uint8Array(b, 0, n), is: (d) => d instanceof Uint8Array },
  BOOL: { bytes: 1, make: (b, n) => new Uint8Array(b, 0, n), is: (d) => d instanceof Uint8Array },
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const WHAT = 'safetensors';
/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER = 100_000_000;

function isDType(s: unknown): s is SafeDType {
  return typeof s === 'string' && (SAFE_DTYPES as readonly string[]).includes(s);
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Reverses each `width`-byte group in place (for big-endian hosts only). */
function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/** Parses a whole safetensors file. Every inconsistency is an InputError with one line saying what is wrong. */
export function parseSafetensors(bytes: Uint8Array): ParsedSafetensors {
  if (!(bytes instanceof Uint8Array)) throw new InputError(WHAT, 'expected the file as a Uint8Array');
  if (bytes.length < 8) throw new InputError(WHAT, `file is truncated: ${bytes.length} bytes, the 8-byte header length is missing`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const n = hi * 4294967296 + lo;
  if (n > bytes.length - 8) throw new InputError(WHAT, `header length ${n} exceeds the ${bytes.length - 8} bytes after the length field (truncated or not a safetensors file)`);
  if (n > MAX_HEADER) throw new InputError(WHAT, `header length ${n} exceeds the limit of ${MAX_HEADER} bytes`);
  if (n < 2) throw new InputError(WHAT, `header length ${n} is too short for a JSON object`);

  if (bytes[8] !== 0x7b) throw new InputError(WHAT, `header must start with '{', got byte 0x${(bytes[8] as number).toString(16).padStart(2, '0')} (not a safetensors file)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new InputError(WHAT, 'header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    throw new InputError(WHAT, `header is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new InputError(WHAT, 'header must be a JSON object');
  }

  const data = bytes.subarray(8 + n); // the byte buffer
  const metadata: Record<string, string> = {};
  const entries: Array<{ name: string; dtype: SafeDType; shape: number[]; begin: number; end: number }> = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(WHAT, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new InputError(WHAT, `__metadata__ '${k}' must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const what = `safetensors tensor '${name}'`;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(what, 'expected an object {dtype, shape, data_offsets}');
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (!isDType(dtype)) throw new InputError(what, `unknown dtype ${JSON.stringify(dtype)} (expected one of ${SAFE_DTYPES.join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new InputError(what, `shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      throw new InputError(what, `data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > data.length) {
      throw new InputError(what, `data_offsets [${begin},${end}] are out of range of the ${data.length}-byte data buffer`);
    }
    const want = numel(shape as number[]) * DTYPE_INFO[dtype].bytes;
    if (end - begin !== want) {
      throw new InputError(what, `${dtype} ${fmtShape(shape as number[])} needs ${want} bytes, but data_offsets [${begin},${end}] hold ${end - begin}`);
    }
    entries.push({ name, dtype, shape: (shape as number[]).slice(), begin, end });
  }

  // Tensors must not overlap and must cover the buffer with no hole, as the reference implementation demands.
  const byStart = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = '';
  for (const e of byStart) {
    if (e.begin < pos) throw new InputError(WHAT, `tensors '${prev}' and '${e.name}' overlap (byte ${e.begin} < ${pos})`);
    if (e.begin > pos) throw new InputError(WHAT, `bytes ${pos}..${e.begin} of the data buffer belong to no tensor`);
    pos = e.end;
    prev = e.name;
  }
  if (pos !== data.length) throw new InputError(WHAT, `the data buffer has ${data.length} bytes but the tensors cover ${pos} (trailing bytes or truncated file)`);

  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    const info = DTYPE_INFO[e.dtype];
    const copy = new Uint8Array(e.end - e.begin); // own, aligned buffer (Buffer.slice would share memory)
    copy.set(data.subarray(e.begin, e.end));
    if (!LITTLE_ENDIAN) swapBytes(copy, info.bytes);
    const arr = info.make(copy.buffer, numel(e.shape));
    if (e.dtype === 'BOOL') {
      const bad = (arr as Uint8Array).findIndex((v) => v > 1);
      if (bad >= 0) throw new InputError(`safetensors tensor '${e.name}'`, `BOOL element ${bad} is ${(arr as Uint8Array)[bad]}, expected 0 or 1`);
    }
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: arr });
  }
  return { tensors, metadata };
}

/**
 * Writes tensors (and string metadata) as safetensors bytes. Tensors are laid out widest dtype first, then
 * by name, so each one starts at a multiple of its element size.
 */
export function serializeSafetensors(tensors: Map<string, SafeTensor> | Record<string, SafeTensor>, metadata?: Record<string, string>): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of list) {
    const what = `safetensors tensor '${name}'`;
    if (name === '__metadata__') throw new InputError(what, 'the name __metadata__ is reserved');
    if (!isDType(t.dtype)) throw new InputError(what, `unknown dtype ${JSON.stringify(t.dtype)} (expected one of ${SAFE_DTYPES.join(', ')})`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new InputError(what, `shape must be an array of non-negative integers, got ${JSON.stringify(t.shape)}`);
    }
    if (!DTYPE_INFO[t.dtype].is(t.data)) throw new InputError(what, `${t.dtype} data must be held in a ${DTYPE_INFO[t.dtype].make(new ArrayBuffer(0), 0).constructor.name}, got ${t.data?.constructor?.name}`);
    if (t.data.length !== numel(t.shape)) throw new InputError(what, `shape ${fmtShape(t.shape)} has ${numel(t.shape)} elements, data has ${t.data.length}`);
    if (t.dtype === 'BOOL' && (t.data as Uint8Array).some((v) => v > 1)) throw new InputError(what, 'BOOL data must hold only 0 and 1');
  }
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new InputError(WHAT, `__metadata__ '${k}' must be a string, got ${typeof v}`);
    }
  }
  list.sort(([na, a], [nb, b]) => DTYPE_INFO[b.dtype].bytes - DTYPE_INFO[a.dtype].bytes || (na < nb ? -1 : na > nb ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of list) {
    const size = t.data.length * DTYPE_INFO[t.dtype].bytes;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20); // spaces
    p.set(json);
    json = p;
  }

  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length % 4294967296, true);
  view.setUint32(4, Math.floor(json.length / 4294967296), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const [, t] of list) {
    const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(raw, pos);
    if (!LITTLE_ENDIAN) swapBytes(out.subarray(pos, pos + raw.length), DTYPE_INFO[t.dtype].bytes);
    pos += raw.length;
  }
  return out;
}

// ---- Half-precision conversions ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** One float32 to IEEE binary16 bits, rounding to nearest, ties to even; subnormals, inf and NaN kept. */
function toHalfBits(x: number): number {
  f32[0] = x;
  const bits = u32[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // inf, or a quiet NaN
  const e = exp - 127 + 15; // the exponent in half precision
  if (e >= 0x1f) return sign | 0x7c00; // too large: infinity
  if (e >= 1) {
    let h = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h += 1; // a carry may reach the exponent (or inf): correct
    return sign | h;
  }
  // Subnormal half: value = m * 2^-24 with m = full mantissa >> (14 - e).
  const shift = 14 - e;
  if (shift > 24) return sign; // below half the smallest subnormal: zero
  const full = mant | 0x800000;
  let m = full >>> shift;
  const rem = full & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (m & 1))) m += 1; // may become 0x400, the smallest normal: correct
  return sign | m;
}

/** IEEE binary16 bits to a number. */
function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function float32ToFloat16(x: Float32Array | readonly number[]): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = toHalfBits(x[i] as number);
  return out;
}

/** Every half's float32 value, indexed by its bits: built on first use (256 KiB), then one load per value. */
let halfTable: Float32Array | null = null;

export function float16ToFloat32(h: Uint16Array): Float32Array {
  if (halfTable === null) {
    halfTable = new Float32Array(0x10000);
    for (let b = 0; b < 0x10000; b++) halfTable[b] = fromHalfBits(b);
  }
  const table = halfTable;
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = table[h[i] as number] as number;
  return out;
}

/** float32 to bfloat16 bits (the top 16 bits), rounding to nearest, ties to even; NaN stays NaN. */
export function float32ToBfloat16(x: Float32Array | readonly number[]): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    f32[0] = x[i] as number;
    const bits = u32[0] as number;
    if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff) {
      out[i] = (bits >>> 16) | 0x40; // quiet NaN
    } else {
      out[i] = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
    }
  }
  return out;
}

export function bfloat16ToFloat32(h: Uint16Array): Float32Array {
  const bits = new Uint32Array(h.length);
  for (let i = 0; i < h.length; i++) bits[i] = (h[i] as number) << 16;
  return new Float32Array(bits.buffer);
}

/** Any tensor's values as float32 (F32 data is returned as is, not copied). I64/U64 beyond 2^24 lose precision. */
export function toFloat32(t: SafeTensor): Float32Array {
  switch (t.dtype) {
    case 'F32':
      return t.data as Float32Array;
    case 'F16':
      return float16ToFloat32(t.data as Uint16Array);
    case 'BF16':
      return bfloat16ToFloat32(t.data as Uint16Array);
    case 'I64':
    case 'U64': {
      const src = t.data as BigInt64Array | BigUint64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
      return out;
    }
    default:
      return Float32Array.from(t.data as ArrayLike<number>);
  }
}

// ---- State dicts: name -> HostTensor maps, as Module.stateDict() gives (src/core/module.ts) ----

/** A tensor in plain memory, as read from or written to a file: row-major float32 values and their shape. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** The tensors of a parsed file as a float32 state dict, optionally only those whose name passes `filter`. */
export function stateDictFromSafetensors(parsed: ParsedSafetensors, filter?: (name: string, t: SafeTensor) => boolean): Map<string, HostTensor> {
  const sd = new Map<string, HostTensor>();
  for (const [name, t] of parsed.tensors) {
    if (filter && !filter(name, t)) continue;
    sd.set(name, { shape: t.shape.slice(), data: toFloat32(t) });
  }
  return sd;
}

/** A state dict as safetensors bytes, stored as F32 (default) or F16. */
export function safetensorsFromStateDict(
  sd: Map<string, HostTensor>,
  opts: { dtype?: 'F32' | 'F16' | 'BF16'; metadata?: Record<string, string> } = {},
): Uint8Array {
  const dtype = opts.dtype ?? 'F32';
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of sd) {
    const data = dtype === 'F16' ? float32ToFloat16(t.data) : dtype === 'BF16' ? float32ToBfloat16(t.data) : t.data;
    tensors.set(name, { dtype, shape: t.shape.slice(), data });
  }
  return serializeSafetensors(tensors, opts.metadata);
}
