/**
 * @fileoverview Input expansion: files, directories (recursive, `*.wasm`) and globs, deduplicated,
 * plus the common root that `--out-dir` keeps paths relative to.
 *
 * Inputs may come from an upload, so a directory is a boundary: symbolic links met while walking a
 * directory (or a glob's fixed prefix) are followed only when they resolve inside it. A link out of
 * it (`in/link -> ../victim`, a link to `/`) is skipped and reported, unless `followSymlinks` is set;
 * even then each real directory is walked once, so a link cycle ends. Files named explicitly on the
 * command line are taken as given.
 */

import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, HostAllocError } from '../errors.js';

export interface InputFile {
  /** Absolute path, as reached from the argument (links inside an input directory not resolved). */
  abs: string;
  /** The real path (every link resolved): what is read, and what --in-place replaces. */
  real: string;
  /** The path shown to the user and in JSON: relative to cwd when inside it, else absolute. */
  display: string;
}

export interface ExpandedInputs {
  files: InputFile[];
  /** Common ancestor of the inputs' bases (a directory argument, a file's directory, a glob's prefix). */
  root: string;
  /** Symbolic links that were not followed because they lead out of their input directory. */
  skippedLinks: string[];
}

export interface ExpandOptions {
  /** The output directory: skipped while walking directories and globs (earlier outputs are not inputs). */
  exclude?: string;
  /** Follow symbolic links that lead out of an input directory. */
  followSymlinks?: boolean;
}

const GLOB_CHARS = /[*?[\]{}!]/;

/** The path to show for an absolute path. */
export function displayPath(abs: string, cwd: string): string {
  const rel = path.relative(cwd, abs);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel;
}

/** The directory part of a glob before its first segment with a glob character. */
function globBase(pattern: string): string {
  const parts = pattern.split(/[\\/]/);
  const fixed: string[] = [];
  for (const part of parts.slice(0, -1)) {
    if (GLOB_CHARS.test(part)) break;
    fixed.push(part);
  }
  return fixed.join('/') || '.';
}

function commonAncestor(dirs: readonly string[]): string {
  const first = dirs[0];
  if (first === undefined) return process.cwd();
  let parts = first.split(path.sep);
  for (const dir of dirs.slice(1)) {
    const other = dir.split(path.sep);
    let i = 0;
    while (i < parts.length && i < other.length && parts[i] === other[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(path.sep) || path.sep;
}

/** True when `child` is `parent` or lies under it (plain path comparison, no link resolution). */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

async function realOrSelf(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    return p;
  }
}

/**
 * Every `*.wasm` file under `dir` (absolute paths as reached, with their real paths). Links are
 * followed only when their target is inside `boundary` (a real path) or `follow` is set; each real
 * directory is entered once.
 */
async function walk(
  dir: string,
  boundary: string,
  follow: boolean,
  ignore: (abs: string) => boolean,
  skipped: string[],
): Promise<{ abs: string; real: string }[]> {
  const found: { abs: string; real: string }[] = [];
  const visited = new Set<string>();
  const visit = async (abs: string, real: string): Promise<void> => {
    if (visited.has(real)) return;
    visited.add(real);
    let entries: Dirent[];
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (e) {
      throw new HostAllocError(ErrorCodes.IO, `cannot read directory '${abs}'`, { cause: e });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const child = path.join(abs, entry.name);
      if (ignore(child)) continue;
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      let childReal = path.join(real, entry.name);
      if (entry.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(child);
        } catch {
          continue; // a dangling link
        }
        if (!follow && !isInside(target, boundary)) {
          skipped.push(child);
          continue;
        }
        const st = await stat(target).catch(() => undefined);
        if (st === undefined) continue;
        isDir = st.isDirectory();
        isFile = st.isFile();
        childReal = target;
      }
      if (isDir) await visit(child, childReal);
      else if (isFile && entry.name.endsWith('.wasm')) found.push({ abs: child, real: childReal });
    }
  };
  await visit(dir, await realOrSelf(dir));
  return found.sort((a, b) => (a.abs < b.abs ? -1 : a.abs > b.abs ? 1 : 0));
}

/**
 * Expand the command-line inputs. A missing file, an empty directory or a glob matching nothing is
 * a fatal HA050 error: nothing is processed. `exclude` (the output directory) is skipped while
 * walking directories and globs when it lies inside them, so re-running never picks up earlier
 * outputs.
 */
export async function expandInputs(
  specs: readonly string[],
  cwd: string,
  options: ExpandOptions = {},
): Promise<ExpandedInputs> {
  const seen = new Set<string>();
  const files: InputFile[] = [];
  const bases: string[] = [];
  const skippedLinks: string[] = [];
  const follow = options.followSymlinks === true;
  const add = (abs: string, real: string) => {
    if (seen.has(real)) return;
    seen.add(real);
    files.push({ abs, real, display: displayPath(abs, cwd) });
  };
  const { exclude } = options;
  /** The out dir is skipped inside a walked tree, unless it contains the whole tree. */
  const ignoreFor = (base: string) => (abs: string) =>
    exclude !== undefined && !isInside(base, exclude) && isInside(abs, exclude);

  for (const spec of specs) {
    const abs = path.resolve(cwd, spec);
    let st: Awaited<ReturnType<typeof stat>> | undefined;
    try {
      st = await stat(abs);
    } catch (e) {
      if (!GLOB_CHARS.test(spec)) {
        throw new HostAllocError(ErrorCodes.IO, `cannot read input '${spec}'`, { cause: e });
      }
    }
    if (st?.isDirectory()) {
      const boundary = await realOrSelf(abs);
      const found = await walk(abs, boundary, follow, ignoreFor(abs), skippedLinks);
      if (found.length === 0)
        throw new HostAllocError(ErrorCodes.IO, `no .wasm files in directory '${spec}'`);
      bases.push(abs);
      for (const f of found) add(f.abs, f.real);
    } else if (st !== undefined) {
      bases.push(path.dirname(abs));
      add(abs, await realOrSelf(abs));
    } else {
      const base = path.resolve(cwd, globBase(spec));
      const boundary = await realOrSelf(base);
      const ignore = ignoreFor(base);
      const { glob } = await import('tinyglobby');
      const matched = (
        await glob(spec.split(path.sep).join('/'), {
          cwd,
          absolute: true,
          onlyFiles: true,
          followSymbolicLinks: follow,
        })
      )
        .map((f) => path.resolve(f))
        .filter((f) => !ignore(f))
        .sort();
      const found: { abs: string; real: string }[] = [];
      for (const f of matched) {
        const real = await realOrSelf(f);
        if (!follow && !isInside(real, boundary)) skippedLinks.push(f);
        else found.push({ abs: f, real });
      }
      if (found.length === 0) throw new HostAllocError(ErrorCodes.IO, `no file matches '${spec}'`);
      bases.push(base);
      for (const f of found) add(f.abs, f.real);
    }
  }
  return { files, root: commonAncestor(bases), skippedLinks };
}
