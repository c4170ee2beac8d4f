/** The list of commands. Each module registers its command(s) on the program. */
import type { Command } from 'commander';
import { register as registerExplain } from './explain.ts';
import { register as registerEncode } from './encode.ts';
import { register as registerDecode } from './decode.ts';
import { register as registerDataset } from './dataset.ts';
import { register as registerTorchParity } from './torch_parity.ts';
import { register as registerExample } from './example.ts';
import { register as registerTrain } from './train.ts';
import { register as registerGenerate } from './generate.ts';
import { register as registerClassify } from './classify.ts';
import { register as registerEvaluate } from './evaluate.ts';
import { register as registerBeats } from './beats.ts';
import { register as registerImport } from './import.ts';
import { register as registerExport } from './export.ts';

type Register = (program: Command) => void;

const registrations: Register[] = [registerEncode, registerDecode, registerDataset, registerBeats, registerExplain, registerTorchParity, registerTrain, registerGenerate, registerExample, registerClassify, registerEvaluate, registerImport, registerExport];

export function registerAll(program: Command): void {
  for (const register of registrations) register(program);
}
