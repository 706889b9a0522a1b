#!/usr/bin/env node
/**
 * @fileoverview The `wasm-hostalloc` executable: parses the command line, dispatches to one file per
 * command (src/cli/commands/) and owns the single top-level error handler. Nothing here loads
 * binaryen: commands import the library only when they run, so --help and --version stay instant.
 */

import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import * as inspect from './commands/inspect.js';
import * as transform from './commands/transform.js';
import * as verify from './commands/verify.js';
import { ExitStatus, toErrorInfo, UsageError } from './errors.js';
import { formatError } from './format.js';
import { HELP_WIDTH, type RawArgs } from './options.js';

const COMMANDS = [transform, inspect, verify] as const;
const COMMAND_NAMES = new Set(['transform', 'inspect', 'verify', 'help']);
const TOP_LEVEL_FLAGS = new Set(['--help', '-h', '--version', '-V']);

function version(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'wasm-hostalloc' && pkg.version !== undefined) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return 'unknown';
}

/** `transform` is the default command: `wasm-hostalloc a.wasm -o b.wasm` means `transform a.wasm -o b.wasm`. */
function withDefaultCommand(args: readonly string[]): string[] {
  const first = args[0];
  if (first === undefined || COMMAND_NAMES.has(first) || TOP_LEVEL_FLAGS.has(first)) return [...args];
  return ['transform', ...args];
}

const TOP_EPILOGUE = `Examples:

  # transform is the default command: these two are the same
  wasm-hostalloc app.wasm -o app.host.wasm
  wasm-hostalloc transform app.wasm -o app.host.wasm

  # What would transform see?
  wasm-hostalloc inspect app.wasm

Run 'wasm-hostalloc <command> --help' for a command's options. Documentation: docs/cli.md.

Exit status:
  0  success: every file transformed, already compliant or verified compliant
  1  some file was refused, failed or is not compliant, or an input could not be read
  2  usage error: bad flags, option values or configuration file`;

async function main(args: readonly string[]): Promise<number> {
  let status: number = ExitStatus.OK;
  const parser = yargs(withDefaultCommand(args))
    .scriptName('wasm-hostalloc')
    .locale('en')
    .wrap(HELP_WIDTH)
    .usage(
      "wasm-hostalloc <command> [options]\n\nReplace a WebAssembly module's allocator with host imports.",
    )
    .strict()
    .exitProcess(false)
    .showHelpOnFail(false)
    .help('help')
    .alias('help', 'h')
    .version('version', 'Show version number', version())
    .alias('version', 'V')
    .fail((message, error) => {
      if (error) throw error;
      throw new UsageError(message.charAt(0).toLowerCase() + message.slice(1));
    })
    .epilogue(TOP_EPILOGUE);
  for (const cmd of COMMANDS) {
    parser.command(cmd.command, cmd.describe, cmd.builder, async (argv) => {
      status = await cmd.run(argv as RawArgs);
    });
  }
  if (args.length === 0) {
    process.stderr.write(`${await parser.getHelp()}\n`);
    return ExitStatus.USAGE;
  }
  await parser.parseAsync();
  return status;
}

function isEpipe(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'EPIPE';
}

/** The one place errors are printed: `error[HA0xx]: message` and its `caused by:` chain. */
function report(e: unknown): number {
  if (isEpipe(e)) return ExitStatus.OK;
  const info = toErrorInfo(e);
  process.stderr.write(`${formatError(info)}\n`);
  if (e instanceof UsageError) {
    process.stderr.write("\nFor more information, try '--help'.\n");
    return ExitStatus.USAGE;
  }
  return ExitStatus.FAILURE;
}

// A closed pipe (`wasm-hostalloc inspect x.wasm | head`) ends the program quietly.
process.stdout.on('error', (e) => {
  if (isEpipe(e)) process.exit(ExitStatus.OK);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = report(e);
  },
);
