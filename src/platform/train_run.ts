/**
 * The training loop behind `emopia train`: sets up a fresh, resumed (--resume) or initialised (--init) run,
 * steps the Trainer, validates and checkpoints every N steps, logs one JSON row per step, and stops
 * cleanly on request (Ctrl-C) or with a one-line error on a non-finite loss, keeping the last good
 * checkpoint.
 */
import { InputError, UsageError } from '../errors.ts';
import { Rng } from '../random.ts';
import type { Dataset } from '../music/dataset.ts';
import { FAMILIES, type Family } from '../music/vocab.ts';
import { makeConfig, type AttentionKind, type EmotionInput, type PresetName } from '../cp/config.ts';
import { TRAIN_DEFAULTS, defaultSeq } from '../cp/train/defaults.ts';
import { CPTransformer } from '../cp/model.ts';
import { batchesPerEpoch, checkClips } from '../cp/train/batches.ts';
import type { TrainState } from '../cp/run_folder.ts';
import { loadModel, loadRun, lockRun, runDirInUse, saveRun } from './run_folder.ts';
import { DivergedError, Trainer, type StepResult, type TrainSettings, type ValidResult } from '../cp/train/trainer.ts';
import { TrainerPool, type PoolOptions } from './train_workers.ts';
import { describeMemory, peakMemory, threadBytes, threadMemory, type ThreadMemory } from './memory.ts';

/**
 * A run's options. Those left out take their value from TRAIN_DEFAULTS (defaults.ts), as the CLI's do; a
 * resumed run keeps its own settings and reads only the length, validEvery and saveEvery.
 */
export interface RunOptions {
  /** The dataset (readDataset's result) and where it came from (for messages). */
  data: Dataset;
  dataDir: string;
  /** The run folder. */
  out: string;
  preset?: PresetName;
  /** Overrides the preset's attention kind (fresh and --init runs). */
  attention?: AttentionKind;
  /** Overrides where the model reads the emotion (config.ts `emotionInput`; fresh and --init runs). */
  emotionInput?: EmotionInput;
  /** Share of training windows read without their emotion (batches.ts; fresh and --init runs; default 0). */
  emotionDropout?: number;
  /** Total updates of the run (counting those before a resume); or `epochs` passes over the training windows. */
  steps?: number;
  epochs?: number;
  batch?: number;
  /** Words per window; by default EMOPIA's 1024, or the model's maxLen - 1 when shorter (defaultSeq). */
  seq?: number;
  lr?: number;
  warmup?: number;
  seed?: number;
  /** Continue the run in `out` with its own settings. */
  resume?: boolean;
  /** Start from the weights of another run folder, with a fresh optimizer. */
  init?: string;
  /** Write checkpoints in 16 bits (see TrainSettings.half). */
  half?: boolean;
  validEvery?: number;
  saveEvery?: number;
  /**
   * Worker threads that share each batch (train_workers.ts); default 1: this thread alone. Not a setting of
   * the run: a run may be resumed with another count (the updates agree to float rounding).
   */
  workers?: number;
  /** Test hook: a worker that throws at a step (PoolOptions.fault). */
  workerFault?: PoolOptions['fault'];
  /** Called before the first step (without `train`) and after every step; the CLI draws its progress bar from it. */
  onProgress?: (p: TrainProgress) => void;
  /** Set `stopped` to finish the current step, save and return (Ctrl-C). */
  stop?: { stopped: boolean };
  /** Human-readable notes (stderr in the CLI). */
  note?: (line: string) => void;
}

export interface TrainProgress {
  /** Steps done by this call so far, and the steps it will do in all. */
  done: number;
  total: number;
  /** The step just done (absent before the first). */
  train?: StepResult;
}

export interface RunResult {
  /** Each thread's largest memory over this call's steps (one entry per worker; one for this thread alone). */
  memory?: ThreadMemory[];
  step: number;
  totalSteps: number;
  interrupted: boolean;
  lastTrain?: StepResult;
  lastValid?: ValidResult;
  /** Steps of the last checkpoint written. */
  savedStep?: number;
}

const round = (x: number) => Number(x.toPrecision(6));
const roundLosses = (l: Record<Family, number>) => Object.fromEntries(FAMILIES.map((f) => [f, round(l[f])]));

/** Runs training to `steps` (or `epochs`) and returns where it stopped; a second training on the same folder is refused. */
export async function runTraining(opts: RunOptions): Promise<RunResult> {
  if (opts.workers !== undefined && !(Number.isInteger(opts.workers) && opts.workers >= 1)) throw new UsageError('--workers', `expected an integer >= 1, got ${opts.workers}`);
  const lock = lockRun(opts.out, opts.note);
  try {
    return await runTrainingLocked(opts);
  } finally {
    lock.release();
  }
}

async function runTrainingLocked(opts: RunOptions): Promise<RunResult> {
  const note = opts.note ?? (() => {});
  const { train, valid, vocab } = opts.data;
  checkClips(train, `dataset ${opts.dataDir} (train split)`);
  // An empty valid split only turns validation off; a clip too short for a window would crash it later.
  if (valid.length) checkClips(valid, `dataset ${opts.dataDir} (valid split)`);

  let trainer: Trainer;
  let log: string[] = [];
  let init: string | undefined;
  if (opts.resume) {
    const snap = loadRun(opts.out, opts.note);
    if (!snap.vocab.equals(vocab)) {
      snap.model.dispose();
      throw new InputError(opts.dataDir, `its vocabulary differs from the run's ${opts.out}/vocab.json (sizes ${vocab.sizes().join(',')} vs ${snap.vocab.sizes().join(',')})`);
    }
    trainer = new Trainer(snap.model, train, valid, snap.state.settings);
    trainer.optimizer.loadState(snap.optimizer, `${opts.out}/optimizer.safetensors`);
    trainer.step = snap.state.step;
    trainer.rng = Rng.fromState(snap.state.rng);
    log = [...snap.log];
    init = snap.state.init;
    const rs = snap.state.settings;
    const was = snap.state.data as TrainState['data'] | undefined; // not checked by loadRun
    if (was && (was.train !== train.length || was.valid !== valid.length)) {
      note(`the dataset has changed since the run was saved (train ${was.train} -> ${train.length} clips, valid ${was.valid} -> ${valid.length}): the batches from here on differ from an uninterrupted run's`);
    }
    note(`resuming ${opts.out} at step ${trainer.step} with the run's settings (seq ${rs.seq}, batch ${rs.batch}, lr ${rs.peakLr}, warmup ${rs.warmup}, seed ${rs.seed}${rs.emotionDropout ? `, emotion dropout ${rs.emotionDropout}` : ''}, ${snap.model.config.attention} attention)`);
  } else {
    if (runDirInUse(opts.out)) throw new InputError(opts.out, 'already exists and is not empty; pass --resume to continue that run, or choose another --out');
    let model: CPTransformer;
    if (opts.init) {
      const ck = loadModel(opts.init);
      if (!ck.vocab.equals(vocab)) {
        ck.model.dispose();
        throw new InputError(opts.dataDir, `its vocabulary differs from the --init run's ${opts.init}/vocab.json (sizes ${vocab.sizes().join(',')} vs ${ck.vocab.sizes().join(',')})`);
      }
      model = ck.model;
      const change = {
        ...(opts.attention && opts.attention !== model.config.attention ? { attention: opts.attention } : {}),
        ...(opts.emotionInput && opts.emotionInput !== model.config.emotionInput ? { emotionInput: opts.emotionInput } : {}),
      };
      if (Object.keys(change).length) {
        const sd = model.stateDict();
        const cfg = { ...model.config, ...change };
        model.dispose();
        model = new CPTransformer(cfg);
        model.loadStateDict(sd);
      }
      init = opts.init;
    } else {
      const nClasses = Object.fromEntries(FAMILIES.map((f) => [f, vocab.size(f)])) as Record<Family, number>;
      const arch = { ...(opts.attention ? { attention: opts.attention } : {}), ...(opts.emotionInput ? { emotionInput: opts.emotionInput } : {}) };
      model = new CPTransformer(makeConfig(opts.preset ?? TRAIN_DEFAULTS.preset, nClasses, arch), new Rng(opts.seed ?? TRAIN_DEFAULTS.seed));
    }
    const seq = opts.seq ?? defaultSeq(model.config.maxLen);
    if (seq + 1 > model.config.maxLen) {
      model.dispose();
      throw new UsageError('--seq', `expected at most ${model.config.maxLen - 1} (the model's maxLen ${model.config.maxLen} minus 1), got ${seq}`);
    }
    const settings: TrainSettings = {
      seq,
      batch: opts.batch ?? TRAIN_DEFAULTS.batch,
      seed: opts.seed ?? TRAIN_DEFAULTS.seed,
      peakLr: opts.lr ?? TRAIN_DEFAULTS.lr,
      warmup: opts.warmup ?? TRAIN_DEFAULTS.warmup,
      clip: TRAIN_DEFAULTS.clip,
      ...(opts.emotionDropout ? { emotionDropout: opts.emotionDropout } : {}),
      ...(opts.half ? { half: true } : {}),
    };
    trainer = new Trainer(model, train, valid, settings);
  }

  const s = trainer.settings;
  const perEpoch = batchesPerEpoch(train, s);
  const totalSteps = opts.steps ?? (opts.epochs ?? 1) * perEpoch;
  const result: RunResult = { step: trainer.step, totalSteps, interrupted: false };
  const snapshot = (): TrainState => ({
    format: 'emopia-ts/train-state',
    version: 1,
    step: trainer.step,
    epoch: Math.floor(trainer.step / perEpoch),
    batchInEpoch: trainer.step % perEpoch,
    rng: trainer.rng.state,
    settings: s,
    ...(init ? { init } : {}),
    data: { train: train.length, valid: valid.length },
    ...(result.lastValid ? { lastValid: { step: trainer.step, loss: result.lastValid.loss } } : {}),
  });
  let pool: TrainerPool | undefined;
  const save = async () => {
    await pool?.pullState();
    await saveRun(opts.out, { model: trainer.model, vocab, optimizer: trainer.optimizer.state(), state: snapshot(), log });
    result.savedStep = trainer.step;
  };

  if (trainer.step >= totalSteps) {
    note(`nothing to do: the run is at step ${trainer.step} and --steps/--epochs asks for ${totalSteps}`);
    trainer.model.dispose();
    trainer.dispose();
    return result;
  }
  note(`training ${trainer.model.numParameters().toLocaleString('en-US')} parameters (${trainer.model.config.attention} attention) on ${train.length} clips, ${perEpoch} batches per epoch, steps ${trainer.step + 1}..${totalSteps}`);

  const startStep = trainer.step;
  const validEvery = opts.validEvery ?? TRAIN_DEFAULTS.validEvery;
  const saveEvery = opts.saveEvery ?? TRAIN_DEFAULTS.saveEvery;
  const workers = opts.workers ?? 1;
  try {
    if (workers > 1) {
      pool = await TrainerPool.start(trainer, { workers, ...(opts.workerFault ? { fault: opts.workerFault } : {}) });
      note(`${workers} worker threads, each with its own replica and a share of every batch`);
    }
    opts.onProgress?.({ done: 0, total: totalSteps - startStep });
    while (trainer.step < totalSteps && !opts.stop?.stopped) {
      let r: StepResult;
      try {
        r = pool ? await pool.trainStep() : trainer.trainStep();
      } catch (err) {
        if (!(err instanceof DivergedError)) throw err;
        const kept = result.savedStep ?? (opts.resume ? startStep : undefined);
        throw new InputError('training stopped', `${err.message}; ${kept !== undefined ? `${opts.out} keeps the checkpoint of step ${kept}` : 'no checkpoint was written'}`);
      }
      result.lastTrain = r;
      const wps = r.words / r.seconds;
      const memory = pool ? pool.lastMemory : [threadMemory()];
      if (r.step === startStep + 1) note(`memory after the first step: ${describeMemory(memory, false, pool?.sharedBytes)}`);
      result.memory = peakMemory(result.memory, memory);
      log.push(JSON.stringify({ kind: 'train', step: r.step, epoch: r.epoch, loss: round(r.loss), losses: roundLosses(r.losses), lr: r.lr, gradNorm: round(r.gradNorm), words: r.words, wordsPerSec: round(wps), memoryMiB: memory.map((m) => Math.round(threadBytes(m) / 2 ** 20)) }));
      opts.onProgress?.({ done: r.step - startStep, total: totalSteps - startStep, train: r });
      if (r.step % validEvery === 0 || r.step === totalSteps) {
        const v = pool ? await pool.validate() : trainer.validate();
        if (v) {
          result.lastValid = v;
          log.push(JSON.stringify({ kind: 'valid', step: r.step, loss: round(v.loss), losses: roundLosses(v.losses), words: v.words }));
        }
      }
      if (r.step % saveEvery === 0 || r.step === totalSteps) await save();
      // Lets a Ctrl-C handler run between steps.
      await new Promise((res) => setImmediate(res));
    }
    if (opts.stop?.stopped && result.savedStep !== trainer.step) {
      await save();
    }
    result.interrupted = Boolean(opts.stop?.stopped) && trainer.step < totalSteps;
    result.step = trainer.step;
    if (result.memory && trainer.step > startStep + 1) note(`largest memory over the run: ${describeMemory(result.memory, true, pool?.sharedBytes)}`);
    return result;
  } finally {
    await pool?.close();
    trainer.model.dispose();
    trainer.dispose();
  }
}
