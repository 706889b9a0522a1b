/**
 * @fileoverview Atomic output: every file is written to `.name.wasm.tmp-<pid>-<rand>` in the
 * destination directory and renamed over the destination, so a reader (or a crash) never sees a
 * partial output. Temp files are removed on failure and, through {@link installSignalCleanup}, on
 * SIGINT/SIGTERM. (SIGKILL cannot be caught: at most the temp file being written stays behind;
 * final outputs are always complete.)
 */

import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ioError } from './errors.js';

/** Temp files currently being written: removed by the signal handler. */
const pending = new Set<string>();

/** The temp path for `dest`: hidden, in the same directory (so rename is atomic), process-unique. */
export function tempPathFor(dest: string): string {
  return path.join(
    path.dirname(dest),
    `.${path.basename(dest)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

/** Write `bytes` to `dest` atomically; `mode` sets the permissions (e.g. the input's, for --in-place). */
export async function writeFileAtomic(dest: string, bytes: Uint8Array, mode?: number): Promise<void> {
  try {
    await mkdir(path.dirname(dest), { recursive: true });
  } catch (e) {
    throw ioError(`cannot create directory '${path.dirname(dest)}'`, e);
  }
  const tmp = tempPathFor(dest);
  pending.add(tmp);
  let renamed = false;
  try {
    await writeFile(tmp, bytes, { flag: 'wx' });
    if (mode !== undefined) await chmod(tmp, mode & 0o7777);
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
