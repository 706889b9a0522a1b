/**
 * @fileoverview Batch execution: run tasks in worker threads, one lane per job, each with a time and
 * memory limit per file; report each result as it completes; show a progress bar.
 *
 * A lane is one worker thread (node:worker_threads) that takes files one at a time from a shared
 * queue. The main thread owns its life:
 *  - **time limit**: a timer per file; when it fires the worker is terminated and the file fails
 *    with HA033 (binaryen.js runs synchronously, nothing short of terminating the thread stops it);
 *  - **memory limit**: the worker caps binaryen's heap (see worker.ts) and runs with a V8 heap
 *    limit (`resourceLimits`); a worker that dies of either fails its file with HA033;
 *  - **recycling**: binaryen's wasm heap never shrinks, so a worker is replaced after
 *    `recycleAfter` files or once its heap passed a quarter of the memory limit. Its successor is
 *    started a few files ahead and loads binaryen.js while the old worker finishes (warm start).
 *  - **one compiled binaryen**: the first worker hands its compiled binaryen.js module
 *    (`WebAssembly.Module`) back; the batch holds it and every later worker instantiates it instead
 *    of compiling binaryen again, starting with the code V8 has already optimised. Lanes after the
 *    first start once that module exists.
 * A worker that crashes or whose binaryen aborted is replaced at once; no task is lost, and lanes
 * never wait for each other.
 *
 * Lanes beyond the first start only when the batch is big enough to pay for one more binaryen.js
 * load (about a second of CPU): {@link laneCount}. With no limit at all and a single lane, the
 * files are processed in the main thread.
 */

import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { ErrorCodes, HostAllocError } from '../errors.js';
import type { WasmModule } from '../wasm-api.js';
import { toErrorInfo } from './errors.js';
import type { LaneData, Task, TaskResult, WorkerReady } from './worker.js';

export interface BatchOptions {
  jobs: number;
  recycleAfter: number;
  /** Per-file time limit in milliseconds; 0 for none. */
  timeLimitMs: number;
  /** Per-file memory limit in bytes (binaryen's heap and the worker's V8 heap each); 0 for none. */
  memoryLimitBytes: number;
  /** Input sizes in bytes, by task (decides how many lanes are worth starting). */
  sizes?: readonly number[];
  /** Called once per task, in completion order; awaited before the lane takes its next task. */
  onResult: (index: number, result: TaskResult) => Promise<void> | void;
}

export function defaultJobs(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Files, and input bytes, that keep one more lane busy long enough to repay its start-up. */
export const FILES_PER_LANE = 24;
export const BYTES_PER_LANE = 4 * 1024 * 1024;

/** How many lanes to start: at most `jobs`, one per FILES_PER_LANE files or BYTES_PER_LANE bytes. */
export function laneCount(jobs: number, files: number, bytes: number): number {
  const worth = Math.max(1, Math.floor(files / FILES_PER_LANE), Math.floor(bytes / BYTES_PER_LANE));
  return Math.max(1, Math.min(jobs, files, worth));
}

/** Files before its recycling point at which a lane starts its next worker. */
const WARM_AHEAD = 8;

function limitInfo(message: string): TaskResult {
  return {
    ok: false,
    error: toErrorInfo(new HostAllocError(ErrorCodes.RESOURCE_LIMIT, message)),
    inputSize: null,
  };
}

/** One worker thread of a lane. */
class LaneWorker {
  readonly worker: Worker;
  private pending: ((r: TaskResult) => void) | undefined;
  private dead: TaskResult | undefined;
  /** Resolves once the worker has loaded binaryen.js, or has died trying. */
  readonly ready: Promise<void>;

  /**
   * `binaryenModule`: binaryen.js's compiled wasm from an earlier worker, to start warm; `onModule`
   * receives the one this worker ends up with.
   */
  constructor(
    WorkerClass: typeof Worker,
    memoryLimitBytes: number,
    binaryenModule: WasmModule | undefined,
    onModule: (m: WasmModule) => void,
  ) {
    const data: LaneData = { hostallocLane: true, memoryLimitBytes };
    if (binaryenModule !== undefined) data.binaryenModule = binaryenModule;
    const mb = Math.ceil(memoryLimitBytes / (1024 * 1024));
    this.worker = new WorkerClass(new URL('./worker.js', import.meta.url), {
      workerData: data,
      ...(mb > 0 ? { resourceLimits: { maxOldGenerationSizeMb: mb } } : {}),
    });
    let started = (): void => {};
    this.ready = new Promise((resolve) => {
      started = resolve;
    });
    this.worker.on('message', (m: TaskResult | WorkerReady) => {
      if ('ready' in m) {
        if (m.binaryenModule !== undefined) onModule(m.binaryenModule);
        started();
      } else this.settle(m);
    });
    this.worker.on('exit', () => started());
    this.worker.on('error', (e: Error & { code?: string }) => {
      this.dead =
        e.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? limitInfo(
              `processing this file needs more than the per-file memory limit (${mb} MiB of JavaScript heap); raise it with --memory-limit if the input is trusted`,
            )
          : {
              ok: false,
              error: toErrorInfo(
                new HostAllocError(
                  ErrorCodes.INTERNAL,
                  'the worker processing this file crashed; please report it',
                  {
                    cause: e,
                  },
                ),
              ),
              inputSize: null,
            };
      this.settle(this.dead);
    });
    this.worker.on('exit', (code) => {
      this.dead ??= {
        ok: false,
        error: toErrorInfo(
          new HostAllocError(
            ErrorCodes.INTERNAL,
            `the worker processing this file exited (status ${code}); please report it`,
          ),
        ),
        inputSize: null,
      };
      this.settle(this.dead);
    });
  }

  private settle(r: TaskResult): void {
    const resolve = this.pending;
    this.pending = undefined;
    resolve?.(r);
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  /** Run one task; with `timeLimitMs`, terminate the worker when it runs longer. */
  run(task: Task, timeLimitMs: number): Promise<TaskResult> {
    if (this.dead !== undefined) return Promise.resolve(this.dead);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const pending = (r: TaskResult): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(r);
      };
      this.pending = pending;
      this.worker.postMessage(task);
      // The clock starts once binaryen.js is loaded: its start-up is not the file's fault. A file
      // that finished before (a malformed one fails without binaryen) needs no clock: only the
      // task still pending gets one.
      if (timeLimitMs > 0) {
        void this.ready.then(() => {
          if (this.pending !== pending) return;
          timer = setTimeout(() => {
            this.dead = limitInfo(
              `processing this file takes longer than the per-file time limit (${timeLimitMs / 1000} s); raise it with --time-limit if the input is trusted`,
            );
            this.settle(this.dead);
            void this.worker.terminate();
          }, timeLimitMs);
        });
      }
    });
  }

  stop(): Promise<unknown> {
    this.dead ??= {
      ok: false,
      error: toErrorInfo(new HostAllocError(ErrorCodes.INTERNAL, 'the worker was stopped')),
      inputSize: null,
    };
    return this.worker.terminate().catch(() => {});
  }
}

/** Run every task; resolves when all results have been handled. */
export async function runBatch(tasks: readonly Task[], options: BatchOptions): Promise<void> {
  const bytes = (options.sizes ?? []).reduce((a, b) => a + b, 0);
  const lanes = laneCount(options.jobs, tasks.length, bytes);
  if (lanes === 1 && options.timeLimitMs === 0 && options.memoryLimitBytes === 0) {
    const { runTask } = await import('./worker.js');
    for (const [i, task] of tasks.entries()) await options.onResult(i, await runTask(task));
    return;
  }

  const { Worker: WorkerClass } = await import('node:worker_threads');
  // binaryen.js's compiled wasm, from the first worker that loaded it: later workers (other lanes,
  // successors of recycled ones) instantiate it instead of compiling and optimising it again, and
  // holding it keeps that code alive between workers.
  let binaryenModule: WasmModule | undefined;
  let first: LaneWorker | undefined;
  const spawn = (): LaneWorker => {
    const w = new LaneWorker(WorkerClass, options.memoryLimitBytes, binaryenModule, (m) => {
      binaryenModule ??= m;
    });
    first ??= w;
    return w;
  };
  const heapRecycle = options.memoryLimitBytes > 0 ? options.memoryLimitBytes / 4 : Number.POSITIVE_INFINITY;

  let next = 0;
  const lane = async (_: unknown, k: number) => {
    let current: LaneWorker | undefined;
    let successor: LaneWorker | undefined;
    let done = 0;
    let heap = 0;
    // Lanes after the first start once the first worker has loaded binaryen.js, with its compiled
    // module; the first lane works meanwhile, and a batch that is done by then starts no more.
    if (k > 0) await first?.ready;
    try {
      for (;;) {
        const i = next++;
        const task = tasks[i];
        if (task === undefined) break;
        if (
          current !== undefined &&
          (!current.alive || done >= options.recycleAfter || heap >= heapRecycle)
        ) {
          void current.stop();
          current = undefined;
        }
        if (current === undefined) {
          current = successor ?? spawn();
          successor = undefined;
          done = 0;
          heap = 0;
        }
        // Start the next worker early so it is warm when this one is recycled.
        if (
          successor === undefined &&
          (done + 1 >= options.recycleAfter - WARM_AHEAD || heap >= heapRecycle / 2)
        ) {
          if (next < tasks.length) successor = spawn();
        }
        const result = await current.run(task, options.timeLimitMs);
        // binaryen.js cannot be used again after an abort (a memory limit hit is one): replace the worker.
        if (
          !result.ok &&
          (result.error.details?.['binaryenAborted'] === true ||
            result.error.code === ErrorCodes.RESOURCE_LIMIT)
        )
          void current.stop();
        done++;
        heap = Math.max(heap, result.heapBytes ?? 0);
        delete result.heapBytes;
        await options.onResult(i, result);
      }
    } finally {
      await Promise.all([current?.stop(), successor?.stop()]);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

// ---- progress ------------------------------------------------------------------------------------

export interface Progress {
  tick(): void;
  /** Print a line above the bar (or straight to stderr when there is no bar). */
  log(line: string): void;
  readonly active: boolean;
  stop(): void;
}

/** Whether a progress bar may be shown: stderr is a TTY, not CI, not --json. */
export function progressAllowed(json: boolean): boolean {
  return !json && process.stderr.isTTY === true && !process.env['CI'];
}

/** A progress bar on stderr (cli-progress), or a no-op. NO_COLOR turns off its colours. */
export async function createProgress(total: number, enabled: boolean, label: string): Promise<Progress> {
  if (!enabled || total < 2) {
    return {
      active: false,
      tick() {},
      log(line) {
        process.stderr.write(`${line}\n`);
      },
      stop() {},
    };
  }
  const { default: cliProgress } = await import('cli-progress');
  const color = !process.env['NO_COLOR'];
  const multi = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: `${label} {bar} {value}/{total} files | {duration_formatted}`,
      barCompleteChar: color ? '\u2588' : '#',
      barIncompleteChar: color ? '\u2591' : '-',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = multi.create(total, 0);
  let stopped = false;
  return {
    active: true,
    tick() {
      bar.increment();
    },
    log(line) {
      multi.log(`${line}\n`);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      multi.stop();
    },
  };
}
