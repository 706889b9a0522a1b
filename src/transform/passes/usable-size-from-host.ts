/**
 * @fileoverview usable-size-from-host (transform): answers an inlined malloc_usable_size from the
 * host instead of the chunk header the old allocator kept below each block.
 *
 * dlmalloc's malloc_usable_size reads the chunk head at p-4 and computes, from its in-use bits and
 * size (`head & 3`, `head & -8`), the usable bytes. Inlined (or left as an unnamed helper) that code
 * would read a neighbour's bytes once the host owns the heap. The load is replaced by the head an
 * *mmapped* chunk of the same usable size would have, so the surviving arithmetic computes exactly
 * host_usable_size(p):
 *
 *   Before:  h = i32.load (p - 4);              usable = (h & -8) - ((h & 3) ? 4 : 8)
 *   After:   h = host_usable_size(p - 4 + 4) + 8; (h & 3) == 0: mmapped, in use; usable = h - 8
 *
 * Host usable sizes are multiples of 8, so `h & -8` keeps them whole. Which loads qualify (the
 * value only masked with flag and size masks, the pointer an allocation) is decided by
 * passes/header-reads.ts. On memory64 the head is at p-8 and the overhead 16.
 */

import type { Binaryen, BinaryenModule, ExpressionRef, IntOps } from '../../binaryen/module.js';
import { type NegativeProbe, replaceChild } from '../../binaryen/walk.js';

/** Rewrites each probe's load; returns how many were rewritten. */
export function usableSizeFromHost(
  b: Binaryen,
  mod: BinaryenModule,
  probes: NegativeProbe[],
  usableImport: string,
  memory64: boolean,
): number {
  const P = memory64 ? b.i64 : b.i32;
  const ops: IntOps = memory64 ? mod.i64 : mod.i32;
  const k = (v: number): ExpressionRef => (memory64 ? mod.i64.const(BigInt(v)) : mod.i32.const(v));
  const overhead = memory64 ? 16 : 8;
  let n = 0;
  for (const p of probes) {
    const ptr = b.Load.getPtr(p.load);
    // The load's pointer is p - k (plus the static offset, folded into delta): undo it.
    const offset = b.Load.getOffset(p.load);
    const block = ops.add(ptr, k(offset - p.delta));
    const usable = mod.call(usableImport, [block], P);
    if (!replaceChild(b, p.parent, p.load, ops.add(usable, k(overhead))))
      throw new Error('usable-size-from-host: load not found in its parent');
    n++;
  }
  return n;
}
