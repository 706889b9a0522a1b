/**
 * @fileoverview Toolchain conventions, one lookup each: which names an allocator-family member goes
 * by (per toolchain), which signature each role must have, which host import serves it, and the
 * markers of runtimes we refuse. Lookups return undefined rather than guess.
 */

import type { AllocRole } from './types.js';

/** Value types as the wasm binary spells them. */
export type PointerType = 'i32' | 'i64';

/** Canonical host imports (names in the import module, 'env' by default). */
export type HostImport =
  | 'host_malloc'
  | 'host_free'
  | 'host_calloc'
  | 'host_realloc'
  | 'host_aligned_alloc'
  | 'host_usable_size';

export const HOST_IMPORTS: readonly HostImport[] = [
  'host_malloc',
  'host_free',
  'host_calloc',
  'host_realloc',
  'host_aligned_alloc',
  'host_usable_size',
];

/** Signature of a host import; `P` stands for the pointer/size type (i32, or i64 for memory64). */
export const HOST_IMPORT_SIGNATURES: Record<HostImport, { params: 'P'[]; results: 'P'[] }> = {
  host_malloc: { params: ['P'], results: ['P'] },
  host_free: { params: ['P'], results: [] },
  host_calloc: { params: ['P', 'P'], results: ['P'] },
  host_realloc: { params: ['P', 'P'], results: ['P'] },
  host_aligned_alloc: { params: ['P', 'P'], results: ['P'] },
  host_usable_size: { params: ['P'], results: ['P'] },
};

/** The signature a role's function must have; 'P' is the pointer type, 'i32' stays i32 (errno). */
export const ROLE_SIGNATURES: Record<AllocRole, { params: ('P' | 'i32')[]; results: ('P' | 'i32')[] }> = {
  malloc: { params: ['P'], results: ['P'] },
  free: { params: ['P'], results: [] },
  calloc: { params: ['P', 'P'], results: ['P'] },
  realloc: { params: ['P', 'P'], results: ['P'] },
  aligned_alloc: { params: ['P', 'P'], results: ['P'] },
  memalign: { params: ['P', 'P'], results: ['P'] },
  posix_memalign: { params: ['P', 'P', 'P'], results: ['i32'] },
  malloc_usable_size: { params: ['P'], results: ['P'] },
  rust_alloc: { params: ['P', 'P'], results: ['P'] },
  rust_dealloc: { params: ['P', 'P', 'P'], results: [] },
  rust_realloc: { params: ['P', 'P', 'P', 'P'], results: ['P'] },
  rust_alloc_zeroed: { params: ['P', 'P'], results: ['P'] },
};

/** Roles replaced by a plain import of the same signature. The others get adapters. */
export const DIRECT_IMPORT: Partial<Record<AllocRole, HostImport>> = {
  malloc: 'host_malloc',
  free: 'host_free',
  calloc: 'host_calloc',
  realloc: 'host_realloc',
  aligned_alloc: 'host_aligned_alloc',
  memalign: 'host_aligned_alloc',
  malloc_usable_size: 'host_usable_size',
};

/** All roles, in report order. */
export const ALLOC_ROLES: readonly AllocRole[] = [
  'malloc',
  'free',
  'calloc',
  'realloc',
  'aligned_alloc',
  'memalign',
  'posix_memalign',
  'malloc_usable_size',
  'rust_alloc',
  'rust_dealloc',
  'rust_realloc',
  'rust_alloc_zeroed',
];

/**
 * Export names and symbol names per role: C library names, Emscripten's dlmalloc/emmalloc internals
 * and `emscripten_builtin_*` aliases, wasi-libc's dlmalloc, glibc-style `__libc_*`.
 * Export names may carry Emscripten's leading underscore in glue (`_malloc`); that is handled by the
 * glue reader, not here.
 */
const C_NAMES: Record<Exclude<AllocRole, `rust_${string}`>, string[]> = {
  malloc: ['malloc', 'dlmalloc', 'emscripten_builtin_malloc', 'emmalloc_malloc', '__libc_malloc'],
  free: ['free', 'dlfree', 'emscripten_builtin_free', 'emmalloc_free', '__libc_free'],
  calloc: ['calloc', 'dlcalloc', 'emscripten_builtin_calloc', 'emmalloc_calloc', '__libc_calloc'],
  realloc: ['realloc', 'dlrealloc', 'emscripten_builtin_realloc', 'emmalloc_realloc', '__libc_realloc'],
  aligned_alloc: ['aligned_alloc', 'emmalloc_aligned_alloc'],
  memalign: ['memalign', 'dlmemalign', 'emscripten_builtin_memalign', 'emmalloc_memalign', '__libc_memalign'],
  posix_memalign: ['posix_memalign', 'dlposix_memalign', 'emmalloc_posix_memalign'],
  malloc_usable_size: ['malloc_usable_size', 'dlmalloc_usable_size', 'emmalloc_usable_size'],
};

/**
 * Rust's allocator shims: `__rust_*` (what code calls), `__rdl_*` (the default System allocator)
 * and `__rg_*` (a #[global_allocator]), all with the same signatures; unmangled (rustc up to ~1.70),
 * as the mangled or demangled `__rustc::` forms of newer rustc, or demangled by a tool.
 */
const RUST_SHIMS: Record<`rust_${string}` & AllocRole, string[]> = {
  rust_alloc: ['__rust_alloc', '__rdl_alloc', '__rg_alloc'],
  rust_dealloc: ['__rust_dealloc', '__rdl_dealloc', '__rg_dealloc'],
  rust_realloc: ['__rust_realloc', '__rdl_realloc', '__rg_realloc'],
  rust_alloc_zeroed: ['__rust_alloc_zeroed', '__rdl_alloc_zeroed', '__rg_alloc_zeroed'],
};

/** The role a function or export name denotes, or undefined. */
export function roleOfName(name: string): AllocRole | undefined {
  const exact = EXACT_ROLE.get(name);
  if (exact !== undefined) return exact;
  for (const [role, shim, suffix, v0, v0Underscore] of RUST_SHIM_FORMS) {
    // v0 mangling of `__rustc::__rust_alloc`: …12___rust_alloc (length-prefixed, no hash), or the
    // demangled form when a tool rewrote the name section.
    if (name.endsWith(suffix)) return role;
    // v0 separates an identifier starting with `_` from its length by one more `_`.
    if (name.startsWith('_R') && (name.endsWith(v0Underscore) || name.endsWith(v0))) return role;
    if (name === shim) return role;
  }
  return undefined;
}

/**
 * roleOfName runs for every function name of a module: its tables are built once. C names and
 * exact Rust shim names first (the C names win, as they were searched first), then each shim's
 * suffix forms.
 */
const EXACT_ROLE: ReadonlyMap<string, AllocRole> = (() => {
  const m = new Map<string, AllocRole>();
  for (const [role, names] of Object.entries(C_NAMES))
    for (const n of names) if (!m.has(n)) m.set(n, role as AllocRole);
  for (const [role, shims] of Object.entries(RUST_SHIMS))
    for (const shim of shims) if (!m.has(shim)) m.set(shim, role as AllocRole);
  return m;
})();
const RUST_SHIM_FORMS: readonly (readonly [AllocRole, string, string, string, string])[] = Object.entries(
  RUST_SHIMS,
).flatMap(([role, shims]) =>
  shims.map(
    (shim) =>
      [role as AllocRole, shim, `::${shim}`, `${shim.length}${shim}`, `${shim.length}_${shim}`] as const,
  ),
);

/**
 * Allocator internals that take the allocator's state as a leading parameter and are called from
 * user code once the optimizer inlines the public wrapper: dlmalloc's `internal_memalign(m, align,
 * size)` (what memalign/aligned_alloc inline to), and the methods of Rust's `dlmalloc::Dlmalloc<A>`
 * (`malloc(&mut self, size)`, …), which LTO calls directly. They are replaced by adapters that drop
 * the state parameter.
 */
export function internalRoleOfName(name: string): AllocRole | undefined {
  if (name === 'internal_memalign') return 'memalign';
  // Legacy mangling (`_ZN8dlmalloc8dlmalloc17Dlmalloc$LT$A$GT$6malloc17h…E`), and its demangled
  // spelling as wasm-bindgen and wasm-opt --profiling builds keep it
  // (`dlmalloc::dlmalloc::Dlmalloc<A>::malloc::h…`, with or without the hash).
  const m =
    /Dlmalloc\$LT\$A\$GT\$\d+(malloc|free|memalign|realloc)17h[0-9a-f]{16}E/.exec(name) ??
    /^dlmalloc::dlmalloc::Dlmalloc<A>::(malloc|free|memalign|realloc)(::h[0-9a-f]{16})?$/.exec(name);
  return m ? (m[1] as AllocRole) : undefined;
}

/** True for a name that identifies an allocator-family member by itself. */
export function isAllocatorName(name: string): boolean {
  return roleOfName(name) !== undefined || internalRoleOfName(name) !== undefined;
}

/**
 * Allocator initialisers that run as constructors (emmalloc's `initialize_emmalloc_heap` claims the
 * first region with sbrk): after the rewrite they would set up a heap nobody uses and may grow memory,
 * so their bodies are emptied.
 */
export const ALLOCATOR_INITIALIZERS: readonly string[] = ['initialize_emmalloc_heap'];

/** True for a role name given by the user (`--alloc ROLE=NAME`). */
export function isAllocRole(s: string): s is AllocRole {
  return (ALLOC_ROLES as readonly string[]).includes(s);
}

/**
 * Markers of runtimes whose allocator is a garbage collector: converting them would break the
 * collector's invariants (it scans its own heap), so they are refused.
 */
export function gcRuntimeMarker(
  exports: string[],
  functionNames: string[],
  importModules: string[],
  assemblyScriptData = false,
): string | undefined {
  const ex = new Set(exports);
  if (ex.has('__collect') || (ex.has('__pin') && ex.has('__unpin')) || ex.has('__rtti_base')) {
    return 'AssemblyScript runtime with a garbage collector (exports __collect/__pin/__rtti_base)';
  }
  // AssemblyScript without exported runtime helpers: its runtime's functions are named
  // `~lib/rt/itcms/__new`, `~lib/rt/tlsf/__alloc`, `~lib/rt/stub/__alloc`…, and stripped, its data
  // still holds the runtime's file names as UTF-16 strings.
  if (assemblyScriptData || functionNames.some((n) => n.startsWith('~lib/rt/'))) {
    return 'AssemblyScript runtime (~lib/rt/ in its function names or data: a managed heap whose objects carry runtime headers)';
  }
  // Go's gc toolchain (runtime.mallocgc; GOOS=js imports from `go` up to Go 1.20, `gojs` since) and
  // TinyGo (runtime.alloc; `gojs` or `env` imports).
  if (functionNames.some((n) => n === 'runtime.mallocgc' || n === 'runtime.gcStart')) {
    return 'Go runtime with a garbage collector (runtime.mallocgc)';
  }
  if (functionNames.some((n) => n === 'runtime.alloc' || n === 'runtime.GC')) {
    return 'TinyGo runtime with a garbage collector (runtime.alloc)';
  }
  if (importModules.includes('go')) return 'Go runtime with a garbage collector (imports from module `go`)';
  if (importModules.includes('gojs')) {
    return 'Go or TinyGo runtime with a garbage collector (imports from module `gojs`)';
  }
  if (functionNames.includes('GC_malloc') || functionNames.includes('GC_init')) {
    return 'Boehm-style garbage collector (GC_malloc)';
  }
  return undefined;
}

/** Names of the layout globals we export. */
export const HEAP_BASE_EXPORT = '__heap_base';
export const DATA_END_EXPORT = '__data_end';
export const ABI_EXPORT = '__hostalloc_abi';
/** ABI 2: the exported growth function (one memory.grow), see docs/abi.md. */
export const GROW_EXPORT = '__hostalloc_grow';
/** ABI 2: the exported alignment the module's code assumes for malloc results (8 or 16). */
export const ALIGN_EXPORT = '__hostalloc_align';
/** ABI 2: the custom section holding the module's HostallocMeta as JSON. */
export const META_SECTION = 'hostalloc';

/**
 * True when the module was built by Emscripten, whose dlmalloc and emmalloc align blocks to 8
 * (MALLOC_ALIGNMENT 8 since Emscripten 2.0.26): the emcc runtime's exports (`stackSave`,
 * `stackRestore`, `stackAlloc`, `emscripten_stack_*`), imports or function names starting with
 * `emscripten_`, or Emscripten glue given with the module. Minified glue builds without their glue
 * are not recognised: callers then assume 16, which is always safe.
 */
export function isEmscripten(input: {
  exports: string[];
  imports: string[];
  functionNames: string[];
  glue: boolean;
}): boolean {
  if (input.glue) return true;
  const runtime = ['stackSave', 'stackRestore', 'stackAlloc', '_emscripten_stack_restore'];
  const emscriptenName = (n: string): boolean => n.startsWith('emscripten_') || n.startsWith('_emscripten_');
  return (
    input.exports.some((e) => runtime.includes(e) || emscriptenName(e)) ||
    input.imports.some(emscriptenName) ||
    input.functionNames.some((n) => emscriptenName(n) || n.startsWith('emmalloc_'))
  );
}
