/**
 * @fileoverview follow-wrappers (analysis): a member whose whole body forwards its parameters, in
 * order, to one other defined function of the same signature is a wrapper; the function it calls
 * serves the same role and becomes a member too. wasi-libc exports `malloc` as such a wrapper over
 * `dlmalloc`, and once wasm-opt inlines `malloc` into user code, the user code calls `dlmalloc`
 * directly: replacing only the wrapper would leave the real allocator reachable.
 *
 *   (func $9 (export "malloc") (param i32) (result i32) (call $10 (local.get 0)))
 *     -> $9 is malloc (by export), $10 is malloc (followed)
 *
 * Only exact forwarding counts (no other code, no reordered or constant arguments), so a function
 * that merely calls the allocator (strdup, a constructor) is never taken for it.
 */

import type { Binaryen, BinaryenModule } from '../../binaryen/module.js';
import { functionExports } from '../../binaryen/queries.js';
import { analysedMember, type FoundMember } from './find-allocator.js';

/**
 * Adds, for every member that wraps another function, the wrapped function with the same role
 * (transitively). Returns the members that were added.
 */
export function followWrappers(
  b: Binaryen,
  mod: BinaryenModule,
  members: FoundMember[],
  indexOf: (func: string) => number,
  forwardedCallee: (func: string) => string | null,
): FoundMember[] {
  const known = new Set(members.map((m) => m.func));
  const exportsOf = new Map<string, string[]>();
  for (const [exp, func] of functionExports(b, mod))
    exportsOf.set(func, [...(exportsOf.get(func) ?? []), exp]);
  const added: FoundMember[] = [];
  const queue = [...members];
  while (queue.length > 0) {
    const m = queue.shift()!;
    if (m.imported) continue;
    const inner = forwardedCallee(m.func);
    if (inner === null || known.has(inner)) continue;
    known.add(inner);
    const member = analysedMember(m.role, inner, indexOf(inner), {
      exports: exportsOf.get(inner) ?? [],
      stateParam: m.stateParam,
    });
    added.push(member);
    queue.push(member);
  }
  return added;
}
