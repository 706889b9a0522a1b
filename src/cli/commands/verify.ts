/**
 * @fileoverview `wasm-hostalloc verify <inputs...>`: check that modules follow the host-allocator
 * ABI (allocator imported from the host, no memory.grow, __heap_base exported…).
 */

import type { Argv } from 'yargs';
import type { VerifyReport } from '../../types.js';
import { createProgress, defaultJobs, progressAllowed, runBatch } from '../batch.js';
import { loadConfig } from '../config.js';
import { type ErrorInfo, ExitStatus } from '../errors.js';
import { formatError, formatVerify, formatVerifySummary, type VerifySummary } from '../format.js';
import { expandInputs } from '../inputs.js';
import {
  batchOptions,
  configOption,
  DEFAULT_RECYCLE_AFTER,
  jsonOption,
  type RawArgs,
  readBoolean,
  readPositiveInt,
  readString,
  readStrings,
} from '../options.js';
import type { Task } from '../worker.js';

export const command = 'verify <inputs..>';
export const describe = 'Check that modules follow the host-allocator ABI';

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

export function builder(y: Argv): Argv {
  let b = y.usage('wasm-hostalloc verify <inputs...> [options]\n\n' + describe).positional('inputs', {
    type: 'string',
    array: true,
    describe: 'Input .wasm files, directories or globs',
  });
  b = batchOptions(b);
  b = jsonOption(b);
  b = configOption(b);
  return b.epilogue(EPILOGUE);
}

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
  const jobs = readPositiveInt(argv, 'jobs') ?? config.jobs ?? defaultJobs();
  const recycleAfter = readPositiveInt(argv, 'recycle-after') ?? config.recycleAfter ?? DEFAULT_RECYCLE_AFTER;
  const { files } = await expandInputs(readStrings(argv, 'inputs'), cwd);

  const tasks: Task[] = files.map((f) => ({ kind: 'verify', path: f.abs }));
  const entries: VerifyEntry[] = files.map((f) => ({ input: f.display, status: 'failed' }));
  const progress = await createProgress(files.length, progressAllowed(json), 'verify');
  try {
    await runBatch(tasks, {
      jobs,
      recycleAfter,
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
