/**
 * @fileoverview rebuild-aligned-new (transform): rebuilds C++'s aligned `operator new` from its
 * specification when the optimizer inlined the allocator into it.
 *
 * libc++'s `operator new(size_t, align_val_t)` calls aligned_alloc, which calls memalign. With emcc
 * -O2 binaryen's inliner copies aligned_alloc, dlmemalign and internal_memalign (each with one call
 * site) into it: the function then splits dlmalloc chunks and reads their headers itself, and is
 * refused (HA024 for the header reads, HA011 for the residue). Its contract is the C++ standard's,
 * so its body is replaced by the specification on the host's aligned allocation:
 *
 *   Before:  (func $operator new(unsigned long, std::align_val_t) (param i32 i32) (result i32)
 *              …internal_memalign: chunk splitting, dispose_chunk, reads of p-4…)
 *   After:   (func $operator new(unsigned long, std::align_val_t) (param i32 i32) (result i32)
 *              (local.set $p (call $hostalloc$aligned_new            ;; env.host_aligned_alloc
 *                (select (P) (align) (align < P)) (select (1) (size) (size == 0))))
 *              (if (i32.eqz (local.get $p)) (unreachable))            ;; the nothrow forms return 0
 *              (local.get $p))
 *
 * Functions (exactly these names, demangled as emcc --profiling-funcs writes them or mangled as
 * clang keeps them; wasm32 and wasm64 size_t is unsigned long):
 *   operator new(unsigned long, std::align_val_t)        _ZnwmSt11align_val_t        (size, align)
 *   operator new[](unsigned long, std::align_val_t)      _ZnamSt11align_val_t        (size, align)
 *   … , std::nothrow_t const&) nothrow forms             _Zn[wa]mSt11align_val_tRKSt9nothrow_t
 * with that signature in the memory's pointer type, and only when the function (or code it alone
 * reaches) touches the old allocator's state: one that calls aligned_alloc needs nothing.
 *
 * Where the specification leaves room: size 0 asks for 1 byte, an alignment below the pointer size
 * is raised to it (both as libc++ does). On failure the throwing forms trap where libc++ would call
 * the new_handler and then throw std::bad_alloc (or abort, built with -fno-exceptions): a program
 * that recovers from running out of memory through a new_handler or a catch is not served. A
 * stripped module has no names, so its operator new is not rebuilt and stays refused.
 */

import type { Binaryen, BinaryenModule, ExpressionRef, TypeRef } from '../../binaryen/module.js';
import type { FunctionSummary } from '../../binaryen/walk.js';
import type { Region } from './allocator-state.js';
import { runsAllocatorCode } from './rebuild-libc-helpers.js';

/** The functions, by name, and whether they return 0 (nothrow) rather than trap on failure. */
export const ALIGNED_NEW: Record<string, { nothrow: boolean }> = {
  'operator new(unsigned long, std::align_val_t)': { nothrow: false },
  'operator new[](unsigned long, std::align_val_t)': { nothrow: false },
  'operator new(unsigned long, std::align_val_t, std::nothrow_t const&)': { nothrow: true },
  'operator new[](unsigned long, std::align_val_t, std::nothrow_t const&)': { nothrow: true },
  _ZnwmSt11align_val_t: { nothrow: false },
  _ZnamSt11align_val_t: { nothrow: false },
  _ZnwmSt11align_val_tRKSt9nothrow_t: { nothrow: true },
  _ZnamSt11align_val_tRKSt9nothrow_t: { nothrow: true },
};

/** Internal name of the import the rebuilt functions call (merged with an identical one on strip). */
export const ALIGNED_NEW_IMPORT = 'hostalloc$aligned_new';

export interface AlignedNewInput {
  summaries: Map<string, FunctionSummary>;
  /** Static memory the old allocator reads (allocator-state). */
  regions: Region[];
  /** Family members: calls to them are real allocations, not inlined allocator code. */
  family: Set<string>;
  importModule: string;
  memory64: boolean;
}

export interface RebuiltAlignedNew {
  /** binaryen's name of the function. */
  func: string;
  nothrow: boolean;
  /** Expressions in the old body, for the report. */
  oldSize: number;
}

/** Rebuilds each aligned operator new that runs the old allocator's code; returns what it rebuilt. */
export function rebuildAlignedNew(
  b: Binaryen,
  mod: BinaryenModule,
  input: AlignedNewInput,
): RebuiltAlignedNew[] {
  const P = input.memory64 ? b.i64 : b.i32;
  const out: RebuiltAlignedNew[] = [];
  for (const [name, { nothrow }] of Object.entries(ALIGNED_NEW)) {
    const s = input.summaries.get(name);
    if (!s || s.imported || input.family.has(name)) continue;
    const info = b.getFunctionInfo(mod.getFunction(name));
    const params = b.expandType(info.params);
    if (params.length !== (nothrow ? 3 : 2) || params.some((t) => t !== P) || info.results !== P) continue;
    if (!runsAllocatorCode(name, input)) continue;
    if (out.length === 0) {
      mod.addFunctionImport(
        ALIGNED_NEW_IMPORT,
        input.importModule,
        'host_aligned_alloc',
        b.createType([P, P]),
        P,
      );
    }
    mod.removeFunction(name);
    mod.addFunction(name, info.params, P, [P], body(mod, P, input.memory64, params.length, nothrow));
    out.push({ func: name, nothrow, oldSize: s.size });
  }
  return out;
}

interface PtrOps {
  eqz(a: ExpressionRef): ExpressionRef;
  lt_u(a: ExpressionRef, b: ExpressionRef): ExpressionRef;
}

/** Locals: size $0, align $1 (, nothrow tag $2), then the result $p. */
function body(
  mod: BinaryenModule,
  P: TypeRef,
  is64: boolean,
  nParams: number,
  nothrow: boolean,
): ExpressionRef {
  const ops = (is64 ? mod.i64 : mod.i32) as unknown as PtrOps;
  const k = (v: number): ExpressionRef => (is64 ? mod.i64.const(BigInt(v)) : mod.i32.const(v));
  const raw = mod as unknown as { unreachable(): ExpressionRef };
  const SIZE = 0;
  const ALIGN = 1;
  const RESULT = nParams;
  const get = (i: number): ExpressionRef => mod.local.get(i, P);
  const pointerBytes = is64 ? 8 : 4;
  const align = mod.select(ops.lt_u(get(ALIGN), k(pointerBytes)), k(pointerBytes), get(ALIGN), P);
  const size = mod.select(ops.eqz(get(SIZE)), k(1), get(SIZE), P);
  const isNull = is64 ? mod.i64.eqz(get(RESULT)) : mod.i32.eqz(get(RESULT));
  return mod.block(
    null,
    [
      mod.local.set(RESULT, mod.call(ALIGNED_NEW_IMPORT, [align, size], P)),
      ...(nothrow ? [] : [mod.if(isNull, raw.unreachable())]),
      get(RESULT),
    ],
    P,
  );
}
