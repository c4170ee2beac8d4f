/**
 * `emopia export RUN_DIR -o model.pt`: a run folder's weights as a torch.save file (an OrderedDict state dict
 * under EMOPIA's names, float32) that `torch.load` reads and EMOPIA's TransformerModel (or
 * scripts/torch/cp_model.py) loads with load_state_dict. model.safetensors already holds the same names, for
 * safetensors users.
 */
import type { Command } from 'commander';
import { initBackend, type BackendName } from '../../backend.ts';
import { exportRunToTorch } from '../../platform/torch_export.ts';
import { parseBackend } from '../options.ts';

export function register(program: Command): void {
  program
    .command('export')
    .description('write a run folder\'s weights as a PyTorch checkpoint (torch.save format, EMOPIA\'s state-dict names)')
    .argument('<run_dir>', 'run folder with model.safetensors, config.json, vocab.json')
    .requiredOption('-o, --output <model.pt>', 'the .pt file to write')
    .option('--backend <name>', 'tensor backend: wasm|cpu', parseBackend, 'wasm' as BackendName)
    .action(async (dir: string, opts: { output: string; backend: BackendName }) => {
      await initBackend(opts.backend);
      const r = exportRunToTorch(dir, opts.output);
      process.stdout.write(`wrote ${opts.output}: ${r.tensors} tensors, ${r.parameters} parameters (torch.load, then load_state_dict)\n`);
    });
}
