/**
 * @fileoverview calloc-always-clear (transform): redirects dlmalloc's calloc when the optimizer
 * inlined it into a caller.
 *
 * dlmalloc's calloc skips zeroing a fresh mmapped chunk: it reads the chunk header just below the
 * pointer malloc returned and tests the in-use bits. Inlined, that test sits in user code:
 *
 *   Before:  p = malloc(n); if (p && (i32.load8_u (p - 4)) & 3) memset(p, 0, n)
 *   After:   p = malloc(n); if (p && (i32.const 3)         & 3) memset(p, 0, n)
 *
 * Host blocks have no header, so p - 4 is a neighbour's byte; the rewrite makes the test always
 * say "must clear", and zeroing is always correct for calloc. It applies only to a function whose
 * every read below an allocated pointer has exactly this shape (a 1- or 4-byte load at p-4 whose
 * only use is `& 3`) and that zeroes memory (memory.fill or a call to a memset-shaped function).
 * Any other header read (malloc_usable_size inlined: `& -8`) is left for check-hazards to refuse.
 */

import type { Binaryen, BinaryenModule } from '../src/binaryen.js';
import type { FunctionSummary } from '../src/walk.js';

/** dlmalloc's INUSE bits (PINUSE | CINUSE) and the head's offset below the payload on wasm32. */
const INUSE_MASK = 3;
const HEAD_DELTA = -4;

/**
 * Rewrites inlined calloc checks; returns the functions changed. `allocating` holds the functions
 * whose results are fresh allocations (the swapped family members); `zeroes(summary)` says whether
 * a function zeroes memory.
 */
export function callocAlwaysClear(
  b: Binaryen,
  mod: BinaryenModule,
  summaries: Map<string, FunctionSummary>,
  allocating: Set<string>,
  zeroes: (s: FunctionSummary) => boolean,
): string[] {
  const changed: string[] = [];
  for (const s of summaries.values()) {
    const probes = s.negativeProbes.filter((p) => {
      if (p.compared) return false;
      return [...p.fromCall].some((f) => allocating.has(f));
    });
    if (probes.length === 0 || !zeroes(s)) continue;
    const allCallocShaped = probes.every(
      (p) => p.delta === HEAD_DELTA && (p.bytes === 1 || p.bytes === 4) && p.mask?.value === INUSE_MASK,
    );
    if (!allCallocShaped) continue;
    for (const p of probes) {
      const and = p.mask!.and;
      const constant = mod.i32.const(INUSE_MASK);
      if (b.Binary.getLeft(and) === p.load) b.Binary.setLeft(and, constant);
      else b.Binary.setRight(and, constant);
    }
    s.negativeProbes = s.negativeProbes.filter((p) => !probes.includes(p));
    changed.push(s.name);
  }
  return changed;
}
