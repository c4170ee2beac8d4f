/** The list of commands. Each module registers its command(s) on the program. */
import type { Command } from 'commander';
import { register as registerExplain } from './explain.ts';

type Register = (program: Command) => void;

const registrations: Register[] = [registerExplain];

export function registerAll(program: Command): void {
  for (const register of registrations) register(program);
}
