/**
 * @fileoverview `wasm-hostalloc transform <inputs...>` (the default command): replace each module's
 * allocator with host imports, in a worker pool, writing outputs atomically.
 */

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Argv } from 'yargs';
import { ErrorCodes } from '../../errors.js';
import type { TransformOptions, TransformReport } from '../../types.js';
import { createProgress, defaultJobs, progressAllowed, runBatch } from '../batch.js';
import { loadConfig } from '../config.js';
import { CliError, type ErrorInfo, ExitStatus, isRefusalCode, toErrorInfo, UsageError } from '../errors.js';
import {
  formatError,
  formatTransformLine,
  formatTransformSummary,
  formatWarnings,
  type TransformSummary,
} from '../format.js';
import { installSignalCleanup, writeFileAtomic } from '../fsutil.js';
import { displayPath, expandInputs } from '../inputs.js';
import {
  batchOptions,
  configOption,
  DEFAULT_RECYCLE_AFTER,
  identificationOptions,
  jsonOption,
  outputOptions,
  parseAlloc,
  type RawArgs,
  readBoolean,
  readPositiveInt,
  readString,
  readStrings,
  transformOptions,
} from '../options.js';
import { glueCandidates, type Task, type TransformTask } from '../worker.js';

export const command = 'transform <inputs..>';
export const describe = "Replace a module's allocator with host imports (the default command)";

const EPILOGUE = `Examples:

  # Write app.hostalloc.wasm next to app.wasm
  wasm-hostalloc transform app.wasm

  # Use the Emscripten glue to identify minified malloc/free exports
  wasm-hostalloc app.wasm -o out/app.wasm --glue app.js

  # Every .wasm under build/, mirrored into dist/, with the glue file next to each module
  wasm-hostalloc transform build/ --out-dir dist/ --glue auto

  # Rewrite matching modules in place with 4 workers; JSON report on stdout
  wasm-hostalloc transform 'plugins/**/*.wasm' --in-place -j 4 --json > report.json

  # Name the allocator explicitly and only report what would happen
  wasm-hostalloc transform lib.wasm --alloc malloc='$dlmalloc' --alloc free='$dlfree' --dry-run

Inputs are files, directories (searched recursively for *.wasm) and globs; duplicates are
processed once.

Where outputs go: -o FILE (one input), --out-dir DIR, --in-place or --dry-run; at most one of
them. With one input and none of them, the output is written next to the input as
<name>.hostalloc.wasm. Several inputs need --out-dir, --in-place or --dry-run. Every output is
written to a temporary file in its directory and renamed into place: a file that is refused or
fails leaves no output, and inputs are never modified (except with --in-place).

--glue FILE.js gives the Emscripten glue of a single input. With several inputs use
--glue auto (<basename>.js, .mjs or .cjs next to each .wasm, when one exists) or
--glue DIR (DIR/<basename>.js).

Options can also come from wasm-hostalloc.config.json in the working directory or the
"wasm-hostalloc" key of the nearest package.json (see docs/cli.md); command-line flags win.

Exit status:
  0  every file was transformed or already compliant
  1  some file was refused (HA010-HA023: the module cannot be made safe) or failed (not wasm,
     malformed, unreadable, unwritable...), or an input does not exist
  2  usage error: bad flags, option values or configuration file`;

export function builder(y: Argv): Argv {
  let b = y.usage('wasm-hostalloc transform <inputs...> [options]\n\n' + describe).positional('inputs', {
    type: 'string',
    array: true,
    describe: 'Input .wasm files, directories or globs',
  });
  b = outputOptions(b);
  b = identificationOptions(
    b,
    'Emscripten JS glue: FILE.js (one input), a directory of <basename>.js files, or "auto"',
  );
  b = transformOptions(b);
  b = batchOptions(b);
  b = jsonOption(b);
  b = configOption(b);
  return b.epilogue(EPILOGUE);
}

/** One file's entry in the report (and in --json output). */
export interface FileEntry {
  input: string;
  output: string | null;
  status: 'transformed' | 'already-compliant' | 'refused' | 'failed';
  report?: TransformReport;
  error?: { code: string | null; message: string; causes: string[]; details?: Record<string, unknown> };
}

function errorEntry(info: ErrorInfo): NonNullable<FileEntry['error']> {
  const out: NonNullable<FileEntry['error']> = {
    code: info.code ?? null,
    message: info.message,
    causes: info.causes,
  };
  if (info.details !== undefined) out.details = info.details;
  return out;
}

type GlueSpec =
  | { kind: 'none' }
  | { kind: 'text'; text: string }
  | { kind: 'sibling' }
  | { kind: 'dir'; dir: string };

async function resolveGlue(value: string | undefined, cwd: string, inputs: number): Promise<GlueSpec> {
  if (value === undefined) return { kind: 'none' };
  if (value === 'auto') return { kind: 'sibling' };
  const abs = path.resolve(cwd, value);
  let isDir: boolean;
  try {
    isDir = (await stat(abs)).isDirectory();
  } catch (e) {
    throw new CliError(ErrorCodes.BAD_GLUE, `cannot read glue file '${value}'`, { cause: e });
  }
  if (isDir) return { kind: 'dir', dir: abs };
  if (inputs > 1) {
    throw new UsageError(
      `--glue ${value} names one glue file but there are ${inputs} inputs; use --glue auto or --glue DIR`,
      ErrorCodes.BAD_OPTION,
    );
  }
  try {
    return { kind: 'text', text: await readFile(abs, 'utf8') };
  } catch (e) {
    throw new CliError(ErrorCodes.BAD_GLUE, `cannot read glue file '${value}'`, { cause: e });
  }
}

export async function run(argv: RawArgs): Promise<number> {
  const cwd = process.cwd();
  const { config } = await loadConfig(cwd, readString(argv, 'config'));
  const specs = readStrings(argv, 'inputs');
  const output = readString(argv, 'output');
  const outDir = readString(argv, 'out-dir');
  const inPlace = readBoolean(argv, 'in-place') === true;
  const dryRun = readBoolean(argv, 'dry-run') === true;
  const json = readBoolean(argv, 'json') === true;

  const modes = [
    output !== undefined ? '-o/--output' : null,
    outDir !== undefined ? '--out-dir' : null,
    inPlace ? '--in-place' : null,
    dryRun ? '--dry-run' : null,
  ].filter((m) => m !== null);
  if (modes.length > 1) {
    throw new UsageError(`${modes.join(' and ')} cannot be used together`, ErrorCodes.BAD_OPTION);
  }
  if (output !== undefined && specs.length > 1) {
    throw new UsageError(
      `-o/--output takes one input, got ${specs.length}; use --out-dir DIR or --in-place`,
      ErrorCodes.BAD_OPTION,
    );
  }

  const options: TransformOptions = {};
  const alloc = { ...config.alloc, ...parseAlloc(readStrings(argv, 'alloc')) };
  if (Object.keys(alloc).length > 0) options.alloc = alloc;
  const importModule = readString(argv, 'import-module') ?? config.importModule;
  if (importModule !== undefined) options.importModule = importModule;
  const flags = [
    ['keep-exports', 'keepExports'],
    ['keep-dwarf', 'keepDwarf'],
    ['force', 'force'],
    ['allow-shared', 'allowShared'],
  ] as const;
  for (const [flag, key] of flags) {
    const v = readBoolean(argv, flag) ?? config[key];
    if (v !== undefined) options[key] = v;
  }
  const limits = {
    maxBytes: readPositiveInt(argv, 'max-bytes'),
    maxFunctions: readPositiveInt(argv, 'max-functions'),
    maxDataSegments: readPositiveInt(argv, 'max-data-segments'),
  };
  if (Object.values(limits).some((v) => v !== undefined)) {
    options.limits = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
  }
  const jobs = readPositiveInt(argv, 'jobs') ?? config.jobs ?? defaultJobs();
  const recycleAfter = readPositiveInt(argv, 'recycle-after') ?? config.recycleAfter ?? DEFAULT_RECYCLE_AFTER;

  const outDirAbs = outDir === undefined ? undefined : path.resolve(cwd, outDir);
  const { files, root } = await expandInputs(specs, cwd, outDirAbs);
  if (output !== undefined && files.length > 1) {
    throw new UsageError(
      `-o/--output takes one input, but the inputs name ${files.length} files; use --out-dir DIR or --in-place`,
      ErrorCodes.BAD_OPTION,
    );
  }
  if (modes.length === 0 && files.length > 1) {
    throw new UsageError(
      `${files.length} input files: say where the outputs go with --out-dir DIR, --in-place or --dry-run`,
      ErrorCodes.BAD_OPTION,
    );
  }
  const glue = await resolveGlue(readString(argv, 'glue') ?? config.glue, cwd, files.length);

  const destinations = files.map((f): string | null => {
    if (dryRun) return null;
    if (output !== undefined) return path.resolve(cwd, output);
    if (outDirAbs !== undefined) return path.join(outDirAbs, path.relative(root, f.abs));
    if (inPlace) return f.abs;
    return path.join(path.dirname(f.abs), `${path.basename(f.abs, '.wasm')}.hostalloc.wasm`);
  });

  const tasks: Task[] = files.map((f) => {
    const task: TransformTask = { kind: 'transform', path: f.abs, options };
    if (glue.kind === 'text') task.options = { ...options, glue: glue.text };
    else if (glue.kind === 'sibling') task.glueCandidates = glueCandidates(path.dirname(f.abs), f.abs);
    else if (glue.kind === 'dir') task.glueCandidates = glueCandidates(glue.dir, f.abs);
    return task;
  });

  const entries: FileEntry[] = files.map((f) => ({ input: f.display, output: null, status: 'failed' }));
  const progress = await createProgress(files.length, progressAllowed(json), 'transform');
  const printSuccess = !json && !(progress.active && process.stdout.isTTY === true);
  const uninstall = installSignalCleanup(() => progress.stop());

  try {
    await runBatch(tasks, {
      jobs,
      recycleAfter,
      onResult: async (i, result) => {
        const entry = entries[i]!;
        const dest = destinations[i] ?? null;
        if (!result.ok) {
          entry.status = isRefusalCode(result.error.code) ? 'refused' : 'failed';
          entry.error = errorEntry(result.error);
          if (!json) progress.log(formatError(result.error, entry.input));
        } else if (result.kind === 'transform') {
          try {
            if (dest !== null && !(inPlace && result.report.status === 'already-compliant')) {
              const mode = inPlace ? (await stat(dest)).mode : undefined;
              await writeFileAtomic(dest, result.bytes, mode);
            }
            entry.status = result.report.status;
            entry.report = result.report;
            entry.output = dest === null ? null : displayPath(dest, cwd);
            if (printSuccess)
              process.stdout.write(`${formatTransformLine(entry.input, entry.output, result.report)}\n`);
            if (!json) for (const w of formatWarnings(result.report.warnings, entry.input)) progress.log(w);
          } catch (e) {
            const info = toErrorInfo(e);
            entry.status = 'failed';
            entry.error = errorEntry(info);
            if (!json) progress.log(formatError(info, entry.input));
          }
        }
        progress.tick();
      },
    });
  } finally {
    progress.stop();
    uninstall();
  }

  const summary: TransformSummary = {
    files: entries.length,
    transformed: entries.filter((e) => e.status === 'transformed').length,
    alreadyCompliant: entries.filter((e) => e.status === 'already-compliant').length,
    refused: entries.filter((e) => e.status === 'refused').length,
    failed: entries.filter((e) => e.status === 'failed').length,
    bytesSaved: entries.reduce(
      (n, e) => (e.status === 'transformed' && e.report ? n + e.report.inputSize - e.report.outputSize : n),
      0,
    ),
  };
  if (json) process.stdout.write(`${JSON.stringify({ schema: 1, files: entries, summary }, null, 2)}\n`);
  else process.stderr.write(`${formatTransformSummary(summary)}\n`);
  return summary.refused + summary.failed > 0 ? ExitStatus.FAILURE : ExitStatus.OK;
}
