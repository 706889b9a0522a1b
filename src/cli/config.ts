/**
 * @fileoverview Options from a configuration file: `--config FILE`, else `wasm-hostalloc.config.json`
 * in the working directory, else the `"wasm-hostalloc"` key of the nearest package.json (searched
 * from the working directory upwards). Keys are the camelCase long options; unknown keys and wrong
 * types are HA030 usage errors. Command-line flags win over the file.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes } from '../errors.js';
import type { AllocRole } from '../types.js';
import { UsageError } from './errors.js';
import { parseAlloc } from './options.js';

/** What a configuration file may set. */
export interface FileConfig {
  importModule?: string;
  alloc?: Partial<Record<AllocRole, string>>;
  /** A glue file, a directory of glue files or 'auto'; relative paths are relative to the file. */
  glue?: string;
  keepExports?: boolean;
  dropExports?: boolean;
  keepDwarf?: boolean;
  force?: boolean;
  allowShared?: boolean;
  jobs?: number;
  recycleAfter?: number;
  /** Per-file time limit in seconds (0: none). */
  timeLimit?: number;
  /** Per-file memory limit in MiB (0: none). */
  memoryLimit?: number;
  followSymlinks?: boolean;
}

export interface LoadedConfig {
  config: FileConfig;
  /** Where it came from (for messages), or null when there is no configuration. */
  source: string | null;
}

const KEYS: Record<keyof FileConfig, 'string' | 'boolean' | 'int' | 'int0' | 'alloc'> = {
  importModule: 'string',
  alloc: 'alloc',
  glue: 'string',
  keepExports: 'boolean',
  dropExports: 'boolean',
  keepDwarf: 'boolean',
  force: 'boolean',
  allowShared: 'boolean',
  jobs: 'int',
  recycleAfter: 'int',
  timeLimit: 'int0',
  memoryLimit: 'int0',
  followSymlinks: 'boolean',
};

export const CONFIG_FILE_NAME = 'wasm-hostalloc.config.json';
export const PACKAGE_JSON_KEY = 'wasm-hostalloc';

async function readJson(file: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read configuration file ${file}`, ErrorCodes.BAD_OPTION, { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`configuration file ${file} is not valid JSON`, ErrorCodes.BAD_OPTION, { cause: e });
  }
}

/** Find and validate the configuration that applies in `cwd`. */
export async function loadConfig(cwd: string, explicit?: string): Promise<LoadedConfig> {
  if (explicit !== undefined) {
    const file = path.resolve(cwd, explicit);
    const json = await readJson(file);
    if (json === undefined) {
      throw new UsageError(`configuration file ${explicit} does not exist`, ErrorCodes.BAD_OPTION);
    }
    return { config: validateConfig(json, explicit, path.dirname(file)), source: explicit };
  }
  const own = path.join(cwd, CONFIG_FILE_NAME);
  const json = await readJson(own);
  if (json !== undefined)
    return { config: validateConfig(json, CONFIG_FILE_NAME, cwd), source: CONFIG_FILE_NAME };

  for (let dir = cwd; ; dir = path.dirname(dir)) {
    const pkgFile = path.join(dir, 'package.json');
    const pkg = await readJson(pkgFile);
    if (pkg !== undefined) {
      if (typeof pkg !== 'object' || pkg === null || !(PACKAGE_JSON_KEY in pkg)) break;
      const where = `${path.relative(cwd, pkgFile) || 'package.json'} ("${PACKAGE_JSON_KEY}")`;
      return {
        config: validateConfig((pkg as Record<string, unknown>)[PACKAGE_JSON_KEY], where, dir),
        source: where,
      };
    }
    if (path.dirname(dir) === dir) break;
  }
  return { config: {}, source: null };
}

/** Check a parsed configuration object; `baseDir` resolves a relative `glue` path. */
export function validateConfig(json: unknown, where: string, baseDir: string): FileConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UsageError(`${where}: the configuration must be a JSON object`, ErrorCodes.BAD_OPTION);
  }
  const out: FileConfig = {};
  for (const [key, value] of Object.entries(json)) {
    if (!Object.hasOwn(KEYS, key)) {
      throw new UsageError(
        `${where}: unknown configuration key '${key}' (expected one of: ${Object.keys(KEYS).join(', ')})`,
        ErrorCodes.BAD_OPTION,
      );
    }
    const kind = KEYS[key as keyof FileConfig];
    const bad = (expected: string) =>
      new UsageError(`${where}: '${key}' must be ${expected}`, ErrorCodes.BAD_OPTION);
    switch (kind) {
      case 'string':
        if (typeof value !== 'string' || value === '') throw bad('a non-empty string');
        break;
      case 'boolean':
        if (typeof value !== 'boolean') throw bad('true or false');
        break;
      case 'int':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
          throw bad('a positive integer');
        break;
      case 'int0':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
          throw bad('a non-negative integer');
        break;
      case 'alloc': {
        let pairs: string[];
        if (Array.isArray(value) && value.every((v) => typeof v === 'string')) pairs = value as string[];
        else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
          pairs = Object.entries(value).map(([r, n]) => {
            if (typeof n !== 'string')
              throw bad('an object of role: name strings or an array of "ROLE=NAME"');
            return `${r}=${n}`;
          });
        } else throw bad('an object of role: name strings or an array of "ROLE=NAME"');
        out.alloc = parseAlloc(pairs, `${where} 'alloc'`);
        continue;
      }
    }
    (out as Record<string, unknown>)[key] = value;
  }
  if (out.glue !== undefined && out.glue !== 'auto') out.glue = path.resolve(baseDir, out.glue);
  return out;
}
