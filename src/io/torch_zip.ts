/**
 * PyTorch checkpoints (`torch.save` since PyTorch 1.6) read and written without Python or torch (browser-safe).
 *
 * The file is a zip archive of stored entries under one folder (`archive/` for files we write, the file's stem
 * for torch's):
 *   <dir>/data.pkl     a pickle of the saved object; each tensor is a call
 *                      torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 *                      backward_hooks), its storage a persistent id ('storage', torch.<Type>Storage, key,
 *                      location, numel)
 *   <dir>/data/<key>   each storage's raw elements, little-endian
 *   <dir>/version      the format version ("3\n")
 * The pickle is read by src/io/pickle.ts with a whitelist of exactly the globals above (plus
 * collections.OrderedDict and torch._utils._rebuild_parameter): nothing runs, anything else is refused by name.
 * Tensors come out as SafeTensor (the safetensors module's type), so `toFloat32` and state-dict helpers apply.
 * Views are honoured: a tensor's storage offset and strides select its elements (copied out in row-major order).
 *
 * Refused with a one-line InputError: the legacy formats (the pre-1.6 pickle stream and the older tar archive),
 * TorchScript archives, compressed or zip64 entries, a missing storage, a storage of another dtype, a view that
 * reaches past its storage, big-endian files, and any object that is not a tensor or a plain container.
 */
import { InputError, fmtShape } from '../errors.ts';
import { PyCall, PyGlobal, PyOrderedDict, PyPersistent, PyTuple, describe, pickle, unpickle, type PyKey, type PyObject, type PyValue } from './pickle.ts';
import type { HostTensor, SafeData, SafeDType, SafeTensor } from './safetensors.ts';
import { looksLikeZip, readZip, writeZip } from './zip.ts';

/** torch's storage types and the dtype of their elements. */
const STORAGE_DTYPES: Readonly<Record<string, SafeDType>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

const ELEMENT: Record<SafeDType, { bytes: number; make: (b: ArrayBuffer) => SafeData }> = {
  F64: { bytes: 8, make: (b) => new Float64Array(b) }, F32: { bytes: 4, make: (b) => new Float32Array(b) },
  F16: { bytes: 2, make: (b) => new Uint16Array(b) }, BF16: { bytes: 2, make: (b) => new Uint16Array(b) },
  I64: { bytes: 8, make: (b) => new BigInt64Array(b) }, U64: { bytes: 8, make: (b) => new BigUint64Array(b) },
  I32: { bytes: 4, make: (b) => new Int32Array(b) }, U32: { bytes: 4, make: (b) => new Uint32Array(b) },
  I16: { bytes: 2, make: (b) => new Int16Array(b) }, U16: { bytes: 2, make: (b) => new Uint16Array(b) },
  I8: { bytes: 1, make: (b) => new Int8Array(b) }, U8: { bytes: 1, make: (b) => new Uint8Array(b) },
  BOOL: { bytes: 1, make: (b) => new Uint8Array(b) },
};

/** A storage named by a persistent id: its dtype and its bytes in the archive. */
class Storage implements PyObject {
  readonly pyObject = 'a storage';
  constructor(readonly dtype: SafeDType, readonly key: string, readonly bytes: Uint8Array) {}
  get numel(): number {
    return Math.floor(this.bytes.length / ELEMENT[this.dtype].bytes);
  }
}

/** A tensor rebuilt from the pickle. */
export class TorchTensor implements PyObject {
  readonly pyObject = 'a tensor';
  constructor(readonly tensor: SafeTensor) {}
}

const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/** Why `bytes` is not a zip checkpoint, naming the format when it is a known one. */
function notZip(bytes: Uint8Array): string {
  if (LEGACY_MAGIC.every((b, i) => bytes[i] === b)) {
    return "legacy torch.save format (PyTorch before 1.6, or _use_new_zipfile_serialization=False): not supported; re-save it with torch.save(torch.load(path), path) in PyTorch >= 1.6";
  }
  if (bytes.length >= 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar') {
    return 'legacy tar format of torch.save (PyTorch before 0.4): not supported; load and re-save it with PyTorch >= 1.6';
  }
  if (bytes[0] === 0x80) return 'a bare pickle, not a torch.save zip archive: not supported';
  return `not a PyTorch checkpoint: expected a zip archive (torch.save since PyTorch 1.6), got ${bytes.length < 4 ? `${bytes.length} bytes` : 'another format'}`;
}

/** Numbers from a pickled tuple of ints (a size or a stride). */
function ints(v: PyValue, what: string, field: string): number[] {
  if (!(v instanceof PyTuple) || !v.items.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    throw new InputError(what, `_rebuild_tensor_v2: expected ${field} to be a tuple of non-negative integers, got ${describe(v)}`);
  }
  return v.items as number[];
}

/** The elements a view selects from its storage, in row-major order. */
function rebuild(what: string, storage: PyValue, offsetV: PyValue, sizeV: PyValue, strideV: PyValue): TorchTensor {
  if (!(storage instanceof Storage)) throw new InputError(what, `_rebuild_tensor_v2: expected a storage, got ${describe(storage)}`);
  if (typeof offsetV !== 'number' || !Number.isSafeInteger(offsetV) || offsetV < 0) throw new InputError(what, `_rebuild_tensor_v2: bad storage offset ${describe(offsetV)}`);
  const shape = ints(sizeV, what, 'size');
  const stride = ints(strideV, what, 'stride');
  if (stride.length !== shape.length) throw new InputError(what, `_rebuild_tensor_v2: size ${fmtShape(shape)} and stride ${fmtShape(stride)} differ in rank`);
  const numel = shape.reduce((a, b) => a * b, 1);
  const el = ELEMENT[storage.dtype];
  const where = `${what}: storage ${storage.key}`;
  if (numel > 0) {
    const last = offsetV + shape.reduce((s, n, i) => s + (n - 1) * (stride[i] as number), 0);
    if (last >= storage.numel) throw new InputError(where, `a ${fmtShape(shape)} view at offset ${offsetV} with strides ${fmtShape(stride)} reaches element ${last}, the storage has ${storage.numel}`);
    if (numel > storage.numel) throw new InputError(where, `a ${fmtShape(shape)} view has more elements than its storage (${storage.numel}): expanded views are not supported`);
  }
  const out = new Uint8Array(numel * el.bytes);
  const rowMajor = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const contiguous = shape.every((n, i) => n <= 1 || stride[i] === rowMajor[i]);
  if (contiguous) out.set(storage.bytes.subarray(offsetV * el.bytes, (offsetV + numel) * el.bytes));
  else {
    const idx = new Array<number>(shape.length).fill(0);
    for (let k = 0; k < numel; k++) {
      let src = offsetV;
      for (let d = 0; d < shape.length; d++) src += (idx[d] as number) * (stride[d] as number);
      out.set(storage.bytes.subarray(src * el.bytes, (src + 1) * el.bytes), k * el.bytes);
      for (let d = shape.length - 1; d >= 0; d--) {
        idx[d] = (idx[d] as number) + 1;
        if ((idx[d] as number) < (shape[d] as number)) break;
        idx[d] = 0;
      }
    }
  }
  if (storage.dtype === 'BOOL' && out.some((b) => b > 1)) throw new InputError(where, 'a bool storage holds values other than 0 and 1');
  return new TorchTensor({ dtype: storage.dtype, shape, data: el.make(out.buffer) });
}

/** The object a torch.save file holds, its tensors as TorchTensor. */
export function readTorchFile(bytes: Uint8Array, what = 'checkpoint'): PyValue {
  if (!looksLikeZip(bytes)) throw new InputError(what, notZip(bytes));
  const entries = readZip(bytes, what);
  const pkls = [...entries.keys()].filter((k) => /^[^/]+\/data\.pkl$/.test(k));
  if (pkls.length !== 1) {
    if ([...entries.keys()].some((k) => /^[^/]+\/constants\.pkl$/.test(k))) {
      throw new InputError(what, 'a TorchScript archive (torch.jit.save), not a state dict: save torch.save(model.state_dict(), path) instead');
    }
    throw new InputError(what, `expected one <dir>/data.pkl in the archive, found ${pkls.length} (is this a torch.save file?)`);
  }
  const dir = (pkls[0] as string).slice(0, -'data.pkl'.length);
  const order = entries.get(`${dir}byteorder`);
  if (order && new TextDecoder().decode(order) !== 'little') throw new InputError(what, `byte order '${new TextDecoder().decode(order)}': only little-endian files are supported`);

  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: PyValue): PyValue => {
    const items = pid instanceof PyTuple ? pid.items : [];
    const [tag, type, key] = items;
    if (tag !== 'storage' || !(type instanceof PyGlobal) || typeof key !== 'string') throw new InputError(what, `unexpected persistent id ${describe(pid)}, expected ('storage', type, key, location, numel)`);
    const dtype = STORAGE_DTYPES[type.name];
    if (type.module !== 'torch' || !dtype) throw new InputError(what, `unsupported storage type ${type.qualified}`);
    const have = storages.get(key);
    if (have) {
      if (have.dtype !== dtype) throw new InputError(what, `storage ${key} is used as ${have.dtype} and as ${dtype}`);
      return have;
    }
    const data = entries.get(`${dir}data/${key}`);
    if (!data) throw new InputError(what, `storage ${key} (${type.name}) is missing from the archive (${dir}data/${key})`);
    if (data.length % ELEMENT[dtype].bytes) throw new InputError(what, `storage ${key} has ${data.length} bytes, not a whole number of ${dtype} elements`);
    const s = new Storage(dtype, key, data);
    storages.set(key, s);
    return s;
  };
  const storageTypes = Object.fromEntries(Object.keys(STORAGE_DTYPES).map((n) => [`torch.${n}`, null]));
  return unpickle(pkls[0] === undefined ? new Uint8Array() : (entries.get(pkls[0]) as Uint8Array), {
    what: `${what}: ${pkls[0]}`,
    persistentLoad,
    globals: {
      ...storageTypes,
      'collections.OrderedDict': (args) => {
        if (args.length) throw new InputError(what, 'OrderedDict called with arguments');
        return new Map();
      },
      'torch._utils._rebuild_tensor_v2': (a) => rebuild(what, a[0] as PyValue, a[1] as PyValue, a[2] as PyValue, a[3] as PyValue),
      'torch._utils._rebuild_parameter': (a) => {
        if (!(a[0] instanceof TorchTensor)) throw new InputError(what, `_rebuild_parameter: expected a tensor, got ${describe(a[0])}`);
        return a[0];
      },
    },
  });
}

export interface TorchStateDict {
  tensors: Map<string, SafeTensor>;
  /** Where the state dict was: the whole file, or under a key of a dict. */
  wrapper: 'bare' | 'state_dict' | 'model';
  /** True when every key had DataParallel's `module.` prefix, now removed. */
  strippedModulePrefix: boolean;
}

/**
 * The state dict of a torch.save file: a bare dict of tensors, or one under "state_dict" or "model" (other keys of
 * such a wrapper, an epoch or an optimizer, are read and ignored). Keys that all start with `module.` (saved from
 * nn.DataParallel) lose that prefix.
 */
export function readTorchStateDict(bytes: Uint8Array, what = 'checkpoint'): TorchStateDict {
  const top = readTorchFile(bytes, what);
  if (!(top instanceof Map)) throw new InputError(what, `expected a dict of tensors (a state_dict), got ${describe(top)}`);
  const allTensors = (m: Map<PyKey, PyValue>) => m.size > 0 && [...m.values()].every((v) => v instanceof TorchTensor);
  let sd = top;
  let wrapper: TorchStateDict['wrapper'] = 'bare';
  if (!allTensors(top)) {
    const inner = (['state_dict', 'model'] as const).find((k) => top.get(k) instanceof Map);
    if (!inner) {
      const keys = [...top.keys()].slice(0, 8).map(String).join(', ');
      throw new InputError(what, `expected a state dict of tensors, or one under "state_dict" or "model"; got a dict with keys ${keys}`);
    }
    sd = top.get(inner) as Map<PyKey, PyValue>;
    wrapper = inner;
  }
  const tensors = new Map<string, SafeTensor>();
  for (const [k, v] of sd) {
    if (typeof k !== 'string') throw new InputError(what, `state dict key ${describe(k)} is not a string`);
    if (!(v instanceof TorchTensor)) throw new InputError(what, `state dict entry '${k}' holds ${describe(v)}, expected a tensor`);
    tensors.set(k, v.tensor);
  }
  if (tensors.size === 0) throw new InputError(what, 'the state dict is empty');
  const strip = [...tensors.keys()].every((k) => k.startsWith('module.'));
  const out = strip ? new Map([...tensors].map(([k, t]) => [k.slice('module.'.length), t])) : tensors;
  return { tensors: out, wrapper, strippedModulePrefix: strip };
}

/**
 * A state dict (float32 host tensors) as a torch.save file that `torch.load` reads: an OrderedDict of
 * contiguous FloatStorage tensors, one storage each, under `archive/`.
 */
export function writeTorchStateDict(sd: Map<string, HostTensor>): Uint8Array {
  const rebuild = new PyGlobal('torch._utils', '_rebuild_tensor_v2');
  const floatStorage = new PyGlobal('torch', 'FloatStorage');
  const orderedDict = new PyGlobal('collections', 'OrderedDict');
  const files: Array<[string, Uint8Array]> = [];
  const items: Array<[string, PyCall]> = [];
  let key = 0;
  for (const [name, t] of sd) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw new InputError(`tensor '${name}'`, `shape ${fmtShape(t.shape)} has ${n} elements, data has ${t.data.length}`);
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const k = String(key++);
    files.push([`archive/data/${k}`, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)]);
    const storage = new PyPersistent(new PyTuple(['storage', floatStorage, k, 'cpu', n]));
    items.push([name, new PyCall(rebuild, [storage, 0, new PyTuple(t.shape.slice()), new PyTuple(stride), false, new PyCall(orderedDict, [])])]);
  }
  const pkl = pickle(new PyOrderedDict(items));
  const enc = new TextEncoder();
  return writeZip([['archive/data.pkl', pkl], ...files, ['archive/version', enc.encode('3\n')]]);
}
