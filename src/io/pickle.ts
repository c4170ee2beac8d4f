/**
 * A pickle reader and writer for data only (browser-safe): the subset of Python's pickle protocols 2-4 that
 * `torch.save` state dicts and EMOPIA's `dictionary.pkl` use, and nothing else.
 *
 * A pickle is a program for a stack machine, and Python's unpickler runs it, calling any function it names: a
 * `__reduce__` returning (os.system, ('rm -rf ~',)) runs that command on `pickle.load`. This reader executes
 * nothing. It builds plain values (None, bools, numbers, strings, bytes, lists, tuples, dicts), and a GLOBAL is
 * accepted only when its `module.name` is on the caller's whitelist (`globals`); REDUCE calls the whitelisted
 * TypeScript function given for it, never Python. Any other global, any opcode outside the subset and any
 * persistent id the caller does not understand is a one-line InputError naming it. Every length is checked
 * against the bytes left before anything is allocated, so a truncated or lying file fails cleanly.
 *
 * Values: None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number, str -> string,
 * bytes -> Uint8Array, list -> array, tuple -> PyTuple, dict -> Map (keys compared as JS values: the int 0 and
 * the str '0' are different keys, as in Python).
 */
import { InputError } from '../errors.ts';

/** A Python tuple (kept apart from lists, since torch's calls take tuples). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A whitelisted global pushed by GLOBAL / STACK_GLOBAL, e.g. `torch.FloatStorage` inside a persistent id. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

export type PyKey = null | boolean | number | bigint | string;
/** An object made by a whitelisted global (a tensor, a storage): `pyObject` names it in messages. */
export interface PyObject {
  readonly pyObject: string;
}
export type PyValue = PyKey | Uint8Array | PyValue[] | PyTuple | Map<PyKey, PyValue> | PyGlobal | PyObject;

export interface UnpickleOptions {
  /** Names the input in messages (a file path). */
  what?: string;
  /**
   * The only globals allowed, by `module.name`. The function runs on REDUCE with the call's arguments; a global
   * mapped to `null` may be pushed (as a PyGlobal value, e.g. a storage type) but not called.
   */
  globals?: Readonly<Record<string, ((args: PyValue[]) => PyValue) | null>>;
  /** Resolves BINPERSID's id (torch: ('storage', type, key, location, numel)); without it, persistent ids are refused. */
  persistentLoad?: (pid: PyValue) => PyValue;
  /** Applies BUILD's state to an object; without it, BUILD is allowed only on dicts, and their state is dropped. */
  build?: (obj: PyValue, state: PyValue) => PyValue;
}

/** The opcodes of protocols 2-4 that this reader executes. */
const OP = {
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32,
  BININT: 0x4a, BININT1: 0x4b, BININT2: 0x4d, NONE: 0x4e, BINPERSID: 0x51, REDUCE: 0x52,
  BINUNICODE: 0x58, EMPTY_LIST: 0x5d, APPEND: 0x61, BUILD: 0x62, GLOBAL: 0x63, DICT: 0x64, APPENDS: 0x65,
  BINGET: 0x68, LONG_BINGET: 0x6a, LIST: 0x6c, BINPUT: 0x71, LONG_BINPUT: 0x72, SETITEM: 0x73, TUPLE: 0x74,
  SETITEMS: 0x75, EMPTY_DICT: 0x7d, EMPTY_TUPLE: 0x29, BINFLOAT: 0x47, BINBYTES: 0x42, SHORT_BINBYTES: 0x43,
  PROTO: 0x80, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87, NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a,
  SHORT_BINUNICODE: 0x8c, BINUNICODE8: 0x8d, BINBYTES8: 0x8e, EMPTY_SET: 0x8f, STACK_GLOBAL: 0x93, MEMOIZE: 0x94,
  FRAME: 0x95,
} as const;

/** Names of the opcodes refused on purpose, for messages. */
const REFUSED: Record<number, string> = {
  0x69: 'INST', 0x6f: 'OBJ', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x50: 'PERSID', 0x82: 'EXT1', 0x83: 'EXT2',
  0x84: 'EXT4', 0x49: 'INT', 0x4c: 'LONG', 0x46: 'FLOAT', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE', 0x67: 'GET', 0x70: 'PUT', 0x8b: 'LONG4', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const MARK = Symbol('mark');
type Slot = PyValue | typeof MARK;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads one pickle from `bytes` (trailing bytes after STOP are an error). Throws InputError on anything else. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions = {}): PyValue {
  const what = opts.what ?? 'pickle';
  const fail = (at: number, why: string): never => {
    throw new InputError(what, `${why} (byte ${at})`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: Slot[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;

  const need = (n: number, at: number): void => {
    if (!(n >= 0) || pos + n > bytes.length) fail(at, `truncated: needs ${n} more bytes, ${bytes.length - pos} left`);
  };
  const u8 = (at: number): number => {
    need(1, at);
    return bytes[pos++] as number;
  };
  const u16 = (at: number): number => {
    need(2, at);
    pos += 2;
    return view.getUint16(pos - 2, true);
  };
  const u32 = (at: number): number => {
    need(4, at);
    pos += 4;
    return view.getUint32(pos - 4, true);
  };
  const u64 = (at: number): number => {
    need(8, at);
    const n = view.getBigUint64(pos, true);
    pos += 8;
    if (n > BigInt(bytes.length)) fail(at, `length ${n} is larger than the file`);
    return Number(n);
  };
  const take = (n: number, at: number): Uint8Array => {
    need(n, at);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const str = (n: number, at: number): string => {
    try {
      return utf8.decode(take(n, at));
    } catch (err) {
      if (err instanceof InputError) throw err;
      return fail(at, 'a string is not valid UTF-8');
    }
  };
  const line = (at: number): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(at, 'truncated: a GLOBAL name has no newline');
    const s = new TextDecoder().decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (at: number): PyValue => {
    const v = stack.pop();
    if (v === undefined) fail(at, 'stack underflow');
    if (v === MARK) fail(at, 'unexpected MARK');
    return v as PyValue;
  };
  const top = (at: number): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail(at, 'stack underflow');
    return v as PyValue;
  };
  const popMark = (at: number): PyValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail(at, 'no MARK on the stack');
    const items = stack.splice(i) as PyValue[];
    items.shift();
    return items;
  };
  const key = (k: PyValue, at: number): PyKey => {
    if (k === null || typeof k === 'boolean' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'string') return k;
    return fail(at, `a dict key must be None, a bool, a number or a string, got ${describe(k)}`);
  };
  const setItems = (d: PyValue, kv: PyValue[], at: number): void => {
    if (!(d instanceof Map)) fail(at, `SETITEM(S) on ${describe(d)}, expected a dict`);
    if (kv.length % 2) fail(at, 'SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) (d as Map<PyKey, PyValue>).set(key(kv[i] as PyValue, at), kv[i + 1] as PyValue);
  };
  const global = (module: string, name: string, at: number): PyGlobal => {
    const q = `${module}.${name}`;
    if (!opts.globals || !Object.hasOwn(opts.globals, q)) {
      return fail(at, `refusing global ${q}: only ${opts.globals ? Object.keys(opts.globals).join(', ') : 'plain data'} may appear here`);
    }
    return new PyGlobal(module, name);
  };

  for (;;) {
    const at = pos;
    const op = u8(at);
    switch (op) {
      case OP.PROTO: {
        const v = u8(at);
        if (v < 2 || v > 5) fail(at, `pickle protocol ${v}, expected 2 to 5`);
        break;
      }
      case OP.FRAME:
        u64(at); // a hint for buffered readers: the frame's bytes follow in place
        break;
      case OP.STOP: {
        const v = pop(at);
        if (stack.length) fail(at, `STOP with ${stack.length} more values on the stack`);
        if (pos !== bytes.length) fail(at, `${bytes.length - pos} bytes after STOP`);
        return v;
      }
      case OP.MARK:
        stack.push(MARK);
        break;
      case OP.POP:
        if (stack.pop() === undefined) fail(at, 'stack underflow');
        break;
      case OP.POP_MARK:
        popMark(at);
        break;
      case OP.DUP:
        stack.push(top(at));
        break;
      case OP.NONE:
        stack.push(null);
        break;
      case OP.NEWTRUE:
        stack.push(true);
        break;
      case OP.NEWFALSE:
        stack.push(false);
        break;
      case OP.BININT1:
        stack.push(u8(at));
        break;
      case OP.BININT2:
        stack.push(u16(at));
        break;
      case OP.BININT:
        need(4, at);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break;
      case OP.LONG1: {
        const n = u8(at);
        if (n > 8) fail(at, `LONG1 of ${n} bytes: integers wider than 64 bits are not supported`);
        const b = take(n, at);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i] as number);
        if (n > 0 && (b[n - 1] as number) & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case OP.BINFLOAT:
        need(8, at);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case OP.SHORT_BINUNICODE:
        stack.push(str(u8(at), at));
        break;
      case OP.BINUNICODE:
        stack.push(str(u32(at), at));
        break;
      case OP.BINUNICODE8:
        stack.push(str(u64(at), at));
        break;
      case OP.SHORT_BINBYTES:
        stack.push(take(u8(at), at).slice());
        break;
      case OP.BINBYTES:
        stack.push(take(u32(at), at).slice());
        break;
      case OP.BINBYTES8:
        stack.push(take(u64(at), at).slice());
        break;
      case OP.EMPTY_TUPLE:
        stack.push(new PyTuple([]));
        break;
      case OP.TUPLE1:
      case OP.TUPLE2:
      case OP.TUPLE3: {
        const n = op - OP.TUPLE1 + 1;
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop(at));
        stack.push(new PyTuple(items));
        break;
      }
      case OP.TUPLE:
        stack.push(new PyTuple(popMark(at)));
        break;
      case OP.EMPTY_LIST:
        stack.push([]);
        break;
      case OP.LIST:
        stack.push(popMark(at));
        break;
      case OP.APPEND: {
        const v = pop(at);
        const l = top(at);
        if (!Array.isArray(l)) fail(at, `APPEND to ${describe(l)}, expected a list`);
        (l as PyValue[]).push(v);
        break;
      }
      case OP.APPENDS: {
        const items = popMark(at);
        const l = top(at);
        if (!Array.isArray(l)) fail(at, `APPENDS to ${describe(l)}, expected a list`);
        for (const v of items) (l as PyValue[]).push(v);
        break;
      }
      case OP.EMPTY_DICT:
        stack.push(new Map());
        break;
      case OP.DICT: {
        const d = new Map<PyKey, PyValue>();
        setItems(d, popMark(at), at);
        stack.push(d);
        break;
      }
      case OP.SETITEM: {
        const v = pop(at);
        const k = pop(at);
        setItems(top(at), [k, v], at);
        break;
      }
      case OP.SETITEMS: {
        const kv = popMark(at);
        setItems(top(at), kv, at);
        break;
      }
      case OP.BINPUT:
        memo.set(u8(at), top(at));
        break;
      case OP.LONG_BINPUT:
        memo.set(u32(at), top(at));
        break;
      case OP.MEMOIZE:
        memo.set(memo.size, top(at));
        break;
      case OP.BINGET:
      case OP.LONG_BINGET: {
        const i = op === OP.BINGET ? u8(at) : u32(at);
        if (!memo.has(i)) fail(at, `memo entry ${i} was never stored`);
        stack.push(memo.get(i) as PyValue);
        break;
      }
      case OP.GLOBAL: {
        const module = line(at);
        stack.push(global(module, line(at), at));
        break;
      }
      case OP.STACK_GLOBAL: {
        const name = pop(at);
        const module = pop(at);
        if (typeof module !== 'string' || typeof name !== 'string') fail(at, 'STACK_GLOBAL expects two strings');
        stack.push(global(module as string, name as string, at));
        break;
      }
      case OP.REDUCE: {
        const args = pop(at);
        const fn = pop(at);
        if (!(fn instanceof PyGlobal)) return fail(at, `REDUCE calls ${describe(fn)}, expected a whitelisted global`);
        const impl = opts.globals?.[fn.qualified];
        if (!impl) return fail(at, `refusing to call ${fn.qualified}: it may appear only as a value`);
        if (!(args instanceof PyTuple)) return fail(at, `REDUCE of ${fn.qualified} with ${describe(args)}, expected a tuple of arguments`);
        stack.push(impl(args.items));
        break;
      }
      case OP.BUILD: {
        const state = pop(at);
        const obj = pop(at);
        if (opts.build) stack.push(opts.build(obj, state));
        else if (obj instanceof Map) stack.push(obj); // an OrderedDict's attributes (state_dict's _metadata): dropped
        else fail(at, `BUILD on ${describe(obj)}: only dicts may carry attributes here`);
        break;
      }
      case OP.BINPERSID: {
        const pid = pop(at);
        if (!opts.persistentLoad) fail(at, 'a persistent id (an object stored outside the pickle) is not expected here');
        stack.push((opts.persistentLoad as (p: PyValue) => PyValue)(pid));
        break;
      }
      case OP.EMPTY_SET:
        fail(at, 'sets are not supported (opcode EMPTY_SET)');
        break;
      default:
        fail(at, `unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}${REFUSED[op] ? ` (${REFUSED[op]})` : ''}`);
    }
  }
}

/** A short description of a value for messages. */
export function describe(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `the ${typeof v} ${String(v)}`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v instanceof PyTuple) return `a tuple of ${v.items.length}`;
  if (v instanceof Map) return `a dict of ${v.size}`;
  if (v instanceof PyGlobal) return `the global ${v.qualified}`;
  return v.pyObject;
}

// ---- Writing: the same subset, protocol 2, for torch.save-compatible files ----

/** A reference to a global in a pickle being written (for torch: `torch._utils._rebuild_tensor_v2`, ...). */
export class PyCall {
  /** Writes GLOBAL fn, the args tuple, REDUCE. */
  constructor(readonly fn: PyGlobal, readonly args: PyWritable[]) {}
}
/** A persistent id, written as its value followed by BINPERSID. */
export class PyPersistent {
  constructor(readonly id: PyWritable) {}
}
/** A dict written as `collections.OrderedDict()` with its items set (torch's state dicts are OrderedDicts). */
export class PyOrderedDict {
  constructor(readonly entries: ReadonlyArray<readonly [PyKey, PyWritable]>) {}
}
export type PyWritable = PyKey | PyWritable[] | PyTuple | Map<PyKey, PyWritable> | PyGlobal | PyCall | PyPersistent | PyOrderedDict;

/** Serializes `value` as a protocol-2 pickle that Python's (and this) unpickler reads. Globals are memoised once each. */
export function pickle(value: PyWritable): Uint8Array {
  const out: number[] = [OP.PROTO, 2];
  const enc = new TextEncoder();
  const globals = new Map<string, number>();
  let memoNext = 0;
  const u32 = (n: number) => out.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  const bytes = (b: Uint8Array) => {
    for (const x of b) out.push(x);
  };
  const put = () => {
    out.push(OP.LONG_BINPUT);
    u32(memoNext++);
  };
  const writeGlobal = (g: PyGlobal) => {
    const q = g.qualified;
    const m = globals.get(q);
    if (m !== undefined) {
      out.push(OP.LONG_BINGET);
      u32(m);
      return;
    }
    out.push(OP.GLOBAL);
    bytes(enc.encode(`${g.module}\n${g.name}\n`));
    globals.set(q, memoNext);
    put();
  };
  const write = (v: PyWritable): void => {
    if (v === null) out.push(OP.NONE);
    else if (v === true) out.push(OP.NEWTRUE);
    else if (v === false) out.push(OP.NEWFALSE);
    else if (typeof v === 'number' || typeof v === 'bigint') {
      if (typeof v === 'number' && !Number.isInteger(v)) {
        out.push(OP.BINFLOAT);
        const b = new DataView(new ArrayBuffer(8));
        b.setFloat64(0, v, false);
        bytes(new Uint8Array(b.buffer));
      } else if (typeof v === 'number' && v >= 0 && v < 256) out.push(OP.BININT1, v);
      else if (typeof v === 'number' && v >= -(2 ** 31) && v < 2 ** 31) {
        out.push(OP.BININT);
        u32(v);
      } else {
        out.push(OP.LONG1, 8);
        const b = new DataView(new ArrayBuffer(8));
        b.setBigInt64(0, BigInt(v), true);
        bytes(new Uint8Array(b.buffer));
      }
    } else if (typeof v === 'string') {
      const b = enc.encode(v);
      out.push(OP.BINUNICODE);
      u32(b.length);
      bytes(b);
    } else if (Array.isArray(v)) {
      out.push(OP.EMPTY_LIST);
      if (v.length) {
        out.push(OP.MARK);
        v.forEach(write);
        out.push(OP.APPENDS);
      }
    } else if (v instanceof PyTuple) {
      out.push(OP.MARK);
      (v.items as unknown as PyWritable[]).forEach(write);
      out.push(OP.TUPLE);
    } else if (v instanceof Map || v instanceof PyOrderedDict) {
      if (v instanceof PyOrderedDict) {
        writeGlobal(new PyGlobal('collections', 'OrderedDict'));
        out.push(OP.EMPTY_TUPLE, OP.REDUCE);
      } else out.push(OP.EMPTY_DICT);
      const entries = v instanceof Map ? [...v.entries()] : v.entries;
      if (entries.length) {
        out.push(OP.MARK);
        for (const [k, x] of entries) {
          write(k);
          write(x);
        }
        out.push(OP.SETITEMS);
      }
    } else if (v instanceof PyGlobal) writeGlobal(v);
    else if (v instanceof PyCall) {
      writeGlobal(v.fn);
      out.push(OP.MARK);
      v.args.forEach(write);
      out.push(OP.TUPLE, OP.REDUCE);
    } else if (v instanceof PyPersistent) {
      write(v.id);
      out.push(OP.BINPERSID);
    } else throw new TypeError(`pickle: cannot write ${String(v)}`);
  };
  write(value);
  out.push(OP.STOP);
  return Uint8Array.from(out);
}
