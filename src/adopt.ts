/**
 * @fileoverview adopt: a module built against the ABI from source (a C shim over `host_*`, a Rust
 * `#[global_allocator]`) already has no allocator; it only lacks what C and Rust cannot write: an
 * immutable exported global for the ABI marker (and, from emcc, the `__heap_base` export). Adopting
 * adds the layout exports with export-layout and changes nothing else:
 *
 *   (import "env" "host_malloc" …) (import "env" "host_free" …)   ; from the toolchain
 *   (func $malloc (param i32) (result i32) (call $host_malloc (local.get 0)))
 *     -> + (global $hostalloc$abi i32 (i32.const 1)) (export "__hostalloc_abi" …)
 *        + `__heap_base` / `__data_end` when the linker did not export them
 *
 * A module is adopted only when all of these hold; otherwise `adopt` returns undefined and the
 * ordinary transform runs (it may still find and replace an allocator):
 *   - it imports `host_malloc` from the import module (`host_free` is added when the linker
 *     dropped it from a module that never frees) and nobody named family members with `alloc`;
 *   - its heap base is exact or computed, not estimated (an estimate needs the transform's analysis
 *     of the static addresses the code touches);
 *   - no defined function executes `memory.size` or `memory.grow` (an allocator of its own sizes or
 *     grows the memory; a shim over the host does neither), and no function matches the
 *     fingerprint of a known allocator (stripped modules);
 *   - the result passes `verify`: no allocator-named function that does not reach a host import.
 */

import { captureOutput, withModule } from './binaryen/module.js';
import { functionNames, memoryName } from './binaryen/queries.js';
import { HOST_IMPORTS } from './conventions.js';
import { FINGERPRINTS } from './fingerprints.js';
import { exportLayout, layoutMeta } from './transform/passes/export-layout.js';
import { matchFingerprints } from './transform/passes/fingerprint.js';
import type { Layout, TransformOptions, TransformResult } from './types.js';
import { verify } from './verify.js';
import { nextInstruction, skipLocals } from './wasm/instructions.js';
import type { ModuleInfo } from './wasm/reader.js';

const MEMORY_SIZE = 0x3f;
const MEMORY_GROW = 0x40;

/** The `host_*` functions imported from `importModule`. */
function hostImportsOf(info: ModuleInfo, importModule: string): Set<string> {
  return new Set(
    info.imports
      .filter((i) => i.kind === 'function' && i.module === importModule && i.name.startsWith('host_'))
      .map((i) => i.name),
  );
}

/**
 * True when some defined function executes memory.size or memory.grow, or cannot be decoded (then
 * neither can be ruled out).
 */
export function sizesOrGrowsMemory(bytes: Uint8Array, info: ModuleInfo): boolean {
  for (const { start, end } of info.codeRanges) {
    let p = skipLocals(bytes, start, end);
    if (p < 0) return true;
    while (p < end) {
      const op = bytes[p];
      if (op === MEMORY_SIZE || op === MEMORY_GROW) return true;
      p = nextInstruction(bytes, p, end);
      if (p < 0) return true;
    }
  }
  return false;
}

/**
 * Adopts a module built against the ABI (see the file header), or returns undefined when it is not
 * one. `stale` says which existing `__heap_base` / `__data_end` exports disagree with `layout`.
 */
export async function adopt(
  bytes: Uint8Array,
  info: ModuleInfo,
  layout: Layout,
  options: TransformOptions,
  stale: { heapBase: boolean; dataEnd: boolean },
): Promise<TransformResult | undefined> {
  const importModule = options.importModule ?? 'env';
  if (options.alloc && Object.keys(options.alloc).length > 0) return undefined;
  const hostImports = hostImportsOf(info, importModule);
  if (!hostImports.has('host_malloc')) return undefined;
  if (layout.heapBase.confidence === 'estimated') return undefined;
  if (sizesOrGrowsMemory(bytes, info)) return undefined;
  const fnNames = [...info.names.functions.values()];
  if (fnNames.some((n) => n === '' || n.includes('\0')) || new Set(fnNames).size !== fnNames.length)
    return undefined; // binaryen cannot read such a name section back; the transform handles it
  const hadNames = info.customSections.some((s) => s.name === 'name');
  const hasDwarf = info.customSections.some((s) => s.name.startsWith('.debug_'));
  const features = {
    atomics: layout.memory.shared,
    memory64: layout.memory.is64,
    exceptions: info.tags.length > 0,
  };
  const out = await withModule(bytes, features, (mod, b) => {
    if (!hadNames && matchFingerprints(b, mod, functionNames(b, mod), FINGERPRINTS).length > 0)
      return undefined;
    // The ABI always imports host_free; the linker drops it from a module that never frees.
    if (!hostImports.has('host_free')) {
      const P = layout.memory.is64 ? b.i64 : b.i32;
      mod.addFunctionImport('hostalloc$host_free', importModule, 'host_free', P, b.none);
    }
    exportLayout(
      b,
      mod,
      layout,
      memoryName(b, mod, info.names.memories.get(0)),
      layoutMeta(layout, 16),
      stale,
    );
    if (hasDwarf && !options.keepDwarf) captureOutput(() => mod.runPasses(['strip-dwarf']));
    const prev = b.getDebugInfo();
    b.setDebugInfo(hadNames);
    try {
      return mod.emitBinary().slice();
    } finally {
      b.setDebugInfo(prev);
    }
  });
  if (!out || !(await verify(out)).compliant) return undefined;
  hostImports.add('host_free');
  return {
    bytes: out,
    report: {
      status: 'adopted',
      inputSize: bytes.length,
      outputSize: out.length,
      functionsBefore: info.functions.length,
      functionsAfter: info.functions.length,
      functionsRemoved: 0,
      importModule,
      replaced: [],
      imports: HOST_IMPORTS.filter((h) => hostImports.has(h)),
      layout,
      hazards: [],
      compliant: true,
      warnings:
        hasDwarf && !options.keepDwarf
          ? [
              'DWARF debug sections were removed: binaryen.js does not keep them up to date (keep them with keepDwarf)',
            ]
          : [],
    },
  };
}
