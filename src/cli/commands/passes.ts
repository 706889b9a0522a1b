/**
 * @fileoverview `wasm-hostalloc passes`: the transform's steps, in the order they run, with what
 * each does and the file it lives in (PIPELINE in src/transform/pipeline.ts). Loads no binaryen.
 */

import { PIPELINE } from '../../transform/pipeline.js';
import { ExitStatus } from '../errors.js';
import { type CommandSpec, JSON_OPTION, type RawArgs, readBoolean, twoColumns } from '../options.js';

const EPILOGUE = `Examples:

  # The steps, one per line
  wasm-hostalloc passes

  # The same as JSON ([{ "name", "kind", "source", "summary" }, ...])
  wasm-hostalloc passes --json

A step that does not apply to a module is skipped (adopt, the two header-read rewrites,
drop-exports). transform's report lists each step's time with the library option
\`timings: true\`.

Exit status:
  0  the list was printed
  2  usage error: an argument or an unknown flag`;

export const spec: CommandSpec = {
  name: 'passes',
  describe: "List the transform's steps in the order they run",
  positional: null,
  options: [JSON_OPTION],
  epilogue: EPILOGUE,
};

export async function run(argv: RawArgs): Promise<number> {
  if (readBoolean(argv, 'json') === true) {
    process.stdout.write(`${JSON.stringify(PIPELINE, null, 2)}\n`);
    return ExitStatus.OK;
  }
  const rows = PIPELINE.map((p, i): [string, string] => [
    `${String(i + 1).padStart(2)}. ${p.name}`,
    `(${p.kind}) ${p.summary}. [${p.source}]`,
  ]);
  process.stdout.write(`${twoColumns(rows).join('\n')}\n`);
  return ExitStatus.OK;
}
