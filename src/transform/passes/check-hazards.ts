/**
 * @fileoverview check-hazards (analysis): proves nothing of the old allocator survives in the
 * functions that survive the rewrite. Two findings, each naming the functions concerned:
 *
 * - allocator-residue: a surviving function reads or writes the old allocator's static state
 *   (an unidentified realloc or memalign, dlfree inlined into user code). Left in place it would
 *   manage memory the host now owns.
 * - memory-grow: only the host may grow memory once it owns the heap.
 *
 * Reads of the allocator's in-band metadata (chunk headers below a block) are the third way; they
 * are found by src/metadata-reads.ts and handled by passes/header-reads.ts.
 */

import type { FunctionSummary } from '../../binaryen/walk.js';
import type { Hazard } from '../../types.js';
import { type Region, touchedRegions } from './allocator-state.js';

export interface HazardInput {
  /** Summaries of the functions that survive the rewrite. */
  summaries: Iterable<FunctionSummary>;
  /** Old allocator state. */
  regions: Region[];
  /** Functions we generated or emptied (exempt: their old bodies are gone). */
  generated: Set<string>;
  /** Label for a function in messages (name, or `$index` when stripped). */
  label: (name: string) => string;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export function checkHazards(input: HazardInput): Hazard[] {
  const residue: string[] = [];
  const residueWhy: string[] = [];
  const grows: string[] = [];
  for (const s of input.summaries) {
    if (s.imported || input.generated.has(s.name)) continue;
    const hits = touchedRegions(s, input.regions);
    if (hits.length > 0) {
      residue.push(input.label(s.name));
      residueWhy.push(
        `${input.label(s.name)} (${hits.map((r) => `${hex(r.start)}..${hex(r.end)}`).join(', ')})`,
      );
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
        `into user functions); name the missing member with --alloc ROLE=NAME, or rebuild the plugin without inlining the allocator ` +
        `(emcc -O2 and above: binaryen's inliner copies an allocator function that has one caller and is not exported into that caller; ` +
        `export it to keep it a function, e.g. -sEXPORTED_FUNCTIONS=...,_realloc; see docs/faq.md)`,
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
