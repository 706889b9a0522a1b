/**
 * @fileoverview `wasm-hostalloc inspect <input>`: show what transform would see: memory layout,
 * heap base and how it was derived, the allocator family, memory.grow sites and hazards.
 */

import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, HostAllocError } from '../../errors.js';
import type { AllocRole } from '../../types.js';
import { runBatch } from '../batch.js';
import { loadConfig } from '../config.js';
import { ExitStatus, ioError, toErrorInfo } from '../errors.js';
import { formatError, formatInspect } from '../format.js';
import { displayPath } from '../inputs.js';
import {
  batchSettings,
  CONFIG_OPTION,
  type CommandSpec,
  identificationOptions,
  JSON_OPTION,
  LIMIT_OPTIONS,
  parseAlloc,
  type RawArgs,
  readBoolean,
  readString,
  readStrings,
} from '../options.js';
import { glueCandidates, type InspectTask, readFirstGlue, readGlueFile, type TaskResult } from '../worker.js';

const EPILOGUE = `Examples:

  # Print the layout and allocator table
  wasm-hostalloc inspect app.wasm

  # The full report as JSON, using the Emscripten glue to name minified exports
  wasm-hostalloc inspect app.wasm --glue app.js --json

The table shows memory limits, data segments, __data_end, the stack pointer and stack range,
the layout kind, the heap base and how it was derived, the allocator family (role, function,
exports, how each was identified), memory.grow sites, host-relevant imports and exports, and
hazards. --json prints the full report (docs/json.md).

The module is read in a worker thread with a time limit (--time-limit, 60 s) and a memory
limit (--memory-limit, 2048 MiB); beyond either, inspect fails with HA033.

Exit status:
  0  the module was inspected (whether or not it can be transformed)
  1  the input could not be read, is not a valid WebAssembly module or exceeded a limit
  2  usage error: bad flags, option values or configuration file`;

export const spec: CommandSpec = {
  name: 'inspect',
  describe: "Show a module's memory layout, heap base and allocator family",
  positional: { name: 'input', describe: 'Input .wasm file', many: false },
  options: [
    ...identificationOptions(
      'Emscripten or wasm-bindgen JS glue: FILE.js, a directory of <basename>.js files, or "auto" (next to the input)',
    ),
    ...LIMIT_OPTIONS,
    JSON_OPTION,
    CONFIG_OPTION,
  ],
  epilogue: EPILOGUE,
};

export async function run(argv: RawArgs): Promise<number> {
  const cwd = process.cwd();
  const { config } = await loadConfig(cwd, readString(argv, 'config'));
  const input = readString(argv, 'input') ?? '';
  const json = readBoolean(argv, 'json') === true;
  const alloc: Partial<Record<AllocRole, string>> = {
    ...config.alloc,
    ...parseAlloc(readStrings(argv, 'alloc')),
  };
  const abs = path.resolve(cwd, input);
  const display = displayPath(abs, cwd);

  try {
    await (await open(abs, 'r')).close();
    if ((await stat(abs)).isDirectory())
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${abs}'`), {
        code: 'EISDIR',
      });
  } catch (e) {
    throw ioError(`cannot read input '${input}'`, e);
  }

  let glue: string | undefined;
  const glueValue = readString(argv, 'glue') ?? config.glue;
  if (glueValue !== undefined) {
    const glueAbs = path.resolve(cwd, glueValue);
    let dir: string | undefined;
    if (glueValue === 'auto') dir = path.dirname(abs);
    else {
      try {
        if ((await stat(glueAbs)).isDirectory()) dir = glueAbs;
      } catch (e) {
        throw new HostAllocError(ErrorCodes.BAD_GLUE, `cannot read glue file '${glueValue}'`, { cause: e });
      }
    }
    if (dir !== undefined) glue = await readFirstGlue(glueCandidates(dir, abs));
    else {
      try {
        glue = await readGlueFile(glueAbs);
      } catch (e) {
        if (e instanceof HostAllocError) throw e;
        throw new HostAllocError(ErrorCodes.BAD_GLUE, `cannot read glue file '${glueValue}'`, { cause: e });
      }
    }
  }

  // In a worker with the per-file limits, like transform and verify (the module may be hostile).
  const options: InspectTask['options'] = {};
  if (glue !== undefined) options.glue = glue;
  if (Object.keys(alloc).length > 0) options.alloc = alloc;
  let result: TaskResult | undefined;
  await runBatch([{ kind: 'inspect', path: abs, options }], {
    ...batchSettings(argv, config, () => 1),
    jobs: 1,
    onResult: (_i, r) => {
      result = r;
    },
  });
  if (result === undefined || !result.ok || result.kind !== 'inspect') {
    const info =
      result !== undefined && !result.ok ? result.error : toErrorInfo(new Error('inspect gave no result'));
    process.stderr.write(`${formatError(info, display)}\n`);
    return ExitStatus.FAILURE;
  }
  const report = result.report;
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatInspect(display, report)}\n`);
  return ExitStatus.OK;
}
