/** A fuzz handler that misbehaves on request, to check that the pool's limits catch each kind of failure. */
export function run(job: string): string {
  if (job === 'loop') for (;;);
  if (job === 'oom') {
    const hold: number[][] = [];
    for (;;) hold.push(new Array<number>(1 << 16).fill(1));
  }
  if (job === 'throw') throw new TypeError('a bug');
  return `done ${job}`;
}
