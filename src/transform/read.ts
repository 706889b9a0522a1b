/**
 * @fileoverview The steps before binaryen: read the module with the raw reader, refuse what no
 * analysis can make safe, compute the static layout, and settle the options. Their result, `Input`,
 * is what every later step reads about the module as given.
 */

import {
  ABI_EXPORT,
  DATA_END_EXPORT,
  gcRuntimeMarker,
  HEAP_BASE_EXPORT,
  isAllocatorName,
  META_SECTION,
} from '../conventions.js';
import { ErrorCodes, HostAllocError } from '../errors.js';
import { type GlueInfo, readGlue } from '../glue.js';
import { computeLayout, refineHeapBase } from '../layout.js';
import type { Layout, TransformOptions, TransformResult } from '../types.js';
import { verify } from '../verify.js';
import { dropCustomSections } from '../wasm/edit.js';
import { safeNames } from '../wasm/names.js';
import { type ModuleInfo, readModule, usesAtomics } from '../wasm/reader.js';
import { WA } from '../wasm-api.js';

/** The module as given, read and checked, with the options settled. */
export interface Input {
  /** A copy of the caller's bytes (never modified). */
  bytes: Uint8Array;
  info: ModuleInfo;
  /** The static layout of the module as read (export-layout refines it). */
  layout: Layout;
  options: TransformOptions;
  importModule: string;
  glue: GlueInfo | undefined;
  /** Exports named like the layout globals that do not say what the layout says. */
  staleExports: { heapBase: boolean; dataEnd: boolean };
}

/** What binaryen reads: the bytes with a name section it can keep, and the features to enable. */
export interface BinaryenInput {
  bytes: Uint8Array;
  features: { atomics: boolean; memory64: boolean; exceptions: boolean };
  hadNames: boolean;
  hasDwarf: boolean;
}

/** Step 'read'. Throws the typed refusal for malformed, GC-managed or shared-memory modules. */
export function readInput(input: Uint8Array, options: TransformOptions): Input {
  const bytes = input.slice(); // never touch the caller's buffer
  const info = readModule(bytes, options.limits);
  validateInput(bytes, info);
  const layout = checkExistingHeapBase(preflight(info, options, bytes));
  const importModule = options.importModule ?? 'env';
  if (!/^[\x20-\x7e]+$/.test(importModule)) {
    throw new HostAllocError(
      ErrorCodes.BAD_OPTION,
      `import module name '${importModule}' must be printable ASCII`,
    );
  }
  return {
    bytes,
    info,
    layout,
    options,
    importModule,
    glue: options.glue === undefined ? undefined : readGlue(options.glue),
    staleExports: staleLayoutExports(info, layout),
  };
}

/** True when the raw module already follows the host-allocator ABI. */
export function isCompliant(info: ModuleInfo): boolean {
  const imported = new Set(info.imports.filter((i) => i.kind === 'function').map((i) => i.name));
  return (
    imported.has('host_malloc') &&
    imported.has('host_free') &&
    info.exports.some((e) => e.name === ABI_EXPORT && e.kind === 'global')
  );
}

/**
 * Step 'already-compliant': the result for a module that imports the host functions, carries the
 * marker and passes verify (a module may claim the ABI yet carry a wrong __heap_base or a
 * memory.grow), else undefined.
 */
export async function alreadyCompliant(input: Input): Promise<TransformResult | undefined> {
  const { bytes, info, layout } = input;
  if (!isCompliant(info) || !(await verify(bytes)).compliant) return undefined;
  return {
    bytes,
    report: {
      status: 'already-compliant',
      inputSize: bytes.length,
      outputSize: bytes.length,
      functionsBefore: info.functions.length,
      functionsAfter: info.functions.length,
      functionsRemoved: 0,
      importModule: input.importModule,
      replaced: [],
      imports: info.imports
        .filter((i) => i.kind === 'function' && i.name.startsWith('host_'))
        .map((i) => i.name),
      layout,
      hazards: [],
      // An estimate recorded by an earlier transform stays visible (hostalloc section).
      warnings:
        layout.heapBase.confidence === 'estimated'
          ? [`heap base ${layout.heapBase.value} is estimated (${layout.heapBase.source})`]
          : [],
      compliant: true,
    },
  };
}

/**
 * Step 'safe-names': binaryen reads names as C strings and keys functions by them, so empty,
 * NUL-carrying and duplicate names are made unique (src/wasm/names.ts) rather than the name
 * section dropped. Also decides the features binaryen must enable.
 */
export function binaryenInput(input: Input): BinaryenInput {
  const { bytes, info, layout } = input;
  const named = info.nameSectionMalformed ? null : safeNames(bytes, info, isAllocatorName);
  if (named) info.names.functions = named.functions;
  return {
    // export-layout writes the hostalloc section afresh: an old one (a forced output given again)
    // would stay beside it, since binaryen keeps every custom section it reads.
    bytes: dropCustomSections(named ? named.bytes : bytes, META_SECTION),
    features: {
      atomics: layout.memory.shared || usesAtomics(bytes, info),
      memory64: layout.memory.is64,
      exceptions: info.tags.length > 0,
    },
    hadNames: info.customSections.some((s) => s.name === 'name'),
    hasDwarf: info.customSections.some((s) => s.name.startsWith('.debug_')),
  };
}

/** Refusals that need no code analysis: GC runtimes, shared memory. Also returns the layout. */
export function preflight(info: ModuleInfo, options: TransformOptions, bytes?: Uint8Array): Layout {
  const marker = info.usesGC
    ? 'WasmGC types (struct/array): the module is managed by a garbage collector'
    : gcRuntimeMarker(
        info.exports.map((e) => e.name),
        [...info.names.functions.values()],
        info.imports.map((i) => i.module),
        info.assemblyScriptData,
      );
  if (marker) {
    throw new HostAllocError(
      ErrorCodes.GC_RUNTIME,
      `refusing a garbage-collected runtime: ${marker}. A collector scans and moves its own heap; a host allocator cannot take it over`,
    );
  }
  const layout = computeLayout(info, bytes);
  if (layout.memory.shared && !options.allowShared) {
    throw new HostAllocError(
      ErrorCodes.SHARED_MEMORY,
      'the memory is shared (threads): host allocation must then be thread-safe on the host side; pass allowShared (--allow-shared) if your host serialises or locks its allocator',
    );
  }
  return layout;
}

/**
 * Rejects what the engine rejects, before binaryen sees it: binaryen reads invalid code and may
 * abort on it. Node 20's engine lacks memory64, WasmGC and multi-memory, so its "no" is only
 * trusted for modules that use none of them.
 */
function validateInput(bytes: Uint8Array, info: ModuleInfo): void {
  if (WA.validate(bytes)) return;
  if (info.usesGC || info.memories.length !== 1 || info.memories.some((m) => m.limits.is64)) return;
  let why = 'invalid module';
  try {
    new WA.Module(bytes);
  } catch (e) {
    why = e instanceof Error ? e.message : String(e);
  }
  throw new HostAllocError(ErrorCodes.MALFORMED, `the module does not validate: ${why}`);
}

/**
 * An existing __heap_base must agree with the layout: at or above the end of static data and, when
 * the stack sits above the data, above the stack. A toolchain that says otherwise contradicts its
 * own data, and nothing safe can be derived.
 */
function checkExistingHeapBase(layout: Layout): Layout {
  const hb = layout.existing.heapBase;
  if (hb === null) return layout;
  // Above the static data and above the stack top, whichever side of the data the stack is on.
  const floor = Math.max(layout.dataEnd, layout.stack?.high ?? 0, layout.stackPointer?.initial ?? 0);
  if (hb < floor) {
    throw new HostAllocError(
      ErrorCodes.NO_HEAP_BASE,
      `the module exports ${HEAP_BASE_EXPORT} = ${hb}, below the end of its static data and stack (${floor}): the export is wrong, so no safe heap base can be derived; re-link the module (wasm-ld exports a correct one with -Wl,--export=__heap_base)`,
      { details: { heapBase: hb, floor } },
    );
  }
  // Every host block is 16-aligned: an unaligned base is rounded up (and re-exported).
  return refineHeapBase(layout, hb, 'the exported value rounded up to 16 bytes');
}

/** Exports named like our layout globals that do not say what the layout says (re-exported by export-layout). */
export function staleLayoutExports(
  info: ModuleInfo,
  layout: Layout,
): { heapBase: boolean; dataEnd: boolean } {
  const P = layout.memory.is64 ? 'i64' : 'i32';
  const stale = (name: string, want: number): boolean => {
    const e = info.exports.find((x) => x.name === name);
    if (!e) return false;
    const g = e.kind === 'global' ? info.globals[e.index] : undefined;
    return !g || g.mutable || g.type !== P || g.init !== want;
  };
  return {
    heapBase: stale(HEAP_BASE_EXPORT, layout.heapBase.value),
    dataEnd: stale(DATA_END_EXPORT, layout.dataEnd),
  };
}

/** Functions whose callers are not all in the module: exports, table entries, the start function. */
export function entryPointIndices(info: ModuleInfo): Set<number> {
  const out = new Set<number>(info.elemFunctions);
  for (const e of info.exports) if (e.kind === 'function') out.add(e.index);
  if (info.start !== null) out.add(info.start);
  return out;
}

/** Where static data may live: from the lowest data segment (or 1024) to the end of the initial memory. */
export function staticRange(layout: Layout): { low: number; high: number } {
  return {
    // Without any data segment, zero-initialised data starts at wasm-ld's and emcc's default global
    // base (1024): smaller constants are struct offsets (`p + 4`), not addresses.
    low: layout.dataStart ?? 1024,
    high: Math.max(layout.memory.initialPages * 65536, layout.heapBase.value),
  };
}
