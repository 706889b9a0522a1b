/**
 * @fileoverview The transform's steps, named and described in the order they run, and the two
 * mechanisms every step goes through:
 *
 * - `Steps.run(name, fn)` runs one step and times it; a name must be in PIPELINE, so the registry
 *   and the code cannot drift apart (`wasm-hostalloc passes` prints the registry, and
 *   `timings: true` puts the timings in the report).
 * - `Checks.refuse(refusal)` is how a step refuses: transform() throws the refusal as a typed
 *   HostAllocError, `force` turns it into a warning (and the output loses its ABI marker), and
 *   inspect() collects every refusal with its own code.
 *
 * A step takes typed input and returns a typed result; it never changes another step's data (the
 * binaryen module is the one shared, mutable thing, and only rewrite steps change it).
 */

import { type ErrorCode, HostAllocError } from '../errors.js';
import type { StepTiming } from '../types.js';

export type StepKind = 'read' | 'identify' | 'analyse' | 'check' | 'rewrite' | 'emit';

export interface StepInfo {
  readonly name: string;
  readonly kind: StepKind;
  /** Where the step lives. */
  readonly source: string;
  readonly summary: string;
}

/** Every step, in the order transform() runs them. Steps that do not apply to a module are skipped. */
export const PIPELINE = [
  {
    name: 'read',
    kind: 'read',
    source: 'src/transform/read.ts',
    summary:
      'decode the module without binaryen (bounded); refuse components, GC runtimes, shared memory and code the engine rejects; compute the static layout',
  },
  {
    name: 'already-compliant',
    kind: 'check',
    source: 'src/transform/read.ts',
    summary:
      'a module that already imports host_malloc/host_free, exports the ABI marker and passes verify is returned as is',
  },
  {
    name: 'adopt',
    kind: 'rewrite',
    source: 'src/adopt.ts',
    summary: 'a module built against the ABI from source only gets the marker and the layout exports',
  },
  {
    name: 'safe-names',
    kind: 'read',
    source: 'src/wasm/names.ts',
    summary:
      'rewrite the name section so binaryen keeps it: duplicate, empty and NUL-carrying names made unique',
  },
  {
    name: 'summarize',
    kind: 'analyse',
    source: 'src/wasm/summaries.ts',
    summary:
      "one walk of every function's bytes, before binaryen reads them: calls, constant-address accesses, memory.grow, function references, binaryen's expression counts",
  },
  {
    name: 'slice',
    kind: 'read',
    source: 'src/transform/slice.ts',
    summary:
      "binaryen reads only the bodies the steps will look into (the others become `unreachable`; emit splices the input's back); a step that looks into a left-out body makes the transform read everything",
  },
  {
    name: 'identify',
    kind: 'identify',
    source: 'src/transform/analyse.ts',
    summary:
      'find the allocator family: --alloc, glue, exports and names, wasm-bindgen exports, wrappers, fingerprints, signatures the optimizer specialised, call-graph analysis; malloc and free are required (HA010)',
  },
  {
    name: 'check-signatures',
    kind: 'check',
    source: 'src/transform/passes/replace-allocator.ts',
    summary:
      "each member's parameters and results must fit its role (a leading state parameter, ignored trailing ones allowed); HA012",
  },
  {
    name: 'old-state',
    kind: 'analyse',
    source: 'src/transform/passes/allocator-state.ts',
    summary:
      "the old allocator's static state and the code only it reaches; its set-up inlined into constructors and dead reads of its state are removed first, and libc helpers (strdup…) and C++'s aligned operator new with the allocator inlined are rebuilt from their specification",
  },
  {
    name: 'find-grow-import',
    kind: 'analyse',
    source: 'src/transform/passes/find-grow-import.ts',
    summary:
      'the import the allocator called to grow memory (Emscripten resize or notify), recorded for hosts',
  },
  {
    name: 'metadata-reads',
    kind: 'check',
    source: 'src/metadata-reads.ts',
    summary:
      'pointer flow over surviving code: reads of the chunk header below a block are planned for a rewrite below, or refused (HA024)',
  },
  {
    name: 'replace-allocator',
    kind: 'rewrite',
    source: 'src/transform/passes/replace-allocator.ts',
    summary:
      'swap each member for a host import or an adapter; retype references to it; empty the old initialisers',
  },
  {
    name: 'calloc-always-clear',
    kind: 'rewrite',
    source: 'src/transform/passes/calloc-always-clear.ts',
    summary: "an inlined calloc's chunk-header test reads as 'not yet cleared', so it always zeroes",
  },
  {
    name: 'usable-size-from-host',
    kind: 'rewrite',
    source: 'src/transform/passes/usable-size-from-host.ts',
    summary: "malloc_usable_size's header read becomes host_usable_size(p) + 8",
  },
  {
    name: 'drop-exports',
    kind: 'rewrite',
    source: 'src/transform/rewrite.ts',
    summary: 'only with dropExports: remove the family exports (those the glue uses stay)',
  },
  {
    name: 'export-layout',
    kind: 'rewrite',
    source: 'src/transform/passes/export-layout.ts',
    summary:
      'export __heap_base, __data_end, the memory, the ABI marker, __hostalloc_grow and __hostalloc_align; write the hostalloc section',
  },
  {
    name: 'strip',
    kind: 'rewrite',
    source: 'src/transform/rewrite.ts',
    summary:
      "binaryen's remove-unused-module-elements and duplicate-import-elimination (and strip-dwarf): the dead allocator goes; untouched bodies are first swapped for placeholders, with a temporary root pinning what their real bodies need, so that this costs a fraction",
  },
  {
    name: 'check-hazards',
    kind: 'check',
    source: 'src/transform/passes/check-hazards.ts',
    summary: 'no surviving code touches the old state (HA011, HA020) or grows memory (HA021)',
  },
  {
    name: 'emit',
    kind: 'emit',
    source: 'src/transform/rewrite.ts',
    summary:
      "write the rewritten module (binaryen writes the changed bodies, the input's other bodies are spliced back with their indices moved) and validate it (the engine's validator; binaryen's when that rejects it): a failure is a bug, HA040",
  },
  {
    name: 'output-gate',
    kind: 'check',
    source: 'src/transform/gate.ts',
    summary:
      "the output passes verify's metadata-read check (its pointer flow: the input's for untouched functions, the rest interpreted again), or is refused (HA024)",
  },
] as const satisfies readonly StepInfo[];

export type StepName = (typeof PIPELINE)[number]['name'];

/** Runs and times named steps. */
export class Steps {
  readonly timings: StepTiming[] = [];

  run<T>(name: StepName, fn: () => T): T {
    const start = performance.now();
    try {
      return fn();
    } finally {
      this.timings.push({ step: name, ms: performance.now() - start });
    }
  }

  async runAsync<T>(name: StepName, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.timings.push({ step: name, ms: performance.now() - start });
    }
  }
}

/** A step's "this module cannot be made safe", as data. */
export interface Refusal {
  code: ErrorCode;
  /** The whole message, as the error carries it. */
  message: string;
  /** The reason alone (what `force` reports as a warning). */
  reason: string;
  details?: Record<string, unknown>;
  step: StepName;
  /** Not even `force` goes past it (the rewrite would produce an invalid module). */
  fatal?: true;
}

/**
 * What happens to refusals: 'throw' (transform), 'force' (transform with force: go on, remember
 * each reason), 'collect' (inspect: go on, remember each refusal).
 */
export class Checks {
  readonly refusals: Refusal[] = [];

  constructor(readonly mode: 'throw' | 'force' | 'collect') {}

  refuse(r: Refusal): void {
    if (this.mode === 'throw' || (this.mode === 'force' && r.fatal)) {
      throw new HostAllocError(r.code, r.message, r.details ? { details: r.details } : undefined);
    }
    this.refusals.push(r);
  }

  /** The reasons pushed past (force): the output must then not claim the ABI. */
  get forced(): string[] {
    return this.mode === 'force' ? this.refusals.map((r) => r.reason) : [];
  }
}
