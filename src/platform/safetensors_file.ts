/**
 * Safetensors files on disk (Node only): read with one-line errors for missing or unreadable files, write
 * atomically. The format itself is in safetensors.ts.
 */
import { InputError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { readInputFile } from './read.ts';
import { parseSafetensors, serializeSafetensors, type ParsedSafetensors, type SafeTensor } from '../io/safetensors.ts';

/** Reads and parses `path`; every failure is an InputError naming the file. */
export function readSafetensorsFile(path: string): ParsedSafetensors {
  const bytes = readInputFile(path);
  try {
    return parseSafetensors(bytes);
  } catch (err) {
    if (err instanceof InputError) throw new InputError(path, err.message);
    throw err;
  }
}

/** Serialises and writes `path` through a temporary file. */
export function writeSafetensorsFile(path: string, tensors: Map<string, SafeTensor> | Record<string, SafeTensor>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
