/**
 * @fileoverview A small iterative walker over binaryen.js expressions, and the per-function summary
 * every analysis pass reads (direct calls, function references, constant-address memory accesses,
 * memory.grow, reads of the bytes just below a freshly allocated pointer).
 *
 * binaryen.js has no generic visitor, and getExpressionInfo is slow (it calls every getter of the
 * class) and throws on some ids. SHAPES names, per expression class, the getters of its children;
 * an id we do not know marks the function `opaque` (analyses then treat it conservatively).
 *
 * The transform's first summaries of the module as read come from the raw bytes
 * (src/wasm/summaries.ts, equal to `summarizeAll`); `summarize` here serves the functions that
 * model leaves out and the bodies the analysis changes.
 */

import { ErrorCodes, HostAllocError } from '../errors.js';
import { type ConstAccess, emptySummary, type FunctionSummary } from '../summary.js';
import type { Binaryen, BinaryenModule, ExpressionRef, FunctionInfo } from './module.js';

export type { ConstAccess, FunctionSummary };

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

/**
 * How to reach (and replace) an expression class's children: plain getters (and their setters),
 * and a (count, at) list with its setter, null when the class has none. One shape for every class
 * (a leaf has no getters and no list), so the walker's loop reads them all alike.
 */
class ChildSpec {
  constructor(
    readonly single: ((e: ExpressionRef) => ExpressionRef)[],
    readonly setters: ((e: ExpressionRef, v: ExpressionRef) => void)[],
    readonly list: [(e: ExpressionRef) => number, (e: ExpressionRef, i: number) => ExpressionRef] | null,
    readonly setAt: ((e: ExpressionRef, i: number, v: ExpressionRef) => void) | null,
  ) {}
}
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

/** Numeric getters the summary reads on every memory access and call (see `Fast`). */
const SUMMARY_GETTERS = {
  constI32: 'ConstGetValueI32',
  localIndex: 'LocalGetGetIndex',
  loadPtr: 'LoadGetPtr',
  loadOffset: 'LoadGetOffset',
  loadBytes: 'LoadGetBytes',
  storePtr: 'StoreGetPtr',
  storeOffset: 'StoreGetOffset',
  storeBytes: 'StoreGetBytes',
  binaryOp: 'BinaryGetOp',
  binaryLeft: 'BinaryGetLeft',
  binaryRight: 'BinaryGetRight',
  callOperands: 'CallGetNumOperands',
  callOperandAt: 'CallGetOperandAt',
} as const;

/**
 * binaryen.js as the walker and the summary use it, resolved once per instance. binaryen.js's
 * namespace holds thousands of properties (a dictionary, slow to look up) and each class getter is
 * a JS wrapper that looks up the C API export there (`getLeft(e) { return A._BinaryenBinaryGetLeft(e) }`):
 * the hot loops call the C API exports (numbers in, numbers out) directly and compare ids held here.
 */
interface Fast {
  /** Child table by expression id; undefined for an id the walker does not know. */
  specs: (ChildSpec | undefined)[];
  getId: (e: ExpressionRef) => number;
  getType: (e: ExpressionRef) => number;
  num: { [K in keyof typeof SUMMARY_GETTERS]: (e: ExpressionRef, i?: number) => number };
}

/**
 * The child table of every expression class, and the getters `Fast` holds, read from binaryen.js by
 * name: the one place binaryen is reached around its typed wrapper (binaryen.js has no generic child
 * API). A class or getter this binaryen.js lacks is a wrong binaryen version, not a module to treat
 * as opaque: it throws.
 */
function resolveFast(b: Binaryen): Fast {
  const ns = b as unknown as Record<string, unknown>;
  const missing: string[] = [];
  const specs = childSpecs(ns, missing);
  const raw = (name: string): ((e: ExpressionRef, i?: number) => number) => {
    const f = ns[`_Binaryen${name}`];
    if (typeof f !== 'function') missing.push(`_Binaryen${name}`);
    return f as (e: ExpressionRef, i?: number) => number;
  };
  const num = Object.fromEntries(
    Object.entries(SUMMARY_GETTERS).map(([k, name]) => [k, raw(name)]),
  ) as Fast['num'];
  const getId = raw('ExpressionGetId');
  const getType = raw('ExpressionGetType');
  if (missing.length > 0) {
    throw new HostAllocError(
      ErrorCodes.INTERNAL,
      `binaryen.js lacks ${missing.join(', ')}: wasm-hostalloc needs the binaryen version in its package.json`,
    );
  }
  return { specs, getId, getType, num };
}

/**
 * The child table of every expression class, by id; adds what binaryen.js (`ns`) lacks to
 * `missing`. Its loops are functions of their own (this one, childSpec): V8 then optimises those,
 * not resolveFast, which runs once per binaryen instance (once per module).
 */
function childSpecs(ns: Record<string, unknown>, missing: string[]): (ChildSpec | undefined)[] {
  const specs: (ChildSpec | undefined)[] = [];
  for (const leaf of LEAVES) {
    if (typeof ns[leaf] === 'number') specs[ns[leaf] as number] = new ChildSpec([], [], null, null);
    else missing.push(leaf);
  }
  for (const [idName, cls, singles, list] of SHAPES) {
    const id = ns[idName];
    const g = ns[cls] as Record<string, unknown> | undefined;
    if (typeof id !== 'number' || !g) {
      missing.push(typeof id !== 'number' ? idName : cls);
      continue;
    }
    specs[id] = childSpec(ns, g, cls, singles, list, missing);
  }
  return specs;
}

/**
 * The child table of expression class `cls` (its binaryen.js class `g`, in namespace `ns`): the C
 * API getters of its single children and of its list (`list`), and the class's setters. Adds what
 * is not there to `missing`.
 */
function childSpec(
  ns: Record<string, unknown>,
  g: Record<string, unknown>,
  cls: string,
  singles: string[],
  list: string | undefined,
  missing: string[],
): ChildSpec {
  const single: ((e: ExpressionRef) => ExpressionRef)[] = [];
  const setters: ((e: ExpressionRef, v: ExpressionRef) => void)[] = [];
  for (const name of singles)
    single.push(capiGetter(ns, cls, name, missing) as (e: ExpressionRef) => ExpressionRef);
  for (const name of singles)
    setters.push(
      member(g, cls, `set${name.slice(3)}`, missing) as (e: ExpressionRef, v: ExpressionRef) => void,
    );
  if (!list) return new ChildSpec(single, setters, null, null);
  const plural = list === 'Child' ? 'Children' : list === 'CatchBody' ? 'CatchBodies' : `${list}s`;
  return new ChildSpec(
    single,
    setters,
    [
      capiGetter(ns, cls, `getNum${plural}`, missing) as (e: ExpressionRef) => number,
      capiGetter(ns, cls, `get${list}At`, missing) as (e: ExpressionRef, i: number) => ExpressionRef,
    ],
    member(g, cls, `set${list}At`, missing) as (e: ExpressionRef, i: number, v: ExpressionRef) => void,
  );
}

/** Method `name` of binaryen.js class `g` (`cls`); noted in `missing` when absent. */
function member(g: Record<string, unknown>, cls: string, name: string, missing: string[]): Accessor {
  const f = g[name];
  if (typeof f !== 'function') missing.push(`${cls}.${name}`);
  return f as Accessor;
}

/** The C API export `Cls.getX` wraps (`_BinaryenClsGetX`), which the walker calls directly; noted in `missing` when absent. */
function capiGetter(ns: Record<string, unknown>, cls: string, name: string, missing: string[]): Accessor {
  const f = ns[`_Binaryen${cls}${name[0]!.toUpperCase()}${name.slice(1)}`];
  if (typeof f !== 'function') missing.push(`_Binaryen${cls}${name}`);
  return f as Accessor;
}

const fastCache = new WeakMap<object, Fast>();

function fastFor(b: Binaryen): Fast {
  let f = fastCache.get(b);
  if (!f) {
    f = resolveFast(b);
    fastCache.set(b, f);
  }
  return f;
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
  const spec = fastFor(b).specs[b.getExpressionId(parent)];
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
  const { specs, getId } = fastFor(b);
  // One stack of (expression, parent) pairs, the parent pushed first (0 for the root).
  const stack: ExpressionRef[] = [0, root];
  let known = true;
  while (stack.length > 0) {
    const expr = stack.pop()!;
    const parent = stack.pop()!;
    if (!expr) continue;
    const id = getId(expr);
    visit(expr, id, parent);
    const spec = specs[id];
    if (!spec) {
      known = false;
      continue;
    }
    const list = spec.list;
    if (list) {
      const at = list[1];
      for (let i = list[0](expr) - 1; i >= 0; i--) stack.push(expr, at(expr, i));
    }
    const single = spec.single;
    for (let i = single.length - 1; i >= 0; i--) {
      const child = single[i]!(expr);
      if (child) stack.push(expr, child);
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
  return summarizeFunction(b, b.getFunctionInfo(mod.getFunction(name)));
}

/** Summaries of every function, by name (in index order, imports first). */
export function summarizeAll(b: Binaryen, mod: BinaryenModule): Map<string, FunctionSummary> {
  const out = new Map<string, FunctionSummary>();
  const n = mod.getNumFunctions();
  for (let i = 0; i < n; i++) {
    const fi = b.getFunctionInfo(mod.getFunctionByIndex(i));
    out.set(fi.name, summarizeFunction(b, fi));
  }
  return out;
}

function summarizeFunction(b: Binaryen, fi: FunctionInfo): FunctionSummary {
  const sum = emptySummary(fi.name, fi.module !== '');
  if (sum.imported || !fi.body) return sum;

  const { getId, getType, num } = fastFor(b);
  const { Call, RefFunc } = b;
  // Ids and constants held in locals: each is a lookup in binaryen's namespace otherwise.
  const [CONST, BINARY, LOCAL_GET, I32, ADD32, ADD64] = [
    b.ConstId,
    b.BinaryId,
    b.LocalGetId,
    b.i32,
    b.AddInt32,
    b.AddInt64,
  ];
  const [BLOCK, NOP, UNREACHABLE, CALL, CALL_INDIRECT, REF_FUNC] = [
    b.BlockId,
    b.NopId,
    b.UnreachableId,
    b.CallId,
    b.CallIndirectId,
    b.RefFuncId,
  ];
  const [GROW, FILL, COPY, LOAD, STORE, RMW, CMPXCHG, SIMD_LOAD] = [
    b.MemoryGrowId,
    b.MemoryFillId,
    b.MemoryCopyId,
    b.LoadId,
    b.StoreId,
    b.AtomicRMWId,
    b.AtomicCmpxchgId,
    b.SIMDLoadId,
  ];
  // constValue (above) on the fast getters: i32 inline, i64 through the class getter (a bigint).
  const constOf = (expr: ExpressionRef, id: number): number | undefined => {
    if (id !== CONST) return undefined;
    return getType(expr) === I32 ? num.constI32(expr) >>> 0 : constValue(b, expr);
  };
  /**
   * Records the access `expr` makes at `ptr` (+ its static offset): a constant address, or the base
   * of `const + X`. Its offset and width are asked only then.
   */
  const accessPtr = (
    expr: ExpressionRef,
    ptr: ExpressionRef,
    offset: (e: ExpressionRef) => number,
    bytes: number | ((e: ExpressionRef) => number),
    kind: ConstAccess['kind'],
  ): void => {
    const ptrId = getId(ptr);
    const c = constOf(ptr, ptrId);
    if (c !== undefined) {
      const width = typeof bytes === 'number' ? bytes : bytes(expr);
      sum.constAccesses.push({ address: c + offset(expr), bytes: width, kind });
      return;
    }
    if (ptrId !== BINARY) return;
    const op = num.binaryOp(ptr);
    if (op !== ADD32 && op !== ADD64) return;
    const right = num.binaryRight(ptr);
    let base = right ? constOf(right, getId(right)) : undefined;
    if (base === undefined) {
      const left = num.binaryLeft(ptr);
      base = left ? constOf(left, getId(left)) : undefined;
    }
    if (base !== undefined) sum.indexedBases.push(base + offset(expr));
  };
  const { AtomicRMW, AtomicCmpxchg, SIMDLoad } = b;

  sum.opaque = !walk(b, fi.body, (expr, id) => {
    sum.size++;
    if (id !== BLOCK && id !== NOP && id !== UNREACHABLE) sum.shapeSize++;
    if (id === LOAD) {
      accessPtr(expr, num.loadPtr(expr), num.loadOffset, num.loadBytes, 'read');
    } else if (id === STORE) {
      accessPtr(expr, num.storePtr(expr), num.storeOffset, num.storeBytes, 'write');
    } else if (id === CALL) {
      const target = Call.getTarget(expr);
      sum.calls.add(target);
      const n = num.callOperands(expr);
      const args: (number | null)[] = [];
      for (let i = 0; i < n; i++) {
        const op = num.callOperandAt(expr, i);
        args.push(getId(op) === LOCAL_GET ? num.localIndex(op) : null);
      }
      const list = sum.callArgs.get(target);
      if (list) list.push(args);
      else sum.callArgs.set(target, [args]);
    } else if (id === CALL_INDIRECT) {
      sum.callIndirect = true;
    } else if (id === REF_FUNC) {
      const target = RefFunc.getFunc(expr);
      sum.refFuncs.set(target, (sum.refFuncs.get(target) ?? 0) + 1);
    } else if (id === GROW) {
      sum.memoryGrow = true;
    } else if (id === FILL) {
      sum.memoryFill = true;
    } else if (id === COPY) {
      sum.memoryCopy = true;
    } else if (id === RMW || id === CMPXCHG) {
      const g = id === RMW ? AtomicRMW : AtomicCmpxchg;
      accessPtr(expr, g.getPtr(expr), g.getOffset, g.getBytes, 'rmw');
    } else if (id === SIMD_LOAD) {
      accessPtr(expr, SIMDLoad.getPtr(expr), SIMDLoad.getOffset, 16, 'read');
    }
  });
  return sum;
}

/**
 * The ref.func expressions of function `name` naming one of `targets`, by target, in walk order
 * (the sites a summary's `refFuncs` counts).
 */
export function refFuncSites(
  b: Binaryen,
  mod: BinaryenModule,
  name: string,
  targets: ReadonlySet<string>,
): Map<string, ExpressionRef[]> {
  const out = new Map<string, ExpressionRef[]>();
  const fi = b.getFunctionInfo(mod.getFunction(name));
  if (!fi.body) return out;
  const REF_FUNC = b.RefFuncId;
  walk(b, fi.body, (expr, id) => {
    if (id !== REF_FUNC) return;
    const target = b.RefFunc.getFunc(expr);
    if (!targets.has(target)) return;
    const list = out.get(target);
    if (list) list.push(expr);
    else out.set(target, [expr]);
  });
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
  const { specs } = fastFor(b);
  // Classes whose binaryen child order differs from the binary's operand order.
  const reorder = new Map<number, (e: ExpressionRef) => ExpressionRef[]>([
    [b.BreakId, (e) => [b.Break.getValue(e), b.Break.getCondition(e)]],
    [b.SwitchId, (e) => [b.Switch.getValue(e), b.Switch.getCondition(e)]],
  ]);
  const children = (e: ExpressionRef, id: number): ExpressionRef[] => {
    const re = reorder.get(id);
    if (re) return re(e);
    const spec = specs[id];
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
