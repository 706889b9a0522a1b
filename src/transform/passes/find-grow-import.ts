/**
 * @fileoverview find-grow-import (analysis): which import the old allocator called to grow memory,
 * so that a host can route its own growth through it after the rewrite.
 *
 * Emscripten's JS glue keeps typed-array views of the memory (HEAPU8, …) and refreshes them only in
 * its own growth path. In a glue build, sbrk calls the JS import `emscripten_resize_heap` (renamed
 * `a.k`, `a.e`, … in minified glue); in a STANDALONE build, sbrk calls a wasm
 * `emscripten_resize_heap` that does `memory.grow` and then calls the import
 * `emscripten_notify_memory_growth`:
 *
 *   glue:        $sbrk -> (import "a" "k" (func (param i32) (result i32)))        kind 'resize'
 *   standalone:  $sbrk -> $emscripten_resize_heap [memory.grow]
 *                       -> (import "env" "emscripten_notify_memory_growth" (func (param i32)))  'notify'
 *
 * Names are not used: the import is found by shape in the allocator's exclusive call graph (the
 * functions only the family reaches, see allocator-state), which the rewrite removes. A resize
 * import takes the requested size (a pointer-sized integer) and returns i32; a notify import takes
 * an i32 and returns nothing, and is called by a function that grows memory. Exactly one candidate
 * of a kind must exist, 'resize' winning; anything else returns undefined.
 */

import type { Binaryen, BinaryenModule } from '../../binaryen/module.js';
import type { FunctionSummary } from '../../binaryen/walk.js';
import type { GrowImport } from '../../types.js';

/**
 * The grow import of the allocator whose exclusive functions are `exclusive` (family members
 * included), or undefined when there is none or it is ambiguous.
 */
export function findGrowImport(
  b: Binaryen,
  mod: BinaryenModule,
  summaries: Map<string, FunctionSummary>,
  exclusive: Set<string>,
  memory64: boolean,
): GrowImport | undefined {
  const P = memory64 ? b.i64 : b.i32;
  const resize = new Map<string, GrowImport>();
  const notify = new Map<string, GrowImport>();
  for (const caller of exclusive) {
    const s = summaries.get(caller);
    if (!s || s.imported) continue;
    for (const callee of s.calls) {
      if (!exclusive.has(callee)) continue; // user code calls it too: not the allocator's own path
      const fi = b.getFunctionInfo(mod.getFunction(callee));
      if (fi.module === '') continue;
      const params = b.expandType(fi.params);
      const results = b.expandType(fi.results);
      const key = `${fi.module}\0${fi.base}`;
      if (params.length === 1 && params[0] === P && results.length === 1 && results[0] === b.i32) {
        resize.set(key, { module: fi.module, name: fi.base, kind: 'resize' });
      } else if (s.memoryGrow && params.length === 1 && params[0] === b.i32 && results.length === 0) {
        notify.set(key, { module: fi.module, name: fi.base, kind: 'notify' });
      }
    }
  }
  if (resize.size === 1) return [...resize.values()][0];
  if (resize.size === 0 && notify.size === 1) return [...notify.values()][0];
  return undefined;
}
