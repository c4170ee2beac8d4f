/**
 * Layer normalisation as two tfjs kernels for the `wasm` backend, run by wasm/layernorm/layernorm.c inside
 * tfjs-backend-wasm's heap: `EmopiaLayerNorm` (inputs x [..., D], gamma [D], beta [D]; attr eps: y) and
 * `EmopiaLayerNormGrad` (inputs x, gamma, dy; attr eps: [dx, dgamma, dbeta]). core/ops.ts's layerNorm calls them
 * from its custom gradient while a gradient is being recorded (training) and our kernels are on; tfjs's chain
 * was ten kernels forward (moments, broadcasts) and about thirty backward (with the broadcast gradients' sums).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { WasmBackendLike } from './batch_matmul.ts';
import { LAYERNORM_WASM_BASE64 } from './layernorm_wasm.ts';
import { kernelModule } from './module.ts';

export const LAYERNORM_KERNEL = 'EmopiaLayerNorm';
export const LAYERNORM_GRAD_KERNEL = 'EmopiaLayerNormGrad';

export interface LayerNormExports {
  layernorm_forward(R: number, D: number, eps: number, x: number, gamma: number, beta: number, y: number): void;
  layernorm_backward(R: number, D: number, eps: number, x: number, gamma: number, dy: number, dx: number, dgamma: number, dbeta: number): void;
}

/** An instance of the kernel working in `memory` (rejects when the memory cannot be imported). */
export const instantiateLayerNorm = kernelModule<LayerNormExports>(LAYERNORM_WASM_BASE64);

function offset(backend: WasmBackendLike, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('layer-norm kernel: an operand is not in the wasm backend');
  return d.memoryOffset;
}

const size = (t: TensorInfo): number => t.shape.reduce((p, d) => p * d, 1);

/** Rows and width of x [..., D] with gamma (and beta or dy) checked against it. */
function rowsOf(x: TensorInfo, gamma: TensorInfo, other: TensorInfo, otherIsRow: boolean): [number, number] {
  for (const t of [x, gamma, other]) if (t.dtype !== 'float32') throw new Error(`layer-norm kernel: expected float32 tensors, got ${t.dtype}`);
  const D = x.shape[x.shape.length - 1] ?? 0;
  if (size(gamma) !== D) throw new Error(`layer-norm kernel: gamma [${gamma.shape}] does not match x [${x.shape}]`);
  if (otherIsRow ? size(other) !== D : size(other) !== size(x)) throw new Error(`layer-norm kernel: [${other.shape}] does not match x [${x.shape}]`);
  return [D === 0 ? 0 : size(x) / D, D];
}

export function layerNormForward(backend: WasmBackendLike, k: LayerNormExports, x: TensorInfo, gamma: TensorInfo, beta: TensorInfo, eps: number): TensorInfo {
  const [R, D] = rowsOf(x, gamma, beta, true);
  const y = backend.makeOutput([...x.shape], 'float32');
  if (R * D > 0) k.layernorm_forward(R, D, eps, offset(backend, x), offset(backend, gamma), offset(backend, beta), offset(backend, y));
  return y;
}

export function layerNormBackward(backend: WasmBackendLike, k: LayerNormExports, x: TensorInfo, gamma: TensorInfo, dy: TensorInfo, eps: number): TensorInfo[] {
  const [R, D] = rowsOf(x, gamma, dy, false);
  const dx = backend.makeOutput([...x.shape], 'float32');
  const dgamma = backend.makeOutput([...gamma.shape], 'float32');
  const dbeta = backend.makeOutput([...gamma.shape], 'float32');
  if (D > 0) {
    k.layernorm_backward(R, D, eps, offset(backend, x), offset(backend, gamma), offset(backend, dy), offset(backend, dx), offset(backend, dgamma), offset(backend, dbeta));
  }
  return [dx, dgamma, dbeta];
}
