/**
 * Zip archives of stored (uncompressed) entries, read and written in memory (browser-safe): the container of
 * `torch.save` since PyTorch 1.6 and of numpy's `.npz`. Compressed, encrypted and zip64-sized entries are refused
 * with a one-line InputError; every offset and length is checked against the bytes there are, and every entry's
 * CRC-32 is verified, so a truncated or altered file fails before its contents are used.
 *
 * Layout read: [local header, name, extra, data]* then the central directory (one record per entry: sizes, CRC,
 * offset of the local header) and the end-of-central-directory record (EOCD). Entries are found through the
 * central directory, since torch writes its local headers with zero sizes (general-purpose flag bit 3).
 */
import { InputError } from '../errors.ts';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const EOCD_SIZE = 22;

let CRC_TABLE: Uint32Array | undefined;

/** CRC-32 (the zip/PNG polynomial 0xEDB88320) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  const t = CRC_TABLE;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = (t[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** True when `bytes` starts as a zip archive does (a local header, or an empty archive's EOCD). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const sig = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  return sig === SIG_LOCAL || sig === SIG_EOCD;
}

/**
 * The entries of a zip archive by name, each a view into `bytes` (no copy). `what` names the file in messages.
 */
export function readZip(bytes: Uint8Array, what = 'zip'): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  // The EOCD is the last record; a comment of up to 65535 bytes may follow it.
  let eocd = -1;
  for (let i = n - EOCD_SIZE; i >= Math.max(0, n - EOCD_SIZE - 65535); i--) {
    if (view.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + view.getUint16(i + 20, true) === n) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new InputError(what, `no end-of-central-directory record in the last ${Math.min(n, EOCD_SIZE + 65535)} bytes (truncated, or not a zip archive)`);
  const count = view.getUint16(eocd + 10, true);
  const cdSize = view.getUint32(eocd + 12, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    throw new InputError(what, 'zip64 archive (over 65535 entries or 4 GiB): not supported');
  }
  if (cdOffset + cdSize > eocd) throw new InputError(what, `central directory at ${cdOffset}+${cdSize} runs past the end record at ${eocd} (truncated or corrupt)`);

  const entries = new Map<string, Uint8Array>();
  let p = cdOffset;
  const dec = new TextDecoder();
  for (let e = 0; e < count; e++) {
    if (p + 46 > eocd || view.getUint32(p, true) !== SIG_CENTRAL) throw new InputError(what, `central directory record ${e} at byte ${p} is missing or corrupt`);
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    const csize = view.getUint32(p + 20, true);
    const usize = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    const local = view.getUint32(p + 42, true);
    if (p + 46 + nameLen > eocd) throw new InputError(what, `central directory record ${e} runs past the directory`);
    const name = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
    const where = `${what}: entry '${name}'`;
    if (flags & 1) throw new InputError(where, 'is encrypted: not supported');
    if (method !== 0) throw new InputError(where, `is compressed (method ${method}); expected stored entries, as torch.save and numpy.savez write them`);
    if (csize === 0xffffffff || usize === 0xffffffff || local === 0xffffffff) throw new InputError(where, 'is a zip64 entry (over 4 GiB): not supported');
    if (csize !== usize) throw new InputError(where, `stored entry with ${csize} bytes stored but ${usize} bytes of content`);
    if (local + 30 > n || view.getUint32(local, true) !== SIG_LOCAL) throw new InputError(where, `no local header at byte ${local} (truncated or corrupt)`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + csize > cdOffset) throw new InputError(where, `its ${csize} bytes at ${start} run past the central directory at ${cdOffset} (truncated or corrupt)`);
    const data = bytes.subarray(start, start + csize);
    const got = crc32(data);
    if (got !== crc) throw new InputError(where, `CRC-32 is ${got.toString(16)}, the directory says ${crc.toString(16)} (corrupt file)`);
    if (entries.has(name)) throw new InputError(where, 'appears twice');
    entries.set(name, data);
  }
  return entries;
}

export interface WriteZipOptions {
  /** Align each entry's data to this many bytes (torch aligns to 64, so storages can be mapped); default 64. */
  align?: number;
}

/**
 * A zip archive of stored entries, in the given order, each entry's data aligned (padding goes into the local
 * header's extra field, as torch does). Names are UTF-8.
 */
export function writeZip(entries: ReadonlyArray<readonly [string, Uint8Array]>, opts: WriteZipOptions = {}): Uint8Array {
  const align = opts.align ?? 64;
  const enc = new TextEncoder();
  type Placed = { name: Uint8Array; data: Uint8Array; crc: number; local: number; pad: number };
  const placed: Placed[] = [];
  let size = 0;
  for (const [name, data] of entries) {
    const nb = enc.encode(name);
    const headerEnd = size + 30 + nb.length;
    let pad = (align - ((headerEnd + 4) % align)) % align; // 4 bytes of extra-field header, then padding
    if (align <= 1) pad = -4;
    placed.push({ name: nb, data, crc: crc32(data), local: size, pad });
    size = headerEnd + pad + 4 + data.length;
  }
  if (size > 0xffffffff || entries.length > 0xfffe) throw new InputError('zip', `archive of ${size} bytes and ${entries.length} entries needs zip64, which is not supported`);
  const cdStart = size;
  for (const e of placed) size += 46 + e.name.length;
  const out = new Uint8Array(size + EOCD_SIZE);
  const v = new DataView(out.buffer);
  const FLAGS = 0x0800; // names are UTF-8
  for (const e of placed) {
    let p = e.local;
    v.setUint32(p, SIG_LOCAL, true);
    v.setUint16(p + 4, 20, true); // version needed: 2.0
    v.setUint16(p + 6, FLAGS, true);
    v.setUint16(p + 8, 0, true); // stored
    v.setUint32(p + 14, e.crc, true);
    v.setUint32(p + 18, e.data.length, true);
    v.setUint32(p + 22, e.data.length, true);
    v.setUint16(p + 26, e.name.length, true);
    v.setUint16(p + 28, e.pad + 4, true);
    out.set(e.name, p + 30);
    p += 30 + e.name.length;
    if (e.pad >= 0) {
      v.setUint16(p, 0x4246, true); // 'FB': a private extra field holding only padding
      v.setUint16(p + 2, e.pad, true);
      out.fill(0x5a, p + 4, p + 4 + e.pad);
      p += 4 + e.pad;
    }
    out.set(e.data, p);
  }
  let p = cdStart;
  for (const e of placed) {
    v.setUint32(p, SIG_CENTRAL, true);
    v.setUint16(p + 4, 20, true); // made by
    v.setUint16(p + 6, 20, true); // needed
    v.setUint16(p + 8, FLAGS, true);
    v.setUint32(p + 16, e.crc, true);
    v.setUint32(p + 20, e.data.length, true);
    v.setUint32(p + 24, e.data.length, true);
    v.setUint16(p + 28, e.name.length, true);
    v.setUint32(p + 42, e.local, true);
    out.set(e.name, p + 46);
    p += 46 + e.name.length;
  }
  v.setUint32(p, SIG_EOCD, true);
  v.setUint16(p + 8, placed.length, true);
  v.setUint16(p + 10, placed.length, true);
  v.setUint32(p + 12, p - cdStart, true);
  v.setUint32(p + 16, cdStart, true);
  return out;
}
