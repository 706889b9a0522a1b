/**
 * @fileoverview identify-by-analysis (analysis): finds family members that neither names, exports,
 * glue nor fingerprints identified, from what they call. It runs once malloc, free, realloc and
 * memalign are known, and only accepts shapes no user function plausibly has:
 *
 *   (size, align) -> ptr     calls malloc(param 0) AND memalign, zeroes     => __rust_alloc_zeroed
 *   (size, align) -> ptr     calls malloc(param 0) AND memalign             => __rust_alloc
 *   (align, size) -> ptr     calls malloc(param 1) AND memalign             => aligned_alloc (C order)
 *   (ptr, size, align) -> () calls free and nothing that allocates          => __rust_dealloc
 *   (ptr, old, align, new)   calls realloc AND memalign/malloc AND free      => __rust_realloc
 *   (ptr, size) -> ptr       calls malloc AND free(ptr) AND copies, and touches
 *                            the allocator's static state                    => realloc (dlrealloc left
 *                            internal by an optimizer, reached through a table: SQLite's mem methods)
 *   (align, size) -> ptr     calls malloc, touches the allocator's state, but
 *                            neither frees, copies nor zeroes                => memalign (dlmemalign with
 *                            internal_memalign inlined)
 *
 * (Rust's `__rdl_*` shims pick malloc or memalign by alignment; a stripped module hides their
 * names, and the one left behind reads chunk headers through helpers such as Chunk::mmapped.)
 * "Zeroes" means memory.fill, or a call to a function shaped like memset (ptr, i32, size) -> ptr.
 * Iterates to a fixpoint so wrappers of identified members are found too.
 */

import type { Binaryen, BinaryenModule, TypeRef } from '../../binaryen/module.js';
import { type FunctionSummary, headerProbes } from '../../binaryen/walk.js';
import type { AllocRole } from '../../types.js';

export interface AnalysisMatch {
  func: string;
  role: AllocRole;
  /** Why, for the report: the evidence. */
  why: string;
}

/**
 * True for a function shaped like memset: (ptr, i32, size) -> ptr, or -> nothing when the optimizer
 * dropped the result no caller used (binaryen's dead-argument elimination also prunes results).
 */
export function isMemsetShaped(b: Binaryen, mod: BinaryenModule, func: string, memory64: boolean): boolean {
  const f = mod.getFunction(func);
  if (!f) return false;
  const fi = b.getFunctionInfo(f);
  const P = memory64 ? b.i64 : b.i32;
  const params = b.expandType(fi.params);
  const results = b.expandType(fi.results);
  return (
    params.length === 3 &&
    params[0] === P &&
    params[1] === b.i32 &&
    params[2] === P &&
    (results.length === 0 || (results.length === 1 && results[0] === P))
  );
}

/** The parameter every call to a malloc member passes as the size, or null when it varies or is computed. */
function mallocSizeParam(s: FunctionSummary, roles: Map<string, AllocRole>): number | null {
  let param: number | null | undefined;
  for (const [target, calls] of s.callArgs) {
    const role = roles.get(target);
    if (role !== 'malloc' && role !== 'rust_alloc') continue;
    for (const args of calls) {
      const a = args[args.length - (role === 'malloc' ? 1 : 2)] ?? null;
      if (param === undefined) param = a;
      else if (param !== a) return null;
    }
  }
  return param ?? null;
}

/** True when every call to a free member passes parameter 0 as the pointer. */
function freesParam0(s: FunctionSummary, roles: Map<string, AllocRole>): boolean {
  for (const [target, calls] of s.callArgs) {
    const role = roles.get(target);
    if (role !== 'free' && role !== 'rust_dealloc') continue;
    for (const args of calls) {
      const ptr = role === 'free' ? args[args.length - 1] : args[0];
      if (ptr !== 0) return false;
    }
  }
  return true;
}

/** Expressions in a Rust dealloc shim (a call to free, maybe a size check): user drop code is bigger. */
const SHIM_MAX_SIZE = 40;

export function identifyByAnalysis(
  b: Binaryen,
  mod: BinaryenModule,
  summaries: Map<string, FunctionSummary>,
  known: Map<string, AllocRole>,
  memory64: boolean,
  /** Whether a function reads or writes the allocator's static state (from the members known so far). */
  touchesState: (func: string) => boolean,
  /**
   * Functions exported under a real (not minified) name: the user's API. An allocator exported by
   * name is found by that name, so analysis never takes one of these for a member (an exported
   * `fill(n, mix)` calling malloc has memalign's shape).
   */
  userExports: Set<string> = new Set(),
  /**
   * Whether every static write of a function goes to memory the allocator owns (its state, or an
   * address the known members' own code writes, such as errno). A function replaced whole must
   * not do anything else: a wrapper that counts bytes in a static of its own is not realloc.
   */
  writesOnlyAllocatorMemory: (func: string) => boolean = () => true,
): AnalysisMatch[] {
  const P = memory64 ? b.i64 : b.i32;
  // Signatures do not change during the analysis: each is asked of binaryen once.
  const sigs = new Map<string, { params: TypeRef[]; results: TypeRef[] }>();
  const sig = (f: string): { params: TypeRef[]; results: TypeRef[] } => {
    let s = sigs.get(f);
    if (!s) {
      const fi = b.getFunctionInfo(mod.getFunction(f));
      s = { params: b.expandType(fi.params), results: b.expandType(fi.results) };
      sigs.set(f, s);
    }
    return s;
  };
  const is = (s: { params: TypeRef[]; results: TypeRef[] }, params: TypeRef[], results: TypeRef[]): boolean =>
    s.params.length === params.length &&
    s.params.every((t, i) => t === params[i]) &&
    s.results.length === results.length &&
    s.results.every((t, i) => t === results[i]);
  // memset and memcpy return their destination; a module where no caller used it may have lost it.
  const memsetShaped = (f: string): boolean =>
    summaries.has(f) && (is(sig(f), [P, b.i32, P], [P]) || is(sig(f), [P, b.i32, P], []));
  const memcpyShaped = (f: string): boolean =>
    summaries.has(f) && (is(sig(f), [P, P, P], [P]) || is(sig(f), [P, P, P], []));
  // Every rule below wants one of these signatures: other functions are never members.
  const candidate = (f: string): boolean => {
    const t = sig(f);
    return is(t, [P, P], [P]) || is(t, [P, P, P], []) || is(t, [P, P, P, P], [P]);
  };
  // The word below a block is its chunk header: only allocator code reads it (realloc, to find the
  // old size, when the copy is inlined as a loop rather than a call to memcpy).
  const readsHeader = (f: string): boolean =>
    headerProbes(b, mod, f).some((p) => p.delta === -(memory64 ? 8 : 4));
  const roles = new Map(known);
  const found: AnalysisMatch[] = [];
  const calls = (s: FunctionSummary, ...want: AllocRole[]): boolean =>
    [...s.calls].some((c) => want.includes(roles.get(c) as AllocRole));
  // (ptr, size, align) -> () calling free has the shape of many C helpers too (zstd's
  // ZSTD_customFree(ptr, customMem)): Rust's dealloc/realloc shims are only looked for once a Rust
  // alloc shim is known.
  const rustShims = (): boolean =>
    [...roles.values()].some((r) => r === 'rust_alloc' || r === 'rust_alloc_zeroed');
  // A user function that uses the allocator (a buffer grower calling malloc and an unidentified
  // realloc, a drop routine calling free) has the signature and calls of a member too. Members do
  // not call allocator-shaped functions outside the family, and shims call nothing but the family.
  const callsForeignAllocator = (s: FunctionSummary): boolean =>
    [...s.calls].some((c) => !roles.has(c) && summaries.has(c) && is(sig(c), [P, P], [P]) && touchesState(c));
  const callsOnly = (s: FunctionSummary, ...want: AllocRole[]): boolean =>
    [...s.calls].every((c) => want.includes(roles.get(c) as AllocRole));
  // Every rule wants a call to a member (malloc, free or realloc): a function calling none is
  // skipped until one of its callees becomes a member.
  const callsMember = (s: FunctionSummary): boolean => {
    for (const c of s.calls) if (roles.has(c)) return true;
    return false;
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (const s of summaries.values()) {
      if (s.imported || roles.has(s.name) || userExports.has(s.name)) continue;
      if (!callsMember(s) || !candidate(s.name)) continue;
      const t = sig(s.name);
      const zeroes = s.memoryFill || [...s.calls].some(memsetShaped);
      const copies = s.memoryCopy || [...s.calls].some(memcpyShaped);
      const alloc = calls(s, 'malloc', 'rust_alloc');
      const aligned = calls(s, 'memalign', 'aligned_alloc');
      const frees = calls(s, 'free', 'rust_dealloc');
      let role: AllocRole | undefined;
      let why = '';
      // Which parameter is the size tells Rust's (size, align) from C's aligned_alloc(align, size).
      const sizeParam = mallocSizeParam(s, roles);
      if (is(t, [P, P], [P]) && alloc && aligned && !frees && sizeParam === 0) {
        role = zeroes ? 'rust_alloc_zeroed' : 'rust_alloc';
        why = `(size, align) -> ptr calling malloc(size) and memalign${zeroes ? ' and zeroing' : ''}`;
      } else if (is(t, [P, P], [P]) && alloc && aligned && !frees && !zeroes && sizeParam === 1) {
        role = 'aligned_alloc';
        why = '(align, size) -> ptr calling malloc(size) and memalign';
      } else if (
        rustShims() &&
        !s.callIndirect &&
        is(t, [P, P, P], []) &&
        frees &&
        callsOnly(s, 'free', 'rust_dealloc') &&
        s.size <= SHIM_MAX_SIZE &&
        freesParam0(s, roles) &&
        !alloc &&
        !aligned &&
        !calls(s, 'realloc', 'rust_realloc')
      ) {
        role = 'rust_dealloc';
        why =
          '(ptr, size, align) calling only free(ptr), a shim-sized body, in a module with Rust allocation shims';
      } else if (
        rustShims() &&
        !s.callIndirect &&
        is(t, [P, P, P, P], [P]) &&
        calls(s, 'realloc', 'rust_realloc') &&
        (aligned || alloc) &&
        frees
      ) {
        role = 'rust_realloc';
        why = '(ptr, old, align, new) -> ptr calling realloc, memalign and free';
      }
      if (
        !role &&
        is(t, [P, P], [P]) &&
        alloc &&
        frees &&
        freesParam0(s, roles) &&
        (copies || readsHeader(s.name)) &&
        !aligned &&
        !s.callIndirect &&
        touchesState(s.name) &&
        writesOnlyAllocatorMemory(s.name)
      ) {
        // free(param 0): a wrapper with realloc inlined (SQLite's sqlite3MemRealloc frees p - 8) is not realloc.
        role = 'realloc';
        why = copies
          ? '(ptr, size) -> ptr calling malloc, free and memcpy, touching the allocator state'
          : '(ptr, size) -> ptr calling malloc and free, reading the chunk header below its pointer, touching the allocator state';
      } else if (
        !role &&
        is(t, [P, P], [P]) &&
        alloc &&
        !frees &&
        !copies &&
        !zeroes &&
        !s.callIndirect &&
        !callsForeignAllocator(s) &&
        touchesState(s.name) &&
        writesOnlyAllocatorMemory(s.name)
      ) {
        role = 'memalign';
        why =
          '(align, size) -> ptr calling malloc without freeing, copying or zeroing, touching the allocator state, calling no allocator-shaped function outside the family';
      }
      if (role) {
        roles.set(s.name, role);
        found.push({ func: s.name, role, why });
        changed = true;
      }
    }
  }
  return found;
}
