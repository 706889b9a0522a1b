/**
 * @fileoverview `wasm-hostalloc transform <inputs...>` (the default command): replace each module's
 * allocator with host imports, in a worker pool, writing outputs atomically.
 */

import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, HostAllocError } from '../../errors.js';
import type { TransformOptions, TransformReport } from '../../types.js';
import { createProgress, defaultJobs, progressAllowed, runBatch } from '../batch.js';
import { loadConfig } from '../config.js';
import { type ErrorInfo, ExitStatus, isRefusalCode, toErrorInfo, UsageError } from '../errors.js';
import {
  escapeControls,
  formatError,
  formatTransformLine,
  formatTransformSummary,
  formatWarnings,
  type TransformSummary,
} from '../format.js';
import { installSignalCleanup, writeFileAtomic } from '../fsutil.js';
import { displayPath, expandInputs } from '../inputs.js';
import {
  BATCH_OPTIONS,
  batchSettings,
  CONFIG_OPTION,
  type CommandSpec,
  FOLLOW_SYMLINKS_OPTION,
  identificationOptions,
  JSON_OPTION,
  OUTPUT_OPTIONS,
  parseAlloc,
  type RawArgs,
  readBoolean,
  readPositiveInt,
  readString,
  readStrings,
  TRANSFORM_OPTIONS,
} from '../options.js';
import { glueCandidates, readGlueFile, type Task, type TransformTask } from '../worker.js';

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
processed once. Symbolic links that lead out of an input directory are skipped (with a
warning) unless --follow-symlinks is given.

Where outputs go: -o FILE (one input), --out-dir DIR, --in-place or --dry-run; at most one of
them. With one input and none of them, the output is written next to the input as
<name>.hostalloc.wasm. Several inputs need --out-dir, --in-place or --dry-run. Every output is
written to a temporary file in its directory and renamed into place: a file that is refused or
fails leaves no output, and inputs are never modified (except with --in-place): a destination
that is an input is refused. Outputs stay inside --out-dir (no symbolic link in it is followed).

--glue FILE.js gives the Emscripten or wasm-bindgen glue of a single input (wasm-bindgen's
tells which __wbindgen_export_N is malloc, realloc and free). With several inputs use
--glue auto (<basename>.js, .mjs or .cjs next to each .wasm, when one is Emscripten or
wasm-bindgen glue: NAME_bg.js, then NAME.js, for NAME_bg.wasm) or --glue DIR (DIR/<basename>.js).

Each file is processed in a worker thread with a time limit (--time-limit, 60 s) and a memory
limit (--memory-limit, 2048 MiB); a file that exceeds one fails with HA033.

Options can also come from wasm-hostalloc.config.json in the working directory or the
"wasm-hostalloc" key of the nearest package.json (see docs/cli.md); command-line flags win.

Exit status:
  0  every file was transformed or already compliant
  1  some file was refused (HA010-HA024: the module cannot be made safe) or failed (not wasm,
     malformed, unreadable, unwritable...), or an input does not exist
  2  usage error: bad flags, option values or configuration file`;

export const spec: CommandSpec = {
  name: 'transform',
  describe: "Replace a module's allocator with host imports (the default command)",
  positional: { name: 'inputs', describe: 'Input .wasm files, directories or globs', many: true },
  options: [
    ...OUTPUT_OPTIONS,
    ...identificationOptions(
      'Emscripten or wasm-bindgen JS glue: FILE.js (one input), a directory of <basename>.js files, or "auto"',
    ),
    ...TRANSFORM_OPTIONS,
    ...BATCH_OPTIONS,
    FOLLOW_SYMLINKS_OPTION,
    JSON_OPTION,
    CONFIG_OPTION,
  ],
  epilogue: EPILOGUE,
};

/** One file's entry in the report (and in --json output). */
export interface FileEntry {
  input: string;
  output: string | null;
  status: 'transformed' | 'adopted' | 'already-compliant' | 'refused' | 'failed';
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
    throw new HostAllocError(ErrorCodes.BAD_GLUE, `cannot read glue file '${value}'`, { cause: e });
  }
  if (isDir) return { kind: 'dir', dir: abs };
  if (inputs > 1) {
    throw new UsageError(
      `--glue ${value} names one glue file but there are ${inputs} inputs; use --glue auto or --glue DIR`,
      ErrorCodes.BAD_OPTION,
    );
  }
  try {
    return { kind: 'text', text: await readGlueFile(abs) };
  } catch (e) {
    if (e instanceof HostAllocError) throw e;
    throw new HostAllocError(ErrorCodes.BAD_GLUE, `cannot read glue file '${value}'`, { cause: e });
  }
}

/** Refuse (HA030) a destination that is an input or a directory holding one: inputs are never overwritten. */
function checkDestinations(
  files: readonly { real: string; display: string }[],
  destinations: readonly (string | null)[],
  realDest: readonly (string | null)[],
): void {
  const inputs = new Map(files.map((f) => [f.real, f.display]));
  // Every directory that holds an input, mapped to one such input (linear in the inputs' depth).
  const holders = new Map<string, string>();
  for (const f of files) {
    for (let d = path.dirname(f.real); !holders.has(d); d = path.dirname(d)) {
      holders.set(d, f.display);
      if (path.dirname(d) === d) break;
    }
  }
  for (const [i, dest] of realDest.entries()) {
    if (dest === null) continue;
    const same = inputs.get(dest);
    const held = same === undefined ? holders.get(dest) : undefined;
    if (same === undefined && held === undefined) continue;
    throw new UsageError(
      `the output ${destinations[i]} ${same !== undefined ? `is the input ${same}` : `contains the input ${held}`}: ` +
        'inputs are never overwritten (use --in-place to replace inputs, or another -o/--out-dir)',
      ErrorCodes.BAD_OPTION,
    );
  }
}

/** `p` with its longest existing prefix resolved through links (the path a write would reach). */
async function resolveExisting(p: string): Promise<string> {
  const { realpath } = await import('node:fs/promises');
  const rest: string[] = [];
  for (let d = p; ; d = path.dirname(d)) {
    try {
      return path.join(await realpath(d), ...rest.reverse());
    } catch {
      if (path.dirname(d) === d) return p;
      rest.push(path.basename(d));
    }
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
    ['keep-dwarf', 'keepDwarf'],
    ['force', 'force'],
    ['allow-shared', 'allowShared'],
  ] as const;
  for (const [flag, key] of flags) {
    const v = readBoolean(argv, flag) ?? config[key];
    if (v !== undefined) options[key] = v;
  }
  // --drop-exports and --keep-exports are one switch; the library keeps the exports by default.
  const drop = readBoolean(argv, 'drop-exports');
  const keep = readBoolean(argv, 'keep-exports');
  if (drop === true && keep === true) {
    throw new UsageError('--drop-exports and --keep-exports cannot be used together', ErrorCodes.BAD_OPTION);
  }
  const dropExports =
    drop ??
    (keep === undefined ? undefined : !keep) ??
    config.dropExports ??
    (config.keepExports === undefined ? undefined : !config.keepExports);
  if (dropExports !== undefined) {
    options.dropExports = dropExports;
    options.keepExports = !dropExports;
  }
  const limits = {
    maxBytes: readPositiveInt(argv, 'max-bytes'),
    maxFunctions: readPositiveInt(argv, 'max-functions'),
    maxDataSegments: readPositiveInt(argv, 'max-data-segments'),
  };
  if (Object.values(limits).some((v) => v !== undefined)) {
    options.limits = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
  }
  const batch = batchSettings(argv, config, defaultJobs);

  const outDirAbs = outDir === undefined ? undefined : path.resolve(cwd, outDir);
  const expanded = await expandInputs(specs, cwd, {
    ...(outDirAbs === undefined ? {} : { exclude: outDirAbs }),
    followSymlinks: readBoolean(argv, 'follow-symlinks') ?? config.followSymlinks ?? false,
  });
  const { files, root } = expanded;
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
    if (inPlace) return f.real;
    return path.join(path.dirname(f.abs), `${path.basename(f.abs, '.wasm')}.hostalloc.wasm`);
  });
  if (!inPlace) {
    const realDest = await Promise.all(destinations.map((d) => (d === null ? null : resolveExisting(d))));
    checkDestinations(files, destinations, realDest);
  }
  if (!json) {
    for (const link of expanded.skippedLinks) {
      process.stderr.write(
        `warning: skipped ${escapeControls(displayPath(link, cwd))}: a symbolic link out of its input directory (--follow-symlinks follows it)\n`,
      );
    }
  }

  const tasks: Task[] = files.map((f) => {
    const task: TransformTask = { kind: 'transform', path: f.real, options };
    if (glue.kind === 'text') task.options = { ...options, glue: glue.text };
    else if (glue.kind === 'sibling') task.glueCandidates = glueCandidates(path.dirname(f.abs), f.abs);
    else if (glue.kind === 'dir') task.glueCandidates = glueCandidates(glue.dir, f.abs);
    return task;
  });
  const sizes = await Promise.all(
    files.map((f) =>
      stat(f.real).then(
        (st) => st.size,
        () => 0,
      ),
    ),
  );

  const entries: FileEntry[] = files.map((f) => ({ input: f.display, output: null, status: 'failed' }));
  const progress = await createProgress(files.length, progressAllowed(json), 'transform');
  const printSuccess = !json && !(progress.active && process.stdout.isTTY === true);
  const uninstall = installSignalCleanup(() => progress.stop());

  try {
    await runBatch(tasks, {
      ...batch,
      sizes,
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
              await writeFileAtomic(dest, result.bytes, {
                ...(mode === undefined ? {} : { mode }),
                ...(outDirAbs === undefined ? {} : { root: outDirAbs }),
              });
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
    transformed: entries.filter((e) => e.status === 'transformed' || e.status === 'adopted').length,
    alreadyCompliant: entries.filter((e) => e.status === 'already-compliant').length,
    refused: entries.filter((e) => e.status === 'refused').length,
    failed: entries.filter((e) => e.status === 'failed').length,
    bytesSaved: entries.reduce(
      (n, e) =>
        e.status !== 'already-compliant' && e.report ? n + e.report.inputSize - e.report.outputSize : n,
      0,
    ),
  };
  if (json) process.stdout.write(`${JSON.stringify({ schema: 1, files: entries, summary }, null, 2)}\n`);
  else process.stderr.write(`${formatTransformSummary(summary)}\n`);
  return summary.refused + summary.failed > 0 ? ExitStatus.FAILURE : ExitStatus.OK;
}
