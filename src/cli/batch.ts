/**
 * @fileoverview Batch execution: run tasks in worker threads, one lane per job, each with a time and
 * memory limit per file; report each result as it completes; show a progress bar.
 *
 * A lane is one worker thread (node:worker_threads) that takes files from a shared queue. It keeps
 * two posted to its worker, the one running and the next, so the worker goes on to the next file
 * while the main thread writes the previous one's output. The main thread owns the worker's life:
 *  - **time limit**: a timer per file, started when the file's turn comes (binaryen.js loaded, the
 *    previous file answered); when it fires the worker is terminated and the file fails with HA033
 *    (binaryen.js runs synchronously, nothing short of terminating the thread stops it);
 *  - **memory limit**: the worker caps binaryen's heap (see worker.ts) and runs with a V8 heap
 *    limit (`resourceLimits`); a worker that dies of either fails its file with HA033;
 *  - **recycling**: binaryen's wasm heap never shrinks, so a worker is replaced after
 *    `recycleAfter` files or once its heap passed a quarter of the memory limit. Its successor is
 *    started a few files ahead and loads binaryen.js while the old worker finishes (warm start).
 *  - **one compiled binaryen**: the main thread compiles binaryen.js's wasm (`WebAssembly.Module`)
 *    while the first workers start, and holds it; every worker instantiates it instead of compiling
 *    binaryen itself, starting with the code V8 has already optimised, and skips decoding the
 *    14.6 MB binary binaryen.js embeds (src/binaryen/load.ts: about 0.05 s of CPU instead of 0.3 s).
 *    The main thread is idle while a worker boots, so even a single file gets its result sooner.
 * A worker that crashes or whose binaryen aborted is replaced at once; the file it was running fails,
 * the file posted after it is run by the next worker: no task is lost or run twice, and lanes never
 * wait for each other.
 *
 * Lanes beyond the first start only when the batch is big enough to pay for one more worker's start
 * (about a second of CPU, most of it V8 compiling the library's hot code again for the new thread):
 * {@link laneCount}. With no limit at all and a single lane, the
 * files are processed in the main thread.
 */

import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { type CompiledBinaryen, compileBinaryen } from '../binaryen/load.js';
import { ErrorCodes, HostAllocError } from '../errors.js';
import type { WasmModule } from '../wasm-api.js';
import { toErrorInfo } from './errors.js';
import type { LaneData, Task, TaskResult, WorkerModule, WorkerReady } from './worker.js';

export interface BatchOptions {
  jobs: number;
  recycleAfter: number;
  /** Per-file time limit in milliseconds; 0 for none. */
  timeLimitMs: number;
  /** Per-file memory limit in bytes (binaryen's heap and the worker's V8 heap each); 0 for none. */
  memoryLimitBytes: number;
  /** Input sizes in bytes, by task (decides how many lanes are worth starting). */
  sizes?: readonly number[];
  /**
   * Called once per task, in completion order; a lane's next call waits until this one is done (its
   * worker goes on meanwhile).
   */
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

/** A worker's initial old generation, in MiB (see runBatch). */
const INITIAL_OLD_SPACE_MB = 64;

/** Files before its recycling point at which a lane starts its next worker. */
const WARM_AHEAD = 8;

/**
 * Tasks a lane keeps posted to its worker: the one running and the next, so the worker starts the
 * next file as soon as it has sent a result, without waiting for the main thread to receive it, write
 * the output and answer.
 */
const LANE_DEPTH = 2;

function limitInfo(message: string): TaskResult {
  return {
    ok: false,
    error: toErrorInfo(new HostAllocError(ErrorCodes.RESOURCE_LIMIT, message)),
    inputSize: null,
  };
}

/** A task posted to a worker and not answered yet. */
interface Posted {
  /** `undefined`: the worker was stopped or died before this task's turn; run it on another. */
  settle(r: TaskResult | undefined): void;
  timer?: NodeJS.Timeout;
}

/**
 * One worker thread of a lane. It runs the tasks posted to it one at a time, in order, and answers
 * them in that order. A task's clock (the time limit) starts when the task's turn comes: binaryen.js
 * is loaded and the previous task is answered.
 */
class LaneWorker {
  readonly worker: Worker;
  /** Posted tasks, oldest (the one running) first. */
  private readonly posted: Posted[] = [];
  private dead: TaskResult | undefined;
  private started = false;
  /** Resolves once the worker has loaded binaryen.js, or has died trying. */
  readonly ready: Promise<void>;

  /**
   * `binaryen`: binaryen.js's compiled wasm, to start warm; `'later'`: it is on its way
   * ({@link giveModule}), the worker waits for it; undefined: the worker compiles its own.
   * `onModule` receives the module the worker uses, as soon as it exists.
   */
  constructor(
    WorkerClass: typeof Worker,
    private readonly timeLimitMs: number,
    memoryLimitBytes: number,
    binaryen: CompiledBinaryen | 'later' | undefined,
    onModule: (m: WasmModule | undefined) => void,
  ) {
    const data: LaneData = { hostallocLane: true, memoryLimitBytes };
    if (binaryen === 'later') data.moduleLater = true;
    else if (binaryen !== undefined) data.binaryen = binaryen;
    const mb = Math.ceil(memoryLimitBytes / (1024 * 1024));
    this.worker = new WorkerClass(new URL('./worker.js', import.meta.url), {
      workerData: data,
      ...(mb > 0 ? { resourceLimits: { maxOldGenerationSizeMb: mb } } : {}),
    });
    let started = (): void => {};
    this.ready = new Promise((resolve) => {
      started = resolve;
    });
    let compiled = false;
    this.worker.on('message', (m: TaskResult | WorkerReady | WorkerModule) => {
      if ('compiled' in m) {
        compiled = true;
        onModule(m.binaryen?.module);
      } else if ('ready' in m) {
        this.started = true;
        started();
        this.startClock();
      } else this.answer(m);
    });
    this.worker.on('exit', () => {
      if (!compiled) onModule(undefined);
      started();
    });
    this.worker.on('error', (e: Error & { code?: string }) => {
      this.die(
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
            },
      );
    });
    this.worker.on('exit', (code) => {
      this.die({
        ok: false,
        error: toErrorInfo(
          new HostAllocError(
            ErrorCodes.INTERNAL,
            `the worker processing this file exited (status ${code}); please report it`,
          ),
        ),
        inputSize: null,
      });
    });
  }

  /** Hand a worker started with `'later'` the compiled binaryen (undefined: compile it yourself). */
  giveModule(binaryen: CompiledBinaryen | undefined): void {
    const m: WorkerModule = { compiled: true };
    if (binaryen !== undefined) m.binaryen = binaryen;
    this.worker.postMessage(m);
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  /** Tasks posted and not answered. */
  get load(): number {
    return this.posted.length;
  }

  /** The answer to the oldest posted task; the next one's turn comes. */
  private answer(r: TaskResult): void {
    const p = this.posted.shift();
    if (p === undefined) return; // stopped meanwhile: the task was handed back
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.settle(r);
    this.startClock();
  }

  /**
   * The worker is gone: the task running gets `info` (the reason), the tasks waiting behind it are
   * handed back. Later calls change nothing.
   */
  private die(info: TaskResult): void {
    if (this.dead !== undefined) return;
    this.dead = info;
    const [running, ...waiting] = this.posted.splice(0);
    if (running?.timer !== undefined) clearTimeout(running.timer);
    running?.settle(info);
    for (const p of waiting) p.settle(undefined);
  }

  /** Start the clock of the task whose turn it is; with it the worker is terminated when it runs longer. */
  private startClock(): void {
    const p = this.posted[0];
    if (!this.started || p === undefined || p.timer !== undefined || this.timeLimitMs === 0) return;
    p.timer = setTimeout(() => {
      this.die(
        limitInfo(
          `processing this file takes longer than the per-file time limit (${this.timeLimitMs / 1000} s); raise it with --time-limit if the input is trusted`,
        ),
      );
      void this.worker.terminate();
    }, this.timeLimitMs);
  }

  /**
   * Post one task; resolves with its result, or with `undefined` when the worker stopped or died
   * before its turn (the task was not run: the lane runs it on another worker).
   */
  run(task: Task): Promise<TaskResult | undefined> {
    if (this.dead !== undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.posted.push({ settle: resolve });
      this.worker.postMessage(task);
      this.startClock();
    });
  }

  /** Terminate the worker; the tasks still posted to it are handed back. */
  stop(): Promise<unknown> {
    for (const p of this.posted.splice(0)) {
      if (p.timer !== undefined) clearTimeout(p.timer);
      p.settle(undefined);
    }
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
  // A worker's heap holds ~10 MB once binaryen.js is loaded (its light copy leaves out the 14.8 MB
  // source), and V8 plans the next full collection from what is live: workers ran 11 to 20
  // mark-compacts over a 500-module -j 2 batch instead of 3 to 7 when the source was in the heap.
  // Starting the old generation at 64 MiB brings that back to about 5. V8 reads the flag when it
  // creates a thread's heap: it applies to the workers started from here on, not to this thread.
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString(`--initial-old-space-size=${INITIAL_OLD_SPACE_MB}`);
  // binaryen.js's compiled wasm, shared by every worker: they instantiate it instead of compiling and
  // optimising it again, and holding it keeps that code alive between workers. This thread compiles
  // it while the first workers start (it would wait for them meanwhile); they get it once it exists
  // (`waiting`). When this thread cannot (binaryen.js not of the light copy's shape), each waiting
  // worker compiles its own, and the first module a worker reports serves the workers started later.
  let binaryen: CompiledBinaryen | undefined;
  let compiling = true;
  const waiting: LaneWorker[] = [];
  const compiled = (c: CompiledBinaryen | undefined): void => {
    binaryen ??= c;
    compiling = false;
    for (const w of waiting.splice(0)) w.giveModule(binaryen);
  };
  const spawn = (): LaneWorker => {
    const source = binaryen ?? (compiling ? 'later' : undefined);
    const w = new LaneWorker(WorkerClass, options.timeLimitMs, options.memoryLimitBytes, source, (m) => {
      if (m !== undefined) binaryen ??= { module: m };
    });
    if (source === 'later') waiting.push(w);
    return w;
  };
  const heapRecycle = options.memoryLimitBytes > 0 ? options.memoryLimitBytes / 4 : Number.POSITIVE_INFINITY;

  let next = 0;
  /** Tasks handed back by a worker that stopped before running them: taken before new ones. */
  const returned: number[] = [];
  const take = (): number | undefined => returned.shift() ?? (next < tasks.length ? next++ : undefined);
  const remaining = (): boolean => returned.length > 0 || next < tasks.length;

  const lane = async (): Promise<void> => {
    let current: LaneWorker | undefined;
    let successor: LaneWorker | undefined;
    /** Tasks posted to `current`, and answered by it. */
    let posted = 0;
    let done = 0;
    let heap = 0;
    const inFlight: { index: number; result: Promise<TaskResult | undefined> }[] = [];
    // The result being handled (output written, reported) while the worker runs the next files.
    let handling: Promise<void> = Promise.resolve();
    try {
      for (;;) {
        // Retire the worker once its last task is answered: it died, or it has done its share.
        if (
          current !== undefined &&
          inFlight.length === 0 &&
          (!current.alive || posted >= options.recycleAfter || heap >= heapRecycle)
        ) {
          void current.stop();
          current = undefined;
        }
        if (current === undefined && remaining()) {
          current = successor ?? spawn();
          successor = undefined;
          posted = 0;
          done = 0;
          heap = 0;
        }
        // Keep LANE_DEPTH tasks posted, within the worker's share.
        while (
          current?.alive === true &&
          inFlight.length < LANE_DEPTH &&
          posted < options.recycleAfter &&
          heap < heapRecycle
        ) {
          const index = take();
          if (index === undefined) break;
          inFlight.push({ index, result: current.run(tasks[index]!) });
          posted++;
        }
        // Start the next worker early so it is warm when this one is recycled.
        if (
          current !== undefined &&
          successor === undefined &&
          (done + 1 >= options.recycleAfter - WARM_AHEAD || heap >= heapRecycle / 2) &&
          remaining()
        ) {
          successor = spawn();
        }
        const head = inFlight.shift();
        if (head === undefined) break;
        const result = await head.result;
        if (result === undefined) {
          // Not run: its worker stopped first. Another worker (this lane's next) runs it.
          returned.push(head.index);
          continue;
        }
        done++;
        // binaryen.js cannot be used again after an abort (a memory limit hit is one): replace the
        // worker; the task posted after this one is handed back.
        if (
          !result.ok &&
          (result.error.details?.['binaryenAborted'] === true ||
            result.error.code === ErrorCodes.RESOURCE_LIMIT)
        )
          void current?.stop();
        heap = Math.max(heap, result.heapBytes ?? 0);
        delete result.heapBytes;
        // A worker past its heap share runs no further file: the one posted after this is handed back.
        if (heap >= heapRecycle) void current?.stop();
        await handling;
        handling = Promise.resolve(options.onResult(head.index, result));
        handling.catch(() => {}); // rejects at the next `await handling`, not as an unhandled rejection
      }
      await handling;
    } finally {
      await Promise.all([current?.stop(), successor?.stop()]);
    }
  };
  const running = Promise.all(Array.from({ length: lanes }, lane));
  // After the lanes' first workers were started: they boot on their threads meanwhile.
  void compileBinaryen().then(compiled);
  await running;
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
