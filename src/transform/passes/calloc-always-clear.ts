/**
 * @fileoverview calloc-always-clear (transform): makes dlmalloc's calloc test always clear, where
 * the optimizer inlined it into a caller.
 *
 * dlmalloc's calloc skips zeroing a fresh mmapped chunk: it reads the chunk header just below the
 * pointer malloc returned and tests the in-use bits. Inlined, that test sits in user code:
 *
 *   Before:  p = malloc(n); if (p && (i32.load8_u (p - 4)) & 3) memset(p, 0, n)
 *   After:   p = malloc(n); if (p && (i32.const 3)         & 3) memset(p, 0, n)
 *
 * Host blocks have no header, so p - 4 is a neighbour's byte; the rewrite makes the test always
 * say "in use, must clear", and zeroing is always correct for calloc. Which loads qualify (the value
 * only masked with 3, in a function that zeroes memory, the pointer an allocation) is decided by
 * passes/header-reads.ts; anything else is refused there.
 */

import type { Binaryen, BinaryenModule } from '../../binaryen/module.js';
import { type NegativeProbe, replaceChild } from '../../binaryen/walk.js';

/** dlmalloc's INUSE bits (PINUSE | CINUSE). */
const INUSE = 3;

/** Replaces each probe's load by the constant INUSE; returns how many were rewritten. */
export function callocAlwaysClear(b: Binaryen, mod: BinaryenModule, probes: NegativeProbe[]): number {
  let n = 0;
  for (const p of probes) {
    const constant =
      b.getExpressionType(p.load) === b.i64 ? mod.i64.const(BigInt(INUSE)) : mod.i32.const(INUSE);
    if (!replaceChild(b, p.parent, p.load, constant))
      throw new Error('calloc-always-clear: load not found in its parent');
    n++;
  }
  return n;
}
