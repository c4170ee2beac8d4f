// `emopia torch-parity` through the real binary: the committed PyTorch fixtures pass, perturbed or re-masked
// copies fail or pass as they should, unusable files are one-line exit-1 errors (bad input); runTorchParity in process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, type CliResult } from '../helpers/cli.ts';
import { tf, initBackend } from '../../src/backend.ts';
import { parseSafetensors, serializeSafetensors, type ParsedSafetensors } from '../../src/io/safetensors.ts';
import { runTorchParity, transformerConfigFromTorch } from '../../src/core/torch_interop.ts';
import { InputError } from '../../src/errors.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/transformer/', import.meta.url));
const NAMES = ['post_relu', 'prenorm_gelu', 'uneven_gelu', 'grads_relu'];
let dir = '';

function load(name: string): ParsedSafetensors {
  return parseSafetensors(readFileSync(join(FIXTURES, `${name}.safetensors`)));
}

/** Writes a modified copy of a fixture into the temporary folder and returns its path. */
function variant(file: string, edit: (p: ParsedSafetensors) => void): string {
  const p = load('post_relu');
  edit(p);
  const path = join(dir, file);
  writeFileSync(path, serializeSafetensors(p.tensors, p.metadata));
  return path;
}

function maxAbsErr(r: CliResult): number {
  const m = /^max_abs_err=(\S+) positions=(\d+)\/(\d+)/m.exec(r.stdout);
  assert.ok(m, `no max_abs_err line in ${JSON.stringify(r.stdout)}`);
  return Number(m[1]);
}

function assertOneLineError(r: CliResult, code: number, re: RegExp): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got ${JSON.stringify(r.stderr)}`);
  assert.match(lines[0] as string, /^emopia: /);
  assert.match(lines[0] as string, re);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parity-'));
  await initBackend('wasm');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('every committed fixture matches PyTorch: exit 0, max_abs_err below 1e-4 over the real target positions', async () => {
  const runs = await Promise.all(NAMES.map((n) => runCli(['torch-parity', join(FIXTURES, `${n}.safetensors`)])));
  runs.forEach((r, i) => {
    assert.equal(r.code, 0, `${NAMES[i]}: ${r.stderr}`);
    const err = maxAbsErr(r);
    assert.ok(err >= 0 && err <= 1e-4, `${NAMES[i]}: max_abs_err=${err}`);
    // positions = real (non-padding) target positions, from the fixture's tgt_key_padding_mask.
    const pad = load(NAMES[i] as string).tensors.get('tgt_key_padding_mask')!.data as Uint8Array;
    const real = pad.filter((v) => v === 0).length;
    assert.match(r.stdout, new RegExp(`positions=${real}/${pad.length} `));
  });
});

test('--backend cpu gives the same verdict', async () => {
  const r = await runCli(['torch-parity', '--backend', 'cpu', join(FIXTURES, 'prenorm_gelu.safetensors')]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(maxAbsErr(r) <= 1e-4);
});

test('out perturbed at a real position: exit 1 and the perturbation is measured; at a padded position: ignored', async () => {
  // post_relu: tgt lengths [4, 2], T = 4, d = 8. Position (1, 1) is real; (1, 3) is padding.
  const d = 8;
  const real = variant('real.safetensors', (p) => {
    (p.tensors.get('out')!.data as Float32Array)[(1 * 4 + 1) * d + 5]! += 1e-3;
  });
  const padded = variant('padded.safetensors', (p) => {
    (p.tensors.get('out')!.data as Float32Array)[(1 * 4 + 3) * d + 5]! += 10;
  });
  const [r1, r2] = await Promise.all([runCli(['torch-parity', real]), runCli(['torch-parity', padded])]);
  assertOneLineError(r1, 1, /max_abs_err .* is above the tolerance 0\.0001/);
  const err = maxAbsErr(r1);
  assert.ok(Math.abs(err - 1e-3) < 1e-5, `measured ${err}, expected ~1e-3`);
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok(maxAbsErr(r2) <= 1e-4);
});

test("PyTorch's float masks and the optional src_mask / memory_mask are read and applied; a float bias is refused", async () => {
  // post_relu: B 2, S 5, T 4. The same causal mask as float (0 / -inf, as generate_square_subsequent_mask
  // makes it), plus an all-allowed src_mask (U8) and memory_mask (F32): the function is unchanged, so PyTorch's
  // output still matches.
  const S = 5;
  const T = 4;
  const floats = (rows: number, cols: number, blocked: (i: number, j: number) => boolean): Float32Array =>
    Float32Array.from({ length: rows * cols }, (_, k) => (blocked(Math.floor(k / cols), k % cols) ? -Infinity : 0));
  const same = variant('float_masks.safetensors', (p) => {
    p.tensors.set('tgt_mask', { dtype: 'F32', shape: [T, T], data: floats(T, T, (i, j) => j > i) });
    p.tensors.set('src_mask', { dtype: 'U8', shape: [S, S], data: new Uint8Array(S * S) });
    p.tensors.set('memory_mask', { dtype: 'F32', shape: [T, S], data: floats(T, S, () => false) });
  });
  // A memory_mask that blocks source key 0 for every target query changes the function: PyTorch's output no
  // longer matches, which shows that the mask reaches the cross-attention.
  const blocked = variant('memory_mask_blocks.safetensors', (p) => {
    p.tensors.set('memory_mask', { dtype: 'F32', shape: [T, S], data: floats(T, S, (_, j) => j === 0) });
  });
  // The same for src_mask (U8, 1 = blocked) in the encoder's self-attention.
  const srcBlocked = variant('src_mask_blocks.safetensors', (p) => {
    p.tensors.set('src_mask', { dtype: 'U8', shape: [S, S], data: Uint8Array.from({ length: S * S }, (_, k) => (k % S === 0 ? 1 : 0)) });
  });
  // An additive float bias is not a mask.
  const bias = variant('bias_mask.safetensors', (p) => {
    p.tensors.set('memory_mask', { dtype: 'F32', shape: [T, S], data: new Float32Array(T * S).fill(0.5) });
  });
  const [r1, r2, r3, r4] = (await Promise.all([same, blocked, bias, srcBlocked].map((f) => runCli(['torch-parity', f])))) as [CliResult, CliResult, CliResult, CliResult];
  assert.equal(r1.code, 0, r1.stderr);
  assert.ok(maxAbsErr(r1) <= 1e-4, `max_abs_err ${maxAbsErr(r1)}`);
  for (const [r, what] of [[r2, 'memory_mask'], [r4, 'src_mask']] as const) {
    assertOneLineError(r, 1, /max_abs_err .* is above the tolerance/);
    assert.ok(maxAbsErr(r) > 1e-2, `a ${what} that blocks key 0 changes the output: ${maxAbsErr(r)}`);
  }
  assertOneLineError(r3, 1, /float mask: expected 0 \(allowed\) or -inf\/large negative \(blocked\), got 0\.5/);
});

test('files it cannot use: exit 1 (bad input) with a one-line reason naming the file', async () => {
  const noSrc = variant('nosrc.safetensors', (p) => p.tensors.delete('src'));
  const noParam = variant('noparam.safetensors', (p) => p.tensors.delete('decoder.norm.weight'));
  const badCfg = variant('badcfg.safetensors', (p) => (p.metadata.config = '{"d_model": 8,'));
  const badShape = variant('badshape.safetensors', (p) => {
    const t = p.tensors.get('tgt')!;
    p.tensors.set('tgt', { dtype: 'F32', shape: [2, 2, 16], data: t.data });
  });
  const noCfg = variant('nocfg.safetensors', (p) => delete p.metadata.config);
  const junk = join(dir, 'junk.safetensors');
  writeFileSync(junk, 'this is not a safetensors file at all');
  const cases: Array<[string, RegExp]> = [
    [noSrc, /missing tensor 'src'/],
    [noParam, /missing 1 parameter\(s\): decoder\.norm\.weight/],
    [badCfg, /__metadata__\.config is not valid JSON/],
    [badShape, /tensor 'tgt': expected shape \[2,2,8\], got \[2,2,16\]/],
    [noCfg, /missing __metadata__\.config/],
    [junk, /junk\.safetensors: safetensors: header length \d+ exceeds/],
    [join(dir, 'absent.safetensors'), /absent\.safetensors: no such file/],
  ];
  const runs = await Promise.all(cases.map(([f]) => runCli(['torch-parity', f])));
  runs.forEach((r, i) => {
    assertOneLineError(r, 1, cases[i]![1]);
    assert.ok(r.stderr.startsWith(`emopia: ${cases[i]![0]}: `), `names the file: ${r.stderr}`);
  });
  // A bad option value is a usage error: exit 2.
  assertOneLineError(await runCli(['torch-parity', '--tolerance', 'x', noSrc]), 2, /--tolerance: expected a number/);
});

test('runTorchParity in process: same result as the command, and no tensor left behind', () => {
  const before = tf.memory().numTensors;
  const res = runTorchParity(load('uneven_gelu'));
  assert.equal(tf.memory().numTensors, before);
  assert.ok(res.maxAbsErr <= 1e-4, `max_abs_err=${res.maxAbsErr}`);
  assert.equal(res.positions, 3 + 1 + 2);
  assert.equal(res.totalPositions, 9);
  assert.deepEqual(res.config, {
    dModel: 16, nhead: 4, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 32,
    dropout: 0, activation: 'gelu', normFirst: false, layerNormEps: 1e-5,
  });
  // A failing file leaves nothing behind either.
  const p = load('post_relu');
  p.tensors.delete('encoder.layers.0.linear1.bias');
  assert.throws(() => runTorchParity(p), InputError);
  assert.equal(tf.memory().numTensors, before);
  // A file whose every target position is padding compares nothing: refused rather than passed with error 0.
  const allPad = load('post_relu');
  (allPad.tensors.get('tgt_key_padding_mask')!.data as Uint8Array).fill(1); // U8, 1 = padding
  assert.throws(() => runTorchParity(allPad), /tgt_key_padding_mask marks all 8 target positions as padding: nothing to compare/);
  assert.equal(tf.memory().numTensors, before);
});

test('config parsing names the bad field', () => {
  assert.throws(() => transformerConfigFromTorch('{"d_model":8,"nhead":2,"num_encoder_layers":1,"num_decoder_layers":1,"dim_feedforward":4,"activation":"tanh"}'), /'activation' "relu" or "gelu", got "tanh"/);
  assert.throws(() => transformerConfigFromTorch('{"d_model":8.5}'), /'d_model' to be an integer >= 1, got 8.5/);
  assert.throws(() => transformerConfigFromTorch('[1]'), /must be a JSON object/);
});
