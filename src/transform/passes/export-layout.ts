/**
 * @fileoverview export-layout (transform): tells the host where the heap is, and every engine that
 * the memory can grow (ABI 2, docs/abi.md). Adds, when absent:
 *
 *   (global $hostalloc$heap_base i32 (i32.const 5313552))  (export "__heap_base" …)
 *   (global $hostalloc$data_end  i32 (i32.const 2628))     (export "__data_end" …)  ; when known
 *   (global $hostalloc$abi       i32 (i32.const 2))        (export "__hostalloc_abi" …)
 *   (global $hostalloc$align     i32 (i32.const 16))       (export "__hostalloc_align" …)
 *   (func $hostalloc$grow (param i32) (result i32)          (export "__hostalloc_grow" …)
 *     (memory.grow (local.get 0)))
 *   (export "memory" (memory $0))                           ; unless an export is named memory already
 *   (@custom "hostalloc" "{\"abi\":2,\"align\":16,\"heapBase\":\"exact\",\"dataEnd\":\"unknown\"}")
 *
 * `__hostalloc_grow` is the only memory.grow left in a converted module. Engines decide how
 * growable a memory is from the code: WAMR's loader, seeing `__heap_base` exported and no
 * memory.grow or memory.size, shrinks the memory to end at the heap base and pins its maximum.
 * It also lets a host grow the memory from inside when that is simpler than the engine's API.
 *
 * Existing `__heap_base` / `__data_end` exports are kept when they are immutable globals of the
 * layout's value (the toolchain knew best), and replaced otherwise. A `__data_end` the transform
 * cannot derive exactly is not exported at all (the section then says "unknown").
 * The layout globals and the grow function use i64 for memory64 modules; the ABI and alignment
 * globals are always i32.
 */

import type { Binaryen, BinaryenModule, ExpressionRef } from '../../binaryen/module.js';
import { hasExport } from '../../binaryen/queries.js';
import type { FunctionSummary } from '../../binaryen/walk.js';
import {
  ABI_EXPORT,
  ALIGN_EXPORT,
  DATA_END_EXPORT,
  GROW_EXPORT,
  HEAP_BASE_EXPORT,
  META_SECTION,
} from '../../conventions.js';
import { ABI_VERSION, type HostallocMeta, type Layout } from '../../types.js';

/** binaryen's internal name of the generated grow function (exempt from the memory.grow hazard). */
export const GROW_FUNCTION = 'hostalloc$grow';

export interface ExportLayoutResult {
  /** Export names added by this pass. */
  added: string[];
}

/**
 * Adds the ABI exports for `layout` and the `hostalloc` section holding `meta` (the caller decides
 * what it says; `meta.abi` and `meta.align` are also exported as globals). `__data_end` is exported
 * only when `layout.dataEndExport` has a value (or the module already exports one).
 */
export function exportLayout(
  b: Binaryen,
  mod: BinaryenModule,
  layout: Layout,
  memory: string,
  meta: HostallocMeta,
  stale: { heapBase: boolean; dataEnd: boolean } = { heapBase: false, dataEnd: false },
): ExportLayoutResult {
  // An existing export that is mutable, of the wrong type, not a global, or of another value is
  // replaced: hosts read these to find the heap.
  if (stale.heapBase) mod.removeExport(HEAP_BASE_EXPORT);
  if (stale.dataEnd) mod.removeExport(DATA_END_EXPORT);
  // An older marker (an ABI 1 module transformed again) says what this output no longer is.
  if (hasExport(b, mod, ABI_EXPORT)) mod.removeExport(ABI_EXPORT);
  if (hasExport(b, mod, ALIGN_EXPORT)) mod.removeExport(ALIGN_EXPORT);
  const added: string[] = [];
  const is64 = layout.memory.is64;
  const type = is64 ? b.i64 : b.i32;
  const c = (v: number): ExpressionRef => (is64 ? mod.i64.const(BigInt(v)) : mod.i32.const(v));
  const addConst = (internal: string, exportName: string, value: number, t = type): void => {
    if (hasExport(b, mod, exportName)) return;
    mod.addGlobal(internal, t, false, t === b.i32 ? mod.i32.const(value) : c(value));
    mod.addGlobalExport(internal, exportName);
    added.push(exportName);
  };
  addConst('hostalloc$heap_base', HEAP_BASE_EXPORT, layout.heapBase.value);
  const dataEnd = layout.dataEndExport.value;
  if (dataEnd !== null) addConst('hostalloc$data_end', DATA_END_EXPORT, dataEnd);
  addConst('hostalloc$abi', ABI_EXPORT, meta.abi, b.i32);
  addConst('hostalloc$align', ALIGN_EXPORT, meta.align, b.i32);
  if (!hasExport(b, mod, GROW_EXPORT)) {
    mod.addFunction(GROW_FUNCTION, type, type, [], mod.memory.grow(mod.local.get(0, type), memory, is64));
    mod.addFunctionExport(GROW_FUNCTION, GROW_EXPORT);
    added.push(GROW_EXPORT);
  }
  writeMeta(mod, meta);
  // Hosts look for `memory`; a minified build exports it as e.g. `f`: add the alias.
  if (!layout.memory.exportedAs.includes('memory') && !hasExport(b, mod, 'memory')) {
    mod.addMemoryExport(memory, 'memory');
    added.push('memory');
  }
  return { added };
}

/** The section's contents for a layout: ABI version, alignment, how sure each export is. */
export function layoutMeta(layout: Layout, align: 8 | 16): HostallocMeta {
  return {
    abi: ABI_VERSION,
    align,
    heapBase: layout.heapBase.confidence,
    heapBaseValue: layout.heapBase.value,
    dataEnd: layout.dataEndExport.confidence,
  };
}

/** Ends (address + width) of every constant-address access and indexed base, for deriveDataEnd. */
export function staticAccessEnds(summaries: Map<string, FunctionSummary>): number[] {
  const out: number[] = [];
  for (const s of summaries.values()) {
    for (const a of s.constAccesses) out.push(a.address + a.bytes);
    for (const base of s.indexedBases) out.push(base + 1);
  }
  return out;
}

/** Writes `meta` as the `hostalloc` custom section (UTF-8 JSON, keys in a fixed order). */
export function writeMeta(mod: BinaryenModule, meta: HostallocMeta): void {
  mod.addCustomSection(META_SECTION, new TextEncoder().encode(JSON.stringify(meta)));
}
