/**
 * @fileoverview A writable copy of an installed npm package, for running its own JS glue on a
 * converted `.wasm`: what a user does with `wasm-hostalloc transform <pkg>/<x>.wasm --in-place`, done
 * on a copy so that node_modules stays untouched. The copy sits in a temporary directory next to a
 * `node_modules` link to this repository's, so the glue's `require`s (its runtime packages) resolve
 * as they do in place. Each copy is a separate path, so `require` loads the glue afresh.
 */

import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_MODULES } from '../corpus/load.js';

export interface PackageCopy {
  /** The copied package's directory. */
  dir: string;
  /** Removes the copy. */
  dispose(): void;
}

/** Copies `node_modules/<pkg>` and writes `files` (path inside the package -> bytes) over it. */
export function copyPackage(pkg: string, files: Record<string, Uint8Array>): PackageCopy {
  const root = mkdtempSync(join(tmpdir(), 'wasm-hostalloc-pkg-'));
  symlinkSync(NODE_MODULES, join(root, 'node_modules'), 'dir');
  const dir = join(root, 'package');
  cpSync(join(NODE_MODULES, pkg), dir, { recursive: true });
  for (const [file, bytes] of Object.entries(files)) writeFileSync(join(dir, file), bytes);
  return { dir, dispose: () => rmSync(root, { recursive: true, force: true }) };
}
