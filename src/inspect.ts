/**
 * @fileoverview inspect(): the module's static memory layout and allocator family, the facts an
 * embedder cannot get from its runtime. It runs transform()'s own analysis steps (read, identify,
 * check-signatures, old-state, metadata-reads, check-hazards) on the module, without rewriting
 * anything, and collects every refusal those steps raise as a hazard with its own code: the heap
 * base, the family and the reasons it reports are exactly the ones transform() uses.
 */

import { withModule } from './binaryen/module.js';
import { ErrorCodes, type HostAllocError, isHostAllocError } from './errors.js';
import { computeLayout } from './layout.js';
import { analyse, moduleContext, summarize } from './transform/analyse.js';
import { publicMember } from './transform/passes/replace-allocator.js';
import { Checks, type Refusal, Steps } from './transform/pipeline.js';
import { binaryenInput, isCompliant, readInput } from './transform/read.js';
import { hazardsStep, outputLayout } from './transform/rewrite.js';
import type { FamilyMember, Hazard, HazardKind, InspectReport, Layout, TransformOptions } from './types.js';
import { verify } from './verify.js';
import { functionLabel, readModule, scanMemoryGrow } from './wasm/reader.js';

export interface InspectOptions {
  glue?: string;
  alloc?: TransformOptions['alloc'];
}

export async function inspect(input: Uint8Array, options: InspectOptions = {}): Promise<InspectReport> {
  const bytes = input.slice();
  const info = readModule(bytes);
  // As transform and verify judge it: the ABI's imports and marker, and verify() passing.
  const compliant = isCompliant(info) && (await verify(bytes)).compliant;
  const abiExport = info.exports.find((e) => e.name === '__hostalloc_abi' && e.kind === 'global');
  const abiVersion = abiExport ? (info.globals[abiExport.index]?.init ?? null) : null;
  const found = compliant
    ? { layout: computeLayout(info, bytes), family: [], hazards: [] }
    : await analysed(bytes, options).catch((e: unknown) => {
        if (!isHostAllocError(e)) throw e;
        // Refused before any code analysis (a GC runtime, a wrong __heap_base, malformed code).
        return { layout: computeLayout(info, bytes), family: [], hazards: [refusalHazard(e)] };
      });
  return {
    schema: 1,
    size: bytes.length,
    layout: found.layout,
    family: found.family,
    memoryGrowSites: scanMemoryGrow(bytes, info).map((i) => functionLabel(info, i)),
    imports: info.imports.map((i) => ({ module: i.module, name: i.name, kind: i.kind })),
    exports: info.exports.map((e) => ({ name: e.name, kind: e.kind })),
    hazards: found.hazards,
    compliant,
    abiVersion,
  };
}

/** transform()'s analysis steps with every refusal collected instead of thrown. */
async function analysed(
  bytes: Uint8Array,
  options: InspectOptions,
): Promise<{ layout: Layout; family: FamilyMember[]; hazards: Hazard[] }> {
  // Shared memory is a host decision, not a property of the code: inspect looks anyway.
  const given = readInput(bytes, { ...options, allowShared: true });
  const forBinaryen = binaryenInput(given);
  const steps = new Steps();
  const raw = steps.run('summarize', () => summarize(given));
  return withModule(forBinaryen.bytes, forBinaryen.features, (mod, b) => {
    const m = moduleContext(b, mod, given, forBinaryen.bytes);
    const checks = new Checks('collect');
    const a = analyse(m, raw, steps, checks);
    steps.run('check-hazards', () => hazardsStep(m, a, new Set(), checks));
    const hazards = checks.refusals.map(refusalHazard);
    if (given.layout.memory.shared) {
      hazards.push({
        kind: 'shared-memory',
        functions: [],
        message:
          'the memory is shared (threads): transform refuses it (HA006) unless the host serialises or locks its allocator (--allow-shared)',
        code: ErrorCodes.SHARED_MEMORY,
      });
    }
    return { layout: outputLayout(m, a).layout, family: a.family.members.map(publicMember), hazards };
  });
}

const KIND_OF_CODE: Partial<Record<string, HazardKind>> = {
  [ErrorCodes.ALLOCATOR_NOT_FOUND]: 'unidentified-family-member',
  [ErrorCodes.FAMILY_INCOMPLETE]: 'allocator-residue',
  [ErrorCodes.UNSAFE_RESIDUE]: 'allocator-residue',
  [ErrorCodes.STRAY_MEMORY_GROW]: 'memory-grow',
  [ErrorCodes.BAD_SIGNATURE]: 'bad-signature',
  [ErrorCodes.METADATA_READ]: 'metadata-read',
  [ErrorCodes.GC_RUNTIME]: 'gc-runtime',
  [ErrorCodes.SHARED_MEMORY]: 'shared-memory',
  [ErrorCodes.NO_HEAP_BASE]: 'no-heap-base',
};

/** A refusal (collected from a step, or thrown before the analysis) as an inspect hazard. */
function refusalHazard(r: Refusal | HostAllocError): Hazard {
  const functions = r.details?.['functions'];
  return {
    kind: KIND_OF_CODE[r.code] ?? 'refused',
    functions: Array.isArray(functions) ? functions.map(String) : [],
    message: `${r.code}: ${'reason' in r ? r.reason : r.message}`,
    code: r.code,
  };
}
