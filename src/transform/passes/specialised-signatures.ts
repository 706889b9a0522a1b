/**
 * @fileoverview specialised-signatures (analysis): members whose signature the optimizer changed.
 * binaryen's dead-argument elimination drops a parameter every caller passes the same constant
 * for. emmalloc's malloc is `emmalloc_memalign(8, size)`, so when nothing else calls it (no
 * aligned allocation in the program), emcc -O2 leaves a one-parameter emmalloc_memalign with the
 * alignment folded into its body:
 *
 *   (func $malloc (param $0 i32) (result i32) (call $emmalloc_memalign (local.get $0)))
 *   (func $emmalloc_memalign (param $0 i32) (result i32) (local.set $4 (i32.const 8)) …)
 *
 * Such a function is malloc, at malloc's own alignment: every caller passed that constant, and the
 * family's malloc is one of them, forwarding its size. It gets the malloc role when that is proven
 * by data flow (the malloc's calls pass its parameter 0 and nothing else); otherwise the signature
 * check refuses it (HA012).
 */

import type { Binaryen, BinaryenModule } from '../../binaryen/module.js';
import type { FunctionSummary } from '../../binaryen/walk.js';
import type { FoundMember } from './find-allocator.js';

/** `members` with the roles of dead-argument-eliminated aligned allocators corrected (a new array). */
export function remapSpecialised(
  b: Binaryen,
  mod: BinaryenModule,
  summaries: ReadonlyMap<string, FunctionSummary>,
  members: readonly FoundMember[],
  memory64: boolean,
): FoundMember[] {
  const P = memory64 ? b.i64 : b.i32;
  const mallocs = members.filter((m) => m.role === 'malloc');
  return members.map((m) => {
    if ((m.role !== 'memalign' && m.role !== 'aligned_alloc') || m.imported) return m;
    const fi = b.getFunctionInfo(mod.getFunction(m.func));
    const params = b.expandType(fi.params);
    const results = b.expandType(fi.results);
    if (params.length !== 1 || params[0] !== P || results.length !== 1 || results[0] !== P) return m;
    const forwarding = mallocs.find((x) => {
      const calls = summaries.get(x.func)?.callArgs.get(m.func);
      return !!calls && calls.length > 0 && calls.every((args) => args.length === 1 && args[0] === 0);
    });
    if (!forwarding) return m;
    return {
      ...m,
      role: 'malloc',
      evidence: `${m.role} whose alignment parameter the optimizer removed (dead-argument elimination): ${forwarding.func}, the malloc, calls it with its own size`,
    };
  });
}
