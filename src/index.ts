/**
 * emopia-ts: the public API. This barrel is the only import path for users, the CLI's public pieces and the
 * tests of the public API.
 */
export { tf, initBackend, BACKENDS, type BackendName } from './backend.ts';
export { InputError, UsageError } from './errors.ts';
export * from './music/index.ts';
