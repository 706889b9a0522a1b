/**
 * @fileoverview neutralise-initializer (transform): removes an allocator initialiser that the
 * optimizer inlined into the module's constructor. emmalloc at -O2/-Oz inlines
 * `initialize_emmalloc_heap` into `__wasm_call_ctors`:
 *
 *   (loop (i32.store (1076 + i*16) …) (i32.store (1080 + i*16) …) …)   ;; bucket sentinels
 *   (drop (call $claim_more_memory (i32.const 48)))                     ;; sbrk the first region
 *
 * After the rewrite the stores go to dead state (nothing reads the old allocator's static data:
 * a reader would be residue, which check-hazards refuses), and the call would claim memory the host
 * owns. A top-level statement of a constructor is removed when ALL it does is that: memory accesses
 * whose static base lies in the old allocator's state, calls (results unused outside the
 * statement) to functions that themselves touch that state and are not family members, and local
 * arithmetic and control flow that stays inside the statement. Anything else keeps the statement,
 * and the residue check then refuses the module as before.
 *
 * Constructors: the start function, the functions exported as `_initialize` or
 * `__wasm_call_ctors`, the function named `__wasm_call_ctors`, and the function `_initialize` only
 * forwards to.
 */

import type { Binaryen, BinaryenModule, ExpressionRef } from '../../binaryen/module.js';
import { functionExports } from '../../binaryen/queries.js';
import type { FunctionSummary } from '../../binaryen/walk.js';
import { walk } from '../../binaryen/walk.js';
import { type Region, touchesRegions } from './allocator-state.js';

/** Bytes around a state region that still count as its neighbouring fields (an array of structs). */
const NEAR = 16;

/** Constructor functions of the module (see the file comment). */
function constructors(
  b: Binaryen,
  mod: BinaryenModule,
  summaries: Map<string, FunctionSummary>,
  forwardedCallee: (func: string) => string | null,
): Set<string> {
  const out = new Set<string>();
  const exports = functionExports(b, mod);
  const start = mod.getStart();
  if (start) out.add(b.getFunctionInfo(start).name);
  for (const e of ['_initialize', '__wasm_call_ctors']) {
    const f = exports.get(e);
    if (f) out.add(f);
  }
  if (summaries.has('__wasm_call_ctors')) out.add('__wasm_call_ctors');
  // wasi-libc's `_initialize` only calls `__wasm_call_ctors` (stripped: by index).
  const init = exports.get('_initialize');
  const inner = init ? forwardedCallee(init) : null;
  if (inner) out.add(inner);
  return out;
}

/**
 * Removes inlined allocator initialisation from constructors; returns the functions changed.
 * `members` are the family (calls to them are real allocations and keep a statement).
 */
export function neutraliseInitializers(
  b: Binaryen,
  mod: BinaryenModule,
  summaries: Map<string, FunctionSummary>,
  regions: Region[],
  members: Set<string>,
  forwardedCallee: (func: string) => string | null,
): string[] {
  if (regions.length === 0) return [];
  const inRegion = (a: number, slack: number): boolean =>
    regions.some((r) => a >= r.start - slack && a < r.end + slack);
  const constOf = (e: ExpressionRef): number | undefined => {
    if (b.getExpressionId(e) !== b.ConstId) return undefined;
    return b.getExpressionType(e) === b.i32 ? b.Const.getValueI32(e) >>> 0 : undefined;
  };
  /** Static base of an address expression: C, C + X or X + C. */
  const baseOf = (ptr: ExpressionRef, offset: number): number | undefined => {
    const c = constOf(ptr);
    if (c !== undefined) return c + offset;
    if (b.getExpressionId(ptr) !== b.BinaryId || b.Binary.getOp(ptr) !== b.AddInt32) return undefined;
    const l = constOf(b.Binary.getLeft(ptr));
    const r = constOf(b.Binary.getRight(ptr));
    const k = l ?? r;
    return k === undefined ? undefined : k + offset;
  };
  const stateCallee = (f: string): boolean => {
    if (members.has(f)) return false;
    const s = summaries.get(f);
    return !!s && !s.imported && touchesRegions(s, regions);
  };
  const ALLOWED = new Set([
    b.BlockId,
    b.LoopId,
    b.IfId,
    b.BreakId,
    b.DropId,
    b.NopId,
    b.ConstId,
    b.LocalGetId,
    b.LocalSetId,
    b.BinaryId,
    b.UnaryId,
    b.SelectId,
  ]);

  /**
   * What `stmt` does to old allocator state: 'call' when it also calls into the old allocator,
   * 'exact' when its accesses all have their base in a state region, 'near' when some base is only
   * within NEAR bytes of one, null when it does anything else.
   */
  const classify = (stmt: ExpressionRef): 'call' | 'exact' | 'near' | null => {
    if (b.getExpressionType(stmt) !== b.none) return null;
    const labels = new Set<string>();
    const targets: string[] = [];
    let accesses = 0;
    let calls = 0;
    let near = false;
    let ok = true;
    const known = walk(b, stmt, (e, id) => {
      if (id === b.BlockId || id === b.LoopId) {
        const name = id === b.BlockId ? b.Block.getName(e) : b.Loop.getName(e);
        if (name) labels.add(name);
      } else if (id === b.BreakId) {
        targets.push(b.Break.getName(e));
      } else if (id === b.StoreId || id === b.LoadId) {
        const g = id === b.StoreId ? b.Store : b.Load;
        const base = baseOf(g.getPtr(e), g.getOffset(e));
        if (base === undefined || !inRegion(base, NEAR)) ok = false;
        else if (!inRegion(base, 0)) near = true;
        accesses++;
        return;
      } else if (id === b.CallId) {
        if (!stateCallee(b.Call.getTarget(e))) ok = false;
        calls++;
        return;
      }
      if (!ALLOWED.has(id)) ok = false;
    });
    if (!ok || !known || !targets.every((t) => labels.has(t)) || accesses + calls === 0) return null;
    return calls > 0 ? 'call' : near ? 'near' : 'exact';
  };

  const changed: string[] = [];
  for (const ctor of constructors(b, mod, summaries, forwardedCallee)) {
    const f = mod.getFunction(ctor);
    if (!f || members.has(ctor)) continue;
    const fi = b.getFunctionInfo(f);
    if (fi.module !== '' || !fi.body) continue;
    const body = fi.body;
    const statements =
      b.getExpressionId(body) === b.BlockId
        ? Array.from({ length: b.Block.getNumChildren(body) }, (_, i) => i)
        : [-1];
    const at = (i: number): ExpressionRef => (i < 0 ? body : b.Block.getChildAt(body, i));
    const kinds = statements.map((i) => classify(at(i)));
    // Stores only near the state count when the same constructor calls into the old allocator:
    // then the inlined initialiser is evidently here.
    const called = kinds.includes('call');
    let removed = 0;
    for (const [k, i] of statements.entries()) {
      const kind = kinds[k];
      if (kind === null || (kind === 'near' && !called)) continue;
      if (i < 0) {
        b.Function.setBody(f, mod.nop());
      } else {
        b.Block.setChildAt(body, i, mod.nop());
      }
      removed++;
    }
    if (removed > 0) changed.push(ctor);
  }
  return changed;
}
