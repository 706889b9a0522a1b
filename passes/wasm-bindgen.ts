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
 * A wrapper that calls more than one candidate, or passes other arguments, identifies nothing.
 */

import type { Binaryen, BinaryenModule } from '../src/binaryen.js';
import type { AllocRole } from '../src/types.js';
import type { FunctionSummary } from '../src/walk.js';
import { type FoundMember, functionExports } from './find-allocator.js';

const WRAPPERS = ['__wbindgen_malloc', '__wbindgen_free', '__wbindgen_realloc'] as const;
type Wrapper = (typeof WRAPPERS)[number];

/** Signature (parameter count, has result) -> role, per wrapper; plus which wrapper params feed which callee params. */
const CALLEE_ROLES: Record<
  Wrapper,
  { params: number; result: boolean; role: AllocRole; args: (number | null)[] }[]
> = {
  // Wrapper params: (size, align?) — argument 0 must be the size; the align may be computed.
  __wbindgen_malloc: [
    { params: 2, result: true, role: 'rust_alloc', args: [0, null] },
    { params: 1, result: true, role: 'malloc', args: [0] },
  ],
  // Wrapper params: (ptr, size, align?).
  __wbindgen_free: [
    { params: 3, result: false, role: 'rust_dealloc', args: [0, 1, null] },
    { params: 1, result: false, role: 'free', args: [0] },
  ],
  // Wrapper params: (ptr, old, new, align?).
  __wbindgen_realloc: [
    { params: 4, result: true, role: 'rust_realloc', args: [0, 1, null, 2] },
    { params: 2, result: true, role: 'realloc', args: [0, 2] },
  ],
};

/** Members found behind wasm-bindgen's allocation exports (or same-named functions). */
export function wasmBindgenMembers(
  b: Binaryen,
  mod: BinaryenModule,
  summaries: Map<string, FunctionSummary>,
  known: Set<string>,
  indexOf: (func: string) => number,
): FoundMember[] {
  const exports = functionExports(b, mod);
  const out: FoundMember[] = [];
  for (const w of WRAPPERS) {
    const wrapper = exports.get(w) ?? (summaries.has(w) ? w : undefined);
    const s = wrapper === undefined ? undefined : summaries.get(wrapper);
    if (!s || s.imported || s.callIndirect) continue;
    const matches: { func: string; role: AllocRole }[] = [];
    for (const callee of s.calls) {
      const fi = b.getFunctionInfo(mod.getFunction(callee));
      if (fi.module !== '') continue;
      const nParams = b.expandType(fi.params).length;
      const hasResult = b.expandType(fi.results).length === 1;
      const spec = CALLEE_ROLES[w].find((c) => c.params === nParams && c.result === hasResult);
      if (!spec) continue;
      // Every call passes the wrapper's own parameters where the role needs them.
      const calls = s.callArgs.get(callee) ?? [];
      const ok =
        calls.length > 0 &&
        calls.every((args) => spec.args.every((want, i) => want === null || args[i] === want));
      if (ok) matches.push({ func: callee, role: spec.role });
    }
    if (matches.length !== 1) continue;
    const { func, role } = matches[0]!;
    if (known.has(func)) continue;
    known.add(func);
    out.push({
      role,
      func,
      index: indexOf(func),
      exports: [],
      identifiedBy: 'analysis',
      imported: false,
      skip: 0,
      stateParam: false,
    });
  }
  return out;
}
