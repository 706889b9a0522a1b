/**
 * @fileoverview One unit of batch work: read a file, run transform() or verify() on it, return a
 * plain (structured-clone-safe) result. Used as the worker-thread module of a batch lane (see
 * batch.ts) and, when no per-file limit is set and one lane suffices, called directly in the main
 * thread. Errors never escape: they come back as ErrorInfo because HostAllocError's code would not
 * survive a worker boundary.
 *
 * In a worker, binaryen's heap is capped: `WebAssembly.Memory.prototype.grow` is wrapped before
 * binaryen.js loads so that growing past the memory limit fails. binaryen.js then aborts (out of
 * memory) and the file is reported as HA033; the lane replaces the worker, whose binaryen is no
 * longer usable. The worker loads binaryen.js and the library as soon as it starts, so a lane's
 * next worker can warm up while the current one finishes its last files; given binaryen's compiled
 * module by the lane, it instantiates that instead of compiling binaryen's bytes again, and imports
 * binaryen.js's light copy without parsing those bytes (src/binaryen/load.ts).
 */

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { CompiledBinaryen } from '../binaryen/load.js';
import { loadBinaryen } from '../binaryen/module.js';
import { ErrorCodes, HostAllocError } from '../errors.js';
import { MAX_GLUE_LENGTH } from '../glue.js';
import type { InspectOptions } from '../inspect.js';
import type { InspectReport, TransformOptions, TransformReport, VerifyReport } from '../types.js';
import type { WasmModule } from '../wasm-api.js';
import { type ErrorInfo, ioError, toErrorInfo } from './errors.js';

export type Task = TransformTask | { kind: 'verify'; path: string } | InspectTask;

export interface InspectTask {
  kind: 'inspect';
  path: string;
  options: InspectOptions;
}

export interface TransformTask {
  kind: 'transform';
  path: string;
  options: TransformOptions;
  /** Glue files to try for this input (`--glue auto`/`--glue DIR`): the first Emscripten glue found is used. */
  glueCandidates?: string[];
}

export type TaskResult = (
  | { ok: true; kind: 'transform'; report: TransformReport; bytes: Uint8Array }
  | { ok: true; kind: 'verify'; report: VerifyReport; inputSize: number }
  | { ok: true; kind: 'inspect'; report: InspectReport; inputSize: number }
  | { ok: false; error: ErrorInfo; inputSize: number | null }
) & {
  /** Size of the largest WebAssembly memory this worker grew (binaryen's heap), when known. */
  heapBytes?: number;
};

/** What a lane tells its worker thread at start. */
export interface LaneData {
  hostallocLane: true;
  /** Cap on binaryen's heap in bytes, or 0 for none. */
  memoryLimitBytes: number;
  /**
   * binaryen.js's compiled wasm (a `WebAssembly.Module`) and the light copy's URL, from the batch's
   * main thread: the worker imports that copy and instantiates the module instead of reading
   * binaryen.js and compiling its bytes again, and starts with the code V8 already optimised for
   * another thread (compiled code is shared between the threads of a process).
   */
  binaryen?: CompiledBinaryen;
  /**
   * The module is on its way: the main thread is compiling it. This worker waits for a
   * {@link WorkerModule} message before importing binaryen.js.
   */
  moduleLater?: true;
}

/**
 * binaryen.js's compiled module. From a worker: sent once binaryen is instantiated (without a module
 * when loading failed). To a worker started with `moduleLater`: the module to instantiate, or none
 * (then it compiles binaryen itself).
 */
export interface WorkerModule {
  compiled: true;
  binaryen?: CompiledBinaryen;
}

/** The message a lane's worker sends once binaryen.js and the library are loaded. */
export interface WorkerReady {
  ready: true;
}

type Library = typeof import('../index.js');
let library: Promise<Library> | undefined;

/** The library, imported on first use (it loads binaryen). */
export function loadLibrary(): Promise<Library> {
  library ??= import('../index.js');
  return library;
}

/** Largest glue file read from disk: beyond this the glue reader would refuse it anyway. */
const MAX_GLUE_FILE_BYTES = 3 * MAX_GLUE_LENGTH;

/** Read a glue file, refusing (HA032) before reading one far larger than any Emscripten glue. */
export async function readGlueFile(file: string): Promise<string> {
  const st = await stat(file);
  if (st.size > MAX_GLUE_FILE_BYTES) {
    throw new HostAllocError(
      ErrorCodes.LIMIT_EXCEEDED,
      `glue file '${file}' is ${st.size} bytes, more than the ${MAX_GLUE_FILE_BYTES} accepted: it is not Emscripten glue`,
    );
  }
  return readFile(file, 'utf8');
}

/**
 * The text of the first candidate that is Emscripten or wasm-bindgen glue (wasm-bindgen's
 * `NAME_bg.js` beside `NAME_bg.wasm`), or undefined when none is. Other JavaScript next to a module
 * is ignored.
 */
export async function readFirstGlue(candidates: readonly string[]): Promise<string | undefined> {
  for (const file of candidates) {
    let text: string;
    try {
      text = await readGlueFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      if (e instanceof HostAllocError) continue; // too large to be glue
      throw new HostAllocError(ErrorCodes.BAD_GLUE, `cannot read glue file '${file}'`, { cause: e });
    }
    const { glueKind } = await import('../glue.js');
    if (glueKind(text) !== undefined) return text;
  }
  return undefined;
}

/** Where `--glue auto` (dir = the module's directory) or `--glue DIR` looks for a module's glue. */
export function glueCandidates(dir: string, wasmPath: string): string[] {
  const base = path.basename(wasmPath, '.wasm');
  // wasm-bindgen writes NAME_bg.wasm with NAME_bg.js (bundler) or NAME.js (--target web, nodejs).
  const bases = base.endsWith('_bg') && base.length > 3 ? [base, base.slice(0, -3)] : [base];
  return bases.flatMap((b) => ['.js', '.mjs', '.cjs'].map((ext) => path.join(dir, b + ext)));
}

// ---- memory cap (worker threads only) -------------------------------------------------------------

let memoryLimitBytes = 0;
let memoryLimitHit = false;
let largestMemory = 0;

/** Wrap WebAssembly.Memory#grow so no memory in this thread grows past `limit` bytes. */
function capMemoryGrowth(limit: number): void {
  memoryLimitBytes = limit;
  // The global WebAssembly object of this thread (Node's types do not declare it in every setup).
  const proto = (globalThis as unknown as { WebAssembly: { Memory: { prototype: object } } }).WebAssembly
    .Memory.prototype as { grow(this: { buffer: ArrayBuffer }, delta: number): number };
  const grow = proto.grow;
  proto.grow = function (this: { buffer: ArrayBuffer }, delta: number): number {
    const next = this.buffer.byteLength + delta * 65536;
    if (limit > 0 && next > limit) {
      memoryLimitHit = true;
      throw new RangeError(`WebAssembly.Memory.grow: the per-file memory limit (${limit} bytes) is reached`);
    }
    const r = grow.call(this, delta);
    largestMemory = Math.max(largestMemory, this.buffer.byteLength);
    return r;
  };
}

function limitError(): ErrorInfo {
  const mb = Math.round(memoryLimitBytes / (1024 * 1024));
  return toErrorInfo(
    new HostAllocError(
      ErrorCodes.RESOURCE_LIMIT,
      `processing this file needs more than the per-file memory limit (${mb} MiB); raise it with --memory-limit if the input is trusted`,
    ),
  );
}

/**
 * Run one task. `input`: the file's bytes, being read already (a lane's worker reads the next file
 * while it processes the current one); by default read now.
 */
export async function runTask(task: Task, input?: Promise<Uint8Array>): Promise<TaskResult> {
  memoryLimitHit = false;
  const result = await runTaskUnchecked(task, input ?? readFile(task.path));
  if (memoryLimitHit && !result.ok) result.error = limitError();
  if (memoryLimitBytes > 0) result.heapBytes = largestMemory;
  return result;
}

async function runTaskUnchecked(task: Task, input: Promise<Uint8Array>): Promise<TaskResult> {
  let bytes: Uint8Array;
  try {
    bytes = await input;
  } catch (e) {
    return { ok: false, error: toErrorInfo(ioError(`cannot read '${task.path}'`, e)), inputSize: null };
  }
  try {
    const lib = await loadLibrary();
    if (task.kind === 'verify') {
      return { ok: true, kind: 'verify', report: await lib.verify(bytes), inputSize: bytes.length };
    }
    if (task.kind === 'inspect') {
      return {
        ok: true,
        kind: 'inspect',
        report: await lib.inspect(bytes, task.options),
        inputSize: bytes.length,
      };
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

/** A lane's worker thread: one task at a time, in the order posted, the output bytes transferred back. */
if (!isMainThread && parentPort !== null && (workerData as LaneData | undefined)?.hostallocLane === true) {
  const port = parentPort;
  const data = workerData as LaneData;
  capMemoryGrowth(data.memoryLimitBytes);
  let giveModule = (_: CompiledBinaryen | undefined): void => {};
  const shared =
    data.moduleLater === true
      ? new Promise<CompiledBinaryen | undefined>((resolve) => {
          giveModule = resolve;
        })
      : Promise.resolve(data.binaryen);
  let compiled = false;
  const sendModule = (binaryenModule: WasmModule | undefined): void => {
    if (compiled) return;
    compiled = true;
    const m: WorkerModule = { compiled: true };
    if (binaryenModule !== undefined) m.binaryen = { module: binaryenModule };
    port.postMessage(m);
  };
  // Warm up now (binaryen.js and, meanwhile, the library), and say when done: the lane's per-file
  // timer starts then, so loading binaryen.js (a fraction of a second, more on a busy machine) never
  // counts against a file. A failure shows on the first task.
  // Tasks wait for the warm-up, so the lane hears "ready" (and starts a file's clock) before any
  // file runs: binaryen.js works synchronously and would hold the message back until it is done.
  let queue = Promise.all([
    shared.then((compiled) => loadBinaryen({ ...compiled, onModule: sendModule })),
    loadLibrary(),
  ])
    .then(
      () => {},
      () => sendModule(undefined),
    )
    .then(() => port.postMessage({ ready: true } satisfies WorkerReady));
  port.on('message', (m: Task | WorkerModule) => {
    if ('compiled' in m) {
      giveModule(m.binaryen);
      return;
    }
    // One task at a time: the lane posts the next one before this one is answered. Its file is read
    // now, while the task before it runs; a read error is reported when its turn comes.
    const input = readFile(m.path);
    input.catch(() => {});
    queue = queue
      .then(() => runTask(m, input))
      .then((result) => {
        // Hand the output over without a copy when it owns its whole ArrayBuffer.
        const out = result.ok && result.kind === 'transform' ? result.bytes : undefined;
        const own =
          out !== undefined &&
          out.buffer instanceof ArrayBuffer &&
          out.byteOffset === 0 &&
          out.byteLength === out.buffer.byteLength;
        port.postMessage(result, own ? [out.buffer as ArrayBuffer] : []);
      });
  });
}
