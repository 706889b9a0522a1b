/**
 * @fileoverview check-hazards (analysis, after the rewrite): proves nothing of the old allocator
 * survives. Three findings, each naming the functions concerned:
 *
 * - allocator-residue: a surviving function reads or writes the old allocator's static state
 *   (an unidentified realloc or memalign, dlfree inlined into user code). Left in place it would
 *   manage memory the host now owns.
 * - allocator-residue (header probe): a function reads the bytes just below a pointer it got from
 *   the allocator, e.g. Emscripten's inlined calloc checking the chunk header at p-4 to skip zeroing.
 *   Host blocks have no header, so the read sees a neighbour's data.
 * - memory-grow: only the host may grow memory once it owns the heap.
 */

import type { Hazard } from '../src/types.js';
import type { FunctionSummary } from '../src/walk.js';
import { type Region, touchedRegions } from './allocator-state.js';

export interface HazardInput {
  /** Summaries of the functions of the rewritten module. */
  summaries: Map<string, FunctionSummary>;
  /** Old allocator state. */
  regions: Region[];
  /** Internal names that are now host imports or adapters (allocation results come from these). */
  allocating: Set<string>;
  /** Adapters we generated (exempt: they touch no state but do call imports). */
  generated: Set<string>;
  /** Label for a function in messages (name, or `$index` when stripped). */
  label: (name: string) => string;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export function checkHazards(input: HazardInput): Hazard[] {
  const residue: string[] = [];
  const residueWhy: string[] = [];
  const probes: { fn: string; delta: number }[] = [];
  const grows: string[] = [];
  for (const s of input.summaries.values()) {
    if (s.imported || input.generated.has(s.name)) continue;
    const hits = touchedRegions(s, input.regions);
    if (hits.length > 0) {
      residue.push(input.label(s.name));
      residueWhy.push(
        `${input.label(s.name)} (${hits.map((r) => `${hex(r.start)}..${hex(r.end)}`).join(', ')})`,
      );
    }
    for (const p of s.negativeProbes) {
      if (p.compared) continue; // an array element below the pointer, not a header
      if ([...p.fromCall].some((f) => input.allocating.has(f))) {
        probes.push({ fn: input.label(s.name), delta: p.delta });
        break;
      }
    }
    if (s.memoryGrow) grows.push(input.label(s.name));
  }
  const hazards: Hazard[] = [];
  if (residue.length > 0) {
    hazards.push({
      kind: 'allocator-residue',
      functions: residue,
      message:
        `function(s) still touch the old allocator's static state: ${residueWhy.join('; ')}. ` +
        `They are allocator code the family did not cover (an unidentified realloc/memalign, or allocator code inlined ` +
        `into user functions); name the missing member with --alloc ROLE=NAME, or rebuild the plugin without inlining the allocator`,
    });
  }
  if (probes.length > 0) {
    hazards.push({
      kind: 'allocator-residue',
      functions: probes.map((p) => p.fn),
      message:
        `function(s) read the allocator's chunk header just below a pointer it returned: ${probes.map((p) => `${p.fn} (reads p${p.delta})`).join('; ')}. ` +
        `This is inlined allocator code (e.g. calloc deciding whether to zero); host blocks have no header, so it would read a neighbour's bytes`,
    });
  }
  if (grows.length > 0) {
    hazards.push({
      kind: 'memory-grow',
      functions: grows,
      message: `function(s) still call memory.grow: ${grows.join(', ')}; once the host owns the heap only the host may grow memory`,
    });
  }
  return hazards;
}
