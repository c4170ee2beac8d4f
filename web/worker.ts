/**
 * The studio's worker: tfjs (wasm backend) and the shipped model, off the page's thread. Generation is
 * synchronous, so the page stops it by ending this worker and starting another (the files come from the cache).
 *
 * A piece is made exactly as `emopia generate` makes piece 1 of `--num 1` (src/cli/commands/generate.ts): the
 * model's own settings from generation.json under the page's overrides, the rng forked once from the seed, the
 * default engine, and the MIDI from wordsToScore + scoreToMidi. Same settings, same bytes.
 */
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import {
  FAMILIES, Rng, tf, initBackend, modelFromParts, generate, generationSettings, parseGenerationDefaults, scoreToMidi, wordsToScore,
  type CPTransformer, type SamplingOverrides, type Vocab,
} from '../src/browser.ts';
import { maskWalkthrough } from '../src/core/walkthrough.ts';
import type { FromWorker, GenerateRequest, ToWorker } from './protocol.ts';

const post = (m: FromWorker, transfer: Transferable[] = []): void => self.postMessage(m, { transfer });
const base = new URL('./', self.location.href);
const asset = (p: string) => new URL(p, base).href;

async function fetchOk(path: string): Promise<Response> {
  const res = await fetch(asset(path));
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res;
}

setWasmPaths(asset('tfjs/'));
// One thread, as the CLI's wasm backend in Node, even where the server sends cross-origin isolation headers: the
// page's MIDI bytes must equal the CLI's.
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
const backendReady = initBackend('wasm');

interface Loaded {
  model: CPTransformer;
  vocab: Vocab;
  generation: unknown;
}
let loaded: Promise<Loaded> | null = null;

function loadModel(): Promise<Loaded> {
  loaded ??= (async () => {
    const t0 = performance.now();
    const dir = 'models/default/';
    const [weights, config, vocab, generation] = await Promise.all([
      fetchOk(`${dir}model.safetensors`).then(async (r) => new Uint8Array(await r.arrayBuffer())),
      fetchOk(`${dir}config.json`).then((r) => r.json() as Promise<unknown>),
      fetchOk(`${dir}vocab.json`).then((r) => r.json() as Promise<unknown>),
      fetchOk(`${dir}generation.json`).then((r) => r.json() as Promise<unknown>),
      backendReady,
    ]);
    const m = modelFromParts({ weights, config, vocab }, { weights: 'model.safetensors', config: 'config.json', vocab: 'vocab.json' });
    post({ type: 'ready', backend: await backendReady, loadMs: performance.now() - t0 });
    return { model: m.model, vocab: m.vocab, generation };
  })();
  return loaded;
}

async function runGenerate(req: GenerateRequest): Promise<void> {
  const { model, vocab, generation } = await loadModel();
  const sampling: SamplingOverrides = {};
  if (req.temperature !== null) for (const f of FAMILIES) sampling[f] = { temperature: req.temperature };
  const settings = generationSettings(parseGenerationDefaults(generation, 'generation.json'), {
    sampling, guidance: req.guidance ?? undefined,
  });
  const t0 = performance.now();
  let sent = 0;
  let lastPost = 0;
  const piece = generate(model, vocab, {
    emotion: req.emotion,
    maxBars: req.maxBars,
    rng: new Rng(req.seed).fork(), // as the CLI: piece i takes the i-th fork of the seed's rng
    sampling: settings.sampling,
    guidance: settings.guidance,
    contrast: settings.contrast,
    recall: settings.recall,
    perQuadrant: settings.perQuadrant,
    onWord: (generated, pieces) => {
      const words = pieces[0] ?? [];
      const now = performance.now();
      if (now - lastPost < 100 && sent > 0) return; // about 10 messages a second
      lastPost = now;
      post({ type: 'words', words: words.slice(sent).map((w) => [...w]), generated });
      sent = words.length;
    },
  });
  const { score } = wordsToScore(piece.words, vocab);
  const midi = scoreToMidi(score);
  post({
    type: 'done', words: piece.words, midi, generated: piece.generated, bars: piece.bars, notes: score.notes.length,
    stoppedBy: piece.stoppedBy, ms: performance.now() - t0,
  }, [piece.words.buffer, midi.buffer as ArrayBuffer]);
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const req = e.data;
  try {
    if (req.type === 'generate') await runGenerate(req);
    else if (req.type === 'masks') {
      await backendReady;
      post({ type: 'masks', walkthrough: maskWalkthrough(req) });
    }
  } catch (err) {
    post({ type: 'error', message: (err as Error).message.split('\n')[0] ?? String(err) });
  }
};

// Start loading at once: the first note should not wait for the first click (the masks' worker needs no model).
if (self.name !== 'masks') void loadModel().catch((err: unknown) => post({ type: 'error', message: (err as Error).message.split('\n')[0] ?? String(err) }));
