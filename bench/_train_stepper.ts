/** One timed training step for the train bench: the Trainer itself with one worker, a TrainerPool with more. */
import type { Trainer } from '../src/cp/train/trainer.ts';
import { TrainerPool } from '../src/platform/train_workers.ts';

export interface Stepper {
  step(): Promise<void>;
  close(): Promise<void>;
}

export async function trainingStepper(trainer: Trainer, workers: number): Promise<Stepper> {
  if (workers <= 1) {
    return { step: async () => void trainer.trainStep(), close: async () => {} };
  }
  const pool = await TrainerPool.start(trainer, { workers });
  return { step: async () => void (await pool.trainStep()), close: () => pool.close() };
}
