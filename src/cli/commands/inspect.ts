/**
 * @fileoverview `wasm-hostalloc inspect <input>`: show what transform would see: memory layout,
 * heap base and how it was derived, the allocator family, memory.grow sites and hazards.
 */

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes } from '../../errors.js';
import type { AllocRole } from '../../types.js';
import { loadConfig } from '../config.js';
import { CliError, ExitStatus, ioError, toErrorInfo } from '../errors.js';
import { formatError, formatInspect } from '../format.js';
import { displayPath } from '../inputs.js';
import {
  CONFIG_OPTION,
  type CommandSpec,
  identificationOptions,
  JSON_OPTION,
  parseAlloc,
  type RawArgs,
  readBoolean,
  readString,
  readStrings,
} from '../options.js';
import { glueCandidates, readFirstGlue, readGlueFile } from '../worker.js';

const EPILOGUE = `Examples:

  # Print the layout and allocator table
  wasm-hostalloc inspect app.wasm

  # The full report as JSON, using the Emscripten glue to name minified exports
  wasm-hostalloc inspect app.wasm --glue app.js --json

The table shows memory limits, data segments, __data_end, the stack pointer and stack range,
the layout kind, the heap base and how it was derived, the allocator family (role, function,
exports, how each was identified), memory.grow sites, host-relevant imports and exports, and
hazards. --json prints the full report (docs/json.md).

Exit status:
  0  the module was inspected (whether or not it can be transformed)
  1  the input could not be read or is not a valid WebAssembly module
  2  usage error: bad flags, option values or configuration file`;

export const spec: CommandSpec = {
  name: 'inspect',
  describe: "Show a module's memory layout, heap base and allocator family",
  positional: { name: 'input', describe: 'Input .wasm file', many: false },
  options: [
    ...identificationOptions(
      'Emscripten JS glue: FILE.js, a directory of <basename>.js files, or "auto" (next to the input)',
    ),
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

  let bytes: Uint8Array;
  try {
    bytes = await readFile(abs);
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
        throw new CliError(ErrorCodes.BAD_GLUE, `cannot read glue file '${glueValue}'`, { cause: e });
      }
    }
    if (dir !== undefined) glue = await readFirstGlue(glueCandidates(dir, abs));
    else {
      try {
        glue = await readGlueFile(glueAbs);
      } catch (e) {
        if (e instanceof CliError) throw e;
        throw new CliError(ErrorCodes.BAD_GLUE, `cannot read glue file '${glueValue}'`, { cause: e });
      }
    }
  }

  const { inspect } = await import('../../index.js');
  let report: Awaited<ReturnType<typeof inspect>>;
  try {
    const options: { glue?: string; alloc?: Partial<Record<AllocRole, string>> } = {};
    if (glue !== undefined) options.glue = glue;
    if (Object.keys(alloc).length > 0) options.alloc = alloc;
    report = await inspect(bytes, options);
  } catch (e) {
    process.stderr.write(`${formatError(toErrorInfo(e), display)}\n`);
    return ExitStatus.FAILURE;
  }
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatInspect(display, report)}\n`);
  return ExitStatus.OK;
}
