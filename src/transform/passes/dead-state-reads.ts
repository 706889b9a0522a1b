/**
 * @fileoverview dead-state-reads (transform): removes loads of old allocator state whose value is
 * dropped. Rust inlines a volatile read of `__rust_no_alloc_shim_is_unstable` (one static byte)
 * before every allocation:
 *
 *   (drop (i32.load8_u (i32.const 1108477)))
 *
 * It reads, never uses the value, and cannot trap (a constant address below the initial memory
 * size), so it does nothing; left in place, every allocating user function would look like it
 * touches the old allocator's state. Only such statements are removed; any other access remains
 * for the residue check.
 */

import type { Binaryen, BinaryenModule, ExpressionRef } from '../../binaryen/module.js';
import { type FunctionSummary, walk } from '../../binaryen/walk.js';
import type { Region } from './allocator-state.js';

/**
 * Removes `drop (load (const A))` with A in a state region; returns the functions changed. With
 * `summaries` (of the module as read, or of a superset of its code), only functions that read a
 * constant address in a region are walked: such a drop is one of their `constAccesses`.
 */
export function removeDeadStateReads(
  b: Binaryen,
  mod: BinaryenModule,
  regions: Region[],
  memoryBytes: number,
  skip: Set<string>,
  summaries?: ReadonlyMap<string, FunctionSummary>,
  mayDropLoads?: (func: string) => boolean,
): string[] {
  if (regions.length === 0) return [];
  const inRegion = (a: number): boolean => regions.some((r) => a >= r.start && a < r.end);
  const changed: string[] = [];
  const n = mod.getNumFunctions();
  for (let i = 0; i < n; i++) {
    const fi = b.getFunctionInfo(mod.getFunctionByIndex(i));
    // The summary first: a body is looked into only when it may hold such a read.
    const known = summaries?.get(fi.name);
    if (known && !known.constAccesses.some((a) => a.kind === 'read' && inRegion(a.address))) continue;
    if (mayDropLoads && !mayDropLoads(fi.name)) continue;
    if (fi.module !== '' || !fi.body || skip.has(fi.name)) continue;
    const drops: ExpressionRef[] = [];
    walk(b, fi.body, (e, id) => {
      if (id !== b.DropId) return;
      const v = b.Drop.getValue(e);
      if (b.getExpressionId(v) !== b.LoadId) return;
      const ptr = b.Load.getPtr(v);
      if (b.getExpressionId(ptr) !== b.ConstId) return;
      if (b.getExpressionType(ptr) !== b.i32) return;
      const a = (b.Const.getValueI32(ptr) >>> 0) + b.Load.getOffset(v);
      const bytes = b.Load.getBytes(v);
      if (a + bytes > memoryBytes) return;
      if (inRegion(a)) drops.push(e);
    });
    // `drop (i32.const 0)`: valid, no effect.
    for (const d of drops) b.Drop.setValue(d, mod.i32.const(0));
    if (drops.length > 0) changed.push(fi.name);
  }
  return changed;
}
