/** A one-line description of the machine and runtime, printed beside every benchmark figure. */
import os from 'node:os';
import { execFileSync } from 'node:child_process';

export function machineLine(backend: string): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu.trim()}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, tfjs backend ${backend}`;
}

/** The Python that has torch (Debian's python3-torch lives in /usr/bin/python3), or undefined. */
export function torchPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
      return py;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** The path of `taskset` (util-linux), or undefined where it is missing (then the bench runs unpinned and says so). */
export function findTaskset(): string | undefined {
  for (const p of ['/usr/bin/taskset', '/bin/taskset']) {
    try {
      execFileSync(p, ['-p', String(process.pid)], { stdio: 'ignore' });
      return p;
    } catch {
      // try the next one
    }
  }
  return undefined;
}
