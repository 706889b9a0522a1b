/**
 * @fileoverview V8 settings the CLI runs with: a `wasm-hostalloc` process lives for one file or one
 * batch, so the compiling V8 does for the long run of a server mostly costs more than it repays. The
 * library never changes them (a host embedding it keeps its own); the CLI sets them before it loads
 * binaryen.js or the library, and they hold for its worker threads (V8 flags are per process).
 *
 * Measured on the 500-module batch of `npm run bench` and on sql.js's debug build (770 KB) through
 * the CLI, 2 cores, Node 20 (V8 11.3); see the README's benchmark section for the current figures:
 *  - TurboFan compiling the library's hot JavaScript took ~2.7 s of CPU per thread over 500 small
 *    modules, as much as the work itself in a `--jobs 2` worker, and a second worker pays it again.
 *    A smaller cumulative inlining budget makes each compile cheaper (1.8 s), a larger interrupt
 *    budget leaves the functions that are hot only briefly to the baseline tiers (1.1 s together),
 *    while the library's steady speed stays within noise.
 *  - binaryen.js is 14.6 MB of wasm; with dynamic tiering V8 recompiles its hot functions with
 *    TurboFan in the background, which a run of seconds does not earn back: one transform of the
 *    770 KB module took 1.45 s wall and 2.4 s CPU, 1.2 s and 1.7 s with a 200x tiering budget
 *    (functions that stay hot over a long batch are still optimised).
 * A flag the user gives node (`node --interrupt-budget=… wasm-hostalloc …`) is left as given.
 *
 * Only on the V8 these were measured on (11, Node 20): another V8 may have renamed a flag, and V8
 * prints "unrecognized flag" on stderr for one it does not know, or weighs them differently.
 *
 * One more flag is set where it belongs: batch.ts sizes the batch workers' heaps
 * (`--initial-old-space-size`, read when a worker's heap is made) just before it starts them.
 */

import { setFlagsFromString } from 'node:v8';

/** V8 major versions the flags were measured on (`process.versions.v8`). */
export const MEASURED_V8_MAJORS: readonly number[] = [11];

/** The CLI's V8 flags, each `--name=value`. */
export const CLI_V8_FLAGS: readonly string[] = [
  '--max-inlined-bytecode-size-cumulative=200',
  '--interrupt-budget=300000',
  '--wasm-tiering-budget=400000000',
];

/** A flag's name as V8 reads it: without dashes, `no-` or value, `_` and `-` alike. */
function flagName(arg: string): string {
  return arg
    .replace(/^--?/, '')
    .replace(/=.*$/s, '')
    .replace(/^no[-_]/, '')
    .replaceAll('_', '-');
}

/**
 * The flags of {@link CLI_V8_FLAGS} not already set by the user, in node's own arguments
 * (`execArgv`) or in NODE_OPTIONS; none on a V8 (`v8Version`) they were not measured on.
 */
export function flagsToSet(
  execArgv: readonly string[],
  nodeOptions: string | undefined,
  v8Version: string,
): string[] {
  if (!MEASURED_V8_MAJORS.includes(Number.parseInt(v8Version, 10))) return [];
  const given = new Set(
    [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter((a) => a.startsWith('-')).map(flagName),
  );
  return CLI_V8_FLAGS.filter((f) => !given.has(flagName(f)));
}

/** Sets the CLI's V8 flags for this process (see the file comment). */
export function tuneV8(): void {
  const flags = flagsToSet(process.execArgv, process.env['NODE_OPTIONS'], process.versions.v8);
  for (const flag of flags) setFlagsFromString(flag);
}
