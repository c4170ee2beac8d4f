/** src/io/pickle.ts: a data-only unpickler (whitelisted globals, nothing executed) and its protocol-2 writer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../src/errors.ts';
import { PyCall, PyGlobal, PyOrderedDict, PyTuple, pickle, unpickle, type PyValue } from '../../src/io/pickle.ts';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../fixtures/torch/${name}`, import.meta.url)));

test("EMOPIA's dictionary.pkl (protocol 4: FRAME, MEMOIZE, short strings) reads as two dicts with int and str keys", () => {
  const obj = unpickle(fixture('dictionary.pkl'));
  assert.ok(obj instanceof PyTuple);
  const [e2w, w2e] = obj.items as [Map<unknown, Map<unknown, unknown>>, Map<unknown, Map<unknown, unknown>>];
  assert.deepEqual([...w2e.keys()], ['tempo', 'chord', 'bar-beat', 'type', 'pitch', 'duration', 'velocity', 'emotion']);
  assert.equal(w2e.get('tempo')!.get(0), 0); // the int 0 is index 0, as EMOPIA sorts it
  assert.equal(w2e.get('tempo')!.get(2), 'Tempo_119');
  assert.equal(e2w.get('bar-beat')!.get('Beat_10'), 4); // 0, Bar, then lexicographic: Beat_0, Beat_1, Beat_10, ...
  assert.equal(e2w.get('emotion')!.get(4), 4);
  assert.equal(e2w.get('emotion')!.get('4'), undefined, 'the int 4 and the str "4" are different keys');
});

test('a hostile pickle (__reduce__ calling os.system) is refused naming the global, before anything runs', () => {
  assert.throws(() => unpickle(fixture('hostile.pkl'), { what: 'hostile.pkl' }), (err: Error) => {
    assert.ok(err instanceof InputError);
    assert.match(err.message, /^hostile\.pkl: refusing global posix\.system: only plain data may appear here \(byte \d+\)$/);
    return true;
  });
});

test('a whitelisted global may be called only through the TypeScript function given for it', () => {
  const bytes = pickle(new PyCall(new PyGlobal('m', 'f'), [1, 'a']));
  const seen: PyValue[][] = [];
  assert.equal(unpickle(bytes, { globals: { 'm.f': (args) => (seen.push(args), 42) } }), 42);
  assert.deepEqual(seen, [[1, 'a']]);
  assert.throws(() => unpickle(bytes, { globals: { 'm.f': null } }), /refusing to call m\.f: it may appear only as a value/);
  assert.throws(() => unpickle(bytes), /refusing global m\.f/);
});

test('round trip of the written subset: ints of every width, floats, strings, lists, tuples, dicts, OrderedDict', () => {
  const value = new Map<string | number, PyValue>([
    ['small', 7], ['neg', -5], ['big', 2 ** 40], ['huge', -(2n ** 62n)], ['pi', 3.25], ['s', 'Note_Pitch_60 é'],
    ['list', [1, [2, 3], new PyTuple([null, true, false])]], [0, 'int key'],
  ]);
  const back = unpickle(pickle(value as never)) as Map<unknown, unknown>;
  assert.deepEqual(back, new Map<unknown, unknown>([...value].map(([k, v]) => [k, v])));
  assert.equal(back.get('big'), 2 ** 40);
  assert.equal(back.get('huge'), -(2n ** 62n));
  const od = unpickle(pickle(new PyOrderedDict([['b', 1], ['a', 2]])), { globals: { 'collections.OrderedDict': () => new Map() } });
  assert.deepEqual([...(od as Map<string, number>).entries()], [['b', 1], ['a', 2]], 'order kept');
});

test('bad bytes are one-line InputErrors: unknown opcode, truncation, trailing bytes, old protocol, stack underflow', () => {
  const cases: Array<[number[], RegExp]> = [
    [[0x80, 2, 0xff], /unsupported pickle opcode 0xff \(byte 2\)/],
    [[0x80, 2, 0x69], /unsupported pickle opcode 0x69 \(INST\)/],
    [[0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61], /truncated: needs 2147483647 more bytes, 1 left/],
    [[0x80, 2, 0x4e, 0x2e, 0x00], /1 bytes after STOP/],
    [[0x80, 1, 0x4e, 0x2e], /pickle protocol 1, expected 2 to 5/],
    [[0x80, 2, 0x2e], /stack underflow/],
    [[0x80, 2, 0x4e], /truncated/],
    [[0x80, 2, 0x68, 9, 0x2e], /memo entry 9 was never stored/],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(() => unpickle(Uint8Array.from(bytes)), (err: Error) => err instanceof InputError && re.test(err.message) && !err.message.includes('\n'), `${bytes}`);
  }
});

test('every prefix of a real pickle fails cleanly with an InputError', () => {
  const bytes = fixture('dictionary.pkl');
  for (let n = 0; n < bytes.length; n++) assert.throws(() => unpickle(bytes.subarray(0, n)), InputError, `prefix ${n}`);
});
