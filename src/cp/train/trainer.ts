/**
 * One training step and one validation pass of the compound-word Transformer, with everything a step
 * depends on held in one object: the model, the Adam state, the dropout Rng and the step count. The batch of
 * a step is rebuilt from (seed, step) (batches.ts), so these four things are the whole training state.
 */
import { tf } from '../../backend.ts';
import { Rng } from '../../random.ts';
import type { CPTransformer } from '../model.ts';
import { FAMILIES, type Family } from '../../music/vocab.ts';
import type { Clip } from '../../music/dataset.ts';
import { Adam, clipFactor, gradNorm, namedGrads } from '../../core/train/optim.ts';
import { learningRate, type ScheduleConfig } from '../../core/train/schedule.ts';
import { batchAt, batchTensors, buildBatch, coveringWindows, type WindowOptions, type WindowRef } from './batches.ts';
import { cpLoss, familyLosses } from './loss.ts';

/** Words per forward/backward pass; a batch with more is split into passes whose gradients are summed. */
export const TOKENS_PER_PASS = 1024;

/** Whole samples per pass for windows of `seq` words (at least one). */
export function samplesPerPass(seq: number): number {
  return Math.max(1, Math.floor(TOKENS_PER_PASS / seq));
}

/** Hyper-parameters that fix the sequence of updates; saved with the run and reused on --resume. */
export interface TrainSettings extends WindowOptions, ScheduleConfig {
  /** Global gradient-norm limit (EMOPIA 3). */
  clip: number;
  /**
   * Checkpoints in 16 bits: weights F16, Adam's moments BF16 (whose 8-bit exponent keeps the tiny second
   * moments from underflowing). A third of the F32 size, for runs whose checkpoints are committed between
   * sessions; resuming from them is close to, not bit-identical with, an uninterrupted run.
   */
  half?: boolean;
}

export interface StepResult {
  /** Updates done after this step (1-based). */
  step: number;
  epoch: number;
  loss: number;
  losses: Record<Family, number>;
  lr: number;
  gradNorm: number;
  /** Target positions in the batch's loss (mask sum). */
  words: number;
  seconds: number;
}

export interface ValidResult {
  loss: number;
  losses: Record<Family, number>;
  words: number;
}

/** Thrown when a step gives a loss or gradient that is not finite; the update is not applied. */
export class DivergedError extends Error {
  constructor(readonly step: number, readonly value: number, what: string) {
    super(`${what} is ${value} at step ${step}`);
    this.name = 'DivergedError';
  }
}

/** An Rng that counts its draws (Trainer.dropoutDraws). */
class CountingRng extends Rng {
  calls = 0;

  override next(): number {
    this.calls += 1;
    return super.next();
  }
}

export class Trainer {
  readonly optimizer: Adam;
  /** The dropout Rng; its state is saved with each checkpoint. */
  rng: Rng;
  /** Updates done so far. */
  step = 0;
  private readonly params: Array<[string, tf.Variable]>;

  constructor(readonly model: CPTransformer, readonly train: readonly Clip[], readonly valid: readonly Clip[], readonly settings: TrainSettings) {
    this.params = model.namedParameters();
    this.optimizer = new Adam(this.params);
    // The dropout stream is seeded apart from the data order and the initialisation.
    this.rng = new Rng((settings.seed ^ 0x2545f491) >>> 0);
  }

  /**
   * One update: the batch of the current step, forward with dropout, loss, gradients, clipping, Adam.
   *
   * The batch goes through the model in passes of at most TOKENS_PER_PASS words (whole samples), and the
   * gradients of the passes are summed. Each pass contributes Σ_f Σ CE·mask / (8 · mask sum of the whole
   * batch), so the sum is exactly the gradient of EMOPIA's batch loss; only the peak memory changes (the wasm
   * backend's heap is limited to 4 GB, and a [4, 1024] batch of the small preset needs more in one pass).
   *
   * The two halves are public for data-parallel training (src/platform/train_workers.ts): each worker runs
   * `batchGradients` on its share of the passes, and every replica runs `applyGradients` on the same sum.
   */
  trainStep(): StepResult {
    const t0 = performance.now();
    const s = this.settings;
    const { epoch, refs } = batchAt(this.train, s, this.step);
    const words = this.batchWords(refs);
    const rngBefore = this.rng.state;
    let acc: Map<string, tf.Tensor> | undefined;
    try {
      const g = this.batchGradients(refs, words, this.rng);
      acc = g.grads;
      const r = this.applyGradients(acc, g.sums, words);
      return { step: this.step, epoch, ...r, words, seconds: (performance.now() - t0) / 1000 };
    } catch (err) {
      // A failed step leaves the state as it was before it.
      this.rng = Rng.fromState(rngBefore);
      throw err;
    } finally {
      if (acc) tf.dispose([...acc.values()]);
    }
  }

  /** The mask sum of the whole batch `refs` (the loss's denominator). */
  batchWords(refs: readonly WindowRef[]): number {
    return buildBatch(this.train, refs, this.settings.seq, this.model.config.emotionInput).words;
  }

  /**
   * The summed gradients of the windows `refs` in passes of `perPass` samples, each pass scaled by the whole
   * batch's mask sum `words`, with dropout drawn from `rng`; and the per-family loss sums (Σ CE·mask). The
   * caller owns the gradients; on a throw nothing is left allocated.
   */
  batchGradients(refs: readonly WindowRef[], words: number, rng: Rng, perPass = samplesPerPass(this.settings.seq)): { grads: Map<string, tf.Tensor>; sums: Float64Array } {
    const s = this.settings;
    const sums = new Float64Array(FAMILIES.length);
    const acc = new Map<string, tf.Tensor>();
    try {
      for (let i = 0; i < refs.length; i += perPass) {
        const hb = buildBatch(this.train, refs.slice(i, i + perPass), s.seq, this.model.config.emotionInput);
        const batch = batchTensors(hb);
        const kept: tf.Tensor[] = [];
        try {
          const { value, grads } = namedGrads(() => {
            const logits = this.model.forwardTrain(batch.x, batch.nextType, rng); // (b, T, n_f) per family
            const loss = cpLoss(logits, batch.y, batch.mask, Math.max(words, 1)); // sums (8,), total ()
            kept.push(tf.keep(loss.sums));
            return loss.total;
          }, this.params);
          value.dispose();
          const part = (kept[0] as tf.Tensor).dataSync();
          FAMILIES.forEach((_, j) => (sums[j] = (sums[j] as number) + (part[j] as number)));
          for (const [name, g] of grads) {
            const prev = acc.get(name);
            if (prev) {
              acc.set(name, tf.add(prev, g));
              tf.dispose([prev, g]);
            } else acc.set(name, g);
          }
        } finally {
          // Released also when the pass throws, so a failed step leaks nothing.
          tf.dispose([...kept, ...Object.values(batch)]);
        }
      }
      return { grads: acc, sums };
    } catch (err) {
      tf.dispose([...acc.values()]);
      throw err;
    }
  }

  /**
   * The update from the summed gradients `grads` (not disposed) and loss sums of a batch with mask sum
   * `words`: the loss, the divergence checks (DivergedError, nothing applied), clipping, Adam at the step's
   * learning rate; then the step count advances.
   */
  applyGradients(grads: ReadonlyMap<string, tf.Tensor>, sums: ArrayLike<number>, words: number): { loss: number; losses: Record<Family, number>; lr: number; gradNorm: number } {
    const s = this.settings;
    // Same denominator as the gradient's (a batch without targets would otherwise read as a NaN divergence).
    const { loss, losses } = familyLosses(sums, words);
    if (!Number.isFinite(loss)) throw new DivergedError(this.step + 1, loss, 'the training loss');
    const norm = gradNorm(grads);
    if (!Number.isFinite(norm)) throw new DivergedError(this.step + 1, norm, 'the gradient norm');
    const lr = learningRate(this.step, s);
    this.optimizer.applyClipped(grads, clipFactor(norm, s.clip), lr); // clip_grad_norm_ then Adam
    this.step += 1;
    return { loss, losses, lr, gradNorm: norm };
  }

  /** Random draws one forward pass with dropout takes from its Rng (the same for every batch shape). */
  dropoutDraws(): number {
    const counter = new CountingRng(0);
    const hb = buildBatch(this.train, [{ clip: 0, start: 1 }], 1, this.model.config.emotionInput);
    tf.tidy(() => {
      const b = batchTensors(hb);
      this.model.forwardTrain(b.x, b.nextType, counter); // (1, 1, n_f) per family
    });
    return counter.calls;
  }

  /** Loss over the whole valid split (every word once, no dropout): Σ CE·mask / Σ mask per family. */
  validate(): ValidResult | undefined {
    const part = this.validSums(0, 1);
    return part ? { ...familyLosses(part.sums, part.words), words: part.words } : undefined;
  }

  /**
   * The valid split's loss sums (Σ CE·mask per family, float64) and mask sum over share `index` of `of`
   * contiguous shares of its passes (so workers validate in parallel: src/platform/train_workers.ts adds the
   * shares in order); undefined without a valid split. validate() is share 0 of 1.
   */
  validSums(index: number, of: number): { sums: Float64Array; words: number } | undefined {
    if (this.valid.length === 0) return undefined;
    const s = this.settings;
    const refs = coveringWindows(this.valid, s.seq);
    const sums = new Float64Array(FAMILIES.length);
    let words = 0;
    const perPass = samplesPerPass(s.seq);
    const passes = Math.ceil(refs.length / perPass);
    const [first, end] = [Math.floor((passes * index) / of), Math.floor((passes * (index + 1)) / of)];
    for (let p = first; p < end; p++) {
      const hb = buildBatch(this.valid, refs.slice(p * perPass, (p + 1) * perPass), s.seq, this.model.config.emotionInput);
      words += hb.words;
      const part = tf.tidy(() => {
        const b = batchTensors(hb);
        const logits = this.model.forwardTrain(b.x, b.nextType); // (B, T, n_f) per family
        return cpLoss(logits, b.y, b.mask).sums; // (8,)
      });
      const v = part.dataSync();
      part.dispose();
      FAMILIES.forEach((_, j) => (sums[j] = (sums[j] as number) + (v[j] as number)));
    }
    return { sums, words };
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
