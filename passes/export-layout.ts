/**
 * @fileoverview export-layout (transform): tells the host where the heap is. Exports, when absent:
 *
 *   (global $hostalloc$heap_base i32 (i32.const 5313552))  (export "__heap_base" …)
 *   (global $hostalloc$data_end  i32 (i32.const 2628))     (export "__data_end" …)
 *   (global $hostalloc$abi       i32 (i32.const 1))        (export "__hostalloc_abi" …)
 *   (export "memory" (memory $0))                           ; unless an export is named memory already
 *
 * Existing `__heap_base` / `__data_end` exports are kept when they are immutable globals of the
 * layout's value (the toolchain knew best), and replaced otherwise.
 * The globals are immutable, and i64 for memory64 modules.
 */

import { type Binaryen, type BinaryenModule, captureOutput, type ExpressionRef } from '../src/binaryen.js';
import { ABI_EXPORT, DATA_END_EXPORT, HEAP_BASE_EXPORT } from '../src/conventions.js';
import { ErrorCodes, HostAllocError } from '../src/errors.js';
import { ABI_VERSION, type Layout } from '../src/types.js';

export interface ExportLayoutResult {
  /** Export names added by this pass. */
  added: string[];
}

/**
 * binaryen's internal name of the (single) memory: the name an export gives, else its name-section
 * name, else binaryen's default for a defined ('0') or imported ('mimport$0') memory. binaryen.js
 * lists no memories, so candidates are probed with getMemoryInfo.
 */
export function memoryName(b: Binaryen, mod: BinaryenModule, nameSectionName?: string): string {
  const n = mod.getNumExports();
  for (let i = 0; i < n; i++) {
    const info = b.getExportInfo(mod.getExportByIndex(i));
    if (info.kind === b.ExternalMemory) return info.value;
  }
  const candidates = [nameSectionName, '0', 'mimport$0'].filter((c): c is string => !!c);
  for (const c of candidates) {
    const { result } = captureOutput(() => {
      try {
        mod.getMemoryInfo(c);
        return true;
      } catch {
        return false;
      }
    });
    if (result) return c;
  }
  throw new HostAllocError(
    ErrorCodes.INTERNAL,
    `cannot find binaryen's name for the memory (tried ${candidates.join(', ')})`,
  );
}

function hasExport(b: Binaryen, mod: BinaryenModule, name: string): boolean {
  const n = mod.getNumExports();
  for (let i = 0; i < n; i++) if (b.getExportInfo(mod.getExportByIndex(i)).name === name) return true;
  return false;
}

export function exportLayout(
  b: Binaryen,
  mod: BinaryenModule,
  layout: Layout,
  memory: string,
  stale: { heapBase: boolean; dataEnd: boolean } = { heapBase: false, dataEnd: false },
): ExportLayoutResult {
  // An existing export that is mutable, of the wrong type, not a global, or of another value is
  // replaced: hosts read these to find the heap.
  if (stale.heapBase) mod.removeExport(HEAP_BASE_EXPORT);
  if (stale.dataEnd) mod.removeExport(DATA_END_EXPORT);
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
  addConst('hostalloc$data_end', DATA_END_EXPORT, layout.dataEnd);
  addConst('hostalloc$abi', ABI_EXPORT, ABI_VERSION, b.i32);
  // Hosts look for `memory`; a minified build exports it as e.g. `f`: add the alias.
  if (!layout.memory.exportedAs.includes('memory') && !hasExport(b, mod, 'memory')) {
    mod.addMemoryExport(memory, 'memory');
    added.push('memory');
  }
  return { added };
}
