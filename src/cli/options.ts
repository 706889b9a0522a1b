/**
 * @fileoverview The command-line parser and help: each command declares its options once as a
 * {@link CommandSpec}; {@link parseCommand} runs node's built-in `util.parseArgs` on it (strict: an
 * unknown flag or a missing value is a usage error) and {@link formatHelp} renders the help from
 * the same table. Nothing here loads more than `node:util`, so `--help` stays instant. The readers
 * at the end turn parsed values into checked ones (HA030 on a bad value).
 */

import { parseArgs } from 'node:util';
import { ALLOC_ROLES, isAllocRole } from '../conventions.js';
import { ErrorCodes } from '../errors.js';
import type { AllocRole } from '../types.js';
import { UsageError } from './errors.js';

/** Default number of files a worker processes before it is replaced (binaryen's heap never shrinks). */
export const DEFAULT_RECYCLE_AFTER = 1000;

/** Default per-file time limit of transform and verify, in seconds. */
export const DEFAULT_TIME_LIMIT_S = 60;

/** Default per-file memory limit, in MiB (binaryen's heap; the worker's JS heap gets the same cap). */
export const DEFAULT_MEMORY_LIMIT_MB = 2048;

/** Smallest memory limit accepted: binaryen.js alone needs about this much to load. */
export const MIN_MEMORY_LIMIT_MB = 64;

/** Help-text wrap width: fixed so help output (and its goldens) do not depend on the terminal. */
export const HELP_WIDTH = 100;

/** One option: `--name`, maybe `-s`, a boolean flag or an option taking a value. */
export interface OptionSpec {
  name: string;
  short?: string;
  /** `boolean` flags take no value (and accept `--no-NAME`); `string` and `int` take one. */
  kind: 'boolean' | 'string' | 'int';
  /** Placeholder in help (`FILE`, `N`…). */
  value?: string;
  /** May be given several times (all values kept). */
  repeatable?: boolean;
  describe: string;
}

/** A command: its usage line, positional argument, options and help texts. */
export interface CommandSpec {
  name: string;
  describe: string;
  /** The positional argument, or null for a command that takes none. */
  positional: { name: string; describe: string; many: boolean } | null;
  options: readonly OptionSpec[];
  epilogue: string;
}

/** Parsed command-line arguments: option values by long name, the positionals under their name. */
export type RawArgs = Record<string, unknown>;

// ---- shared option groups ------------------------------------------------------------------------

/** `--help` and `--version`, accepted by every command. */
export const HELP_OPTIONS: readonly OptionSpec[] = [
  { name: 'help', short: 'h', kind: 'boolean', describe: 'Show help' },
  { name: 'version', short: 'V', kind: 'boolean', describe: 'Show version number' },
];

/** `--json`, shared by every command. */
export const JSON_OPTION: OptionSpec = {
  name: 'json',
  kind: 'boolean',
  describe: 'Print one JSON document on stdout instead of text (shapes: docs/json.md)',
};

/** `--alloc ROLE=NAME` and `--glue`, shared by transform and inspect. */
export function identificationOptions(glueDescription: string): OptionSpec[] {
  return [
    {
      name: 'alloc',
      kind: 'string',
      value: 'ROLE=NAME',
      repeatable: true,
      describe:
        'Name an allocator-family member: NAME an export, `$function` (name section) or `$123` ' +
        `(function index). Repeatable. ROLE: ${ALLOC_ROLES.join(', ')}`,
    },
    { name: 'glue', kind: 'string', value: 'GLUE', describe: glueDescription },
  ];
}

/** Output placement options of transform. */
export const OUTPUT_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'output',
    short: 'o',
    kind: 'string',
    value: 'FILE',
    describe: 'Write the output to FILE (one input only)',
  },
  {
    name: 'out-dir',
    kind: 'string',
    value: 'DIR',
    describe: "Write outputs under DIR, keeping paths relative to the inputs' common root",
  },
  { name: 'in-place', kind: 'boolean', describe: 'Replace each input (atomically)' },
  { name: 'dry-run', kind: 'boolean', describe: 'Transform in memory and report; write nothing' },
];

/** Transform behaviour options (mirrors TransformOptions). */
export const TRANSFORM_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'import-module',
    kind: 'string',
    value: 'NAME',
    describe: 'Import module of the host functions [default: env]',
  },
  {
    name: 'drop-exports',
    kind: 'boolean',
    describe: "Remove the family's exports (malloc, free...) instead of forwarding them to the host",
  },
  {
    name: 'keep-exports',
    kind: 'boolean',
    describe: "Keep the family's exports, forwarding to the host imports (the opposite of --drop-exports)",
  },
  { name: 'keep-dwarf', kind: 'boolean', describe: 'Keep DWARF sections (stale after the rewrite)' },
  {
    name: 'force',
    kind: 'boolean',
    describe: 'Go ahead despite missing family members or hazards (each becomes a warning)',
  },
  { name: 'allow-shared', kind: 'boolean', describe: 'Allow shared (threaded) memories' },
  {
    name: 'max-bytes',
    kind: 'int',
    value: 'N',
    describe: 'Refuse inputs larger than N bytes (HA032) [default: 268435456]',
  },
  {
    name: 'max-functions',
    kind: 'int',
    value: 'N',
    describe: 'Refuse inputs with more than N functions (HA032) [default: 1000000]',
  },
  {
    name: 'max-data-segments',
    kind: 'int',
    value: 'N',
    describe: 'Refuse inputs with more than N data segments (HA032) [default: 100000]',
  },
];

/** Per-file limits: transform, verify and inspect. */
export const LIMIT_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'time-limit',
    kind: 'int',
    value: 'SECONDS',
    describe: `Fail a file (HA033) that takes longer than this; 0: no limit [default: ${DEFAULT_TIME_LIMIT_S}]`,
  },
  {
    name: 'memory-limit',
    kind: 'int',
    value: 'MIB',
    describe: `Fail a file (HA033) whose processing needs more memory; 0: no limit [default: ${DEFAULT_MEMORY_LIMIT_MB}]`,
  },
];

/** Batch options of transform and verify. */
export const BATCH_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'jobs',
    short: 'j',
    kind: 'int',
    value: 'N',
    describe: 'Files processed in parallel, each in a worker thread [default: number of cores]',
  },
  {
    name: 'recycle-after',
    kind: 'int',
    value: 'N',
    describe: `Replace a worker after it processed N files [default: ${DEFAULT_RECYCLE_AFTER}]`,
  },
  ...LIMIT_OPTIONS,
];

/** Directory inputs: whether symbolic links may lead out of the directory. */
export const FOLLOW_SYMLINKS_OPTION: OptionSpec = {
  name: 'follow-symlinks',
  kind: 'boolean',
  describe: 'Follow symbolic links that lead out of an input directory (skipped by default)',
};

/** `--config FILE`: where options come from besides the command line. */
export const CONFIG_OPTION: OptionSpec = {
  name: 'config',
  kind: 'string',
  value: 'FILE',
  describe:
    'Read options from FILE [default: ./wasm-hostalloc.config.json, else the "wasm-hostalloc" key ' +
    'of the nearest package.json]; command-line flags win',
};

// ---- parsing -------------------------------------------------------------------------------------

/** Parse a command's arguments (the command name already removed). Usage errors are UsageError. */
export function parseCommand(spec: CommandSpec, args: readonly string[]): RawArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  const byName = new Map<string, OptionSpec>();
  for (const o of [...HELP_OPTIONS, ...spec.options]) {
    byName.set(o.name, o);
    options[o.name] = {
      type: o.kind === 'boolean' ? 'boolean' : 'string',
      multiple: true,
      ...(o.short === undefined ? {} : { short: o.short }),
    };
    if (o.kind === 'boolean' && !HELP_OPTIONS.includes(o))
      options[`no-${o.name}`] = { type: 'boolean', multiple: true };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true, tokens: true });
  } catch (e) {
    throw new UsageError(parseErrorMessage(e));
  }
  const out: RawArgs = {};
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option') continue;
    const negated = !byName.has(token.name) && token.name.startsWith('no-');
    const o = byName.get(negated ? token.name.slice(3) : token.name)!;
    if (o.kind === 'boolean') out[o.name] = !negated;
    else {
      const value = token.value ?? '';
      out[o.name] = [...((out[o.name] as string[] | undefined) ?? []), value];
    }
  }
  if (out['help'] === true || out['version'] === true) return out;
  const positionals = parsed.positionals;
  const p = spec.positional;
  if (p === null) {
    if (positionals.length > 0) {
      throw new UsageError(
        `${spec.name} takes no arguments, got ${positionals.map((s) => `'${s}'`).join(' ')}`,
      );
    }
    return out;
  }
  if (positionals.length === 0) {
    throw new UsageError(`${spec.name} needs ${p.many ? 'at least one' : 'one'} <${p.name}> argument`);
  }
  if (!p.many && positionals.length > 1) {
    throw new UsageError(
      `${spec.name} takes one <${p.name}>, got ${positionals.length}: ${positionals.map((s) => `'${s}'`).join(' ')}`,
    );
  }
  out[p.name] = p.many ? positionals : positionals[0];
  return out;
}

/** node's parseArgs messages, shortened to the CLI's style. */
function parseErrorMessage(e: unknown): string {
  const code = (e as { code?: string }).code;
  const message = e instanceof Error ? e.message : String(e);
  const option = /--[\w-]+/.exec(message)?.[0] ?? /'(-[^' ,]*)/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${option ?? message}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(message)
        ? `${option ?? 'an option'} expects a value`
        : `${option ?? 'a flag'} takes no value`;
    default:
      return message.charAt(0).toLowerCase() + message.slice(1);
  }
}

// ---- help ----------------------------------------------------------------------------------------

/** Wrap `text` to `width` columns, continuation lines indented by `indent`. */
export function wrap(text: string, width: number, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : ' '.repeat(indent) + l));
}

/** Two columns: `left` padded to the widest entry, `right` wrapped beside it. */
export function twoColumns(rows: readonly [string, string][]): string[] {
  const width = Math.max(...rows.map(([l]) => l.length));
  const out: string[] = [];
  for (const [left, right] of rows) {
    const indent = 2 + width + 2;
    const wrapped = wrap(right, HELP_WIDTH - indent, indent);
    out.push(`  ${left.padEnd(width)}  ${wrapped[0] ?? ''}`.trimEnd());
    for (const l of wrapped.slice(1)) out.push(l);
  }
  return out;
}

function optionLabel(o: OptionSpec): string {
  const flag = o.short === undefined ? `    --${o.name}` : `-${o.short}, --${o.name}`;
  return o.kind === 'boolean' ? flag : `${flag} ${o.value ?? 'VALUE'}`;
}

/** `<name>` or `<name...>`, or '' for a command without positional argument. */
export function positionalLabel(spec: CommandSpec): string {
  const p = spec.positional;
  if (p === null) return '';
  return p.many ? `<${p.name}...>` : `<${p.name}>`;
}

/** A command's `--help` text. */
export function formatHelp(spec: CommandSpec): string {
  const p = spec.positional;
  const arg = positionalLabel(spec);
  return [
    `wasm-hostalloc ${spec.name}${arg ? ` ${arg}` : ''} [options]`,
    '',
    spec.describe,
    '',
    ...(p === null ? [] : ['Arguments:', ...twoColumns([[arg, p.describe]]), '']),
    'Options:',
    ...twoColumns([...spec.options, ...HELP_OPTIONS].map((o) => [optionLabel(o), o.describe])),
    '',
    spec.epilogue,
  ].join('\n');
}

// ---- readers -------------------------------------------------------------------------------------

export function readString(argv: RawArgs, key: string): string | undefined {
  const v = argv[key];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    if (v.length > 1) throw new UsageError(`--${key} given more than once`);
    return String(v[0]);
  }
  return String(v);
}

export function readBoolean(argv: RawArgs, key: string): boolean | undefined {
  const v = argv[key];
  return v === undefined ? undefined : v === true;
}

export function readStrings(argv: RawArgs, key: string): string[] {
  const v = argv[key];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** A non-negative integer option; the last value wins. `min` 1 for counts like `--jobs`. */
export function readInt(argv: RawArgs, key: string, min = 1): number | undefined {
  const values = readStrings(argv, key);
  const raw = values[values.length - 1];
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    const what = min === 0 ? 'a non-negative integer' : 'a positive integer';
    throw new UsageError(`--${key} expects ${what}, got '${raw}'`, ErrorCodes.BAD_OPTION);
  }
  return n;
}

/** Batch settings of transform and verify, from flags, else the configuration file, else defaults. */
export interface BatchSettings {
  jobs: number;
  recycleAfter: number;
  timeLimitMs: number;
  memoryLimitBytes: number;
}

export function batchSettings(
  argv: RawArgs,
  config: { jobs?: number; recycleAfter?: number; timeLimit?: number; memoryLimit?: number },
  defaultJobs: () => number,
): BatchSettings {
  const timeLimit = readInt(argv, 'time-limit', 0) ?? config.timeLimit ?? DEFAULT_TIME_LIMIT_S;
  const memoryLimit = readInt(argv, 'memory-limit', 0) ?? config.memoryLimit ?? DEFAULT_MEMORY_LIMIT_MB;
  if (memoryLimit > 0 && memoryLimit < MIN_MEMORY_LIMIT_MB) {
    throw new UsageError(
      `--memory-limit ${memoryLimit} is below the ${MIN_MEMORY_LIMIT_MB} MiB binaryen.js needs to start (0: no limit)`,
      ErrorCodes.BAD_OPTION,
    );
  }
  return {
    jobs: readPositiveInt(argv, 'jobs') ?? config.jobs ?? defaultJobs(),
    recycleAfter: readPositiveInt(argv, 'recycle-after') ?? config.recycleAfter ?? DEFAULT_RECYCLE_AFTER,
    timeLimitMs: timeLimit * 1000,
    memoryLimitBytes: memoryLimit * 1024 * 1024,
  };
}

/** A positive integer option (`--jobs`, `--recycle-after`). */
export function readPositiveInt(argv: RawArgs, key: string): number | undefined {
  return readInt(argv, key, 1);
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
