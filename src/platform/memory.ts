/**
 * The memory one thread of a training holds: its tfjs backend's WebAssembly heap (the model's replica, Adam's
 * moments where they live there, the activations and the tape) and its JavaScript heap (V8 keeps one per worker
 * thread). The process's resident size, shared by every thread, is reported beside them.
 */
import { backendHeapBytes } from '../backend.ts';

export interface ThreadMemory {
  /** The backend's WebAssembly memory in bytes; absent on a backend without one (cpu). */
  wasmHeapBytes?: number;
  /** V8's heap of this thread (reserved, `heapTotal`). */
  jsHeapBytes: number;
}

/** This thread's memory now. */
export function threadMemory(): ThreadMemory {
  const wasm = backendHeapBytes();
  return { ...(wasm !== undefined ? { wasmHeapBytes: wasm } : {}), jsHeapBytes: process.memoryUsage().heapTotal };
}

/** Bytes of a thread's two heaps together. */
export function threadBytes(m: ThreadMemory): number {
  return (m.wasmHeapBytes ?? 0) + m.jsHeapBytes;
}

/** The larger of each heap, thread by thread (a run's peak over its steps). */
export function peakMemory(a: readonly ThreadMemory[] | undefined, b: readonly ThreadMemory[]): ThreadMemory[] {
  return b.map((m, i) => {
    const o = a?.[i];
    if (!o) return { ...m };
    const wasm = Math.max(o.wasmHeapBytes ?? 0, m.wasmHeapBytes ?? 0);
    return { ...(o.wasmHeapBytes !== undefined || m.wasmHeapBytes !== undefined ? { wasmHeapBytes: wasm } : {}), jsHeapBytes: Math.max(o.jsHeapBytes, m.jsHeapBytes) };
  });
}

const mib = (b: number) => `${Math.round(b / 2 ** 20).toLocaleString('en-US')} MiB`;

/**
 * One line: each thread's heaps, the memory the workers share (when given), then the process's resident size (now, or with `peak` the largest so far), e.g.
 * for the CLI's notes.
 */
export function describeMemory(threads: readonly ThreadMemory[], peak = false, sharedBytes?: number): string {
  const rss = peak ? process.resourceUsage().maxRSS * 1024 : process.memoryUsage().rss;
  const each = threads.map((m, i) => {
    const label = threads.length > 1 ? `worker ${i + 1}` : 'this thread';
    return `${label} ${m.wasmHeapBytes !== undefined ? `${mib(m.wasmHeapBytes)} wasm heap + ` : ''}${mib(m.jsHeapBytes)} JavaScript heap`;
  });
  const shared = sharedBytes !== undefined ? `; shared by the workers ${mib(sharedBytes)}` : '';
  return `${each.join('; ')}${shared}; the process ${peak ? 'resident at most' : 'resident'} ${mib(rss)}`;
}
