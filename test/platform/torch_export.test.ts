/**
 * `emopia dataset export` (EMOPIA's main_cp.py arrays, src/platform/torch_export.ts) and `emopia export`
 * (a run as a torch.save file): shapes, dtypes and semantics checked against the dataset's own words.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNpz } from '../../src/io/npz.ts';
import { parseSafetensors, toFloat32 } from '../../src/io/safetensors.ts';
import { readTorchStateDict } from '../../src/io/torch_zip.ts';
import { emopiaArrays } from '../../src/platform/torch_export.ts';
import { Vocab } from '../../src/music/vocab.ts';
import type { Dataset } from '../../src/music/dataset.ts';
import { runCli } from '../helpers/cli.ts';
import { assertClose } from '../helpers/close.ts';

/** A clip of n words whose family f of word t is (t + f) % 3, ending in the all-zero EOS word. */
function clip(name: string, n: number) {
  const w = new Int32Array(n * 8);
  for (let t = 0; t < n - 1; t++) for (let f = 0; f < 8; f++) w[t * 8 + f] = (t + f) % 3;
  return { name, emotion: 1 as const, words: w };
}
const ds: Dataset = { vocab: Vocab.fullGrid(), train: [clip('Q1_a_0', 5), clip('Q1_b_0', 12)], valid: [clip('Q1_c_0', 7)] };

test("EMOPIA's arrays: x/y shifted by one, EOS padding, mask, seq_len, num_groups, longest first, long clips cut to maxLen-2", () => {
  const e = emopiaArrays(ds, 'all', 10);
  const a = Object.fromEntries(e.arrays);
  assert.deepEqual(e.names, ['Q1_b_0', 'Q1_c_0', 'Q1_a_0']);
  assert.equal(e.cut, 1);
  assert.deepEqual([a.x!.dtype, a.x!.shape, a.y!.shape, a.mask!.dtype, a.mask!.shape], ['I64', [3, 10, 8], [3, 10, 8], 'F64', [3, 10]]);
  assert.deepEqual(Array.from(a.seq_len!.data as BigInt64Array), [7n, 6n, 4n], 'the 12-word clip is cut to 8 words: 7 positions');
  assert.deepEqual(Array.from(a.num_groups!.data as BigInt64Array), [1n, 1n, 1n]);
  const x = a.x!.data as BigInt64Array;
  const y = a.y!.data as BigInt64Array;
  const mask = a.mask!.data as Float64Array;
  const at = (arr: BigInt64Array, i: number, t: number) => Array.from(arr.subarray((i * 10 + t) * 8, (i * 10 + t + 1) * 8), Number);
  for (const [i, c, len] of [[0, ds.train[1]!, 7], [1, ds.valid[0]!, 6], [2, ds.train[0]!, 4]] as const) {
    for (let t = 0; t < 10; t++) {
      assert.equal(mask[i * 10 + t], t < len ? 1 : 0);
      const real = (k: number) => Array.from(c.words.subarray(k * 8, k * 8 + 8));
      const eos = Array.from(c.words.subarray(c.words.length - 8));
      assert.deepEqual(at(x, i, t), t < len ? real(t) : eos, `x ${i} ${t}`);
      assert.deepEqual(at(y, i, t), t < len ? real(t + 1) : eos, `y ${i} ${t}`);
    }
  }
  const long = Object.fromEntries(emopiaArrays({ ...ds, train: [clip('Q1_l_0', 1100)] }, 'train').arrays);
  assert.deepEqual(Array.from(long.num_groups!.data as BigInt64Array), [2n], 'ceil(1021 / 512)');
  assert.deepEqual(emopiaArrays(ds, 'valid', 10).names, ['Q1_c_0']);
});

test('CLI: dataset export (npz and safetensors) and export of a run as model.pt', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'emopia-export-'));
  try {
    const fx = (n: string) => fileURLToPath(new URL(`../fixtures/${n}`, import.meta.url));
    const midi = join(dir, 'midi');
    const { mkdirSync, copyFileSync, readdirSync } = await import('node:fs');
    mkdirSync(midi);
    for (const f of readdirSync(fx('midi')).filter((f) => f.endsWith('.mid')).slice(0, 3)) copyFileSync(join(fx('midi'), f), join(midi, f));
    assert.equal((await runCli(['dataset', 'build', midi, '-o', join(dir, 'ds')])).code, 0);
    const r = await runCli(['dataset', 'export', join(dir, 'ds'), '-o', join(dir, 'd.npz'), '--max-len', '64']);
    assert.equal(r.code, 0, r.stderr);
    const npz = parseNpz(new Uint8Array(readFileSync(join(dir, 'd.npz'))));
    assert.deepEqual([...npz.keys()], ['x', 'y', 'mask', 'seq_len', 'num_groups']);
    assert.equal(npz.get('x')!.shape[1], 64);
    const s = await runCli(['dataset', 'export', join(dir, 'ds'), '--format', 'safetensors', '-o', join(dir, 'd.safetensors'), '--max-len', '64']);
    assert.equal(s.code, 0, s.stderr);
    const st = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'd.safetensors'))));
    assert.deepEqual(st.tensors.get('x'), npz.get('x'));
    assert.equal((await runCli(['dataset', 'export', join(dir, 'ds'), '--format', 'zip', '-o', join(dir, 'e')])).code, 2);

    const run = join(dir, 'run');
    assert.equal((await runCli(['import', fx('torch/tiny.pt'), '--vocab', fx('torch/dictionary.pkl'), '--preset', 'tiny', '-o', run])).code, 0);
    const x = await runCli(['export', run, '-o', join(dir, 'model.pt')]);
    assert.equal(x.code, 0, x.stderr);
    assert.match(x.stdout, /22652 parameters/);
    const original = readTorchStateDict(new Uint8Array(readFileSync(fx('torch/tiny.pt'))));
    const exported = readTorchStateDict(new Uint8Array(readFileSync(join(dir, 'model.pt'))));
    assert.deepEqual([...exported.tensors.keys()].sort(), [...original.tensors.keys()].sort(), 'pos_emb.pe included');
    for (const [k, t] of exported.tensors) {
      assert.deepEqual(t.shape, original.tensors.get(k)!.shape, k);
      if (k === 'pos_emb.pe') assertClose(toFloat32(t), toFloat32(original.tensors.get(k)!), 1e-5, k); // our table vs torch's
      else assert.deepEqual(Array.from(toFloat32(t)), Array.from(toFloat32(original.tensors.get(k)!)), k);
    }
    const missing = await runCli(['export', join(dir, 'nope'), '-o', join(dir, 'n.pt')]);
    assert.equal(missing.code, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI contract for import, export and dataset export: bad option exit 2, missing input exit 1, one line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'emopia-export-contract-'));
  try {
    const p = (n: string) => join(dir, n);
    const cases: Array<[string[], number, RegExp]> = [
      [['import', p('none.pt'), '--vocab', p('v.json'), '-o', p('r'), '--attention', 'full'], 2, /^emopia: --attention: expected one of linear\|softmax, got 'full'\n$/],
      [['import', p('none.pt'), '--vocab', p('v.json'), '-o', p('r'), '--heads', '0'], 2, /^emopia: --heads: expected an integer >= 1, got '0'\n$/],
      [['export', p('run'), '-o', p('m.pt'), '--backend', 'gpu'], 2, /^emopia: --backend: expected one of/],
      [['dataset', 'export', p('ds'), '-o', p('d.npz'), '--max-len', '2'], 2, /^emopia: --max-len: expected an integer >= 3, got '2'\n$/],
      [['import', p('none.pt'), '--vocab', p('v.json'), '-o', p('r')], 1, /^emopia: .*none\.pt: no such file\n$/],
      [['export', p('none'), '-o', p('m.pt')], 1, /^emopia: .*none: no such checkpoint folder\n$/],
      [['dataset', 'export', p('none'), '-o', p('d.npz')], 1, /^emopia: .*none\/index\.json: no such file/],
    ];
    for (const [args, code, re] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
      assert.match(r.stderr, re, args.join(' '));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
