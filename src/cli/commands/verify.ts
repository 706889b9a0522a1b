/**
 * @fileoverview `wasm-hostalloc verify <inputs...>`: check that modules follow the host-allocator
 * ABI (allocator imported from the host, no memory.grow, __heap_base exported…).
 */

import type { VerifyReport } from '../../types.js';
import { createProgress, defaultJobs, progressAllowed, runBatch } from '../batch.js';
import { loadConfig } from '../config.js';
import { type ErrorInfo, ExitStatus } from '../errors.js';
import {
  escapeControls,
  formatError,
  formatVerify,
  formatVerifySummary,
  type VerifySummary,
} from '../format.js';
import { displayPath, expandInputs } from '../inputs.js';
import {
  BATCH_OPTIONS,
  batchSettings,
  CONFIG_OPTION,
  type CommandSpec,
  FOLLOW_SYMLINKS_OPTION,
  JSON_OPTION,
  type RawArgs,
  readBoolean,
  readString,
  readStrings,
} from '../options.js';
import type { Task } from '../worker.js';

const EPILOGUE = `Examples:

  # Check one module
  wasm-hostalloc verify app.hostalloc.wasm

  # Check every .wasm under dist/ and print a JSON report
  wasm-hostalloc verify dist/ --json

Prints "<file>: ok" for each compliant module, or "<file>: not compliant" followed by one
line per problem. Inputs are files, directories (searched recursively for *.wasm) and globs.

Exit status:
  0  every file is compliant
  1  some file is not compliant or could not be read or parsed, or an input does not exist
  2  usage error: bad flags, option values or configuration file`;

export const spec: CommandSpec = {
  name: 'verify',
  describe: 'Check that modules follow the host-allocator ABI',
  positional: { name: 'inputs', describe: 'Input .wasm files, directories or globs', many: true },
  options: [...BATCH_OPTIONS, FOLLOW_SYMLINKS_OPTION, JSON_OPTION, CONFIG_OPTION],
  epilogue: EPILOGUE,
};

export interface VerifyEntry {
  input: string;
  status: 'compliant' | 'not-compliant' | 'failed';
  report?: VerifyReport;
  error?: { code: string | null; message: string; causes: string[] };
}

function errorEntry(info: ErrorInfo): NonNullable<VerifyEntry['error']> {
  return { code: info.code ?? null, message: info.message, causes: info.causes };
}

export async function run(argv: RawArgs): Promise<number> {
  const cwd = process.cwd();
  const { config } = await loadConfig(cwd, readString(argv, 'config'));
  const json = readBoolean(argv, 'json') === true;
  const batch = batchSettings(argv, config, defaultJobs);
  const { files, skippedLinks } = await expandInputs(readStrings(argv, 'inputs'), cwd, {
    followSymlinks: readBoolean(argv, 'follow-symlinks') ?? config.followSymlinks ?? false,
  });
  if (!json) {
    for (const link of skippedLinks) {
      process.stderr.write(
        `warning: skipped ${escapeControls(displayPath(link, cwd))}: a symbolic link out of its input directory (--follow-symlinks follows it)\n`,
      );
    }
  }

  const tasks: Task[] = files.map((f) => ({ kind: 'verify', path: f.real }));
  const entries: VerifyEntry[] = files.map((f) => ({ input: f.display, status: 'failed' }));
  const progress = await createProgress(files.length, progressAllowed(json), 'verify');
  try {
    await runBatch(tasks, {
      ...batch,
      onResult: (i, result) => {
        const entry = entries[i]!;
        if (!result.ok) {
          entry.error = errorEntry(result.error);
          if (!json) progress.log(formatError(result.error, entry.input));
        } else if (result.kind === 'verify') {
          entry.status = result.report.compliant ? 'compliant' : 'not-compliant';
          entry.report = result.report;
          if (!json) {
            const text = formatVerify(entry.input, result.report);
            if (progress.active && process.stdout.isTTY === true) progress.log(text);
            else process.stdout.write(`${text}\n`);
          }
        }
        progress.tick();
      },
    });
  } finally {
    progress.stop();
  }

  const summary: VerifySummary = {
    files: entries.length,
    compliant: entries.filter((e) => e.status === 'compliant').length,
    notCompliant: entries.filter((e) => e.status === 'not-compliant').length,
    failed: entries.filter((e) => e.status === 'failed').length,
  };
  if (json) process.stdout.write(`${JSON.stringify({ schema: 1, files: entries, summary }, null, 2)}\n`);
  else process.stderr.write(`${formatVerifySummary(summary)}\n`);
  return summary.compliant === summary.files ? ExitStatus.OK : ExitStatus.FAILURE;
}
