/**
 * @fileoverview wasm-bindgen (analysis): every wasm-bindgen module exports `__wbindgen_malloc`,
 * `__wbindgen_free` and usually `__wbindgen_realloc`, which the JS glue uses to pass strings and
 * arrays. They are thin wrappers over Rust's global allocator, stripped or not:
 *
 *   __wbindgen_malloc(size[, align])         size == 0 ? align : __rust_alloc(size, align) or trap
 *   __wbindgen_free(ptr, size[, align])      size == 0 ? nothing : __rust_dealloc(ptr, size, align)
 *   __wbindgen_realloc(ptr, old, new[, al])  __rust_realloc(ptr, old, align, new) or trap
 *
 * The exports themselves keep their zero-size and failure handling (they are not replaced); the one
 * function each calls with the export's pointer or size argument is the allocator entry, and its
 * role follows from its signature once rustc's optimizer has dropped unused parameters:
 *
 *   callee of malloc   (size, align) -> ptr                 rust_alloc
 *                      (size) -> ptr                        malloc
 *   callee of free     (ptr, size, align)                   rust_dealloc
 *                      (ptr)                                free
 *   callee of realloc  (ptr, old, align, new) -> ptr        rust_realloc (arguments checked)
 *                      (ptr, new) -> ptr                    realloc (arguments checked)
 *
 * A wrapper that calls two candidates for one role, or passes other arguments, identifies nothing.
 *
 * A build without names exports them as `__wbindgen_export_N`; the glue says which is which
 * (src/glue.ts reads `passStringToWasm0(s, wasm.__wbindgen_export_1, wasm.__wbindgen_export_2)` as
 * malloc and realloc). Those exports are looked at the same way, once their signature is the
 * wrapper's: malloc (size[, align]) -> ptr, free (ptr, size[, align]), realloc (ptr, old, new[, align]) -> ptr.
 */

import type { Binaryen, BinaryenModule } from '../../binaryen/module.js';
import { functionExports } from '../../binaryen/queries.js';
import type { FunctionSummary } from '../../binaryen/walk.js';
import type { BindgenAllocExport } from '../../glue.js';
import type { AllocRole } from '../../types.js';
import { analysedMember, type FoundMember } from './find-allocator.js';

const WRAPPERS = ['__wbindgen_malloc', '__wbindgen_free', '__wbindgen_realloc'] as const;
type Wrapper = BindgenAllocExport;

/** Wrapper -> its i32 parameter counts (with and without the align) and whether it returns a pointer. */
const WRAPPER_SIGNATURES: Record<Wrapper, { params: number[]; result: boolean }> = {
  __wbindgen_malloc: { params: [1, 2], result: true },
  __wbindgen_free: { params: [2, 3], result: false },
  __wbindgen_realloc: { params: [3, 4], result: true },
};

/** Signature (parameter count, has result) -> role, per wrapper; plus which wrapper params feed which callee params. */
const CALLEE_ROLES: Record<
  Wrapper,
  { params: number; result: boolean; role: AllocRole; args: (number | null)[]; trailing?: number }[]
> = {
  // Wrapper params: (size, align?) — argument 0 must be the size; the align may be computed.
  // With __rdl_alloc inlined, the wrapper calls malloc(size) for small alignments and
  // memalign(align, size) for the others.
  __wbindgen_malloc: [
    { params: 2, result: true, role: 'rust_alloc', args: [0, null] },
    { params: 2, result: true, role: 'memalign', args: [1, 0] },
    { params: 1, result: true, role: 'malloc', args: [0] },
  ],
  // Wrapper params: (ptr, size, align?). A dealloc whose align the optimizer dropped keeps
  // (ptr, size): free, the size ignored.
  __wbindgen_free: [
    { params: 3, result: false, role: 'rust_dealloc', args: [0, 1, null] },
    { params: 2, result: false, role: 'free', args: [0, 1], trailing: 1 },
    { params: 1, result: false, role: 'free', args: [0] },
  ],
  // Wrapper params: (ptr, old, new, align?).
  __wbindgen_realloc: [
    { params: 4, result: true, role: 'rust_realloc', args: [0, 1, null, 2] },
    { params: 2, result: true, role: 'realloc', args: [0, 2] },
  ],
};

/**
 * Members found behind wasm-bindgen's allocation exports (or same-named functions), and behind the
 * exports `fromGlue` (read from wasm-bindgen glue: export name -> the wrapper it is) names.
 */
export function wasmBindgenMembers(
  b: Binaryen,
  mod: BinaryenModule,
  summaries: Map<string, FunctionSummary>,
  known: Set<string>,
  indexOf: (func: string) => number,
  fromGlue: ReadonlyMap<string, BindgenAllocExport> = new Map(),
): FoundMember[] {
  const exports = functionExports(b, mod);
  const wrappers: [Wrapper, string | undefined][] = WRAPPERS.map((w) => [
    w,
    exports.get(w) ?? (summaries.has(w) ? w : undefined),
  ]);
  for (const [name, w] of fromGlue) {
    const func = exports.get(name);
    if (func === undefined || wrappers.some(([, f]) => f === func)) continue;
    const fi = b.getFunctionInfo(mod.getFunction(func));
    const params = b.expandType(fi.params);
    const results = b.expandType(fi.results);
    const want = WRAPPER_SIGNATURES[w];
    if (
      want.params.includes(params.length) &&
      params.every((p) => p === b.i32) &&
      results.length === (want.result ? 1 : 0) &&
      results.every((r) => r === b.i32)
    )
      wrappers.push([w, func]);
  }
  const out: FoundMember[] = [];
  for (const [w, wrapper] of wrappers) {
    const s = wrapper === undefined ? undefined : summaries.get(wrapper);
    if (!s || s.imported || s.callIndirect) continue;
    const matches: { func: string; role: AllocRole; trailing: number }[] = [];
    for (const callee of s.calls) {
      const fi = b.getFunctionInfo(mod.getFunction(callee));
      if (fi.module !== '') continue;
      const nParams = b.expandType(fi.params).length;
      const hasResult = b.expandType(fi.results).length === 1;
      // Every call passes the wrapper's own parameters where the role needs them.
      const calls = s.callArgs.get(callee) ?? [];
      const spec = CALLEE_ROLES[w].find(
        (c) =>
          c.params === nParams &&
          c.result === hasResult &&
          calls.length > 0 &&
          calls.every((args) => c.args.every((want, i) => want === null || args[i] === want)),
      );
      if (spec) matches.push({ func: callee, role: spec.role, trailing: spec.trailing ?? 0 });
    }
    // One callee per role (malloc and memalign may both be called); two for one role is ambiguous.
    const roles = matches.map((m) => m.role);
    if (new Set(roles).size !== roles.length) continue;
    for (const { func, role, trailing } of matches) {
      if (known.has(func)) continue;
      known.add(func);
      out.push(analysedMember(role, func, indexOf(func), trailing ? { trailing } : {}));
    }
  }
  return out;
}

/**
 * Rust's `__rust_realloc(ptr, old_size, align, new_size)` with the allocator inlined, found by data
 * flow once the allocation members are known: among functions of that signature that touch the old
 * allocator's state, the one whose every call to an allocation member passes its own new size
 * (malloc(new), memalign(align, new), rust_alloc(new, align)) and whose every call to a free member
 * (or to what a free member forwards its pointer to) passes its own pointer. Exactly one candidate
 * or none.
 */
export function rustReallocByDataFlow(
  b: Binaryen,
  mod: BinaryenModule,
  summaries: Map<string, FunctionSummary>,
  members: FoundMember[],
  touchesState: (f: string) => boolean,
  indexOf: (func: string) => number,
): FoundMember[] {
  if (members.some((m) => m.role === 'rust_realloc' || m.role === 'realloc')) return [];
  const P = b.i32;
  const ALLOC_ARGS: Partial<Record<AllocRole, number[]>> = {
    malloc: [3],
    memalign: [2, 3],
    rust_alloc: [3, 2],
  };
  const allocs = new Map<string, number[]>();
  const frees = new Set<string>();
  for (const m of members) {
    const args = ALLOC_ARGS[m.role];
    if (args) allocs.set(m.func, args);
    if (m.role === 'free' || m.role === 'rust_dealloc') {
      frees.add(m.func);
      // dlmalloc-rs's dealloc checks the chunk, then calls its free with the pointer.
      const s = summaries.get(m.func);
      for (const c of s?.calls ?? []) {
        const calls = s!.callArgs.get(c) ?? [];
        const ci = b.getFunctionInfo(mod.getFunction(c));
        if (ci.module === '' && ci.params === P && ci.results === b.none && calls.every((a) => a[0] === 0))
          frees.add(c);
      }
    }
  }
  if (allocs.size === 0 || frees.size === 0) return [];
  const memberSet = new Set(members.map((m) => m.func));
  const sig4 = b.createType([P, P, P, P]);
  const found: string[] = [];
  for (const s of summaries.values()) {
    if (s.imported || memberSet.has(s.name) || s.callIndirect || !touchesState(s.name)) continue;
    const fi = b.getFunctionInfo(mod.getFunction(s.name));
    if (fi.params !== sig4 || fi.results !== P) continue;
    let alloc = false;
    let free = false;
    let ok = true;
    for (const c of s.calls) {
      const calls = s.callArgs.get(c) ?? [];
      const want = allocs.get(c);
      if (want) {
        alloc = true;
        ok &&= calls.every((a) => want.every((w, i) => a[i] === w));
      } else if (frees.has(c)) {
        free = true;
        ok &&= calls.every((a) => a[0] === 0);
      }
    }
    if (ok && alloc && free) found.push(s.name);
  }
  if (found.length !== 1) return [];
  const func = found[0]!;
  return [analysedMember('rust_realloc', func, indexOf(func))];
}
