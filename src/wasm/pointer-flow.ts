/**
 * @fileoverview Pointer flow over raw function bodies: where may an allocation result travel, and
 * which loads read memory *below* a pointer? The input of the metadata-read analysis
 * (src/metadata-reads.ts), shared by transform (on the input, before the rewrite) and verify (on a
 * converted module), so that verify catches exactly what transform refuses.
 *
 * Each defined function is run once through an abstract interpreter of the operand stack and the
 * locals. A value is a small set of atoms `base + offset`:
 *
 *   alloc+o    o bytes past a pointer an allocating call returned     (call $malloc) + 8
 *   unknown+o  o bytes past a value of unknown origin (memory, globals, imports, call_indirect)
 *   param i+o  o bytes past the function's i-th parameter       (resolved across call sites)
 *   call s+o   o bytes past what the direct call at position s returns (resolved through the
 *              callee's summary with this call's arguments: memset returns its dest argument)
 *
 * with o = null for "any offset" (pointer + index, masks). Constants and the stack pointer carry no
 * atom. Control flow is followed: blocks, ifs and branches join their states, and a loop's head is
 * iterated until the locals it assigns are stable. Only loads are recorded whose pointer may lie
 * below one of those bases (offset < 0 or unknown), and every direct call's arguments and every
 * return value, for the interprocedural resolution.
 *
 * A function the interpreter cannot follow (an opcode it does not model, a stack it cannot
 * balance, too much work) is marked `opaque`: the analysis then trusts nothing about it.
 */

import type { ModuleInfo } from './reader.js';

/** The base of an atom: 'a' alloc, 'u' unknown, 'p<i>' parameter i, 'c<s>' result of the call at s. */
export type AtomBase = string;

/** `base + offset`; offset null means any offset. */
export interface Atom {
  base: AtomBase;
  offset: number | null;
}

/** A load whose pointer may sit below a base. */
export interface LoadSite {
  /** Byte position of the load instruction in the module (a stable key). */
  at: number;
  /** The pointer's atoms, with the load's static offset already added. */
  atoms: Atom[];
  /** Width in bytes. */
  bytes: number;
  /** Constants the loaded value is and-ed with (directly or through the locals it is stored in). */
  masks: number[];
  /** The loaded value is used otherwise than masked with a constant (compared, stored, passed…). */
  otherUse: boolean;
  /**
   * The pointer is syntactically `X - k` or `X + -k` with a small k (src/walk.ts headerProbes sees
   * the same loads in the same order): the effective offset from X. Undefined for other shapes.
   */
  probe?: number;
  /** Position among this function's loads that have a `probe` (the headerProbes index). */
  probeIndex?: number;
}

/** A direct call's arguments. */
export interface CallSite {
  /** Position of the call instruction (the `c<at>` atoms of its result). */
  at: number;
  target: number;
  args: Atom[][];
}

/** What the interpreter learnt about one defined function. */
export interface FunctionFlow {
  /** Function index (imports included). */
  index: number;
  params: number;
  loads: LoadSite[];
  calls: CallSite[];
  /** Atoms of every value the function may return. */
  returns: Atom[];
  /** Targets of ref.func (their callers are unknown). */
  refFuncs: number[];
  /** Constant addresses the function loads from or stores to (static data it touches). */
  staticAccesses: number[];
  /** The interpreter could not follow the body. */
  opaque: boolean;
  /** Why, when opaque. */
  why?: string;
}

export interface PointerFlowOptions {
  /** Functions whose result is a fresh allocation (family members before the rewrite, host imports after). */
  allocating: (index: number) => boolean;
  /** The stack pointer global (frames below it are no allocation), or null. */
  stackPointer: number | null;
  /** Functions to skip (e.g. the allocator's own code); they get an empty flow. */
  skip?: (index: number) => boolean;
}

const MAX_ATOMS = 8;
/** Work bound per function, in instructions interpreted per instruction of the body. */
const WORK_FACTOR = 64;
/** Passes before loop-head values that still change are widened to any offset. */
const LOOP_ROUNDS = 3;
/** Passes after which a body whose loop heads still change is given up on (opaque). */
const MAX_PASSES = 16;
/**
 * Loads through a parameter or call result are kept when their offset is below this: resolved, the
 * base may be `alloc - k` (a caller passing a header pointer). Callers passing pointers more than
 * this far below an allocation are not followed.
 */
const SYMBOLIC_LIMIT = 16;

/**
 * A value on the abstract stack or in a local. One class with every field always set, so the
 * interpreter's hot loop sees a single object shape.
 */
class Val {
  constructor(
    readonly atoms: Atom[],
    /** Index into `loads` when this is exactly a recorded load's result, else -1. */
    readonly load: number = -1,
    /** Exact constant, when known (i32/i64 within ±2^53). */
    readonly konst: number | undefined = undefined,
    /** Syntactic shape `X + k` (a constant right operand of add or sub): k. */
    readonly plusConst: number | undefined = undefined,
  ) {}
}

const NONE = new Val([]);
const UNKNOWN = new Val([{ base: 'u', offset: 0 }]);

function sameAtoms(a: Atom[], b: Atom[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++)
    if (a[i]!.base !== b[i]!.base || a[i]!.offset !== b[i]!.offset) return false;
  return true;
}

/**
 * Any allocation or unknown value at any offset: what a value widens to when it has too many bases.
 * It absorbs everything it is joined with, so widening stays monotone (loop heads settle).
 */
const TOP: Atom[] = [
  { base: 'a', offset: null },
  { base: 'u', offset: null },
];

function normalize(atoms: Atom[]): Atom[] {
  if (atoms.length <= 1) return atoms;
  if (atoms.length === 2) {
    const [x, y] = atoms as [Atom, Atom];
    if (x.base === y.base && x.offset === y.offset) return [x];
    if (x.base === y.base && (x.offset === null || y.offset === null))
      return [{ base: x.base, offset: null }];
    const xFirst = x.base < y.base || (x.base === y.base && (x.offset ?? 1e18) < (y.offset ?? 1e18));
    return xFirst ? atoms : [y, x];
  }
  const seen = new Map<string, Atom>();
  for (const a of atoms) {
    const key = `${a.base}:${a.offset}`;
    if (!seen.has(key)) seen.set(key, a);
  }
  let out = [...seen.values()];
  if (out.length > MAX_ATOMS) {
    // Widen: one atom per base, any offset.
    const bases = new Set(out.map((a) => a.base));
    out = [...bases].map((base) => ({ base, offset: null }));
    if (out.length > MAX_ATOMS) return TOP;
  }
  // A base with an any-offset atom subsumes its exact ones.
  const anyBases = new Set(out.filter((a) => a.offset === null).map((a) => a.base));
  if (anyBases.size > 0) out = out.filter((a) => a.offset === null || !anyBases.has(a.base));
  out.sort((x, y) => (x.base < y.base ? -1 : x.base > y.base ? 1 : (x.offset ?? 1e18) - (y.offset ?? 1e18)));
  return out;
}

export function joinAtoms(a: Atom[], b: Atom[]): Atom[] {
  if (a === TOP || b === TOP) return TOP;
  if (a === b || b.length === 0) return a;
  if (a.length === 0) return b;
  if (sameAtoms(a, b)) return a;
  return normalize([...a, ...b]);
}

function join(a: Val, b: Val): Val {
  if (a === b) return a;
  if (a.atoms.length === 0 && b.atoms.length === 0 && a.load < 0 && b.load < 0) {
    return a.konst !== undefined && a.konst === b.konst ? a : NONE;
  }
  return new Val(
    joinAtoms(a.atoms, b.atoms),
    a.load === b.load ? a.load : -1,
    a.konst !== undefined && a.konst === b.konst ? a.konst : undefined,
  );
}

function shift(v: Val, by: number): Val {
  if (v.atoms.length === 0) return NONE;
  if (v.atoms === TOP) return new Val(TOP);
  if (v.atoms.length === 1) {
    const a = v.atoms[0]!;
    return new Val([{ base: a.base, offset: a.offset === null ? null : a.offset + by }]);
  }
  return new Val(
    normalize(v.atoms.map((a) => ({ base: a.base, offset: a.offset === null ? null : a.offset + by }))),
  );
}

/** The value of arithmetic that is not `+ const`: same bases, any offset. */
function derived(...vs: Val[]): Val {
  if (vs.some((v) => v.atoms === TOP)) return new Val(TOP);
  const atoms: Atom[] = [];
  for (const v of vs) for (const a of v.atoms) atoms.push({ base: a.base, offset: null });
  return atoms.length === 0 ? NONE : new Val(normalize(atoms));
}

class Opaque extends Error {}

interface Frame {
  kind: 'block' | 'loop' | 'if' | 'try';
  /** Stack height below the frame's parameters. */
  height: number;
  params: number;
  results: number;
  /** Values and locals carried by branches to the frame's end (block/if/try). */
  exitVals: Val[] | null;
  exitLocals: Val[] | null;
  /** Locals at entry (if: for the else arm; try: for catch clauses). */
  entryLocals: Val[];
  /** For loops: locals at the head, and the join of the states that branch back to it. */
  headLocals?: Val[];
  backLocals?: Val[] | null;
  /** Position of the first instruction of the body (loops re-run from here). */
  bodyStart: number;
  /** The if had an else. */
  sawElse?: boolean;
  /** The then-arm's end state, kept while the else arm runs. */
  thenVals?: Val[] | null;
  thenLocals?: Val[] | null;
}

/** Reads pointer flow for every defined function of a module. */
export function pointerFlow(
  bytes: Uint8Array,
  info: ModuleInfo,
  options: PointerFlowOptions,
): FunctionFlow[] {
  const out: FunctionFlow[] = [];
  for (let i = 0; i < info.codeRanges.length; i++) {
    const index = info.numImportedFunctions + i;
    const type = info.types[info.functions[i]!];
    const params = type && type.kind === 'func' ? type.params.length : 0;
    const empty = (why?: string): FunctionFlow => ({
      index,
      params,
      loads: [],
      calls: [],
      returns: [],
      refFuncs: [],
      staticAccesses: [],
      opaque: why !== undefined,
      ...(why !== undefined ? { why } : {}),
    });
    if (options.skip?.(index)) {
      out.push(empty());
      continue;
    }
    const range = info.codeRanges[i]!;
    try {
      out.push(interpret(bytes, range.start, range.end, index, info, options));
    } catch (e) {
      if (!(e instanceof Opaque)) throw e;
      out.push(empty(e.message));
    }
  }
  return out;
}

/** Block type at p: [params, results, next position]. */
function blockType(bytes: Uint8Array, p: number, end: number, info: ModuleInfo): [number, number, number] {
  const b = bytes[p];
  if (b === undefined) throw new Opaque('truncated block type');
  if (b === 0x40) return [0, 0, p + 1];
  if (b === 0x63 || b === 0x64) {
    const [, q] = sleb(bytes, p + 1, end);
    return [0, 1, q];
  }
  // Other negative one-byte s33 values are value types; non-negative ones are type indices.
  if (b >= 0x41 && b <= 0x7f) return [0, 1, p + 1];
  const [idx, q] = sleb(bytes, p, end);
  const t = info.types[idx];
  if (t?.kind !== 'func') throw new Opaque(`block type ${idx}`);
  return [t.params.length, t.results.length, q];
}

function uleb(bytes: Uint8Array, p: number, end: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw new Opaque('truncated LEB');
    const b = bytes[p++]!;
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [result, p];
    mul *= 128;
  }
  throw new Opaque('LEB too long');
}

function sleb(bytes: Uint8Array, p: number, end: number): [number, number] {
  // Fast path: up to 4 bytes fit a 28-bit signed value exactly in plain numbers.
  let r = 0;
  let sh = 0;
  for (let i = 0; i < 4 && p + i < end; i++) {
    const b = bytes[p + i]!;
    r |= (b & 0x7f) << sh;
    sh += 7;
    if ((b & 0x80) === 0) {
      if (b & 0x40) r -= 2 ** sh;
      return [r, p + i + 1];
    }
  }
  return slebBig(bytes, p, end);
}

function slebBig(bytes: Uint8Array, p: number, end: number): [number, number] {
  let result = 0n;
  let shiftBits = 0n;
  let b = 0;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw new Opaque('truncated LEB');
    b = bytes[p++]!;
    result |= BigInt(b & 0x7f) << shiftBits;
    shiftBits += 7n;
    if ((b & 0x80) === 0) break;
  }
  if (b & 0x40) result -= 1n << shiftBits;
  const n = result >= -(2n ** 53n) && result <= 2n ** 53n ? Number(result) : Number.NaN;
  return [n, p];
}

/** A memarg: [static offset, next position]. */
function memarg(bytes: Uint8Array, p: number, end: number): [number, number] {
  const [align, q] = uleb(bytes, p, end);
  let r = q;
  if (align & 0x40) r = uleb(bytes, r, end)[1];
  const [offset, s] = uleb(bytes, r, end);
  return [offset, s];
}

const LOAD_BYTES: Record<number, number> = {
  40: 4,
  41: 8,
  42: 4,
  43: 8,
  44: 1,
  45: 1,
  46: 2,
  47: 2,
  48: 1,
  49: 1,
  50: 2,
  51: 2,
  52: 4,
  53: 4,
};

/** SIMD opcodes (after 0xfd) with one v128 operand; the others of 0x5e.. are binary unless listed. */
const SIMD_UNARY = new Set([
  0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x67, 0x68, 0x69, 0x6a, 0x74, 0x75, 0x7a, 0x7c, 0x7d, 0x7e, 0x7f,
  0x80, 0x81, 0x83, 0x84, 0x87, 0x88, 0x89, 0x8a, 0x94, 0xa0, 0xa1, 0xa3, 0xa4, 0xa7, 0xa8, 0xa9, 0xaa, 0xc0,
  0xc1, 0xc3, 0xc4, 0xc7, 0xc8, 0xc9, 0xca, 0xe0, 0xe1, 0xe3, 0xec, 0xed, 0xef, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc,
  0xfd, 0xfe, 0xff, 0x101, 0x102, 0x103, 0x104,
]);
const SIMD_TERNARY = new Set([0x52, 0x105, 0x106, 0x107, 0x108, 0x109, 0x10a, 0x10b, 0x10c, 0x113]);

function interpret(
  bytes: Uint8Array,
  start: number,
  end: number,
  index: number,
  info: ModuleInfo,
  options: PointerFlowOptions,
): FunctionFlow {
  const fnType = info.types[info.functionTypes[index]!];
  if (fnType?.kind !== 'func') throw new Opaque('no function type');
  const nParams = fnType.params.length;
  const nResults = fnType.results.length;

  // Locals: params, then the declared groups.
  let p = start;
  const [groups, q] = uleb(bytes, p, end);
  p = q;
  let nLocals = nParams;
  for (let g = 0; g < groups; g++) {
    let n: number;
    [n, p] = uleb(bytes, p, end);
    nLocals += n;
    if (nLocals > 50000) throw new Opaque('too many locals');
    if (bytes[p] === 0x63 || bytes[p] === 0x64) p = sleb(bytes, p + 1, end)[1];
    else p++;
  }
  const bodyStart = p;

  const loadsByAt = new Map<number, number>();
  const loads: LoadSite[] = [];
  const callsByAt = new Map<number, CallSite>();
  let returns: Atom[] = [];
  const refFuncs = new Set<number>();
  const staticAccesses = new Set<number>();
  /** Notes a constant-address access. */
  const access = (ptr: Val, offset: number): void => {
    if (ptr.konst !== undefined && reachable) staticAccesses.add(ptr.konst + offset);
  };

  // Local states are shared between frames copy-on-write: `snap()` hands out the current array,
  // and the next local.set copies it first.
  const initialLocals: Val[] = [];
  for (let i = 0; i < nLocals; i++)
    initialLocals.push(i < nParams ? new Val([{ base: `p${i}`, offset: 0 }]) : NONE);
  let locals = initialLocals;
  let shared = true;
  const snap = (): Val[] => {
    shared = true;
    return locals;
  };
  const adopt = (l: Val[]): void => {
    locals = l;
    shared = true;
  };

  const stack: Val[] = [];
  const frames: Frame[] = [];
  let reachable = true;
  let work = 0;
  const maxWork = WORK_FACTOR * (end - bodyStart) + 1000;
  // Loop heads: the join of every state that branched back to them, across passes over the body.
  // The whole body is re-run until no loop head learns anything new (then every value a local can
  // hold at a loop head is accounted for).
  const loopBack = new Map<number, Val[]>();
  let pass = 0;
  let dirty = true;

  /** Pops a value without counting it as a use (moves into locals, drops, masks). */
  const take = (): Val => {
    const f = frames[frames.length - 1]!;
    if (stack.length <= f.height) {
      if (!reachable) return UNKNOWN;
      throw new Opaque('stack underflow');
    }
    return stack.pop()!;
  };
  const use = (v: Val): void => {
    if (v.load >= 0) loads[v.load]!.otherUse = true;
  };
  /** Pops a value its consumer uses. */
  const pop = (): Val => {
    const v = take();
    use(v);
    return v;
  };
  const push = (v: Val): void => {
    stack.push(v);
  };
  const popN = (n: number): Val[] => {
    const vs: Val[] = new Array(n);
    for (let i = n - 1; i >= 0; i--) vs[i] = pop();
    return vs;
  };
  const joinLocals = (a: Val[] | null, b: Val[]): Val[] => {
    if (a === null || a === b) return b;
    let out: Val[] | null = null;
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (x === y) continue;
      const j = join(x, y);
      if (j === x) continue;
      out ??= a.slice();
      out[i] = j;
    }
    return out ?? a;
  };
  const sameLocals = (a: Val[], b: Val[]): boolean => {
    if (a === b) return true;
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (x !== y && !sameAtoms(x.atoms, y.atoms)) return false;
    }
    return true;
  };
  /** A branch to the frame `depth` levels up, carrying the top values. */
  const branch = (depth: number): void => {
    if (!reachable) return;
    const f = frames[frames.length - 1 - depth];
    if (!f) throw new Opaque('branch depth');
    if (f.kind === 'loop') {
      f.backLocals = joinLocals(f.backLocals ?? null, snap());
      return;
    }
    if (depth === frames.length - 1) {
      // A branch to the function's outermost block returns.
      const vals = stack.slice(Math.max(0, stack.length - nResults));
      for (const v of vals) {
        use(v);
        returns = joinAtoms(returns, v.atoms);
      }
      return;
    }
    const vals = stack.slice(stack.length - f.results);
    if (vals.length !== f.results) throw new Opaque('branch arity');
    f.exitVals = f.exitVals === null ? vals : vals.map((v, i) => join(v, f.exitVals![i]!));
    f.exitLocals = joinLocals(f.exitLocals, snap());
  };
  /**
   * Records a load when its pointer may sit below a base: an allocation or unknown value with a
   * negative offset, or a parameter / call result with an offset below SYMBOLIC_LIMIT (resolved
   * later: a caller may pass `p - 8`). Returns the loaded value, tagged so masks reach the record.
   */
  const recordLoad = (at: number, ptr: Val, offset: number, width: number, probe?: number): Val => {
    const atoms: Atom[] = [];
    for (const a of ptr.atoms) {
      if (a.offset === null) continue;
      const o = a.offset + offset;
      const symbolic = a.base !== 'a' && a.base !== 'u';
      if (o < 0 || (symbolic && o < SYMBOLIC_LIMIT)) atoms.push({ base: a.base, offset: o });
    }
    if (atoms.length === 0 && probe === undefined) return UNKNOWN;
    let k = loadsByAt.get(at);
    if (k === undefined) {
      k = loads.length;
      loadsByAt.set(at, k);
      const site: LoadSite = { at, atoms: normalize(atoms), bytes: width, masks: [], otherUse: false };
      if (probe !== undefined) site.probe = probe;
      loads.push(site);
    } else {
      loads[k]!.atoms = joinAtoms(loads[k]!.atoms, normalize(atoms));
    }
    return new Val(UNKNOWN.atoms, k);
  };
  const addMask = (v: Val, mask: number): void => {
    if (v.load >= 0) {
      const m = loads[v.load]!.masks;
      if (!m.includes(mask)) m.push(mask);
    }
  };

  for (; dirty; pass++) {
    if (pass > MAX_PASSES) throw new Opaque('loops did not settle');
    dirty = false;
    locals = initialLocals;
    shared = true;
    stack.length = 0;
    reachable = true;
    frames.length = 0;
    frames.push({
      kind: 'block',
      height: 0,
      params: 0,
      results: nResults,
      exitVals: null,
      exitLocals: null,
      entryLocals: initialLocals,
      bodyStart,
    });
    runPass();
    if (frames.length > 0) throw new Opaque('unterminated body');
  }
  loads.sort((x, y) => x.at - y.at);
  let probes = 0;
  for (const site of loads) if (site.probe !== undefined) site.probeIndex = probes++;
  return {
    index,
    params: nParams,
    loads,
    calls: [...callsByAt.values()],
    returns,
    refFuncs: [...refFuncs],
    staticAccesses: [...staticAccesses],
    opaque: false,
  };

  function runPass(): void {
    let p = bodyStart;
    while (p < end) {
      if (++work > maxWork) throw new Opaque('too much work');
      const at = p;
      const op = bytes[p++]!;
      switch (op) {
        case 0x00: // unreachable
          reachable = false;
          stack.length = frames[frames.length - 1]!.height;
          break;
        case 0x01: // nop
          break;
        case 0x02: // block
        case 0x03: // loop
        case 0x06: {
          // try (legacy)
          const [bp, br, next] = blockType(bytes, p, end, info);
          p = next;
          const height = stack.length - bp;
          if (height < frames[frames.length - 1]!.height && reachable) throw new Opaque('block params');
          const frame: Frame = {
            kind: op === 0x03 ? 'loop' : op === 0x06 ? 'try' : 'block',
            height,
            params: bp,
            results: br,
            exitVals: null,
            exitLocals: null,
            entryLocals: snap(),
            bodyStart: p,
          };
          if (op === 0x03) {
            const back = loopBack.get(at);
            if (back) adopt(joinLocals(snap(), back));
            frame.headLocals = snap();
            frame.backLocals = null;
            frame.bodyStart = at;
          }
          frames.push(frame);
          break;
        }
        case 0x04: {
          // if
          const [bp, br, next] = blockType(bytes, p, end, info);
          p = next;
          pop(); // condition
          frames.push({
            kind: 'if',
            height: stack.length - bp,
            params: bp,
            results: br,
            exitVals: null,
            exitLocals: null,
            entryLocals: snap(),
            bodyStart: p,
            thenVals: null,
            thenLocals: null,
          });
          break;
        }
        case 0x05: {
          // else
          const f = frames[frames.length - 1]!;
          if (f.kind !== 'if') throw new Opaque('else without if');
          if (reachable) {
            f.thenVals = stack.slice(stack.length - f.results);
            f.thenLocals = snap();
          }
          f.sawElse = true;
          stack.length = f.height;
          // The else arm starts from the entry state with the block's parameters (unknown here).
          for (let i = 0; i < f.params; i++) push(UNKNOWN);
          adopt(f.entryLocals);
          reachable = true;
          break;
        }
        case 0x07: // catch tag
        case 0x19: {
          // catch_all
          const f = frames[frames.length - 1]!;
          if (f.kind !== 'try') throw new Opaque('catch outside try');
          let tagParams = 0;
          if (op === 0x07) {
            let tag: number;
            [tag, p] = uleb(bytes, p, end);
            const t = info.types[info.tags[tag] ?? -1];
            tagParams = t && t.kind === 'func' ? t.params.length : 0;
          }
          if (reachable) {
            const vals = stack.slice(stack.length - f.results);
            f.exitVals = f.exitVals === null ? vals : vals.map((v, i) => join(v, f.exitVals![i]!));
            f.exitLocals = joinLocals(f.exitLocals, snap());
          }
          stack.length = f.height;
          for (let i = 0; i < tagParams; i++) push(UNKNOWN);
          // Anything the try body assigned may be visible in the handler.
          adopt(joinLocals(f.exitLocals, f.entryLocals));
          reachable = true;
          break;
        }
        case 0x08: {
          // throw
          let tag: number;
          [tag, p] = uleb(bytes, p, end);
          const t = info.types[info.tags[tag] ?? -1];
          popN(t && t.kind === 'func' ? t.params.length : 0);
          reachable = false;
          stack.length = frames[frames.length - 1]!.height;
          break;
        }
        case 0x09: // rethrow
          p = uleb(bytes, p, end)[1];
          reachable = false;
          stack.length = frames[frames.length - 1]!.height;
          break;
        case 0x0a: // throw_ref
          pop();
          reachable = false;
          stack.length = frames[frames.length - 1]!.height;
          break;
        case 0x18: {
          // delegate: ends a try like `end`
          p = uleb(bytes, p, end)[1];
          endFrame();
          break;
        }
        case 0x0b: {
          if (endFrame()) {
            // The function's end.
            p = end;
          }
          break;
        }
        case 0x0c: {
          // br
          let depth: number;
          [depth, p] = uleb(bytes, p, end);
          branch(depth);
          reachable = false;
          stack.length = frames[frames.length - 1]!.height;
          break;
        }
        case 0x0d: {
          // br_if
          let depth: number;
          [depth, p] = uleb(bytes, p, end);
          pop();
          branch(depth);
          break;
        }
        case 0x0e: {
          // br_table
          let n: number;
          [n, p] = uleb(bytes, p, end);
          if (n > end - p) throw new Opaque('br_table');
          pop();
          for (let i = 0; i <= n; i++) {
            let depth: number;
            [depth, p] = uleb(bytes, p, end);
            branch(depth);
          }
          reachable = false;
          stack.length = frames[frames.length - 1]!.height;
          break;
        }
        case 0x0f: {
          // return
          if (reachable) {
            const vals = stack.slice(Math.max(0, stack.length - nResults));
            for (const v of vals) {
              use(v);
              returns = joinAtoms(returns, v.atoms);
            }
          }
          reachable = false;
          stack.length = frames[frames.length - 1]!.height;
          break;
        }
        case 0x10: // call
        case 0x12: {
          // return_call
          let target: number;
          [target, p] = uleb(bytes, p, end);
          const t = info.types[info.functionTypes[target] ?? -1];
          if (t?.kind !== 'func') throw new Opaque(`call target ${target}`);
          const args = popN(t.params.length);
          if (reachable) {
            const site = callsByAt.get(at);
            if (site) site.args = site.args.map((a, i) => joinAtoms(a, args[i]!.atoms));
            else callsByAt.set(at, { at, target, args: args.map((a) => a.atoms) });
          }
          const result: Val = options.allocating(target)
            ? new Val([{ base: 'a', offset: 0 }])
            : target < info.numImportedFunctions
              ? UNKNOWN
              : new Val([{ base: `c${at}`, offset: 0 }]);
          if (op === 0x12) {
            if (reachable) returns = joinAtoms(returns, t.results.length > 0 ? result.atoms : []);
            reachable = false;
            stack.length = frames[frames.length - 1]!.height;
          } else {
            for (let i = 0; i < t.results.length; i++) push(i === 0 ? result : UNKNOWN);
          }
          break;
        }
        case 0x11: // call_indirect
        case 0x13: // return_call_indirect
        case 0x14: // call_ref
        case 0x15: {
          // return_call_ref. The callee is unknown: arguments go nowhere we follow, results are unknown.
          let typeIdx: number;
          [typeIdx, p] = uleb(bytes, p, end);
          if (op === 0x11 || op === 0x13) p = uleb(bytes, p, end)[1]; // the table
          const t = info.types[typeIdx];
          if (t?.kind !== 'func') throw new Opaque('indirect call type');
          pop(); // table index or reference
          popN(t.params.length);
          if (op === 0x13 || op === 0x15) {
            if (reachable && t.results.length > 0) returns = joinAtoms(returns, UNKNOWN.atoms);
            reachable = false;
            stack.length = frames[frames.length - 1]!.height;
          } else for (let i = 0; i < t.results.length; i++) push(UNKNOWN);
          break;
        }
        case 0x1a: // drop
          take();
          break;
        case 0x1b: // select
        case 0x1c: {
          if (op === 0x1c) {
            let n: number;
            [n, p] = uleb(bytes, p, end);
            for (let i = 0; i < n; i++) {
              if (bytes[p] === 0x63 || bytes[p] === 0x64) p = sleb(bytes, p + 1, end)[1];
              else p++;
            }
          }
          pop();
          const b = pop();
          const a = pop();
          push(join(a, b));
          break;
        }
        case 0x1f: {
          // try_table: blocktype vec(catch); handled as a block whose catches branch out with unknowns
          const [bp, br, next] = blockType(bytes, p, end, info);
          p = next;
          let n: number;
          [n, p] = uleb(bytes, p, end);
          const targets: number[] = [];
          for (let i = 0; i < n; i++) {
            const kind = bytes[p++];
            if (kind === 0x00 || kind === 0x01) p = uleb(bytes, p, end)[1];
            let label: number;
            [label, p] = uleb(bytes, p, end);
            targets.push(label);
          }
          const frame: Frame = {
            kind: 'block',
            height: stack.length - bp,
            params: bp,
            results: br,
            exitVals: null,
            exitLocals: null,
            entryLocals: snap(),
            bodyStart: p,
          };
          // Catch clauses branch to labels outside with values we do not model: make those unknown.
          for (const label of targets) {
            const f = frames[frames.length - 1 - label];
            if (f && f.kind !== 'loop') {
              f.exitVals = new Array(f.results).fill(UNKNOWN);
              f.exitLocals = joinLocals(f.exitLocals, snap());
            }
          }
          frames.push(frame);
          break;
        }
        case 0x20: {
          let i: number;
          [i, p] = uleb(bytes, p, end);
          const v = locals[i];
          if (!v) throw new Opaque('local index');
          push(v);
          break;
        }
        case 0x21: // local.set
        case 0x22: {
          // local.tee
          let i: number;
          [i, p] = uleb(bytes, p, end);
          if (i >= locals.length) throw new Opaque('local index');
          const v = take();
          const stored = v.plusConst === undefined ? v : new Val(v.atoms, v.load, v.konst);
          if (reachable) {
            if (shared) {
              locals = locals.slice();
              shared = false;
            }
            locals[i] = stored;
          }
          if (op === 0x22) push(stored);
          break;
        }
        case 0x23: {
          let g: number;
          [g, p] = uleb(bytes, p, end);
          push(g === options.stackPointer ? NONE : UNKNOWN);
          break;
        }
        case 0x24:
          p = uleb(bytes, p, end)[1];
          pop();
          break;
        case 0x25: // table.get
          p = uleb(bytes, p, end)[1];
          pop();
          push(UNKNOWN);
          break;
        case 0x26: // table.set
          p = uleb(bytes, p, end)[1];
          pop();
          pop();
          break;
        case 0x3f: // memory.size
          p = uleb(bytes, p, end)[1];
          push(NONE);
          break;
        case 0x40: // memory.grow
          p = uleb(bytes, p, end)[1];
          pop();
          push(NONE);
          break;
        case 0x41:
        case 0x42: {
          let v: number;
          [v, p] = sleb(bytes, p, end);
          push(Number.isNaN(v) ? NONE : new Val(NONE.atoms, -1, v));
          break;
        }
        case 0x43:
          p += 4;
          push(NONE);
          break;
        case 0x44:
          p += 8;
          push(NONE);
          break;
        case 0xd0: // ref.null
          if (bytes[p] === 0x63 || bytes[p] === 0x64) p++;
          p = sleb(bytes, p, end)[1];
          push(NONE);
          break;
        case 0xd1: // ref.is_null
        case 0xd3: // ref.as_non_null
          pop();
          push(NONE);
          break;
        case 0xd2: {
          // ref.func
          let f: number;
          [f, p] = uleb(bytes, p, end);
          refFuncs.add(f);
          push(NONE);
          break;
        }
        case 0xd5: // ref.eq
          pop();
          pop();
          push(NONE);
          break;
        case 0xd4: // br_on_null
        case 0xd6: {
          // br_on_non_null
          let depth: number;
          [depth, p] = uleb(bytes, p, end);
          branch(depth);
          if (op === 0xd6) pop();
          break;
        }
        case 0xfc:
          p = prefixFC(p);
          break;
        case 0xfd:
          p = prefixFD(p, at);
          break;
        case 0xfe:
          p = prefixFE(p, at);
          break;
        default: {
          if (op >= 0x28 && op <= 0x35) {
            let offset: number;
            [offset, p] = memarg(bytes, p, end);
            const ptr = pop();
            access(ptr, offset);
            push(reachable ? recordLoad(at, ptr, offset, LOAD_BYTES[op]!, probeOf(ptr, offset)) : UNKNOWN);
          } else if (op >= 0x36 && op <= 0x3e) {
            let offset: number;
            [offset, p] = memarg(bytes, p, end);
            pop();
            access(pop(), offset);
          } else if (op >= 0x45 && op <= 0xc4) {
            numeric(op);
          } else {
            throw new Opaque(`opcode 0x${op.toString(16)}`);
          }
        }
      }
    }
  }

  /** Ends the innermost frame; true at the function's end. */
  function endFrame(): boolean {
    const f = frames[frames.length - 1]!;
    if (f.kind === 'loop' && f.backLocals) {
      const key = f.bodyStart;
      const known = loopBack.get(key);
      let next = joinLocals(known ?? null, f.backLocals);
      if (!sameLocals(f.headLocals!, joinLocals(f.headLocals!, next))) {
        // After a few passes, locals that still change get any offset (pointer walks): stable.
        if (pass >= LOOP_ROUNDS) {
          const head = f.headLocals!;
          next = next.map((v, i) => (sameAtoms(v.atoms, head[i]!.atoms) ? v : derived(join(v, head[i]!))));
        }
        loopBack.set(key, next);
        dirty = true;
      }
    }
    frames.pop();
    let vals: Val[];
    if (f.kind === 'if') {
      const elseVals = reachable ? stack.slice(stack.length - f.results) : null;
      const elseLocals = reachable ? snap() : null;
      let joinedVals: Val[] | null = null;
      let joinedLocals: Val[] | null = null;
      const add = (vs: Val[] | null, ls: Val[] | null): void => {
        if (vs === null || ls === null) return;
        joinedVals = joinedVals === null ? vs : vs.map((v, i) => join(v, joinedVals![i]!));
        joinedLocals = joinLocals(joinedLocals, ls);
      };
      if (f.sawElse) {
        add(f.thenVals ?? null, f.thenLocals ?? null);
        add(elseVals, elseLocals);
      } else {
        add(elseVals, elseLocals); // the then arm's end
        add(new Array(f.results).fill(UNKNOWN), f.entryLocals); // no else: the condition was false
      }
      add(f.exitVals, f.exitLocals);
      vals = joinedVals ?? [];
      reachable = joinedLocals !== null;
      if (joinedLocals !== null) adopt(joinedLocals);
    } else {
      const fallVals = reachable ? stack.slice(stack.length - f.results) : null;
      let joinedVals = fallVals;
      let joinedLocals = reachable ? snap() : null;
      if (f.exitVals !== null) {
        joinedVals = joinedVals === null ? f.exitVals : joinedVals.map((v, i) => join(v, f.exitVals![i]!));
        joinedLocals = joinLocals(joinedLocals, f.exitLocals!);
      }
      vals = joinedVals ?? [];
      reachable = joinedLocals !== null;
      if (joinedLocals !== null) adopt(joinedLocals);
    }
    if (frames.length === 0) {
      for (const v of vals) {
        use(v);
        returns = joinAtoms(returns, v.atoms);
      }
      return true;
    }
    stack.length = f.height;
    if (reachable) {
      if (vals.length !== f.results) throw new Opaque('block results');
      stack.push(...vals);
    }
    return false;
  }

  function numeric(op: number): void {
    // Unary: eqz, clz/ctz/popcnt, float unary, conversions, sign extension.
    const unary =
      op === 0x45 ||
      op === 0x50 ||
      (op >= 0x67 && op <= 0x69) ||
      (op >= 0x79 && op <= 0x7b) ||
      (op >= 0x8b && op <= 0x91) ||
      (op >= 0x99 && op <= 0x9f) ||
      (op >= 0xa7 && op <= 0xc4);
    if (unary) {
      const x = pop();
      // wrap/extend keep a pointer's bases (memory64 code moves addresses between widths).
      push(op === 0xa7 || op === 0xac || op === 0xad ? derived(x) : NONE);
      return;
    }
    const b = take();
    const a = take();
    const isAdd = op === 0x6a || op === 0x7c;
    const isSub = op === 0x6b || op === 0x7d;
    const isAnd = op === 0x71 || op === 0x83;
    const compare = (op >= 0x46 && op <= 0x4f) || (op >= 0x51 && op <= 0x5a) || (op >= 0x5b && op <= 0x66);
    if (compare || (op >= 0x92 && op <= 0x98) || op >= 0xa0) {
      push(NONE);
      return;
    }
    if (isAnd && b.konst !== undefined) addMask(a, b.konst);
    else if (isAnd && a.konst !== undefined) addMask(b, a.konst);
    else {
      use(a);
      use(b);
    }
    if (a.konst !== undefined && b.konst !== undefined) {
      push(new Val(NONE.atoms, -1, constFold(op, a.konst, b.konst)));
      return;
    }
    if (isAdd && b.konst !== undefined) push(withLocalOffset(shift(a, b.konst), b.konst));
    else if (isAdd && a.konst !== undefined) push(shift(b, a.konst));
    else if (isSub && b.konst !== undefined) push(withLocalOffset(shift(a, -b.konst), -b.konst));
    else if (isSub) push(derived(a));
    else push(derived(a, b));
  }

  /** Records the syntactic `X ± k` shape (a constant right operand) for probe matching. */
  function withLocalOffset(v: Val, k: number): Val {
    return new Val(v.atoms, v.load, v.konst, k);
  }

  /**
   * The probe offset src/walk.ts headerProbes gives a load at `X ± k` + offset: a read just below
   * X, k in [-16, -1] after the static offset.
   */
  function probeOf(ptr: Val, offset: number): number | undefined {
    const k = ptr.plusConst;
    if (k !== undefined && k < 0 && k >= -16 && offset + k < 0) return offset + k;
    return undefined;
  }

  function constFold(op: number, x: number, y: number): number | undefined {
    if (op === 0x6a || op === 0x7c) return x + y;
    if (op === 0x6b || op === 0x7d) return x - y;
    return undefined;
  }

  function prefixFC(p0: number): number {
    let [sub, p1] = uleb(bytes, p0, end);
    if (sub <= 7) {
      pop();
      push(NONE);
    } else if (sub === 8) {
      p1 = uleb(bytes, p1, end)[1];
      p1 = uleb(bytes, p1, end)[1];
      popN(3);
    } else if (sub === 9 || sub === 13) {
      p1 = uleb(bytes, p1, end)[1];
    } else if (sub === 10 || sub === 14 || sub === 12) {
      p1 = uleb(bytes, p1, end)[1];
      p1 = uleb(bytes, p1, end)[1];
      popN(3);
    } else if (sub === 11 || sub === 17) {
      p1 = uleb(bytes, p1, end)[1];
      popN(3);
    } else if (sub === 15) {
      p1 = uleb(bytes, p1, end)[1];
      popN(2);
      push(NONE);
    } else if (sub === 16) {
      p1 = uleb(bytes, p1, end)[1];
      push(NONE);
    } else throw new Opaque(`opcode 0xfc ${sub}`);
    return p1;
  }

  function prefixFD(p0: number, at: number): number {
    let [sub, p1] = uleb(bytes, p0, end);
    if (sub <= 0x0a || sub === 0x5c || sub === 0x5d) {
      let offset: number;
      [offset, p1] = memarg(bytes, p1, end);
      const ptr = pop();
      const width =
        sub === 0 ? 16 : sub <= 6 ? 8 : sub === 7 ? 1 : sub === 8 ? 2 : sub === 9 || sub === 0x5c ? 4 : 8;
      if (reachable) recordLoad(at, ptr, offset, width);
      push(NONE);
      return p1;
    }
    if (sub === 0x0b) {
      p1 = memarg(bytes, p1, end)[1];
      popN(2);
      return p1;
    }
    if (sub === 0x0c) {
      push(NONE);
      return p1 + 16;
    }
    if (sub === 0x0d) {
      popN(2);
      push(NONE);
      return p1 + 16;
    }
    if (sub === 0x0e) {
      popN(2);
      push(NONE);
      return p1;
    }
    if (sub >= 0x0f && sub <= 0x14) {
      pop();
      push(NONE);
      return p1;
    }
    if (sub >= 0x15 && sub <= 0x22) {
      const replace = [0x17, 0x1a, 0x1c, 0x1e, 0x20, 0x22].includes(sub);
      popN(replace ? 2 : 1);
      push(NONE);
      return p1 + 1;
    }
    if (sub >= 0x54 && sub <= 0x5b) {
      let offset: number;
      [offset, p1] = memarg(bytes, p1, end);
      p1 += 1; // lane
      const v = pop();
      const ptr = pop();
      void v;
      if (sub <= 0x57) {
        if (reachable) recordLoad(at, ptr, offset, [1, 2, 4, 8][sub - 0x54]!);
        push(NONE);
      }
      return p1;
    }
    if (SIMD_TERNARY.has(sub)) popN(3);
    else if (SIMD_UNARY.has(sub) || sub === 0x4d || sub === 0x53) popN(1);
    else if ((sub >= 0x23 && sub <= 0x51) || (sub >= 0x65 && sub <= 0x113)) popN(2);
    else throw new Opaque(`opcode 0xfd ${sub}`);
    push(NONE);
    return p1;
  }

  function prefixFE(p0: number, at: number): number {
    let [sub, p1] = uleb(bytes, p0, end);
    if (sub === 0x03) return p1 + 1; // atomic.fence
    let offset: number;
    [offset, p1] = memarg(bytes, p1, end);
    if (sub === 0x00) {
      popN(2);
      push(NONE);
    } else if (sub === 0x01 || sub === 0x02) {
      popN(3);
      push(NONE);
    } else if (sub >= 0x10 && sub <= 0x16) {
      const ptr = pop();
      push(reachable ? recordLoad(at, ptr, offset, [4, 8, 1, 2, 1, 2, 4][sub - 0x10]!) : UNKNOWN);
    } else if (sub >= 0x17 && sub <= 0x1d) {
      popN(2);
    } else if (sub >= 0x1e && sub <= 0x47) {
      popN(2);
      push(UNKNOWN);
    } else if (sub >= 0x48 && sub <= 0x4e) {
      popN(3);
      push(UNKNOWN);
    } else throw new Opaque(`opcode 0xfe ${sub}`);
    return p1;
  }
}
