#!/usr/bin/env node
/**
 * @fileoverview The `wasm-hostalloc` executable: parses the command line, dispatches to one file per
 * command (src/cli/commands/) and owns the single top-level error handler. Nothing here loads
 * binaryen: commands import the library only when they run, so --help and --version stay instant.
 */

import { readFileSync } from 'node:fs';
import * as inspect from './commands/inspect.js';
import * as passes from './commands/passes.js';
import * as transform from './commands/transform.js';
import * as verify from './commands/verify.js';
import { ExitStatus, toErrorInfo, UsageError } from './errors.js';
import { formatError } from './format.js';
import {
  type CommandSpec,
  formatHelp,
  HELP_OPTIONS,
  parseCommand,
  positionalLabel,
  type RawArgs,
  twoColumns,
} from './options.js';
import { tuneV8 } from './v8-tuning.js';

interface Command {
  spec: CommandSpec;
  run(argv: RawArgs): Promise<number>;
}

const COMMANDS: readonly Command[] = [transform, inspect, verify, passes];

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

function topHelp(): string {
  const usage = (c: Command) => `${c.spec.name} ${positionalLabel(c.spec)}`.trimEnd();
  return [
    'wasm-hostalloc <command> [options]',
    '',
    "Replace a WebAssembly module's allocator with host imports.",
    '',
    'Commands:',
    ...twoColumns([
      ...COMMANDS.map((c): [string, string] => [usage(c), c.spec.describe]),
      ['help [command]', "Show a command's help"],
    ]),
    '',
    'Options:',
    ...twoColumns(HELP_OPTIONS.map((o) => [`-${o.short}, --${o.name}`, o.describe])),
    '',
    TOP_EPILOGUE,
  ].join('\n');
}

async function main(args: readonly string[]): Promise<number> {
  const first = args[0];
  if (first === undefined) {
    process.stderr.write(`${topHelp()}\n`);
    return ExitStatus.USAGE;
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(`${version()}\n`);
    return ExitStatus.OK;
  }
  if (first === '--help' || first === '-h') {
    process.stdout.write(`${topHelp()}\n`);
    return ExitStatus.OK;
  }
  if (first === 'help') {
    const target = args[1];
    const cmd = COMMANDS.find((c) => c.spec.name === target);
    if (target !== undefined && cmd === undefined) throw new UsageError(`unknown command '${target}'`);
    process.stdout.write(`${cmd === undefined ? topHelp() : formatHelp(cmd.spec)}\n`);
    return ExitStatus.OK;
  }
  // transform is the default command: `wasm-hostalloc a.wasm -o b.wasm` is `transform a.wasm -o b.wasm`.
  const named = COMMANDS.find((c) => c.spec.name === first);
  const cmd = named ?? transform;
  const rest = named === undefined ? args : args.slice(1);
  const argv = parseCommand(cmd.spec, rest);
  if (argv['help'] === true) {
    process.stdout.write(`${formatHelp(cmd.spec)}\n`);
    return ExitStatus.OK;
  }
  if (argv['version'] === true) {
    process.stdout.write(`${version()}\n`);
    return ExitStatus.OK;
  }
  // Before the command loads binaryen.js and the library: V8 reads these when it compiles them.
  tuneV8();
  return cmd.run(argv);
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
