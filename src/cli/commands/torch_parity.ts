/**
 * `emopia torch-parity FILE.safetensors`: checks that a PyTorch `torch.nn.Transformer(batch_first=True)` gives
 * the same numbers here. The file holds the state dict, inputs, PyTorch's masks and output, and the config
 * (src/core/torch_interop.ts says exactly what). Prints `max_abs_err=<x>` over the target positions that are
 * not padding.
 *
 * Exit codes: 0 when max_abs_err <= 1e-4 (or --tolerance), 1 when it is larger, 2 with a one-line reason when
 * the file cannot be used (not safetensors, a missing tensor or parameter, bad config JSON, shapes that do not
 * fit).
 */
import type { Command } from 'commander';
import { initBackend, type BackendName } from '../../backend.ts';
import { InputError, UsageError } from '../../errors.ts';
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
      await initBackend(opts.backend);
      // A file that cannot be used is exit 2 (no comparison happened), not a failed comparison (exit 1).
      let parsed;
      try {
        parsed = readSafetensorsFile(file); // its errors name the file
      } catch (err) {
        throw err instanceof InputError ? new UsageError('torch-parity', err.message) : err;
      }
      let result;
      try {
        result = runTorchParity(parsed);
      } catch (err) {
        throw err instanceof InputError ? new UsageError(`torch-parity ${file}`, err.message) : err;
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
