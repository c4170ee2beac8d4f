/**
 * Loading a kernel module: its bytes come from a base64 string (the generated `*_wasm.ts`, so nothing reads a
 * file and a browser or worker loads it alike), compiled once and asynchronously (browsers refuse large
 * synchronous compiles on the main thread), and instantiated in a memory it imports as `env.memory`.
 */

/** The bytes of a base64 string. */
export function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * A function that instantiates the module of `b64` in a memory, compiling it on the first call only; it rejects
 * when the memory cannot be imported (e.g. a shared one). `E` is the module's exports as the caller types them.
 */
export function kernelModule<E>(b64: string): (memory: WebAssembly.Memory) => Promise<E> {
  let compiled: Promise<WebAssembly.Module> | null = null;
  return async (memory) => {
    compiled ??= WebAssembly.compile(base64Bytes(b64));
    const instance = await WebAssembly.instantiate(await compiled, { env: { memory } });
    return instance.exports as unknown as E;
  };
}
