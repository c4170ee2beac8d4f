/**
 * Softmax cross-entropy as two tfjs kernels for the `wasm` backend, run by wasm/xent/xent.c inside
 * tfjs-backend-wasm's heap: `EmopiaSoftmaxXent` (inputs logits [R, C] float32, targets [R] int32: [s, a], each
 * [R], with the row's nll = log(s) - a) and `EmopiaSoftmaxXentGrad` (inputs logits, targets, w [R]: dlogits
 * = w (softmax - onehot)). core/train/loss.ts's maskedCrossEntropySum calls them from its custom gradient while
 * a gradient is being recorded (training) and our kernels are on; tfjs's chain (logSoftmax, oneHot, products and
 * sums, then their gradients) was about twenty kernels per family head and pass.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { WasmBackendLike } from './batch_matmul.ts';
import { XENT_WASM_BASE64 } from './xent_wasm.ts';
import { kernelModule } from './module.ts';

export const XENT_KERNEL = 'EmopiaSoftmaxXent';
export const XENT_GRAD_KERNEL = 'EmopiaSoftmaxXentGrad';

export interface XentExports {
  xent_forward(R: number, C: number, x: number, t: number, s: number, a: number): void;
  xent_backward(R: number, C: number, x: number, t: number, w: number, dx: number): void;
}

/** An instance of the kernel working in `memory` (rejects when the memory cannot be imported). */
export const instantiateXent = kernelModule<XentExports>(XENT_WASM_BASE64);

function offset(backend: WasmBackendLike, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('cross-entropy kernel: an operand is not in the wasm backend');
  return d.memoryOffset;
}

const size = (t: TensorInfo): number => t.shape.reduce((p, d) => p * d, 1);

/** Rows and classes of logits [..., C] with targets (and w) of one value per row. */
function rowsOf(logits: TensorInfo, targets: TensorInfo, w?: TensorInfo): [number, number] {
  if (logits.dtype !== 'float32') throw new Error(`cross-entropy kernel: expected float32 logits, got ${logits.dtype}`);
  if (targets.dtype !== 'int32') throw new Error(`cross-entropy kernel: expected int32 targets, got ${targets.dtype}`);
  if (w && w.dtype !== 'float32') throw new Error(`cross-entropy kernel: expected float32 weights, got ${w.dtype}`);
  const C = logits.shape[logits.shape.length - 1] ?? 0;
  const R = C === 0 ? size(targets) : size(logits) / C;
  if (size(targets) !== R || (w && size(w) !== R)) throw new Error(`cross-entropy kernel: logits [${logits.shape}] against targets [${targets.shape}]${w ? ` and weights [${w.shape}]` : ''}`);
  return [R, C];
}

export function xentForward(backend: WasmBackendLike, k: XentExports, logits: TensorInfo, targets: TensorInfo): TensorInfo[] {
  const [R, C] = rowsOf(logits, targets);
  const s = backend.makeOutput([R], 'float32');
  const a = backend.makeOutput([R], 'float32');
  if (R > 0) k.xent_forward(R, C, offset(backend, logits), offset(backend, targets), offset(backend, s), offset(backend, a));
  return [s, a];
}

export function xentBackward(backend: WasmBackendLike, k: XentExports, logits: TensorInfo, targets: TensorInfo, w: TensorInfo): TensorInfo {
  const [R, C] = rowsOf(logits, targets, w);
  const dx = backend.makeOutput([...logits.shape], 'float32');
  if (R * C > 0) k.xent_backward(R, C, offset(backend, logits), offset(backend, targets), offset(backend, w), offset(backend, dx));
  return dx;
}
