/**
 * GELU as two tfjs kernels for the `wasm` backend, run by wasm/gelu/gelu.c inside tfjs-backend-wasm's heap:
 * `EmopiaGelu` (input x: y), `EmopiaGeluGrad` (inputs x, dy: dx) and `EmopiaGeluWithGrad` (input x: [y, gelu'(x)], what
 * training runs: the backward pass is then one multiplication, without evaluating exp and erf again). core/ops.ts's gelu calls them from its
 * custom gradient while a gradient is being recorded (training) and our kernels are on; tfjs's chain was five
 * kernels forward (Erf among them, a scalar loop) and eight backward (Exp among them) over [.., ff] tensors.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { WasmBackendLike } from './batch_matmul.ts';
import { GELU_WASM_BASE64 } from './gelu_wasm.ts';
import { kernelModule } from './module.ts';

export const GELU_KERNEL = 'EmopiaGelu';
export const GELU_GRAD_KERNEL = 'EmopiaGeluGrad';
/** The forward pass with the derivative as a second output ([y, d], d = gelu'(x)): the backward pass is then dy * d. */
export const GELU_WITH_GRAD_KERNEL = 'EmopiaGeluWithGrad';

export interface GeluExports {
  gelu_forward(n: number, x: number, y: number): void;
  gelu_backward(n: number, x: number, dy: number, dx: number): void;
  gelu_forward_grad(n: number, x: number, y: number, d: number): void;
}

/** An instance of the kernel working in `memory` (rejects when the memory cannot be imported). */
export const instantiateGelu = kernelModule<GeluExports>(GELU_WASM_BASE64);

function offset(backend: WasmBackendLike, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('gelu kernel: an operand is not in the wasm backend');
  return d.memoryOffset;
}

const size = (t: TensorInfo): number => t.shape.reduce((p, d) => p * d, 1);

export function geluForward(backend: WasmBackendLike, g: GeluExports, x: TensorInfo): TensorInfo {
  if (x.dtype !== 'float32') throw new Error(`gelu kernel: expected a float32 tensor, got ${x.dtype}`);
  const y = backend.makeOutput([...x.shape], 'float32');
  if (size(x) > 0) g.gelu_forward(size(x), offset(backend, x), offset(backend, y));
  return y;
}

export function geluBackward(backend: WasmBackendLike, g: GeluExports, x: TensorInfo, dy: TensorInfo): TensorInfo {
  if (size(x) !== size(dy)) throw new Error(`gelu kernel: the input [${x.shape}] and its gradient [${dy.shape}] differ in size`);
  const dx = backend.makeOutput([...x.shape], 'float32');
  if (size(x) > 0) g.gelu_backward(size(x), offset(backend, x), offset(backend, dy), offset(backend, dx));
  return dx;
}

/** [y, d]: gelu(x) and its derivative, from one evaluation of exp and erf (d * dy is EmopiaGeluGrad's dx, to the bit). */
export function geluWithGrad(backend: WasmBackendLike, g: GeluExports, x: TensorInfo): TensorInfo[] {
  if (x.dtype !== 'float32') throw new Error(`gelu kernel: expected a float32 tensor, got ${x.dtype}`);
  const y = backend.makeOutput([...x.shape], 'float32');
  const d = backend.makeOutput([...x.shape], 'float32');
  if (size(x) > 0) g.gelu_forward_grad(size(x), offset(backend, x), offset(backend, y), offset(backend, d));
  return [y, d];
}
