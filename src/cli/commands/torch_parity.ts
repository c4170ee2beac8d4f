/**
 * `emopia torch-parity FILE.safetensors`: checks that a PyTorch `torch.nn.Transformer(batch_first=True)` gives
 * the same numbers here. The file holds the state dict, inputs, PyTorch's masks and output, and the config
 * (src/core/torch_interop.ts says exactly what). Prints `max_abs_err=<x>` over the target positions that are
 * not padding.
 *
 * Exit codes, as every command: 0 when max_abs_err <= 1e-4 (or --tolerance); 1 when it is larger, and 1 with a
 * one-line reason naming the file when the file cannot be used (missing, not safetensors, a missing tensor or
 * parameter, bad config JSON, shapes that do not fit): bad input; 2 for bad usage (an unknown option value).
 */
import type { Command } from 'commander';
import { initBackend, type BackendName } from '../../backend.ts';
import { InputError } from '../../errors.ts';
import { readSafetensorsFile } from '../../platform/safetensors_file.ts';
import { PARITY_TOLERANCE, runTorchParity } from '../../core/torch_interop.ts';
import { parseBackend, parseFloatOption } from '../options.ts';

interface ParityOptions {
  backend: BackendName;
  tolerance: number;
}

export function register(program: Command): void {
  program
    .command('torch-parity')
    .description('compare this Transformer with a PyTorch nn.Transformer saved as safetensors (weights, inputs, masks, output)')
    .argument('<file>', 'a .safetensors file as written by scripts/fixtures/torch_transformer.py')
    .option('--backend <name>', 'tensor backend: wasm|cpu', parseBackend, 'wasm' as BackendName)
    .option('--tolerance <x>', 'largest accepted absolute difference', parseFloatOption('tolerance', 0), PARITY_TOLERANCE)
    .action(async (file: string, opts: ParityOptions) => {
      const parsed = readSafetensorsFile(file); // InputError naming the file (exit 1), before the backend starts
      await initBackend(opts.backend);
      let result;
      try {
        result = runTorchParity(parsed);
      } catch (err) {
        throw err instanceof InputError ? new InputError(file, err.message) : err;
      }
      const { maxAbsErr, positions, totalPositions, config } = result;
      process.stdout.write(
        `max_abs_err=${maxAbsErr.toExponential(3)} positions=${positions}/${totalPositions} tolerance=${opts.tolerance} ` +
          `(d_model ${config.dModel}, ${config.numEncoderLayers}+${config.numDecoderLayers} layers, ${config.activation}, ` +
          `${config.normFirst ? 'norm-first' : 'post-norm'}, backend ${opts.backend})\n`,
      );
      if (!(maxAbsErr <= opts.tolerance)) {
        throw new InputError('torch-parity', `max_abs_err ${maxAbsErr.toExponential(3)} is above the tolerance ${opts.tolerance}`);
      }
    });
}
