/**
 * `npm run bench -- generate [--words N] [--batch B] [--preset small] [--backend wasm] [--seed S] [--engines fast,wasm] [--weights half|f32] [--pieces P] [--no-torch]`:
 * words per second of step-by-step generation (batch 1: sample the type, then the other families, feed the
 * word back) for both attention kinds, next to the same model and loop in PyTorch (bench/cp_torch.py:
 * recurrent linear attention, softmax with a key/value cache; Debian's python3-torch), with the ratio.
 *
 * Also timed: the same loop over B pieces at once (generateBatch, as `emopia generate --num N` uses), in total
 * words per second, against PyTorch's batch-1 loop (EMOPIA generates one piece at a time).
 *
 * Each engine of `--engines` (engine.ts's ENGINES names, or auto; default fast,wasm) is timed in turn.
 *
 * Both sides use a randomly initialised model of the preset with the full-grid vocabulary, EMOPIA's sampling
 * table and the grammar's masks, and never stop at EOS, so that both generate exactly N words.
 *
 * `--weights half` (default): our model's weights are rounded to half precision once, as the shipped model is
 * stored (F16); `--weights f32` keeps the float32 initialisation. Since session 13 the wasm engine holds a model
 * of the `small` preset's size as float32 either way (`auto`: halves only above 24 MiB of float32 matrices, README,
 * "WebAssembly kernels"). PyTorch computes in float32 either way (its speed does not depend on the values).
 *
 * Timed, batch 1, on both sides: the process's first piece (ours after a 20-word warm-up call that compiles the
 * kernel and packs the weights, reused by later calls: wasm/wasm_engine.ts; PyTorch's after building the model),
 * reported as `..., first piece`, and then `--pieces P` (default 3) more pieces of the same seed, each from a
 * fresh state: their median is the batch-1 figure. The first piece of a process runs while V8 is still tiering
 * up the JavaScript around the step (scripts/word_times.ts: its first 50 words cost 2-3x the later ones), so it
 * measures start-up as much as the engine; both are reported, each against PyTorch's same piece.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, tf, type BackendName } from '../src/backend.ts';
import { Rng } from '../src/random.ts';
import { FAMILIES, Vocab } from '../src/music/vocab.ts';
import { typeAllowedValues } from '../src/music/grammar.ts';
import { ATTENTION_KINDS, PRESET_NAMES, makeConfig, countParameters, type PresetName } from '../src/cp/config.ts';
import { CPTransformer } from '../src/cp/model.ts';
import { generate, generateBatch, promptFor } from '../src/cp/generate.ts';
import { EMOPIA_SAMPLING } from '../src/cp/sampling.ts';
import { ENGINE_NAMES, type EngineChoice } from '../src/cp/engine.ts';
import { float16ToFloat32, float32ToFloat16 } from '../src/io/safetensors.ts';
import { machineLine, torchPython } from './_machine.ts';
import { reportFigure, stats } from './_harness.ts';

function arg(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : dflt;
}

export async function run(args: string[]): Promise<void> {
  const words = Number(arg(args, 'words', '500'));
  const preset = arg(args, 'preset', 'small') as PresetName;
  const backend = arg(args, 'backend', 'wasm') as BackendName;
  const seed = Number(arg(args, 'seed', '1'));
  const batch = Number(arg(args, 'batch', '8'));
  const pieces = Number(arg(args, 'pieces', '3'));
  if (!(Number.isInteger(pieces) && pieces >= 1)) throw new Error(`--pieces: expected a whole number >= 1, got '${arg(args, 'pieces', '3')}'`);
  const engines = arg(args, 'engines', 'fast,wasm').split(',') as EngineChoice[];
  const weights = arg(args, 'weights', 'half');
  if (weights !== 'half' && weights !== 'f32') throw new Error(`--weights: expected half or f32, got '${weights}'`);
  for (const e of engines) if (e !== 'auto' && !ENGINE_NAMES.includes(e)) throw new Error(`--engines: expected auto or ${ENGINE_NAMES.join(', ')}, got '${e}'`);
  if (!PRESET_NAMES.includes(preset)) throw new Error(`--preset: expected one of ${PRESET_NAMES.join(', ')}, got '${preset}'`);
  await initBackend(backend);
  const vocab = Vocab.fullGrid();
  const nClasses = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<(typeof FAMILIES)[number], number>;
  const py = args.includes('--no-torch') ? undefined : torchPython();
  const tmp = mkdtempSync(join(tmpdir(), 'emopia-bench-gen-'));
  console.log(`generate bench: preset ${preset}, ${words} words per piece after the 2-word prompt, seed ${seed}, ${weights} weights; batch 1: median of ${pieces} pieces after the process's first`);
  console.log(`machine: ${machineLine(backend)}`);
  try {
    for (const attention of ATTENTION_KINDS) {
      const cfg = makeConfig(preset, nClasses, { attention });
      const model = new CPTransformer(cfg, new Rng(seed));
      if (weights === 'half') {
        for (const v of model.parameters()) {
          const r = tf.tensor(float16ToFloat32(float32ToFloat16(v.dataSync() as Float32Array)), v.shape);
          v.assign(r);
          r.dispose();
        }
      }
      console.log(
        `${attention}: d ${cfg.dModel}, ${cfg.nLayers} layers, ${cfg.nHeads} heads, ff ${cfg.dFF}, ${countParameters(cfg).toLocaleString('en')} parameters`,
      );
      const rates: { engine: EngineChoice; ts: number; tsFirst: number; tsB: number }[] = [];
      for (const engine of engines) {
        const opts = { emotion: 'Q1' as const, maxBars: 1_000_000, stopAtEos: false, engine };
        generate(model, vocab, { ...opts, seed, maxWords: 20 }); // warm-up (kernel compilation, allocations)
        const timePiece = () => {
          const t0 = performance.now();
          const r = generate(model, vocab, { ...opts, seed, maxWords: words });
          return { secs: (performance.now() - t0) / 1000, n: r.promptLength + r.generated };
        };
        const first = timePiece();
        const steady = stats(Array.from({ length: pieces }, () => timePiece().secs)).median;
        const n = first.n;
        const ts = n / steady;
        const tsFirst = n / first.secs;
        const tensors = tf.memory().numTensors;
        // The same loop for `batch` pieces at once (as `emopia generate --num N --batch B` does).
        const rngs = Array.from({ length: batch }, (_, i) => new Rng(seed + i));
        const tb = performance.now();
        const rb = generateBatch(model, vocab, { ...opts, maxWords: words }, rngs);
        const secsB = (performance.now() - tb) / 1000;
        const wordsB = rb.reduce((s, x) => s + x.promptLength + x.generated, 0);
        const tsB = wordsB / secsB;
        rates.push({ engine, ts, tsFirst, tsB });
        console.log(`  emopia-ts (${backend}, engine ${engine}), batch 1: ${ts.toFixed(1)} words/s (${n} words in ${steady.toFixed(3)} s, median of ${pieces} pieces; the process's first piece ${tsFirst.toFixed(1)} words/s; ${tensors} tensors held incl. weights)`);
        console.log(`  emopia-ts (${backend}, engine ${engine}), batch ${batch}: ${tsB.toFixed(1)} words/s (${wordsB} words in ${secsB.toFixed(2)} s)`);
      }
      model.dispose();
      if (!py) {
        for (const { engine, ts, tsFirst } of rates) {
          reportFigure({ key: `generate ${attention} ${engine} batch 1`, unit: 'words/s', ours: ts, oursHow: `${backend}, engine ${engine}, batch 1` });
          reportFigure({ key: `generate ${attention} ${engine} batch 1, first piece`, unit: 'words/s', ours: tsFirst, oursHow: `${backend}, engine ${engine}, batch 1` });
        }
        console.log('  PyTorch: skipped (no python with torch found, or --no-torch)');
        continue;
      }
      const grammar = typeAllowedValues(vocab);
      const spec = {
        config: cfg,
        allowed: grammar,
        types: vocab.values('type'),
        typeAllowed: ['Metrical', 'Note'].map((t) => vocab.encode('type', t)),
        prime: promptFor(vocab, 'Q1'),
        words,
        seed,
        pieces,
        sampling: Object.fromEntries(FAMILIES.map((f) => [f, { t: EMOPIA_SAMPLING[f].temperature, p: EMOPIA_SAMPLING[f].topP }])),
      };
      const specPath = join(tmp, `spec-${attention}.json`);
      writeFileSync(specPath, JSON.stringify(spec));
      const script = fileURLToPath(new URL('./cp_torch.py', import.meta.url));
      const out = JSON.parse(execFileSync(py, [script, 'gen', specPath], { encoding: 'utf8' }).trim().split('\n').pop() as string) as {
        words: number; seconds: number; words_per_s: number; first_words_per_s: number; threads: number; torch: string;
      };
      console.log(`  PyTorch ${out.torch} (${out.threads} threads): ${out.words_per_s.toFixed(1)} words/s (${out.words} words in ${out.seconds.toFixed(3)} s, median of ${pieces} pieces; the process's first piece ${out.first_words_per_s.toFixed(1)} words/s)`);
      const torchHow = `torch ${out.torch}, ${out.threads} thread(s), batch 1`;
      for (const { engine, ts, tsFirst, tsB } of rates) {
        console.log(`  ratio emopia-ts (engine ${engine}) / PyTorch (both batch 1): ${(ts / out.words_per_s).toFixed(2)}x; the first pieces: ${(tsFirst / out.first_words_per_s).toFixed(2)}x`);
        console.log(`  ratio emopia-ts (engine ${engine}) batch ${batch} / PyTorch batch 1 (EMOPIA's loop): ${(tsB / out.words_per_s).toFixed(2)}x`);
        reportFigure({ key: `generate ${attention} ${engine} batch 1`, unit: 'words/s', ours: ts, torch: out.words_per_s, oursHow: `${backend}, engine ${engine}, batch 1`, torchHow });
        reportFigure({ key: `generate ${attention} ${engine} batch 1, first piece`, unit: 'words/s', ours: tsFirst, torch: out.first_words_per_s, oursHow: `${backend}, engine ${engine}, batch 1`, torchHow });
        reportFigure({ key: `generate ${attention} ${engine} batch ${batch}`, unit: 'words/s', ours: tsB, torch: out.words_per_s, oursHow: `${backend}, engine ${engine}, batch ${batch}`, torchHow });
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
