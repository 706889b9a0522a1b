/**
 * @fileoverview Batch execution: run tasks in worker threads (piscina) or in-process, report each
 * result as it completes, show a progress bar.
 *
 * Worker recycling. binaryen.js's wasm heap never shrinks, so a worker that transformed many (or
 * large) modules holds on to all that memory. piscina has no "max tasks per worker" option, and a
 * worker that exits by itself right after answering races with the next task piscina hands it. So
 * the pool is made of `jobs` lanes, each a one-thread Piscina that takes files from a shared queue
 * one at a time; after `recycleAfter` files (or 256 MB of input) the lane destroys its Piscina
 * between two tasks and starts a fresh one. The main thread decides when a worker ends, so no task
 * is ever lost, and no lane waits for the others (no barrier between generations).
 *
 * `jobs === 1` or a single task runs in the main thread: no worker startup cost.
 */

import os from 'node:os';
import type { Piscina as PiscinaPool } from 'piscina';
import { ErrorCodes } from '../errors.js';
import { CliError, toErrorInfo } from './errors.js';
import type { Task, TaskResult } from './worker.js';

/** Input bytes after which a worker is recycled even before `recycleAfter` files. */
const RECYCLE_BYTES = 256 * 1024 * 1024;

export interface BatchOptions {
  jobs: number;
  recycleAfter: number;
  /** Called once per task, in completion order; awaited before the lane takes its next task. */
  onResult: (index: number, result: TaskResult) => Promise<void> | void;
}

export function defaultJobs(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Run every task; resolves when all results have been handled. */
export async function runBatch(tasks: readonly Task[], options: BatchOptions): Promise<void> {
  const jobs = Math.max(1, Math.min(options.jobs, tasks.length));
  if (jobs === 1) {
    const { runTask } = await import('./worker.js');
    for (const [i, task] of tasks.entries()) await options.onResult(i, await runTask(task));
    return;
  }

  const { Piscina } = await import('piscina');
  const filename = new URL('./worker.js', import.meta.url).href;
  const newPool = () =>
    new Piscina<Task, TaskResult>({ filename, minThreads: 1, maxThreads: 1, idleTimeout: 60_000 });

  let next = 0;
  const lane = async () => {
    let pool: PiscinaPool<Task, TaskResult> | undefined;
    let done = 0;
    let bytes = 0;
    try {
      for (;;) {
        const i = next++;
        const task = tasks[i];
        if (task === undefined) break;
        if (pool !== undefined && (done >= options.recycleAfter || bytes >= RECYCLE_BYTES)) {
          const old = pool;
          pool = undefined;
          done = 0;
          bytes = 0;
          void old.destroy().catch(() => {});
        }
        pool ??= newPool();
        let result: TaskResult;
        try {
          result = await pool.run(task);
        } catch (e) {
          // The worker died (binaryen abort, out of memory…): fail this file, replace the worker.
          result = {
            ok: false,
            error: toErrorInfo(
              new CliError(ErrorCodes.INTERNAL, `the worker processing this file crashed; please report it`, {
                cause: e,
              }),
            ),
            inputSize: null,
          };
          const broken = pool;
          pool = undefined;
          void broken.destroy().catch(() => {});
        }
        if (!result.ok && result.error.details?.['binaryenAborted'] === true && pool !== undefined) {
          // binaryen.js aborted in that worker and cannot be used again there: replace the worker.
          const broken = pool;
          pool = undefined;
          void broken.destroy().catch(() => {});
        }
        done++;
        bytes += result.ok && result.kind === 'transform' ? result.report.inputSize : (result.inputSize ?? 0);
        await options.onResult(i, result);
      }
    } finally {
      await pool?.destroy().catch(() => {});
    }
  };
  await Promise.all(Array.from({ length: jobs }, lane));
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
