/**
 * @fileoverview Option definitions shared by the commands (defined once, reused by each command's
 * builder) and the readers that turn yargs' loosely typed argv into checked values.
 */

import type { Argv } from 'yargs';
import { ROLES } from '../conventions.js';
import { ErrorCodes } from '../errors.js';
import type { AllocRole } from '../types.js';
import { UsageError } from './errors.js';

/** Every role `--alloc ROLE=NAME` accepts, in the order help lists them. */
export const ALLOC_ROLES: readonly AllocRole[] = ROLES;

/** Default number of files a worker processes before it is replaced (binaryen's heap never shrinks). */
export const DEFAULT_RECYCLE_AFTER = 1000;

/** Help-text wrap width: fixed so help output (and its goldens) do not depend on the terminal. */
export const HELP_WIDTH = 100;

// biome-ignore lint/suspicious/noExplicitAny: yargs' builder types are not worth threading through.
type AnyArgv = Argv<any>;

/** `--json`, shared by every command. */
export function jsonOption(y: AnyArgv): AnyArgv {
  return y.option('json', {
    type: 'boolean',
    describe: 'Print one JSON document on stdout instead of text (shapes: docs/json.md)',
  });
}

/** `--alloc ROLE=NAME` and `--glue`, shared by transform and inspect. */
export function identificationOptions(y: AnyArgv, glueDescription: string): AnyArgv {
  return y
    .option('alloc', {
      type: 'string',
      requiresArg: true,
      describe:
        'Name an allocator-family member: ROLE=NAME, NAME an export, `$function` (name section) or ' +
        '`$123` (function index). Repeatable. ROLE: ' +
        ALLOC_ROLES.join(', '),
    })
    .option('glue', { type: 'string', requiresArg: true, describe: glueDescription });
}

/** Output placement options of transform. */
export function outputOptions(y: AnyArgv): AnyArgv {
  return y
    .option('output', {
      alias: 'o',
      type: 'string',
      requiresArg: true,
      describe: 'Write the output to FILE (one input only)',
    })
    .option('out-dir', {
      type: 'string',
      requiresArg: true,
      describe: "Write outputs under DIR, keeping paths relative to the inputs' common root",
    })
    .option('in-place', { type: 'boolean', describe: 'Replace each input (atomically)' })
    .option('dry-run', { type: 'boolean', describe: 'Transform in memory and report; write nothing' });
}

/** Transform behaviour options (mirrors TransformOptions). */
export function transformOptions(y: AnyArgv): AnyArgv {
  return y
    .option('import-module', {
      type: 'string',
      requiresArg: true,
      describe: 'Import module of the host functions [default: env]',
    })
    .option('keep-exports', {
      type: 'boolean',
      describe: "Keep the family's exports (malloc, free...), forwarding to the host imports",
    })
    .option('keep-dwarf', { type: 'boolean', describe: 'Keep DWARF sections (stale after the rewrite)' })
    .option('force', {
      type: 'boolean',
      describe: 'Go ahead despite missing family members or hazards (each becomes a warning)',
    })
    .option('allow-shared', { type: 'boolean', describe: 'Allow shared (threaded) memories' })
    .option('max-bytes', {
      type: 'number',
      requiresArg: true,
      describe: 'Refuse inputs larger than N bytes (HA032) [default: 268435456]',
    })
    .option('max-functions', {
      type: 'number',
      requiresArg: true,
      describe: 'Refuse inputs with more than N functions (HA032) [default: 1000000]',
    })
    .option('max-data-segments', {
      type: 'number',
      requiresArg: true,
      describe: 'Refuse inputs with more than N data segments (HA032) [default: 100000]',
    });
}

/** `--jobs`, `--recycle-after` and `--config`: batch options of transform and verify. */
export function batchOptions(y: AnyArgv): AnyArgv {
  return y
    .option('jobs', {
      alias: 'j',
      type: 'number',
      requiresArg: true,
      describe: 'Files processed in parallel, each in a worker thread [default: number of cores]',
    })
    .option('recycle-after', {
      type: 'number',
      requiresArg: true,
      describe: `Replace a worker after it processed N files [default: ${DEFAULT_RECYCLE_AFTER}]`,
    });
}

/** `--config FILE`: where options come from besides the command line. */
export function configOption(y: AnyArgv): AnyArgv {
  return y.option('config', {
    type: 'string',
    requiresArg: true,
    describe:
      'Read options from FILE [default: ./wasm-hostalloc.config.json, else the "wasm-hostalloc" key ' +
      'of the nearest package.json]; command-line flags win',
  });
}

// ---- readers -------------------------------------------------------------------------------------

/** Parsed command-line arguments as yargs hands them over. */
export type RawArgs = Record<string, unknown>;

export function readString(argv: RawArgs, key: string): string | undefined {
  const v = argv[key];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new UsageError(`--${key} given more than once`);
  if (typeof v !== 'string' && typeof v !== 'number') throw new UsageError(`--${key} expects a value`);
  return String(v);
}

export function readBoolean(argv: RawArgs, key: string): boolean | undefined {
  const v = argv[key];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return Boolean(v[v.length - 1]);
  return Boolean(v);
}

export function readStrings(argv: RawArgs, key: string): string[] {
  const v = argv[key];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** A positive integer option (`--jobs`, `--recycle-after`). */
export function readPositiveInt(argv: RawArgs, key: string): number | undefined {
  const v = argv[key];
  if (v === undefined) return undefined;
  const n = Array.isArray(v) ? v[v.length - 1] : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new UsageError(`--${key} expects a positive integer, got '${String(n)}'`, ErrorCodes.BAD_OPTION);
  }
  return n;
}

/** Parse repeated `ROLE=NAME` values into TransformOptions.alloc (HA030 on a bad role or shape). */
export function parseAlloc(values: readonly string[], where = '--alloc'): Partial<Record<AllocRole, string>> {
  const alloc: Partial<Record<AllocRole, string>> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0 || eq === value.length - 1) {
      throw new UsageError(`${where} expects ROLE=NAME, got '${value}'`, ErrorCodes.BAD_OPTION);
    }
    const role = value.slice(0, eq);
    const name = value.slice(eq + 1);
    if (!isAllocRole(role)) {
      throw new UsageError(
        `unknown allocator role '${role}' in ${where} ${value} (expected one of: ${ALLOC_ROLES.join(', ')})`,
        ErrorCodes.BAD_OPTION,
      );
    }
    alloc[role] = name;
  }
  return alloc;
}

export function isAllocRole(s: string): s is AllocRole {
  return (ALLOC_ROLES as readonly string[]).includes(s);
}
