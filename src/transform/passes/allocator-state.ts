/**
 * @fileoverview allocator-state (analysis): what belongs to the old allocator, so that we can prove
 * none of it survives the rewrite.
 *
 * 1. The allocator's code: functions reachable from the family (calls and ref.func) but not from any
 *    other root (exports other than the family's, the start function, table entries), with family
 *    members as barriers. dlmalloc's dispose_chunk, sbrk, emmalloc's claim_more_memory land here.
 * 2. The allocator's static state: constant addresses that code READS (dlmalloc's `_gm_` and
 *    `mparams`, emmalloc's free-list heads, sbrk's break pointer). Addresses the allocator only
 *    writes constants to (errno) are not state: user code may legitimately touch them.
 *
 * After the rewrite, a surviving function that touches that state is allocator code the family did
 * not cover (an unidentified realloc, dlfree inlined into user code), and the module is refused.
 */

import type { FunctionSummary } from '../../binaryen/walk.js';
import { closure } from '../../graph.js';

export interface Region {
  start: number;
  end: number;
}

export interface AllocatorState {
  /** Functions only the family reaches. */
  exclusive: Set<string>;
  /**
   * Functions the user's code reaches without going through a family member: what survives the
   * rewrite (remove-unused-module-elements removes the rest), besides generated adapters.
   */
  survivors: Set<string>;
  /** Static memory the allocator reads, merged into regions. */
  regions: Region[];
  /** Highest constant address (end) any code touches: a lower bound for the end of static data. */
  maxStaticAddress: number;
}

export interface StateInput {
  summaries: Map<string, FunctionSummary>;
  family: Set<string>;
  /** Roots other than the family: exported functions, start, table entries. */
  roots: Set<string>;
  /**
   * Where static data can live: [lowest data segment, end of the initial memory). Constants outside
   * it are struct offsets or sizes that merely look like addresses (`p + 4`), not static state.
   */
  staticRange: { low: number; high: number };
}

/** `from` and what it calls or references, transitively, through functions outside `barrier`. */
function reach(
  from: Iterable<string>,
  summaries: Map<string, FunctionSummary>,
  barrier: Set<string>,
): Set<string> {
  return closure(from, (f) => {
    const next: string[] = [];
    const s = summaries.get(f);
    if (!s) return next;
    for (const c of s.calls) if (!barrier.has(c)) next.push(c);
    for (const c of s.refFuncs.keys()) if (!barrier.has(c)) next.push(c);
    return next;
  });
}

/** Merges [start, end) intervals that touch or are within `gap` bytes. */
export function mergeRegions(intervals: Region[], gap = 8): Region[] {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  const out: Region[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end + gap) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

export function allocatorState(input: StateInput): AllocatorState {
  const { summaries, family } = input;
  const userRoots = [...input.roots].filter((r) => !family.has(r));
  const user = reach(userRoots, summaries, family);
  const alloc = reach(family, summaries, new Set());
  const exclusive = new Set([...alloc].filter((f) => !user.has(f) || family.has(f)));

  const survivors = new Set([...user].filter((f) => !family.has(f)));
  return {
    exclusive,
    survivors,
    regions: mergeRegions(stateIntervals(exclusive, summaries, input.staticRange)),
    maxStaticAddress: maxStaticAddress(summaries),
  };
}

// The loops over every function's accesses live in functions of their own: V8 then optimises these
// small ones, not allocatorState, which runs once per module (compiling it cost ~50 ms per thread).

/** What the functions of `exclusive` read at static addresses (in `range`): the allocator's state. */
function stateIntervals(
  exclusive: Set<string>,
  summaries: Map<string, FunctionSummary>,
  range: { low: number; high: number },
): Region[] {
  const { low, high } = range;
  const intervals: Region[] = [];
  for (const f of exclusive) {
    const s = summaries.get(f);
    if (!s) continue;
    for (const a of s.constAccesses) {
      if (a.kind !== 'write' && a.address >= low && a.address < high)
        intervals.push({ start: a.address, end: a.address + a.bytes });
    }
    for (const base of s.indexedBases)
      if (base >= low && base < high) intervals.push({ start: base, end: base + 1 });
  }
  return intervals;
}

/** The end of the highest constant address any function touches. */
function maxStaticAddress(summaries: Map<string, FunctionSummary>): number {
  let max = 0;
  for (const s of summaries.values())
    for (const a of s.constAccesses) max = Math.max(max, a.address + a.bytes);
  return max;
}

/** Whether `summary` reads or writes any of `regions` (whether {@link touchedRegions} is not empty). */
export function touchesRegions(summary: FunctionSummary, regions: readonly Region[]): boolean {
  for (const a of summary.constAccesses) if (regionAt(regions, a.address, a.address + a.bytes)) return true;
  for (const base of summary.indexedBases) if (regionAt(regions, base, base + 1)) return true;
  return false;
}

/** The first of `regions` that [start, end) overlaps. */
function regionAt(regions: readonly Region[], start: number, end: number): Region | undefined {
  for (const r of regions) if (start < r.end && end > r.start) return r;
  return undefined;
}

/** The regions that `summary` reads or writes. */
export function touchedRegions(summary: FunctionSummary, regions: Region[]): Region[] {
  const hits: Region[] = [];
  for (const a of summary.constAccesses) {
    const r = regionAt(regions, a.address, a.address + a.bytes);
    if (r && !hits.includes(r)) hits.push(r);
  }
  for (const base of summary.indexedBases) {
    const r = regionAt(regions, base, base + 1);
    if (r && !hits.includes(r)) hits.push(r);
  }
  return hits;
}
