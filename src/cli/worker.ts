/**
 * @fileoverview One unit of batch work: read a file, run transform() or verify() on it, return a
 * plain (structured-clone-safe) result. Used as the piscina worker module and, for `--jobs 1` or a
 * single file, called directly in the main thread. Errors never escape: they come back as ErrorInfo
 * because HostAllocError's code would not survive a worker boundary.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes } from '../errors.js';
import type { TransformOptions, TransformReport, VerifyReport } from '../types.js';
import { CliError, type ErrorInfo, ioError, toErrorInfo } from './errors.js';

export type Task = TransformTask | { kind: 'verify'; path: string };

export interface TransformTask {
  kind: 'transform';
  path: string;
  options: TransformOptions;
  /** Glue files to try for this input (`--glue auto`/`--glue DIR`): the first that exists is used. */
  glueCandidates?: string[];
}

export type TaskResult =
  | { ok: true; kind: 'transform'; report: TransformReport; bytes: Uint8Array }
  | { ok: true; kind: 'verify'; report: VerifyReport; inputSize: number }
  | { ok: false; error: ErrorInfo; inputSize: number | null };

type Library = typeof import('../index.js');
let library: Promise<Library> | undefined;

/** The library, imported on first use (it loads binaryen). */
export function loadLibrary(): Promise<Library> {
  library ??= import('../index.js');
  return library;
}

/** The text of the first candidate glue file that exists, or undefined when none does. */
export async function readFirstGlue(candidates: readonly string[]): Promise<string | undefined> {
  for (const file of candidates) {
    try {
      return await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new CliError(ErrorCodes.BAD_GLUE, `cannot read glue file '${file}'`, { cause: e });
    }
  }
  return undefined;
}

/** Where `--glue auto` (dir = the module's directory) or `--glue DIR` looks for a module's glue. */
export function glueCandidates(dir: string, wasmPath: string): string[] {
  const base = path.basename(wasmPath, '.wasm');
  return ['.js', '.mjs', '.cjs'].map((ext) => path.join(dir, base + ext));
}

export async function runTask(task: Task): Promise<TaskResult> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(task.path);
  } catch (e) {
    return { ok: false, error: toErrorInfo(ioError(`cannot read '${task.path}'`, e)), inputSize: null };
  }
  try {
    const lib = await loadLibrary();
    if (task.kind === 'verify') {
      return { ok: true, kind: 'verify', report: await lib.verify(bytes), inputSize: bytes.length };
    }
    let options = task.options;
    if (task.glueCandidates !== undefined) {
      const glue = await readFirstGlue(task.glueCandidates);
      if (glue !== undefined) options = { ...options, glue };
    }
    const result = await lib.transform(bytes, options);
    return { ok: true, kind: 'transform', report: result.report, bytes: result.bytes };
  } catch (e) {
    return { ok: false, error: toErrorInfo(e), inputSize: bytes.length };
  }
}

/** piscina's entry point. */
export default runTask;
