/**
 * @fileoverview Atomic output: every file is written to `.name.wasm.tmp-<pid>-<rand>` in the
 * destination directory and renamed over the destination, so a reader (or a crash) never sees a
 * partial output. Temp files are removed on failure and, through {@link installSignalCleanup}, on
 * SIGINT/SIGTERM. SIGKILL cannot be caught: the temp file being written stays behind, and the next
 * run that writes into that directory removes it (its pid is no longer running).
 *
 * With a `root` (the --out-dir), directories are created one level at a time and none of them may
 * be a symbolic link, so a link planted inside the output directory cannot redirect a write.
 */

import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, HostAllocError } from '../errors.js';
import { ioError } from './errors.js';

/** Temp files currently being written: removed by the signal handler. */
const pending = new Set<string>();

/** `.NAME.tmp-PID-HEX`: the shape of our temp files (pid and random part captured). */
const TEMP_NAME = /^\..+\.tmp-(\d+)-[0-9a-f]{8}$/;

/** The temp path for `dest`: hidden, in the same directory (so rename is atomic), process-unique. */
export function tempPathFor(dest: string): string {
  return path.join(
    path.dirname(dest),
    `.${path.basename(dest)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Directories already cleaned of stale temp files in this run. */
const cleaned = new Set<string>();

/**
 * Remove temp files of ours in `dir` whose writer is no longer running (a SIGKILLed or crashed run).
 * Once per directory and run; errors are ignored (the write that follows reports its own).
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  if (cleaned.has(dir)) return [];
  cleaned.add(dir);
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (m === null || pidAlive(Number(m[1]))) continue;
    const file = path.join(dir, name);
    try {
      if (!(await lstat(file)).isFile()) continue;
      await rm(file);
      removed.push(file);
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}

/** `mkdir -p` that reports the real error (node's recursive mkdir says ENOENT on a read-only file system). */
async function mkdirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      const st = await lstat(d);
      if (!st.isDirectory() && !st.isSymbolicLink()) {
        throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR' });
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      missing.push(d);
      if (path.dirname(d) === d) break;
    }
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/**
 * Create `dir` under `root` one level at a time, refusing (HA050) when a component below `root` is a
 * symbolic link or not a directory: writes stay inside `root`.
 */
async function mkdirsUnder(root: string, dir: string): Promise<void> {
  await mkdirs(root);
  const rel = path.relative(root, dir);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new HostAllocError(
      ErrorCodes.IO,
      `refusing to write '${dir}': it is outside the output directory '${root}'`,
    );
  }
  let d = root;
  for (const part of rel === '' ? [] : rel.split(path.sep)) {
    d = path.join(d, part);
    let st: Awaited<ReturnType<typeof lstat>> | undefined;
    try {
      st = await lstat(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (st === undefined) {
      await mkdir(d).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      st = await lstat(d);
    }
    if (st.isSymbolicLink()) {
      throw new HostAllocError(
        ErrorCodes.IO,
        `refusing to write through '${d}': it is a symbolic link inside the output directory, and writes stay inside it`,
      );
    }
    if (!st.isDirectory()) {
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${d}'`), { code: 'ENOTDIR' });
    }
  }
}

export interface WriteOptions {
  /** Permissions of the output (e.g. the input's, for --in-place). */
  mode?: number;
  /** Keep the write inside this directory (the --out-dir): no symbolic link below it is followed. */
  root?: string;
}

/** Write `bytes` to `dest` atomically. */
export async function writeFileAtomic(
  dest: string,
  bytes: Uint8Array,
  options: WriteOptions = {},
): Promise<void> {
  const dir = path.dirname(dest);
  try {
    if (options.root === undefined) await mkdirs(dir);
    else await mkdirsUnder(options.root, dir);
  } catch (e) {
    if (e instanceof HostAllocError) throw e;
    throw ioError(`cannot create directory '${dir}'`, e);
  }
  await removeStaleTemps(dir);
  const tmp = tempPathFor(dest);
  pending.add(tmp);
  let renamed = false;
  try {
    await writeFile(tmp, bytes, { flag: 'wx' });
    if (options.mode !== undefined) await chmod(tmp, options.mode & 0o7777);
    await rename(tmp, dest);
    renamed = true;
  } catch (e) {
    throw ioError(`cannot write '${dest}'`, e);
  } finally {
    if (!renamed) await rm(tmp, { force: true }).catch(() => {});
    pending.delete(tmp);
  }
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * On SIGINT/SIGTERM: remove pending temp files, run `onSignal` (stop the progress bar…), exit with
 * 128 + signal number. Returns a function that uninstalls the handlers.
 */
export function installSignalCleanup(onSignal?: () => void): () => void {
  const handler = (signal: NodeJS.Signals) => {
    for (const tmp of pending) {
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
    }
    pending.clear();
    try {
      onSignal?.();
    } finally {
      process.exit(SIGNAL_EXIT[signal] ?? 1);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
