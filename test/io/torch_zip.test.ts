/**
 * src/io/torch_zip.ts and src/io/zip.ts on files written by PyTorch itself (scripts/fixtures/torch_checkpoint.py,
 * torch 1.13): dtypes, strides and storage offsets, the accepted wrappers, and the refusals (legacy formats,
 * hostile pickles, truncated or altered archives). Our writer is checked by reading its output back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../src/errors.ts';
import { toFloat32 } from '../../src/io/safetensors.ts';
import { readTorchStateDict, writeTorchStateDict } from '../../src/io/torch_zip.ts';
import { readZip, writeZip } from '../../src/io/zip.ts';

const fixture = (name: string) => new Uint8Array(readFileSync(fileURLToPath(new URL(`../fixtures/torch/${name}`, import.meta.url))));
const refused = (bytes: Uint8Array, re: RegExp) =>
  assert.throws(() => readTorchStateDict(bytes, 'f.pt'), (err: Error) => err instanceof InputError && re.test(err.message) && !err.message.includes('\n'), re.source);

test('float16, bfloat16, int64, a transposed tensor and views at storage offsets read as PyTorch wrote them', () => {
  const { tensors } = readTorchStateDict(fixture('views.pt'));
  const expected = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/torch/views.json', import.meta.url)), 'utf8')) as Record<string, { shape: number[]; values: number[] }>;
  assert.deepEqual([...tensors.keys()], Object.keys(expected));
  const dtypes = Object.fromEntries([...tensors].map(([k, t]) => [k, t.dtype]));
  assert.deepEqual(dtypes, { half: 'F16', bf16: 'BF16', long: 'I64', transposed: 'F32', first: 'F32', second: 'F32' });
  for (const [k, t] of tensors) {
    assert.deepEqual(t.shape, expected[k]!.shape, k);
    assert.deepEqual(Array.from(toFloat32(t)), expected[k]!.values.map((v) => Math.fround(v)), k);
  }
  assert.equal((tensors.get('long')!.data as BigInt64Array)[2], 2n ** 40n, 'int64 kept exact');
  assert.deepEqual(Array.from(toFloat32(tensors.get('second')!)), [5, 6, 9, 10], 'offset 5, strides (4, 1)');
});

test('wrappers: {"state_dict": ...} with other keys, and {"model": ...} with DataParallel\'s module. prefix and an optimizer', () => {
  const a = readTorchStateDict(fixture('wrapped_state_dict.pt'));
  assert.equal(a.wrapper, 'state_dict');
  assert.deepEqual([...a.tensors.keys()], ['a.weight', 'a.bias']);
  const b = readTorchStateDict(fixture('wrapped_model.pt'));
  assert.equal(b.wrapper, 'model');
  assert.equal(b.strippedModulePrefix, true);
  assert.deepEqual([...b.tensors.keys()], ['a.weight', 'a.bias']);
  assert.deepEqual(Array.from(toFloat32(b.tensors.get('a.bias')!)), Array.from(toFloat32(a.tensors.get('a.bias')!)));
  const bare = readTorchStateDict(fixture('tiny.pt'));
  assert.equal(bare.wrapper, 'bare');
  assert.ok(bare.tensors.has('pos_emb.pe') && bare.tensors.has('transformer_encoder.layers.1.attention.query_projection.weight'));
});

test('refused: a hostile pickle inside a torch.save archive, naming the global', () => {
  refused(fixture('hostile.pt'), /refusing global posix\.system: only torch\.FloatStorage, .*torch\._utils\._rebuild_tensor_v2/);
});

test('refused by name: the legacy non-zip format, the legacy tar format, a bare pickle, other bytes', () => {
  refused(fixture('legacy.pt'), /^f\.pt: legacy torch\.save format \(PyTorch before 1\.6/);
  const tar = new Uint8Array(1024);
  tar.set(new TextEncoder().encode('ustar'), 257);
  refused(tar, /legacy tar format of torch\.save/);
  refused(fixture('hostile.pkl'), /a bare pickle, not a torch\.save zip archive/);
  refused(new TextEncoder().encode('{"json": true}'), /not a PyTorch checkpoint: expected a zip archive/);
});

test('truncated archives fail cleanly at every cut; an altered byte fails its CRC', () => {
  const bytes = fixture('wrapped_state_dict.pt');
  for (let n = 0; n < bytes.length; n += 7) assert.throws(() => readTorchStateDict(bytes.subarray(0, n)), InputError, `cut at ${n}`);
  const tiny = fixture('tiny.pt');
  refused(tiny.subarray(0, tiny.length - 30), /no end-of-central-directory record|central directory/);
  const altered = tiny.slice();
  altered[5000] = (altered[5000] as number) ^ 0xff;
  refused(altered, /CRC-32 is [0-9a-f]+, the directory says [0-9a-f]+ \(corrupt file\)/);
});

test('refused: an unknown opcode, a missing storage, a view past its storage, a compressed entry', () => {
  const z = readZip(fixture('wrapped_state_dict.pt'));
  const rezip = (edit: (name: string, data: Uint8Array) => Uint8Array | null) =>
    writeZip([...z].flatMap(([n, d]) => {
      const e = edit(n, d);
      return e ? [[n, e] as const] : [];
    }));
  refused(rezip((n, d) => (n.endsWith('data.pkl') ? Uint8Array.from([0x80, 2, 0xfe]) : d)), /unsupported pickle opcode 0xfe/);
  refused(rezip((n, d) => (n.endsWith('/data/0') ? null : d)), /storage 0 \(FloatStorage\) is missing from the archive/);
  refused(rezip((n, d) => (n.endsWith('/data/0') ? d.subarray(0, 8) : d)), /storage 0: a \[3,2\] view at offset 0 with strides \[2,1\] reaches element 5, the storage has 2/);
  const bytes = fixture('wrapped_state_dict.pt');
  const v = new DataView(bytes.buffer);
  const cd = v.getUint32(bytes.length - 22 + 16, true);
  const altered = bytes.slice();
  new DataView(altered.buffer).setUint16(cd + 10, 8, true); // first entry: deflate
  refused(altered, /is compressed \(method 8\); expected stored entries/);
});

test('writeTorchStateDict: read back by our reader exactly, and laid out as torch does (archive/, data.pkl first)', () => {
  const sd = new Map([
    ['w', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) }],
    ['b', { shape: [3], data: Float32Array.from([0.1, 0.2, 0.3]) }],
    ['s', { shape: [], data: Float32Array.from([7]) }],
  ]);
  const bytes = writeTorchStateDict(sd);
  const names = [...readZip(bytes).keys()];
  assert.deepEqual(names, ['archive/data.pkl', 'archive/data/0', 'archive/data/1', 'archive/data/2', 'archive/version']);
  const back = readTorchStateDict(bytes);
  assert.equal(back.wrapper, 'bare');
  for (const [k, t] of sd) {
    assert.deepEqual(back.tensors.get(k)!.shape, t.shape);
    assert.deepEqual(Array.from(toFloat32(back.tensors.get(k)!)), Array.from(t.data));
  }
});
