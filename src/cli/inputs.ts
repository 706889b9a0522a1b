/**
 * @fileoverview Input expansion: files, directories (recursive, `*.wasm`) and globs, deduplicated,
 * plus the common root that `--out-dir` keeps paths relative to.
 */

import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes } from '../errors.js';
import { CliError } from './errors.js';

export interface InputFile {
  /** Absolute path. */
  abs: string;
  /** The path shown to the user and in JSON: relative to cwd when inside it, else absolute. */
  display: string;
}

export interface ExpandedInputs {
  files: InputFile[];
  /** Common ancestor of the inputs' bases (a directory argument, a file's directory, a glob's prefix). */
  root: string;
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
  const stat: string[] = [];
  for (const part of parts.slice(0, -1)) {
    if (GLOB_CHARS.test(part)) break;
    stat.push(part);
  }
  return stat.join('/') || '.';
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

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Expand the command-line inputs. A missing file, an empty directory or a glob matching nothing is
 * a fatal HA050 error: nothing is processed. `exclude` (the output directory) is skipped while
 * walking directories and globs so re-running never picks up earlier outputs.
 */
export async function expandInputs(
  specs: readonly string[],
  cwd: string,
  exclude?: string,
): Promise<ExpandedInputs> {
  const seen = new Set<string>();
  const files: InputFile[] = [];
  const bases: string[] = [];
  const add = async (abs: string) => {
    let real: string;
    try {
      real = await realpath(abs);
    } catch {
      real = abs;
    }
    if (seen.has(real)) return;
    seen.add(real);
    files.push({ abs, display: displayPath(abs, cwd) });
  };
  const ignore = (abs: string) => exclude !== undefined && isInside(abs, exclude);

  for (const spec of specs) {
    const abs = path.resolve(cwd, spec);
    let st: Awaited<ReturnType<typeof stat>> | undefined;
    try {
      st = await stat(abs);
    } catch (e) {
      if (!GLOB_CHARS.test(spec)) {
        throw new CliError(ErrorCodes.IO, `cannot read input '${spec}'`, { cause: e });
      }
    }
    if (st?.isDirectory()) {
      const { glob } = await import('tinyglobby');
      const found = (await glob('**/*.wasm', { cwd: abs, absolute: true, onlyFiles: true }))
        .map((f) => path.resolve(f))
        .filter((f) => !ignore(f))
        .sort();
      if (found.length === 0) throw new CliError(ErrorCodes.IO, `no .wasm files in directory '${spec}'`);
      bases.push(abs);
      for (const f of found) await add(f);
    } else if (st !== undefined) {
      bases.push(path.dirname(abs));
      await add(abs);
    } else {
      const { glob } = await import('tinyglobby');
      const found = (await glob(spec.split(path.sep).join('/'), { cwd, absolute: true, onlyFiles: true }))
        .map((f) => path.resolve(f))
        .filter((f) => !ignore(f))
        .sort();
      if (found.length === 0) throw new CliError(ErrorCodes.IO, `no file matches '${spec}'`);
      bases.push(path.resolve(cwd, globBase(spec)));
      for (const f of found) await add(f);
    }
  }
  return { files, root: commonAncestor(bases) };
}
