/**
 * The studio page: three views (generate, read a piece, learn the masks). Everything heavy (tfjs, the model,
 * the masks' tensors) runs in worker.ts; this thread keeps the controls, decodes words for the piano roll,
 * classifies dropped files (the classifier is plain JavaScript) and draws.
 */
// This thread imports the browser-safe modules themselves, not the barrel, so that tfjs loads in the worker only.
import { Vocab, FAMILY_INDEX, wordsToScore, type Score } from '../src/music/index.ts';
import type { FromWorker, GenerateRequest, MasksRequest } from './protocol.ts';
import { PianoRoll } from './roll.ts';
import { setupRead } from './read.ts';
import { setupMasks } from './masks_view.ts';
import type { Player } from './player.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page: no element #${id}`);
  return el as T;
};
const BASE = new URL('./', location.href).href;
const NAMES = { 1: 'happy', 2: 'tense', 3: 'sad', 4: 'calm' } as const;

// ---- tabs
const all = <T extends Element>(sel: string): T[] => Array.from(document.querySelectorAll<T>(sel) as ArrayLike<T>);
for (const tab of all<HTMLButtonElement>('.tab')) {
  tab.addEventListener('click', () => {
    for (const t of all<HTMLButtonElement>('.tab')) t.classList.toggle('on', t === tab);
    for (const v of all<HTMLElement>('.view')) v.hidden = v.id !== `view-${tab.dataset.tab}`;
    if (tab.dataset.tab === 'masks') masks.open();
  });
}

// ---- shared: the vocabulary, for decoding words on this thread
const vocabReady: Promise<Vocab> = fetch(`${BASE}models/default/vocab.json`).then(async (r) => Vocab.fromJSON(await r.json()));

// ---- playback (Tone.js and the samples load on the first press of Play)
let player: Player | null = null;
let playing: Score | null = null;
let playingRoll: PianoRoll | null = null;
async function getPlayer(): Promise<Player> {
  if (!player) {
    const { Player } = await import('./player.ts');
    player = new Player(BASE, (tick) => playingRoll?.cursor(tick), (on) => {
      for (const b of all<HTMLButtonElement>('.play')) b.textContent = on ? 'Pause' : 'Play';
    });
    player.load(playing);
  }
  return player;
}
function setPlayable(score: Score | null, on: PianoRoll): void {
  playingRoll?.cursor(null);
  playing = score;
  playingRoll = on;
  player?.load(score);
  for (const b of all<HTMLButtonElement>('.play')) b.disabled = !score;
}

// ---- generate
const roll = new PianoRoll($<HTMLCanvasElement>('roll'));
const status = $('status');
const progress = $('progress');
const genButton = $<HTMLButtonElement>('generate');
const stopButton = $<HTMLButtonElement>('stop');
const download = $<HTMLAnchorElement>('download');
let emotion: 1 | 2 | 3 | 4 = 1;
for (const q of all<HTMLButtonElement>('.quad')) {
  q.addEventListener('click', () => {
    emotion = Number(q.dataset.q) as 1 | 2 | 3 | 4;
    for (const o of all<HTMLButtonElement>('.quad')) o.classList.toggle('on', o === q);
  });
}
document.querySelector(`.quad[data-q="1"]`)?.classList.add('on');

let worker: Worker;
let ready = false;
let running = false;
let words: number[][] = [];
let maxBars = 16;
let asked: GenerateRequest | null = null; // the piece being written
let t0 = 0;
let firstNoteMs: number | null = null;

function startWorker(): void {
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  ready = false;
  worker.onmessage = (e: MessageEvent<FromWorker>) => void onWorker(e.data);
  worker.onerror = (e) => setStatus('error', e.message);
}

function setStatus(s: string, detail = ''): void {
  status.textContent = s;
  progress.textContent = detail;
}

function countBars(vocab: Vocab, ws: number[][]): number {
  const types = vocab.values('type');
  const beats = vocab.values('barbeat');
  return ws.filter((w) => types[w[FAMILY_INDEX.type] as number] === 'Metrical' && beats[w[FAMILY_INDEX.barbeat] as number] === 'Bar').length;
}

let drawTimer: ReturnType<typeof setTimeout> | null = null;
let generatedSoFar = 0;

function drawPartial(vocab: Vocab): void {
  const { score } = wordsToScore(words.flat(), vocab);
  if (firstNoteMs === null && score.notes.length > 0) {
    firstNoteMs = performance.now() - t0;
    document.body.dataset.firstNoteMs = firstNoteMs.toFixed(0); // from the click
    document.body.dataset.firstNoteAt = performance.now().toFixed(0); // from the page's start
  }
  roll.show(score, maxBars * 4 * score.ticksPerBeat);
  setStatus('generating', `${generatedSoFar} words, bar ${Math.min(countBars(vocab, words), maxBars)} of ${maxBars}`);
}

async function onWorker(m: FromWorker): Promise<void> {
  const vocab = await vocabReady;
  if (m.type === 'ready') {
    ready = true;
    document.body.dataset.backend = m.backend;
    document.body.dataset.loadMs = m.loadMs.toFixed(0);
    document.body.dataset.readyAt = performance.now().toFixed(0);
    if (!running) setStatus('ready', `(model loaded, ${m.backend} backend)`);
  } else if (m.type === 'words') {
    words.push(...m.words);
    generatedSoFar = m.generated;
    // Redraw at most about 5 times a second: drawing competes with the worker for the processor.
    drawTimer ??= setTimeout(() => {
      drawTimer = null;
      if (running) drawPartial(vocab);
    }, firstNoteMs === null ? 0 : 200);
  } else if (m.type === 'done') {
    running = false;
    const { score } = wordsToScore(m.words, vocab);
    roll.show(score);
    const url = URL.createObjectURL(new Blob([m.midi as Uint8Array<ArrayBuffer>], { type: 'audio/midi' }));
    if (download.href.startsWith('blob:')) URL.revokeObjectURL(download.href);
    download.href = url;
    download.download = asked ? `emopia_Q${asked.emotion}_${NAMES[asked.emotion]}_seed${asked.seed}_${asked.maxBars}bars.mid` : 'emopia.mid';
    download.classList.remove('disabled');
    download.removeAttribute('aria-disabled');
    const secs = m.ms / 1000;
    document.body.dataset.wordsPerSecond = (m.generated / secs).toFixed(1);
    setStatus('done', `${m.generated} words, ${m.bars} bars, ${m.notes} notes in ${secs.toFixed(1)} s (${(m.generated / secs).toFixed(0)} words/s), stopped by ${m.stoppedBy}`);
    stopButton.disabled = true;
    setPlayable(score, roll);
  } else if (m.type === 'error') {
    running = false;
    stopButton.disabled = true;
    setStatus('error', m.message);
  }
}

function readNumber(id: string, fallback: number | null, check: (v: number) => boolean): number | null {
  const raw = $<HTMLInputElement>(id).value.trim();
  if (raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || !check(v)) throw new Error(`${id}: expected ${id === 'bars' ? 'an integer from 1 to 64' : 'a number'}, got '${raw}'`);
  return v;
}

function generate(): void {
  let req: GenerateRequest;
  try {
    req = {
      type: 'generate', emotion,
      maxBars: readNumber('bars', 16, (v) => Number.isInteger(v) && v >= 1 && v <= 64) as number,
      seed: readNumber('seed', 0, (v) => Number.isInteger(v) && v >= 0) as number,
      temperature: readNumber('temperature', null, (v) => v > 0),
      guidance: readNumber('guidance', null, (v) => v >= 0),
    };
  } catch (err) {
    setStatus('error', (err as Error).message);
    return;
  }
  if (running) stop();
  running = true;
  words = [];
  maxBars = req.maxBars;
  asked = req;
  t0 = performance.now();
  firstNoteMs = null;
  roll.show(null);
  download.classList.add('disabled');
  download.setAttribute('aria-disabled', 'true');
  stopButton.disabled = false;
  setStatus('generating', ready ? '' : '(loading the model)');
  worker.postMessage(req);
}

function stop(): void {
  // Generation is synchronous in the worker: end it, and start a fresh one (the files come from the cache).
  worker.terminate();
  startWorker();
  running = false;
  stopButton.disabled = true;
  setStatus('stopped', `${words.length} words kept on the roll`);
}

genButton.addEventListener('click', generate);
stopButton.addEventListener('click', stop);
for (const b of all<HTMLButtonElement>('.play')) {
  b.addEventListener('click', () => void getPlayer().then((p) => p.toggle()).catch((err: unknown) => setStatus('error', `playback: ${(err as Error).message}`)));
}
startWorker();

// ---- read a piece, learn the masks
const readRoll = new PianoRoll($<HTMLCanvasElement>('read-roll'));
setupRead({ base: BASE, vocab: vocabReady, roll: readRoll, onScore: setPlayable });
// The masks have a worker of their own (tfjs, no model), started when the tab first opens.
let masksWorker: Worker | null = null;
const masks = setupMasks((req: MasksRequest, onDone: (m: FromWorker) => void) => {
  masksWorker ??= new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'masks' });
  masksWorker.onmessage = (e: MessageEvent<FromWorker>) => onDone(e.data);
  masksWorker.postMessage(req);
});
