/**
 * tfjs's Identity kernel for the `wasm` backend without the copy: the output shares the input's data and
 * counts one more reference to it (as the wasm backend's own Reshape does, and the `cpu` backend's Identity).
 *
 * Why: tfjs clones every tensor a gradient saves (the engine's saveTensorsForBackwardMode runs Identity on
 * it), and tfjs-backend-wasm 4.22's Identity copies the whole tensor: about 1,500 copies and 1.1 GB per
 * `small` training step. Tensors are never written in place (every kernel writes a new output, and
 * Variable.assign swaps the data id), so sharing the data gives the same values.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';

interface RefCounting {
  incRef(dataId: object): void;
}

/** The aliasing Identity; strings (and anything when `active()` is false) go to the original kernel. */
export function aliasingIdentity(original: KernelConfig, active: () => boolean): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (!active() || x.dtype === 'string') return original.kernelFunc(args);
    (args.backend as unknown as RefCounting).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

/** tfjs's Cast where the dtype does not change (tfjs's gradients cast float32 to float32): shares the data too. */
export function aliasingCast(original: KernelConfig, active: () => boolean): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { dtype } = args.attrs as { dtype?: string };
    if (!active() || x.dtype === 'string' || dtype !== x.dtype) return original.kernelFunc(args);
    (args.backend as unknown as RefCounting).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}
