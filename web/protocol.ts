/** Messages between the page (main.ts) and its worker (worker.ts). */
import type { MaskWalkthrough } from '../src/core/walkthrough.ts';

export interface GenerateRequest {
  type: 'generate';
  emotion: 1 | 2 | 3 | 4;
  maxBars: number;
  seed: number;
  /** Every family's temperature; null keeps the model's own (generation.json). */
  temperature: number | null;
  /** null keeps the model's own. */
  guidance: number | null;
}

export interface MasksRequest {
  type: 'masks';
  srcLengths: number[];
  tgtLengths: number[];
  dModel: number;
  seed: number;
}

export type ToWorker = GenerateRequest | MasksRequest;

export type FromWorker =
  | { type: 'ready'; backend: string; loadMs: number }
  /** New words since the last message (rows of 8 indices), and the count generated so far. */
  | { type: 'words'; words: number[][]; generated: number }
  | { type: 'done'; words: Int32Array; midi: Uint8Array; generated: number; bars: number; notes: number; stoppedBy: string; ms: number }
  | { type: 'masks'; walkthrough: MaskWalkthrough }
  | { type: 'error'; message: string };
