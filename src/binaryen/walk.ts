/**
 * @fileoverview A small iterative walker over binaryen.js expressions, and the per-function summary
 * every analysis pass reads (direct calls, function references, constant-address memory accesses,
 * memory.grow, reads of the bytes just below a freshly allocated pointer).
 *
 * binaryen.js has no generic visitor, and getExpressionInfo is slow (it calls every getter of the
 * class) and throws on some ids. SHAPES names, per expression class, the getters of its children;
 * an id we do not know marks the function `opaque` (analyses then treat it conservatively).
 */

import { ErrorCodes, HostAllocError } from '../errors.js';
import type { Binaryen, BinaryenModule, ExpressionRef } from './module.js';
import { functionNames } from './queries.js';

/** One memory access at a constant address (pointer operand is i32.const/i64.const). */
export interface ConstAccess {
  address: number;
  bytes: number;
  kind: 'read' | 'write' | 'rmw';
}

/**
 * A load just below a pointer: `load (X - k)` or `load (X + -k)`, k in 1..16 after the static
 * offset. Whether it reads allocator metadata is decided by src/metadata-reads.ts on the raw pointer
 * flow, which numbers the same loads in the same (post-)order (LoadSite.probeIndex); this is where a
 * rewrite finds the expression.
 */
export interface NegativeProbe {
  /** The function it is in. */
  function: string;
  /** Effective offset from X (negative). */
  delta: number;
  /** The load expression, and its parent (to replace the load). */
  load: ExpressionRef;
  parent: ExpressionRef;
  /** Width of the load in bytes. */
  bytes: number;
}

export interface FunctionSummary {
  name: string;
  imported: boolean;
  /** Direct call targets (call and return_call). */
  calls: Set<string>;
  /** Per call target, each call's operands that are a plain `local.get` (the local index), else null. */
  callArgs: Map<string, (number | null)[][]>;
  /** Targets of ref.func, with the expressions (for retyping after a swap). */
  refFuncs: Map<string, ExpressionRef[]>;
  callIndirect: boolean;
  memoryGrow: boolean;
  /** Contains memory.fill / memory.copy. */
  memoryFill: boolean;
  memoryCopy: boolean;
  constAccesses: ConstAccess[];
  /** Base addresses of accesses of the form `load (i32.add (i32.const BASE) X)`. */
  indexedBases: number[];
  /** An expression id we cannot walk was found. */
  opaque: boolean;
  /** Number of expressions walked. */
  size: number;
  /**
   * Number of expressions the fingerprint's shape hash counts: all but blocks, nops and
   * unreachables (passes/fingerprint.ts hashes only functions whose count a known allocator has).
   */
  shapeSize: number;
}

/** How to reach (and replace) an expression class's children: plain getters, and a (count, at) list. */
type ChildSpec = {
  single: ((e: ExpressionRef) => ExpressionRef)[];
  setters: ((e: ExpressionRef, v: ExpressionRef) => void)[];
  list?: [(e: ExpressionRef) => number, (e: ExpressionRef, i: number) => ExpressionRef];
  setAt?: (e: ExpressionRef, i: number, v: ExpressionRef) => void;
};
type Accessor = (e: ExpressionRef, i?: number, v?: ExpressionRef) => unknown;

const LEAVES = [
  'LocalGetId',
  'GlobalGetId',
  'ConstId',
  'MemorySizeId',
  'NopId',
  'UnreachableId',
  'AtomicFenceId',
  'DataDropId',
  'PopId',
  'RefNullId',
  'RefFuncId',
  'TableSizeId',
  'RethrowId',
];
/** [expression class, single-child getters, list getter prefix] per id name. */
const SHAPES: [string, string, string[], string?][] = [
  ['BlockId', 'Block', [], 'Child'],
  ['IfId', 'If', ['getCondition', 'getIfTrue', 'getIfFalse']],
  ['LoopId', 'Loop', ['getBody']],
  ['BreakId', 'Break', ['getCondition', 'getValue']],
  ['SwitchId', 'Switch', ['getCondition', 'getValue']],
  ['CallId', 'Call', [], 'Operand'],
  ['CallIndirectId', 'CallIndirect', ['getTarget'], 'Operand'],
  ['LocalSetId', 'LocalSet', ['getValue']],
  ['GlobalSetId', 'GlobalSet', ['getValue']],
  ['LoadId', 'Load', ['getPtr']],
  ['StoreId', 'Store', ['getPtr', 'getValue']],
  ['UnaryId', 'Unary', ['getValue']],
  ['BinaryId', 'Binary', ['getLeft', 'getRight']],
  ['SelectId', 'Select', ['getIfTrue', 'getIfFalse', 'getCondition']],
  ['DropId', 'Drop', ['getValue']],
  ['ReturnId', 'Return', ['getValue']],
  ['MemoryGrowId', 'MemoryGrow', ['getDelta']],
  ['AtomicRMWId', 'AtomicRMW', ['getPtr', 'getValue']],
  ['AtomicCmpxchgId', 'AtomicCmpxchg', ['getPtr', 'getExpected', 'getReplacement']],
  ['AtomicWaitId', 'AtomicWait', ['getPtr', 'getExpected', 'getTimeout']],
  ['AtomicNotifyId', 'AtomicNotify', ['getPtr', 'getNotifyCount']],
  ['SIMDExtractId', 'SIMDExtract', ['getVec']],
  ['SIMDReplaceId', 'SIMDReplace', ['getVec', 'getValue']],
  ['SIMDShuffleId', 'SIMDShuffle', ['getLeft', 'getRight']],
  ['SIMDTernaryId', 'SIMDTernary', ['getA', 'getB', 'getC']],
  ['SIMDShiftId', 'SIMDShift', ['getVec', 'getShift']],
  ['SIMDLoadId', 'SIMDLoad', ['getPtr']],
  ['SIMDLoadStoreLaneId', 'SIMDLoadStoreLane', ['getPtr', 'getVec']],
  ['MemoryInitId', 'MemoryInit', ['getDest', 'getOffset', 'getSize']],
  ['MemoryCopyId', 'MemoryCopy', ['getDest', 'getSource', 'getSize']],
  ['MemoryFillId', 'MemoryFill', ['getDest', 'getValue', 'getSize']],
  ['RefIsNullId', 'RefIsNull', ['getValue']],
  ['RefEqId', 'RefEq', ['getLeft', 'getRight']],
  ['TableGetId', 'TableGet', ['getIndex']],
  ['TableSetId', 'TableSet', ['getIndex', 'getValue']],
  ['TableGrowId', 'TableGrow', ['getValue', 'getDelta']],
  ['TryId', 'Try', ['getBody'], 'CatchBody'],
  ['ThrowId', 'Throw', [], 'Operand'],
  ['TupleMakeId', 'TupleMake', [], 'Operand'],
  ['TupleExtractId', 'TupleExtract', ['getTuple']],
  ['RefI31Id', 'RefI31', ['getValue']],
  ['I31GetId', 'I31Get', ['getI31']],
  ['CallRefId', 'CallRef', ['getTarget'], 'Operand'],
  ['RefTestId', 'RefTest', ['getRef']],
  ['RefCastId', 'RefCast', ['getRef']],
  ['BrOnId', 'BrOn', ['getRef']],
  ['RefAsId', 'RefAs', ['getValue']],
];

/**
 * The child table of every expression class, read from binaryen.js by name: the one place binaryen
 * is reached around its typed wrapper (binaryen.js has no generic child API). A class or getter this
 * binaryen.js lacks is a wrong binaryen version, not a module to treat as opaque: it throws.
 */
function childSpecs(b: Binaryen): Map<number, ChildSpec> {
  const m = new Map<number, ChildSpec>();
  const ns = b as unknown as Record<string, unknown>;
  const missing: string[] = [];
  const fn = (g: Record<string, unknown>, cls: string, name: string): Accessor => {
    const f = g[name];
    if (typeof f !== 'function') missing.push(`${cls}.${name}`);
    return f as Accessor;
  };
  for (const leaf of LEAVES) {
    if (typeof ns[leaf] === 'number') m.set(ns[leaf] as number, { single: [], setters: [] });
    else missing.push(leaf);
  }
  for (const [idName, cls, singles, list] of SHAPES) {
    const id = ns[idName];
    const g = ns[cls] as Record<string, unknown> | undefined;
    if (typeof id !== 'number' || !g) {
      missing.push(typeof id !== 'number' ? idName : cls);
      continue;
    }
    const spec: ChildSpec = {
      single: singles.map((name) => fn(g, cls, name) as (e: ExpressionRef) => ExpressionRef),
      setters: singles.map(
        (name) => fn(g, cls, `set${name.slice(3)}`) as (e: ExpressionRef, v: ExpressionRef) => void,
      ),
    };
    if (list) {
      const plural = list === 'Child' ? 'Children' : list === 'CatchBody' ? 'CatchBodies' : `${list}s`;
      spec.list = [
        fn(g, cls, `getNum${plural}`) as (e: ExpressionRef) => number,
        fn(g, cls, `get${list}At`) as (e: ExpressionRef, i: number) => ExpressionRef,
      ];
      spec.setAt = fn(g, cls, `set${list}At`) as (e: ExpressionRef, i: number, v: ExpressionRef) => void;
    }
    m.set(id, spec);
  }
  if (missing.length > 0) {
    throw new HostAllocError(
      ErrorCodes.INTERNAL,
      `binaryen.js lacks ${missing.join(', ')}: wasm-hostalloc needs the binaryen version in its package.json`,
    );
  }
  return m;
}

const specCache = new WeakMap<object, Map<number, ChildSpec>>();

function specsFor(b: Binaryen): Map<number, ChildSpec> {
  let m = specCache.get(b);
  if (!m) {
    m = childSpecs(b);
    specCache.set(b, m);
  }
  return m;
}

/**
 * Replaces `old`, a direct child of `parent`, by `replacement` (through the parent class's setter
 * for the slot that holds it). Returns false when no slot of `parent` holds `old`.
 */
export function replaceChild(
  b: Binaryen,
  parent: ExpressionRef,
  old: ExpressionRef,
  replacement: ExpressionRef,
): boolean {
  const spec = specsFor(b).get(b.getExpressionId(parent));
  if (!spec) return false;
  for (const [i, get] of spec.single.entries()) {
    if (get(parent) === old) {
      spec.setters[i]!(parent, replacement);
      return true;
    }
  }
  if (spec.list && spec.setAt) {
    const n = spec.list[0](parent);
    for (let i = 0; i < n; i++) {
      if (spec.list[1](parent, i) === old) {
        spec.setAt(parent, i, replacement);
        return true;
      }
    }
  }
  return false;
}

/** Visits every expression under `root`, parents before children. Returns false if an id was unknown. */
export function walk(
  b: Binaryen,
  root: ExpressionRef,
  visit: (expr: ExpressionRef, id: number, parent: ExpressionRef) => void,
): boolean {
  const specs = specsFor(b);
  // Two parallel stacks: the expression and its parent (0 for the root).
  const stack: ExpressionRef[] = [root];
  const parents: ExpressionRef[] = [0];
  let known = true;
  while (stack.length > 0) {
    const expr = stack.pop()!;
    const parent = parents.pop()!;
    if (!expr) continue;
    const id = b.getExpressionId(expr);
    visit(expr, id, parent);
    const spec = specs.get(id);
    if (!spec) {
      known = false;
      continue;
    }
    if (spec.list) {
      const n = spec.list[0](expr);
      for (let i = n - 1; i >= 0; i--) {
        stack.push(spec.list[1](expr, i));
        parents.push(expr);
      }
    }
    for (let i = spec.single.length - 1; i >= 0; i--) {
      const child = spec.single[i]!(expr);
      if (child) {
        stack.push(child);
        parents.push(expr);
      }
    }
  }
  return known;
}

function constValue(b: Binaryen, expr: ExpressionRef): number | undefined {
  if (!expr || b.getExpressionId(expr) !== b.ConstId) return undefined;
  const t = b.getExpressionType(expr);
  if (t === b.i32) return b.Const.getValueI32(expr) >>> 0;
  if (t === b.i64) {
    const v = b.Const.getValueI64(expr);
    return v >= 0n && v < 2n ** 53n ? Number(v) : undefined;
  }
  return undefined;
}

function signedConst(b: Binaryen, expr: ExpressionRef): number | undefined {
  if (!expr || b.getExpressionId(expr) !== b.ConstId) return undefined;
  const t = b.getExpressionType(expr);
  if (t === b.i32) return b.Const.getValueI32(expr) | 0;
  if (t === b.i64) {
    const v = b.Const.getValueI64(expr);
    return v >= -(2n ** 31n) && v < 2n ** 31n ? Number(v) : undefined;
  }
  return undefined;
}

/** Summarises one function. */
export function summarize(b: Binaryen, mod: BinaryenModule, name: string): FunctionSummary {
  const fi = b.getFunctionInfo(mod.getFunction(name));
  const sum: FunctionSummary = {
    name,
    imported: fi.module !== '',
    calls: new Set(),
    callArgs: new Map(),
    refFuncs: new Map(),
    callIndirect: false,
    memoryGrow: false,
    memoryFill: false,
    memoryCopy: false,
    constAccesses: [],
    indexedBases: [],
    opaque: false,
    size: 0,
    shapeSize: 0,
  };
  if (sum.imported || !fi.body) return sum;

  const { Load, Store, Binary, LocalGet, Call, RefFunc } = b;
  const accessPtr = (ptr: ExpressionRef, offset: number, bytes: number, kind: ConstAccess['kind']): void => {
    const c = constValue(b, ptr);
    if (c !== undefined) {
      sum.constAccesses.push({ address: c + offset, bytes, kind });
      return;
    }
    if (b.getExpressionId(ptr) !== b.BinaryId) return;
    const op = Binary.getOp(ptr);
    const left = Binary.getLeft(ptr);
    const right = Binary.getRight(ptr);
    if (op === b.AddInt32 || op === b.AddInt64) {
      const base = constValue(b, right) ?? constValue(b, left);
      if (base !== undefined) sum.indexedBases.push(base + offset);
    }
  };

  sum.opaque = !walk(b, fi.body, (expr, id) => {
    sum.size++;
    if (id !== b.BlockId && id !== b.NopId && id !== b.UnreachableId) sum.shapeSize++;
    if (id === b.CallId) {
      const target = Call.getTarget(expr);
      sum.calls.add(target);
      const n = Call.getNumOperands(expr);
      const args: (number | null)[] = [];
      for (let i = 0; i < n; i++) {
        const op = Call.getOperandAt(expr, i);
        args.push(b.getExpressionId(op) === b.LocalGetId ? LocalGet.getIndex(op) : null);
      }
      const list = sum.callArgs.get(target) ?? [];
      list.push(args);
      sum.callArgs.set(target, list);
    } else if (id === b.CallIndirectId) {
      sum.callIndirect = true;
    } else if (id === b.RefFuncId) {
      const target = RefFunc.getFunc(expr);
      const list = sum.refFuncs.get(target) ?? [];
      list.push(expr);
      sum.refFuncs.set(target, list);
    } else if (id === b.MemoryGrowId) {
      sum.memoryGrow = true;
    } else if (id === b.MemoryFillId) {
      sum.memoryFill = true;
    } else if (id === b.MemoryCopyId) {
      sum.memoryCopy = true;
    } else if (id === b.LoadId) {
      accessPtr(Load.getPtr(expr), Load.getOffset(expr), Load.getBytes(expr), 'read');
    } else if (id === b.StoreId) {
      accessPtr(Store.getPtr(expr), Store.getOffset(expr), Store.getBytes(expr), 'write');
    } else if (id === b.AtomicRMWId || id === b.AtomicCmpxchgId) {
      const g = id === b.AtomicRMWId ? b.AtomicRMW : b.AtomicCmpxchg;
      accessPtr(g.getPtr(expr), g.getOffset(expr), g.getBytes(expr), 'rmw');
    } else if (id === b.SIMDLoadId) {
      accessPtr(b.SIMDLoad.getPtr(expr), b.SIMDLoad.getOffset(expr), 16, 'read');
    }
  });
  return sum;
}

/** Summaries of every function, by name. */
export function summarizeAll(b: Binaryen, mod: BinaryenModule): Map<string, FunctionSummary> {
  const out = new Map<string, FunctionSummary>();
  for (const name of functionNames(b, mod)) out.set(name, summarize(b, mod, name));
  return out;
}

/**
 * The loads of function `name` whose pointer is `X - k` or `X + -k` (k in 1..16 after the static
 * offset), in wasm evaluation order (post-order, operands left to right as the binary has them):
 * the same loads, in the same order, as the raw pointer flow's `probe` loads
 * (src/wasm/pointer-flow.ts), so that a read found there is rewritten here.
 */
export function headerProbes(b: Binaryen, mod: BinaryenModule, name: string): NegativeProbe[] {
  const fi = b.getFunctionInfo(mod.getFunction(name));
  const out: NegativeProbe[] = [];
  if (!fi.body) return out;
  const specs = specsFor(b);
  // Classes whose binaryen child order differs from the binary's operand order.
  const reorder = new Map<number, (e: ExpressionRef) => ExpressionRef[]>([
    [b.BreakId, (e) => [b.Break.getValue(e), b.Break.getCondition(e)]],
    [b.SwitchId, (e) => [b.Switch.getValue(e), b.Switch.getCondition(e)]],
  ]);
  const children = (e: ExpressionRef, id: number): ExpressionRef[] => {
    const re = reorder.get(id);
    if (re) return re(e);
    const spec = specs.get(id);
    if (!spec) return [];
    const list: ExpressionRef[] = [];
    const singles = spec.single.map((g) => g(e));
    if (id === b.CallIndirectId || id === b.CallRefId) {
      // Operands come before the callee (table index / reference) in the binary.
      if (spec.list) for (let i = 0; i < spec.list[0](e); i++) list.push(spec.list[1](e, i));
      return [...list, ...singles];
    }
    if (spec.list) for (let i = 0; i < spec.list[0](e); i++) list.push(spec.list[1](e, i));
    return [...singles, ...list];
  };
  const { Load, Binary } = b;
  const stack: [ExpressionRef, ExpressionRef, boolean][] = [[fi.body, 0, false]];
  while (stack.length > 0) {
    const [e, parent, done] = stack.pop()!;
    if (!e) continue;
    const id = b.getExpressionId(e);
    if (!done) {
      stack.push([e, parent, true]);
      const kids = children(e, id);
      for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i]!, e, false]);
      continue;
    }
    if (id !== b.LoadId) continue;
    const ptr = Load.getPtr(e);
    if (b.getExpressionId(ptr) !== b.BinaryId) continue;
    const op = Binary.getOp(ptr);
    const offset = Load.getOffset(e);
    const k = signedConst(b, Binary.getRight(ptr));
    if (k === undefined) continue;
    let delta: number | undefined;
    if ((op === b.AddInt32 || op === b.AddInt64) && k < 0 && k >= -16 && offset + k < 0) delta = offset + k;
    else if ((op === b.SubInt32 || op === b.SubInt64) && k > 0 && k <= 16 && offset < k) delta = offset - k;
    if (delta !== undefined) out.push({ function: name, delta, load: e, parent, bytes: Load.getBytes(e) });
  }
  return out;
}
