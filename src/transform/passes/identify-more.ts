/**
 * @fileoverview identify-more (analysis): identification rules that extend what find-allocator found
 * by names, exports, glue and fingerprints, before call-graph analysis runs: the allocator entries
 * behind wasm-bindgen's exports (./wasm-bindgen.ts), then the functions that one-call wrappers
 * forward to (./follow-wrappers.ts), transitively.
 */

import type { Binaryen, BinaryenModule } from '../../binaryen/module.js';
import type { FunctionSummary } from '../../binaryen/walk.js';
import type { BindgenAllocExport } from '../../glue.js';
import { type AllocatorState, touchesRegions } from './allocator-state.js';
import type { FoundMember } from './find-allocator.js';
import { followWrappers } from './follow-wrappers.js';
import { rustReallocByDataFlow, wasmBindgenMembers } from './wasm-bindgen.js';

/** Members to add to `found` (which is not modified); `bindgenFromGlue` is GlueInfo.bindgen. */
export function identifyMore(
  b: Binaryen,
  mod: BinaryenModule,
  summaries: Map<string, FunctionSummary>,
  found: FoundMember[],
  names: string[],
  stateOf: (family: Set<string>) => AllocatorState,
  forwardedCallee: (func: string) => string | null,
  bindgenFromGlue?: ReadonlyMap<string, BindgenAllocExport>,
): FoundMember[] {
  const index = new Map(names.map((n, i) => [n, i]));
  const indexOf = (f: string): number => index.get(f) ?? -1;
  const known = new Set(found.map((m) => m.func));
  const bindgen = wasmBindgenMembers(b, mod, summaries, known, indexOf, bindgenFromGlue);
  const all = [...found, ...bindgen];
  const added = [...bindgen, ...followWrappers(b, mod, all, indexOf, forwardedCallee)];
  // Only for modules where wasm-bindgen's exports led to the allocator (Rust's shim layout).
  if (bindgen.length === 0) return added;
  const { regions } = stateOf(new Set([...found, ...added].map((m) => m.func)));
  const touches = (f: string): boolean => {
    const s = summaries.get(f);
    return !!s && touchesRegions(s, regions);
  };
  return [...added, ...rustReallocByDataFlow(b, mod, summaries, [...found, ...added], touches, indexOf)];
}
