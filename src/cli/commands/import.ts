/**
 * `emopia import CHECKPOINT.pt --vocab dictionary.pkl|vocab.json -o RUN_DIR`: a PyTorch checkpoint of EMOPIA's
 * compound-word Transformer (EMOPIA's own `loss_*_params.pt`, or one written by scripts/torch/train_ddp.py) into
 * an ordinary run folder that `generate`, `evaluate` and the web page read. Nothing in the checkpoint is executed
 * (src/io/pickle.ts). The work is src/platform/torch_import.ts.
 */
import type { Command } from 'commander';
import { initBackend, type BackendName } from '../../backend.ts';
import { ATTENTION_KINDS, PRESET_NAMES, type AttentionKind, type PresetName } from '../../cp/config.ts';
import { FAMILIES } from '../../music/vocab.ts';
import { importCheckpoint } from '../../platform/torch_import.ts';
import { parseBackend, parseIntOption } from '../options.ts';
import { parseChoice } from './_music_io.ts';

interface ImportCliOptions {
  vocab: string;
  config?: string;
  preset: PresetName;
  heads?: number;
  attention?: AttentionKind;
  output: string;
  backend: BackendName;
}

export function register(program: Command): void {
  program
    .command('import')
    .description("a PyTorch checkpoint (torch.save of EMOPIA's state_dict) into a run folder for generate and evaluate")
    .argument('<checkpoint>', 'a torch.save file (zip format, PyTorch >= 1.6): a state dict, or one under "state_dict" or "model"')
    .requiredOption('--vocab <file>', "EMOPIA's dictionary.pkl or our vocab.json (the indices the checkpoint was trained on)")
    .requiredOption('-o, --output <run_dir>', 'run folder to write (new or empty)')
    .option('--config <config.json>', 'our config.json; without it the sizes are read from the tensor shapes, the rest from --preset')
    .option('--preset <name>', `without --config: heads, attention, dropout of this preset (${PRESET_NAMES.join(', ')})`, parseChoice('preset', PRESET_NAMES), 'emopia' as PresetName)
    .option('--heads <n>', "without --config: attention heads (shapes do not tell; default: the preset's)", parseIntOption('heads', 1))
    .option('--attention <kind>', `without --config: ${ATTENTION_KINDS.join('|')} (default: the preset's)`, parseChoice('attention', ATTENTION_KINDS))
    .option('--backend <name>', 'tensor backend: wasm|cpu', parseBackend, 'wasm' as BackendName)
    .action(async (checkpoint: string, opts: ImportCliOptions) => {
      await initBackend(opts.backend);
      const r = await importCheckpoint({ checkpoint, vocab: opts.vocab, config: opts.config, out: opts.output, preset: opts.preset, heads: opts.heads, attention: opts.attention });
      const c = r.config;
      const from = r.wrapper === 'bare' ? 'a bare state dict' : `the state dict under "${r.wrapper}"`;
      process.stdout.write(
        `wrote ${opts.output}: ${r.parameters} parameters from ${from}${r.strippedModulePrefix ? ' (module. prefix removed)' : ''}; ` +
          `config ${r.inferred ? `inferred (${opts.preset} preset for the rest)` : 'from ' + opts.config}: d ${c.dModel}, ${c.nLayers} layers, ${c.nHeads} heads, ff ${c.dFF}, ${c.attention} attention, maxLen ${c.maxLen}; ` +
          `classes [${FAMILIES.map((f) => c.nClasses[f]).join(', ')}]\n`,
      );
    });
}
