/**
 * @fileoverview transform(): the pipeline, one named step after another (PIPELINE in ./pipeline.ts
 * lists and describes them; `wasm-hostalloc passes` prints it):
 *
 *   read ─ already-compliant? ─ adopt? ─ safe-names ─ summarize ─ slice     (./read.ts, ./slice.ts:
 *                                                                            no binaryen)
 *   identify ─ check-signatures ─ old-state ─ find-grow-import ─ metadata-reads  (./analyse.ts)
 *   replace-allocator ─ calloc-always-clear ─ usable-size-from-host ─ drop-exports ─ export-layout
 *   ─ strip ─ check-hazards ─ emit ─ output-gate                             (./rewrite.ts)
 *
 * A step refuses through `Checks`: thrown as a typed HostAllocError, or with `force` kept as a
 * warning (the output then carries no ABI marker). The binaryen module is always disposed; the
 * input bytes are never modified.
 */

import { adopt } from '../adopt.js';
import { withModule } from '../binaryen/module.js';
import { ABI_EXPORT } from '../conventions.js';
import { ErrorCodes, HostAllocError } from '../errors.js';
import type { TransformOptions, TransformResult } from '../types.js';
import type { RawSummaries } from '../wasm/summaries.js';
import { analyse, moduleContext, summarize } from './analyse.js';
import { outputGate } from './gate.js';
import { Checks, Steps } from './pipeline.js';
import { alreadyCompliant, type BinaryenInput, binaryenInput, type Input, readInput } from './read.js';
import { emit, rewrite } from './rewrite.js';
import { planSlice, SliceMiss } from './slice.js';
import { emitSpliced, SpliceMismatch } from './splice.js';

export { PIPELINE, type StepInfo, type StepKind } from './pipeline.js';
export { isCompliant } from './read.js';

export async function transform(bytes: Uint8Array, options: TransformOptions = {}): Promise<TransformResult> {
  const steps = new Steps();
  const given = steps.run('read', () => readInput(bytes, options));
  const early =
    (await steps.runAsync('already-compliant', () => alreadyCompliant(given))) ??
    (await steps.runAsync('adopt', () =>
      adopt(given.bytes, given.info, given.layout, options, given.staleExports),
    ));
  if (early) return withTimings(early, steps, options);
  const forBinaryen = steps.run('safe-names', () => binaryenInput(given));
  const raw = steps.run('summarize', () => summarize(given));
  const input = { given, forBinaryen, raw };

  try {
    return await convert(input, steps, options, options.read !== 'whole').catch((e: unknown) => {
      if (!(e instanceof SliceMiss)) throw e;
      if (options.read === 'slice-strict') {
        throw new HostAllocError(
          ErrorCodes.INTERNAL,
          `${e.message}: this is a bug in wasm-hostalloc, please report it with the input module`,
        );
      }
      // A step looked into a body the slice left out: the same steps on the whole module.
      return convert(input, steps, options, false);
    });
  } catch (e) {
    if (!(e instanceof SpliceMismatch)) throw e;
    if (options.emit === 'splice-strict') {
      throw new HostAllocError(
        ErrorCodes.INTERNAL,
        `the input's bodies could not be spliced into the output (${e.why}): this is a bug in wasm-hostalloc, please report it with the input module`,
      );
    }
    // Never a different output: binaryen writes every body instead.
    return transform(bytes, { ...options, emit: 'binaryen' });
  }
}

/**
 * The steps from slice to output-gate, on binaryen's reading of the module: of its slice
 * (./slice.ts) when `slice` and the module allows one.
 */
async function convert(
  { given, forBinaryen, raw }: { given: Input; forBinaryen: BinaryenInput; raw: RawSummaries },
  steps: Steps,
  options: TransformOptions,
  slice: boolean,
): Promise<TransformResult> {
  const checks = new Checks(options.force ? 'force' : 'throw');
  const plan = slice ? steps.run('slice', () => planSlice(given, forBinaryen, raw)) : null;
  return withModule(plan?.bytes ?? forBinaryen.bytes, forBinaryen.features, (mod, b) => {
    const m = moduleContext(b, mod, given, forBinaryen.bytes, plan);
    const analysis = analyse(m, raw, steps, checks);
    const done = rewrite(m, analysis, steps, checks);
    const warnings = [...analysis.warnings, ...done.warnings];
    const forced = checks.forced;
    if (forced.length > 0) {
      // Forced past a check: the module is not known to be safe, so it must not claim the ABI.
      mod.removeExport(ABI_EXPORT);
      for (const f of forced) warnings.push(`forced: ${f}`);
      warnings.push(
        `forced: the output carries no ${ABI_EXPORT} marker, because the checks above did not pass`,
      );
    }
    const out = steps.run('emit', () =>
      done.placeholders
        ? emitSpliced(m, done.placeholders, forBinaryen.hadNames)
        : emit(m, forBinaryen.hadNames),
    );
    steps.run('output-gate', () => outputGate(out, m, analysis, done, checks));
    const before = given.info.functions.length;
    return withTimings(
      {
        bytes: out.bytes,
        report: {
          status: 'transformed' as const,
          inputSize: given.bytes.length,
          outputSize: out.bytes.length,
          functionsBefore: before,
          functionsAfter: out.functionsAfter,
          functionsRemoved: before - out.functionsAfter,
          importModule: given.importModule,
          replaced: done.replaced,
          imports: done.imports,
          layout: done.layout,
          hazards: done.hazards,
          warnings,
          compliant: forced.length === 0,
          ...(analysis.growImport ? { growImport: analysis.growImport } : {}),
        },
      },
      steps,
      options,
    );
  });
}

/** The report gets each step's time when asked (`timings: true`). */
function withTimings(result: TransformResult, steps: Steps, options: TransformOptions): TransformResult {
  if (!options.timings) return result;
  return { ...result, report: { ...result.report, timings: steps.timings } };
}
