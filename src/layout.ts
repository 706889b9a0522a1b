/**
 * @fileoverview The memory-layout model shared by inspect, the heap-base pass and verify.
 *
 * Linkers lay out linear memory in one of two ways:
 *
 *   data-stack-heap (emcc, wasm-ld's default):  [0 … 1024) [data+bss) [stack ↓ SP) [heap …)
 *   stack-data-heap (wasm-ld --stack-first, Rust): [stack ↓ SP) [data+bss) [heap …)
 *
 * The stack pointer's initial value (SP) tells them apart: above the data, the stack sits on top of
 * data and bss and SP is the first free byte; below it, bss (which has no data segment) may extend
 * past the last segment, so a heap base read off the segments is only an estimate that the
 * transform refines with code analysis (`refineHeapBase`).
 *
 * The convention lookups (`findStackPointer`, `findHeapBaseExport`, `findDataEndExport`) each encode
 * one toolchain convention and return undefined rather than guess, like wasm-bindgen's
 * `get_shadow_stack_pointer`.
 */

import { META_SECTION } from './conventions.js';
import { ErrorCodes, HostAllocError } from './errors.js';
import type {
  DataEndDerivation,
  DataSegmentInfo,
  HeapBaseDerivation,
  HostallocMeta,
  Layout,
  LayoutKind,
  MemoryInfo,
} from './types.js';
import { exportNames, type ModuleInfo } from './wasm/reader.js';

/** Alignment of the heap base and of the stack bounds (max_align_t on wasm32). */
export const HEAP_ALIGN = 16;

const WASM_PAGE = 65536;

/** Rounds `n` up to a multiple of 16. Exact for numbers below 2^53. */
export function align16(n: number): number {
  return Math.ceil(n / HEAP_ALIGN) * HEAP_ALIGN;
}

/** The stack pointer as found by `findStackPointer`. */
export interface StackPointer {
  /** Global index (imports counted). */
  global: number;
  /** Its name in the name section, or null. */
  name: string | null;
  /** Initial value: the top of the stack (it grows down). */
  initial: number;
}

/** A layout symbol (`__heap_base`, `__data_end`) found in the module. */
export interface LayoutSymbol {
  /** Global index (imports counted). */
  global: number;
  value: number;
  /** How it was found: 'export __heap_base' or 'global __heap_base (name section)'. */
  source: string;
}

/** The one memory of the module. Throws HA004 when there is none and HA005 when there are several. */
export function findMemory(info: ModuleInfo): MemoryInfo {
  if (info.memories.length === 0) {
    throw new HostAllocError(ErrorCodes.NO_MEMORY, 'the module has no memory: nothing to manage');
  }
  if (info.memories.length > 1) {
    throw new HostAllocError(
      ErrorCodes.MULTI_MEMORY,
      `the module has ${info.memories.length} memories; wasm-hostalloc manages a single linear memory ` +
        '(multi-memory modules are not supported)',
      { details: { memories: info.memories.length } },
    );
  }
  const mem = info.memories[0]!;
  return {
    initialPages: mem.limits.min,
    maximumPages: mem.limits.max,
    shared: mem.limits.shared,
    is64: mem.limits.is64,
    imported: mem.imported === null ? null : { module: mem.imported.module, name: mem.imported.name },
    exportedAs: exportNames(info, 'memory', 0),
  };
}

/** Index of the global named `name` in the name section, or of an export / import so named. */
function globalNamed(
  info: ModuleInfo,
  name: string,
): { global: number; via: 'export' | 'name' | 'import' } | undefined {
  for (const e of info.exports)
    if (e.kind === 'global' && e.name === name) return { global: e.index, via: 'export' };
  for (const [index, n] of info.names.globals) if (n === name) return { global: index, via: 'name' };
  for (const imp of info.imports) {
    if (imp.kind === 'global' && imp.name === name) return { global: imp.index, via: 'import' };
  }
  return undefined;
}

/** Size of the initial memory in bytes (honours custom page sizes). */
function initialBytes(info: ModuleInfo): number {
  const mem = info.memories[0];
  if (mem === undefined) return 0;
  const page = mem.limits.pageSizeLog2 === null ? WASM_PAGE : 2 ** mem.limits.pageSizeLog2;
  return mem.limits.min * page;
}

/**
 * The shadow stack pointer (wasm-ld / emcc `__stack_pointer`), or undefined.
 *
 * 1. A global named `__stack_pointer` (name section, export or import): when it is imported
 *    (position-independent code: the loader places the stack) or its initialiser is not constant,
 *    there is no static stack top and the answer is undefined — no fallback guess.
 * 2. Otherwise the first mutable, non-exported, defined global of the address type (i32, or i64
 *    for memory64) whose constant initial value is a plausible stack top: > 0, 16-aligned and
 *    within the initial memory. wasm-ld and emcc emit the stack pointer as the first such global;
 *    when several qualify we still take the first, as those toolchains do.
 */
export function findStackPointer(info: ModuleInfo): StackPointer | undefined {
  const named = globalNamed(info, '__stack_pointer');
  if (named !== undefined) {
    const g = info.globals[named.global];
    if (g === undefined || g.imported !== null || g.init === null) return undefined;
    return { global: named.global, name: '__stack_pointer', initial: g.init };
  }
  const mem = info.memories[0];
  const addrType = mem?.limits.is64 ? 'i64' : 'i32';
  const limit = initialBytes(info);
  for (let i = info.numImportedGlobals; i < info.globals.length; i++) {
    const g = info.globals[i]!;
    if (!g.mutable || g.type !== addrType || g.init === null) continue;
    if (exportNames(info, 'global', i).length > 0) continue;
    if (g.init <= 0 || g.init % HEAP_ALIGN !== 0 || g.init > limit) continue;
    return { global: i, name: info.names.globals.get(i) ?? null, initial: g.init };
  }
  return undefined;
}

/** A constant layout symbol exported (or named in the name section) as `symbol`, or undefined. */
function findLayoutSymbol(info: ModuleInfo, symbol: string): LayoutSymbol | undefined {
  const found = globalNamed(info, symbol);
  if (found === undefined || found.via === 'import') return undefined;
  const g = info.globals[found.global];
  if (g === undefined || g.init === null) return undefined;
  const source = found.via === 'export' ? `export ${symbol}` : `global ${symbol} (name section)`;
  return { global: found.global, value: g.init, source };
}

/** `__heap_base` when the module exports it (or names it) with a constant value, else undefined. */
export function findHeapBaseExport(info: ModuleInfo): LayoutSymbol | undefined {
  return findLayoutSymbol(info, '__heap_base');
}

/** `__data_end` when the module exports it (or names it) with a constant value, else undefined. */
export function findDataEndExport(info: ModuleInfo): LayoutSymbol | undefined {
  return findLayoutSymbol(info, '__data_end');
}

/**
 * The `hostalloc` custom section of a converted module (ABI 2), or null when there is none.
 * Throws HA002 (MALFORMED) when the section is there but is not the JSON docs/abi.md describes.
 * Unknown extra fields are kept (later writers add some); only the four known ones are checked.
 */
export function readHostallocMeta(bytes: Uint8Array, info: ModuleInfo): HostallocMeta | null {
  const sections = info.customSections.filter((c) => c.name === META_SECTION);
  if (sections.length === 0) return null;
  const bad = (why: string): never => {
    throw new HostAllocError(ErrorCodes.MALFORMED, `the '${META_SECTION}' custom section ${why}`);
  };
  if (sections.length > 1) bad(`appears ${sections.length} times`);
  const s = sections[0]!;
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(s.contentStart, s.end)),
    );
  } catch (e) {
    return bad(`is not UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return bad('is not a JSON object');
  const m = parsed as Record<string, unknown>;
  if (typeof m['abi'] !== 'number' || !Number.isInteger(m['abi'])) bad('has no integer "abi"');
  if (m['align'] !== 8 && m['align'] !== 16) bad('has an "align" other than 8 or 16');
  if (!['exact', 'computed', 'estimated'].includes(m['heapBase'] as string))
    bad('has a "heapBase" other than "exact", "computed" or "estimated"');
  if (!['exact', 'computed', 'unknown'].includes(m['dataEnd'] as string))
    bad('has a "dataEnd" other than "exact", "computed" or "unknown"');
  return m as unknown as HostallocMeta;
}

/**
 * The memory layout of a module. Throws HA004 / HA005 (memory count) and HA023 when no heap base
 * can be derived. With the module's bytes, the `hostalloc` section of a converted module (ABI 2)
 * qualifies its exports: a heap base the transform estimated stays 'estimated' once exported.
 */
export function computeLayout(info: ModuleInfo, bytes?: Uint8Array): Layout {
  const memory = findMemory(info);
  const sp = findStackPointer(info);
  const heapBaseSym = findHeapBaseExport(info);
  const dataEndSym = findDataEndExport(info);

  const dataSegments: DataSegmentInfo[] = info.dataSegments.map((s) => ({
    index: s.index,
    offset: s.passive ? null : s.offset,
    size: s.size,
    passive: s.passive,
  }));

  let dataStart: number | null = null;
  let segmentsEnd = 0;
  let nonConstant: number | null = null;
  for (const s of info.dataSegments) {
    if (s.passive || s.memory !== 0) continue;
    if (s.offset === null) {
      nonConstant ??= s.index;
      continue;
    }
    if (s.size === 0) continue;
    if (dataStart === null || s.offset < dataStart) dataStart = s.offset;
    segmentsEnd = Math.max(segmentsEnd, s.offset + s.size);
  }
  const dataEnd = Math.max(segmentsEnd, dataEndSym?.value ?? 0);

  // Classify. Without segments, an exported __data_end still says where data ends.
  const lowestData = dataStart ?? (dataEndSym === undefined ? null : dataEnd);
  let kind: LayoutKind;
  let stack: { low: number; high: number } | null = null;
  if (sp === undefined) {
    kind = 'data-heap';
  } else if (lowestData !== null && sp.initial <= lowestData) {
    kind = 'stack-data-heap';
    stack = { low: 0, high: sp.initial };
  } else if (lowestData === null) {
    // No data to compare with: both layouts are possible. Take the conservative reading (stack
    // from 0, bss possibly above SP), which gives the same heap base estimate with lower confidence.
    kind = 'stack-data-heap';
    stack = { low: 0, high: sp.initial };
  } else if (sp.initial > dataEnd) {
    kind = 'data-stack-heap';
    stack = { low: align16(dataEnd), high: sp.initial };
  } else {
    kind = 'unknown';
  }

  const existing = { heapBase: heapBaseSym?.value ?? null, dataEnd: dataEndSym?.value ?? null };
  const base = { kind, memory, dataSegments, dataStart, dataEnd, stack, existing };
  const stackPointer = sp === undefined ? null : { global: sp.global, name: sp.name, initial: sp.initial };

  let meta: HostallocMeta | null = null;
  try {
    meta = bytes === undefined ? null : readHostallocMeta(bytes, info);
  } catch {
    meta = null; // verify reports a bad section; the layout falls back to the exports alone
  }
  let dataEndExport: DataEndDerivation;
  if (dataEndSym === undefined) {
    dataEndExport = {
      value: null,
      source: 'no __data_end symbol: bss has no data segment, so the end of data + bss is not known',
      confidence: 'unknown',
    };
  } else if (dataEndSym.value < segmentsEnd) {
    dataEndExport = {
      value: null,
      source: `${dataEndSym.source} = ${dataEndSym.value} is below the end of the data segments (${segmentsEnd})`,
      confidence: 'unknown',
    };
  } else {
    const said = meta?.dataEnd === 'computed' ? 'computed' : 'exact';
    const source = said === 'exact' ? dataEndSym.source : `${dataEndSym.source} (computed by wasm-hostalloc)`;
    dataEndExport = { value: dataEndSym.value, source, confidence: said };
  }

  let heapBase: HeapBaseDerivation;
  if (heapBaseSym !== undefined) {
    // A converted module says how sure the transform was; a toolchain's export is exact.
    const said = meta?.heapBase ?? 'exact';
    const source =
      said === 'exact'
        ? heapBaseSym.source
        : `${heapBaseSym.source} (${said} by wasm-hostalloc: hostalloc section)`;
    heapBase = { value: heapBaseSym.value, source, confidence: said };
  } else if (nonConstant !== null) {
    throw new HostAllocError(
      ErrorCodes.NO_HEAP_BASE,
      `cannot derive the heap base: data segment ${nonConstant} has a non-constant offset ` +
        '(position-independent code?) and the module does not export __heap_base ' +
        '(wasm-ld: link with -Wl,--export=__heap_base)',
      { details: { segment: nonConstant } },
    );
  } else if (kind === 'data-stack-heap' && sp !== undefined) {
    heapBase = {
      value: align16(sp.initial),
      source: 'stack pointer initial value (stack above data)',
      confidence: 'computed',
    };
  } else if (sp === undefined && dataStart === null && dataEndSym === undefined) {
    throw new HostAllocError(
      ErrorCodes.NO_HEAP_BASE,
      'cannot derive the heap base: the module has no __heap_base export, no stack pointer and no ' +
        'static data (wasm-ld: link with -Wl,--export=__heap_base)',
    );
  } else {
    const top = Math.max(dataEnd, sp?.initial ?? 0);
    const what =
      kind === 'unknown'
        ? 'unclassified layout: above both the data and the stack pointer'
        : sp === undefined
          ? 'end of static data'
          : 'end of static data or stack, whichever is higher';
    heapBase = {
      value: align16(top),
      source: `${what} (estimated: zero-initialised .bss has no data segment and may extend further)`,
      confidence: 'estimated',
    };
  }

  return { ...base, stackPointer, heapBase, dataEndExport };
}

/**
 * The end of data + bss, derived for a module that does not export `__data_end`, or 'unknown'.
 *
 * `staticEnds` are the ends (address + width) of the constant-address accesses of the original
 * code, including the old allocator's: their maximum L is a lower bound of the end of bss. An upper
 * bound exists in a stack-first layout with an exact heap base: wasm-ld puts `__heap_base` at
 * `__data_end` rounded up to 16. When both meet (L equals the heap base) the value is proven and
 * 'computed'. Otherwise it stays 'unknown' rather than exporting a wrong value: the last object of
 * bss may end in bytes no instruction addresses directly (an array, a struct's tail padding), and
 * in a data-stack-heap layout nothing bounds it from above but the stack's unknown size.
 */
export function deriveDataEnd(layout: Layout, staticEnds: Iterable<number>): DataEndDerivation {
  if (layout.dataEndExport.confidence !== 'unknown') return layout.dataEndExport;
  const low = layout.dataStart ?? 0;
  const stackFirst = layout.kind === 'stack-data-heap' && layout.stack !== null;
  let lower = layout.dataEnd;
  for (const end of staticEnds) {
    if (end <= low || end > layout.heapBase.value) continue;
    if (stackFirst && end <= layout.stack!.high) continue;
    if (!stackFirst && layout.stackPointer !== null && end > layout.stackPointer.initial) continue;
    lower = Math.max(lower, end);
  }
  const upper = stackFirst && layout.heapBase.confidence === 'exact' ? layout.heapBase.value : null;
  if (upper !== null && lower === upper) {
    return {
      value: lower,
      source: `highest static address the code accesses (${lower}) equals the exact heap base, which wasm-ld places at __data_end rounded up to 16`,
      confidence: 'computed',
    };
  }
  const range =
    upper === null
      ? `at least ${lower} (highest static address the code accesses), with no upper bound`
      : `between ${lower} (highest static address the code accesses) and the heap base ${upper}`;
  return {
    value: null,
    source: `the end of data + bss is ${range}; link with -Wl,--export=__data_end to export it`,
    confidence: 'unknown',
  };
}

/**
 * Raises the heap base to align16(minAddress) when that is higher, recording why (e.g. code
 * analysis found a static address past the last data segment). Returns a new Layout; the input
 * is not changed. An exact base that has to move becomes 'computed'.
 */
export function refineHeapBase(layout: Layout, minAddress: number, why: string): Layout {
  const value = align16(minAddress);
  if (value <= layout.heapBase.value) return layout;
  const confidence = layout.heapBase.confidence === 'exact' ? 'computed' : layout.heapBase.confidence;
  return {
    ...layout,
    heapBase: { value, source: `${layout.heapBase.source}; raised to ${value}: ${why}`, confidence },
  };
}
