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
 * or the base at any offset (pointer + index, masks). Constants and the stack pointer carry no
 * atom. Control flow is followed: blocks, ifs and branches join their states, and a loop's head is
 * iterated until the locals it assigns are stable. Only loads are recorded whose pointer may lie
 * below one of those bases (offset < 0 or unknown), and every direct call's arguments and every
 * return value, for the interprocedural resolution.
 *
 * Representation (numbers only, so that the hot loops see small integers and few objects): a set
 * of atoms (`AtomSet`) is one array of numbers, two per atom: the atom's code, then its offset.
 *
 *   code = 8 n + 2 kind + any      kind: 0 alloc, 1 call result, 2 parameter, 3 unknown
 *                                  n: the call's position (kind 1), the parameter's index (2), else 0
 *                                  any: 1 for "any offset" (the offset is then 0), else 0
 *
 * A canonical set (what normalizeAtoms gives) is sorted the way the first versions of this file,
 * which named bases by strings ('a', 'c<position>', 'p<index>', 'u'), sorted them: by the base's
 * name as a string ('a' < 'c10' < 'c9' < 'p0' < 'u': numbers in decimal string order), then by
 * offset, any offset last. The order is kept because the resolution's results depend on it (it
 * walks sets in order, and its memo has a depth cut-off). atomsToObjects gives that naming back.
 *
 * A function the interpreter cannot follow (an opcode it does not model, a stack it cannot
 * balance, too much work) is marked `opaque`: the analysis then trusts nothing about it.
 */

import type { ModuleInfo } from './reader.js';

/**
 * A set of atoms: code, offset, code, offset … (see the file header). Never changed once made;
 * shared between values, sites and summaries.
 */
export type AtomSet = number[];

/** Atom kinds (bits 1-2 of a code). */
export const ALLOC = 0;
export const CALL = 1;
export const PARAM = 2;
export const UNKNOWN_KIND = 3;

/** The code of an exact-offset atom of kind `kind` and number `n`. */
export function atomCode(kind: number, n: number): number {
  return n * 8 + kind * 2;
}

/**
 * code % 8 (the kind and the any bit). Codes are integers >= 0: below 2^31 (every call position
 * below 256 MB) they are int32 and bit operations apply, which stay cheap when V8 holds the code as
 * a double (`%` on a double is a call into the runtime); above, `%` is exact.
 */
function low3(code: number): number {
  return code < 0x80000000 ? code & 7 : code % 8;
}

/** The atom's kind (ALLOC, CALL, PARAM or UNKNOWN_KIND). */
export function kindOf(code: number): number {
  return low3(code) >> 1;
}

/** The atom's number: a call's position, a parameter's index (0 for alloc and unknown). */
export function numberOf(code: number): number {
  return code < 0x80000000 ? code >>> 3 : (code - (code % 8)) / 8;
}

/** True for an any-offset atom. */
export function isAny(code: number): boolean {
  return (low3(code) & 1) === 1;
}

/** The code of the same base at any offset. */
export function anyCode(code: number): number {
  return code - (low3(code) & 1) + 1;
}

/** The code of the same base at an exact offset. */
function exactCode(code: number): number {
  return code - (low3(code) & 1);
}

const A_CODE = atomCode(ALLOC, 0);
const U_CODE = atomCode(UNKNOWN_KIND, 0);

/** An atom in the shape of the first versions of this file, for tests and debugging. */
export interface AtomObject {
  /** 'a' alloc, 'u' unknown, 'p<i>' parameter i, 'c<s>' result of the call at s. */
  base: string;
  /** null: any offset. */
  offset: number | null;
}

/** The atoms of a set as objects (same order). */
export function atomsToObjects(atoms: AtomSet): AtomObject[] {
  const out: AtomObject[] = [];
  for (let i = 0; i < atoms.length; i += 2) {
    const code = atoms[i]!;
    const kind = kindOf(code);
    const base =
      kind === ALLOC ? 'a' : kind === UNKNOWN_KIND ? 'u' : `${kind === CALL ? 'c' : 'p'}${numberOf(code)}`;
    out.push({ base, offset: isAny(code) ? null : atoms[i + 1]! });
  }
  return out;
}

/** The set of atoms given as objects (same order, not normalized). */
export function atomsFromObjects(atoms: readonly AtomObject[]): AtomSet {
  const out: AtomSet = [];
  for (const a of atoms) {
    const c = a.base.charAt(0);
    const kind = c === 'a' ? ALLOC : c === 'u' ? UNKNOWN_KIND : c === 'c' ? CALL : PARAM;
    const n = kind === CALL || kind === PARAM ? Number(a.base.slice(1)) : 0;
    const code = atomCode(kind, n);
    if (a.offset === null) out.push(code + 1, 0);
    else out.push(code, a.offset);
  }
  return out;
}

/** Powers of ten up to 10^15. */
const POW10: number[] = [];
for (let i = 0, p = 1; i <= 15; i++, p *= 10) POW10.push(p);

/** Decimal digits of n >= 0. */
function digits(n: number): number {
  let d = 1;
  while (d < 16 && n >= POW10[d]!) d++;
  return d;
}

/**
 * Order of two different numbers >= 0 as decimal strings ('10' < '9', '1' < '10'): negative when
 * x comes first. The shorter is scaled to the other's length; equal then, it is a prefix: first.
 */
function decimalOrder(x: number, y: number): number {
  const dx = digits(x);
  const dy = digits(y);
  const sx = dx < dy ? x * POW10[dy - dx]! : x;
  const sy = dy < dx ? y * POW10[dx - dy]! : y;
  return sx !== sy ? sx - sy : dx - dy;
}

/** Order of two codes: by base name (see the file header), exact before any offset. */
function compareCodes(x: number, y: number): number {
  if (x === y) return 0;
  const kx = low3(x);
  const ky = low3(y);
  // Kinds first (kind * 2 + any: the same kind differs by at most 1 here).
  if (kx >> 1 !== ky >> 1) return kx - ky;
  const nx = numberOf(x);
  const ny = numberOf(y);
  if (nx !== ny) return decimalOrder(nx, ny);
  return kx - ky; // the same base: exact first
}

/**
 * Order of atoms (x at offset xo, y at yo): by base, then offset, any offset counted as 1e18 (so
 * last, but for exact offsets no code makes): the order of the first versions, to the letter.
 * Two any-offset atoms of one base have equal codes and offsets 0.
 */
function compareAtoms(xc: number, xo: number, yc: number, yo: number): number {
  if (xc === yc) return xo - yo;
  if (exactCode(xc) !== exactCode(yc)) return compareCodes(xc, yc);
  return (isAny(xc) ? ANY_KEY : xo) - (isAny(yc) ? ANY_KEY : yo);
}

/** The sort key of an any offset (see compareAtoms). */
const ANY_KEY = 1e18;

/** A load whose pointer may sit below a base. */
export interface LoadSite {
  /** Byte position of the load instruction in the module (a stable key). */
  at: number;
  /** The pointer's atoms, with the load's static offset already added. */
  atoms: AtomSet;
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
  probe: number | undefined;
  /** Position among this function's loads that have a `probe` (the headerProbes index). */
  probeIndex: number | undefined;
}

/** A direct call's arguments. */
export interface CallSite {
  /** Position of the call instruction (the number of the CALL atoms of its result). */
  at: number;
  target: number;
  args: AtomSet[];
}

/** What the interpreter learnt about one defined function. */
export interface FunctionFlow {
  /** Function index (imports included). */
  index: number;
  params: number;
  loads: LoadSite[];
  calls: CallSite[];
  /** Atoms of every value the function may return. */
  returns: AtomSet;
  /** Targets of ref.func (their callers are unknown). */
  refFuncs: number[];
  /** Constant addresses the function loads from or stores to (static data it touches). */
  staticAccesses: number[];
  /** The interpreter could not follow the body. */
  opaque: boolean;
  /** Why, when opaque. */
  why: string | undefined;
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
    readonly atoms: AtomSet,
    /** Index into `loads` when this is exactly a recorded load's result, else -1. */
    readonly load: number = -1,
    /** Exact constant, when known (i32/i64 within ±2^53). */
    readonly konst: number | undefined = undefined,
    /** Syntactic shape `X + k` (a constant right operand of add or sub): k. */
    readonly plusConst: number | undefined = undefined,
  ) {}
}

const NONE = new Val([]);
const UNKNOWN = new Val([U_CODE, 0]);
/** What an allocating call returns. */
const ALLOCATED = new Val([A_CODE, 0]);
/** No values (a block without results); never changed in place, like every value list here. */
const NO_VALS: Val[] = [];

function sameAtoms(a: AtomSet, b: AtomSet): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Any allocation or unknown value at any offset: what a value widens to when it has too many bases.
 * It absorbs everything it is joined with, so widening stays monotone (loop heads settle).
 */
const TOP: AtomSet = [A_CODE + 1, 0, U_CODE + 1, 0];

/**
 * The canonical form of a set of atoms: duplicates dropped; more than MAX_ATOMS atoms widened to
 * one any-offset atom per base (more than MAX_ATOMS bases: TOP); an any-offset atom absorbs its
 * base's exact ones; sorted by base, then offset (any offset last).
 */
export function normalizeAtoms(atoms: AtomSet): AtomSet {
  return normalize(atoms);
}

function normalize(atoms: AtomSet): AtomSet {
  const n = atoms.length >> 1;
  if (n <= 1) return atoms;
  // Already canonical (few atoms, sorted, no duplicates, nothing to absorb): as it is.
  if (n <= MAX_ATOMS && isNormal(atoms)) return atoms;
  if (n === 2) {
    const xc = atoms[0]!;
    const xo = atoms[1]!;
    const yc = atoms[2]!;
    const yo = atoms[3]!;
    if (xc === yc && xo === yo) return [xc, xo];
    if (exactCode(xc) === exactCode(yc) && (isAny(xc) || isAny(yc))) return [anyCode(xc), 0];
    return compareAtoms(xc, xo, yc, yo) < 0 ? atoms : [yc, yo, xc, xo];
  }
  // Distinct atoms, first occurrences in order.
  let out: AtomSet = [];
  for (let i = 0; i < atoms.length; i += 2) {
    const c = atoms[i]!;
    const o = atoms[i + 1]!;
    let seen = false;
    for (let j = 0; j < out.length && !seen; j += 2) if (out[j] === c && out[j + 1] === o) seen = true;
    if (!seen) out.push(c, o);
  }
  if (out.length > 2 * MAX_ATOMS) {
    // Widen: one atom per base, any offset.
    const bases: AtomSet = [];
    for (let i = 0; i < out.length; i += 2) {
      const c = anyCode(out[i]!);
      if (!bases.includes(c)) bases.push(c);
    }
    if (bases.length > MAX_ATOMS) return TOP;
    out = [];
    for (const c of bases) out.push(c, 0);
  }
  // A base with an any-offset atom subsumes its exact ones.
  const kept: number[] = [];
  for (let i = 0; i < out.length; i += 2) {
    const c = out[i]!;
    if (!isAny(c) && hasCode(out, anyCode(c))) continue;
    kept.push(i);
  }
  kept.sort((i, j) => compareAtoms(out[i]!, out[i + 1]!, out[j]!, out[j + 1]!));
  const sorted: AtomSet = [];
  for (const i of kept) sorted.push(out[i]!, out[i + 1]!);
  return sorted;
}

/** True when an atom of `atoms` has code `code`. */
function hasCode(atoms: AtomSet, code: number): boolean {
  for (let i = 0; i < atoms.length; i += 2) if (atoms[i] === code) return true;
  return false;
}

/**
 * The canonical form of the union of two sets: normalize(a.concat(b)), except that TOP absorbs
 * whatever it is joined with (it is returned by identity).
 */
export function joinAtoms(a: AtomSet, b: AtomSet): AtomSet {
  const quick = joinQuick(a, b);
  if (quick !== null) return quick;
  return isNormal(a) && isNormal(b) ? mergeNormal(a, b) : normalize(a.concat(b));
}

/**
 * joinAtoms of two normalized sets, without checking that they are: every set the interpreter
 * makes is (the constants, single atoms, and what normalize, joins and anyOffsets return).
 */
function joinNormal(a: AtomSet, b: AtomSet): AtomSet {
  return joinQuick(a, b) ?? mergeNormal(a, b);
}

/** joinAtoms where it needs no merge (TOP, the same set, an empty one, two single atoms), else null. */
function joinQuick(a: AtomSet, b: AtomSet): AtomSet | null {
  if (a === TOP || b === TOP) return TOP;
  if (a === b || b.length === 0) return a;
  if (a.length === 0) return b;
  if (a.length === 2 && b.length === 2) {
    // Two single atoms: what mergeNormal gives, without its checks and copies.
    const xc = a[0]!;
    const xo = a[1]!;
    const yc = b[0]!;
    const yo = b[1]!;
    if (exactCode(xc) === exactCode(yc)) {
      if ((xc === yc && xo === yo) || isAny(xc)) return a;
      if (isAny(yc)) return b;
      return xo < yo ? [xc, xo, yc, yo] : [yc, yo, xc, xo];
    }
    return compareCodes(xc, yc) < 0 ? [xc, xo, yc, yo] : [yc, yo, xc, xo];
  }
  if (sameAtoms(a, b)) return a;
  return null;
}

/** True when `atoms` is what normalize returns: sorted, no duplicates, an any-offset atom alone in its base. */
function isNormal(atoms: AtomSet): boolean {
  for (let i = 2; i < atoms.length; i += 2) {
    const xc = atoms[i - 2]!;
    const yc = atoms[i]!;
    if (compareAtoms(xc, atoms[i - 1]!, yc, atoms[i + 1]!) >= 0) return false;
    if (exactCode(xc) === exactCode(yc) && (isAny(xc) || isAny(yc))) return false;
  }
  return true;
}

/**
 * True when joining the atoms of `atoms` one by one into the empty set gives `atoms` again (same
 * content): a normalized set of at most MAX_ATOMS atoms that is not TOP itself (whose identity
 * absorbs what it is joined with, which a copy of it does not).
 */
export function isCanonicalSet(atoms: AtomSet): boolean {
  return atoms !== TOP && atoms.length <= 2 * MAX_ATOMS && isNormal(atoms);
}

/** Every atom of `b` is one of `a` (both normalized, so both sorted by compareAtoms). */
function contains(a: AtomSet, b: AtomSet): boolean {
  if (b.length > a.length) return false;
  let i = 0;
  for (let j = 0; j < b.length; j += 2) {
    const yc = b[j]!;
    const yo = b[j + 1]!;
    while (i < a.length && compareAtoms(a[i]!, a[i + 1]!, yc, yo) < 0) i += 2;
    if (i === a.length) return false;
    if (a[i] !== yc || a[i + 1] !== yo) return false;
    i += 2;
  }
  return true;
}

/**
 * normalize(a.concat(b)) for two normalized sets, by merging them (no sort). Same content as
 * normalize: the union is counted before any-offset atoms absorb exact ones, as there.
 */
function mergeNormal(a: AtomSet, b: AtomSet): AtomSet {
  // One holds the other (a join that adds nothing, the common case at branches and loop heads):
  // the union is that one, canonical as it is.
  if (a.length <= 2 * MAX_ATOMS && contains(a, b)) return a;
  if (b.length <= 2 * MAX_ATOMS && contains(b, a)) return b;
  const union: AtomSet = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length) {
      union.push(a[i]!, a[i + 1]!);
      i += 2;
    } else if (i >= a.length) {
      union.push(b[j]!, b[j + 1]!);
      j += 2;
    } else {
      const c = compareAtoms(a[i]!, a[i + 1]!, b[j]!, b[j + 1]!);
      if (c <= 0) {
        union.push(a[i]!, a[i + 1]!);
        i += 2;
        if (c === 0) j += 2;
      } else {
        union.push(b[j]!, b[j + 1]!);
        j += 2;
      }
    }
  }
  if (union.length > 2 * MAX_ATOMS) {
    // One any-offset atom per base (a base's atoms are next to each other in the union).
    const out: AtomSet = [];
    for (let k = 0; k < union.length; k += 2) {
      const c = anyCode(union[k]!);
      if (out.length === 0 || out[out.length - 2] !== c) out.push(c, 0);
    }
    return out.length > 2 * MAX_ATOMS ? TOP : out;
  }
  // A base with an any-offset atom keeps only that one (it sorts last among its base's atoms).
  let absorbed = false;
  for (let k = 2; k < union.length; k += 2)
    if (isAny(union[k]!) && exactCode(union[k - 2]!) === exactCode(union[k]!)) absorbed = true;
  if (!absorbed) return union;
  const out: AtomSet = [];
  for (let k = 0; k < union.length; k += 2) {
    const c = union[k]!;
    // Dropped when its base's any-offset atom is in the union (last of the base's atoms).
    if (!isAny(c)) {
      let e = k;
      while (e + 2 < union.length && exactCode(union[e + 2]!) === c) e += 2;
      if (e > k && isAny(union[e]!)) continue;
    }
    out.push(c, union[k + 1]!);
  }
  return out;
}

function join(a: Val, b: Val): Val {
  if (a === b) return a;
  if (a.atoms.length === 0 && b.atoms.length === 0 && a.load < 0 && b.load < 0) {
    return a.konst !== undefined && a.konst === b.konst ? a : NONE;
  }
  const atoms = joinNormal(a.atoms, b.atoms);
  const load = a.load === b.load ? a.load : -1;
  const konst = a.konst !== undefined && a.konst === b.konst ? a.konst : undefined;
  // Nothing new: `a` itself (when it carries no `X + k` shape, which a join drops).
  if (atoms === a.atoms && load === a.load && konst === a.konst && a.plusConst === undefined) return a;
  return new Val(atoms, load, konst);
}

/** Values of the constants -16 .. 4095, made on first use (values are immutable). */
const SMALL_CONSTS: (Val | undefined)[] = new Array(16 + 4096).fill(undefined);

/** The value of a constant. */
function constant(v: number): Val {
  if (!Number.isInteger(v) || v < -16 || v >= 4096) return new Val(NONE.atoms, -1, v);
  let c = SMALL_CONSTS[v + 16];
  if (c === undefined) {
    c = new Val(NONE.atoms, -1, v);
    SMALL_CONSTS[v + 16] = c;
  }
  return c;
}

/**
 * The value `v + by`; `plusConst` is the `X + k` shape to record (the constant right operand), or
 * undefined. Any-offset atoms stay as they are, so a set of them is shared, not copied.
 */
function shift(v: Val, by: number, plusConst: number | undefined): Val {
  const atoms = v.atoms;
  if (atoms.length === 0)
    return plusConst === undefined ? NONE : new Val(NONE.atoms, -1, undefined, plusConst);
  if (atoms === TOP) return new Val(TOP, -1, undefined, plusConst);
  if (atoms.length === 2) {
    const c = atoms[0]!;
    const moved = isAny(c) ? atoms : [c, atoms[1]! + by];
    return new Val(moved, -1, undefined, plusConst);
  }
  let exact = false;
  for (let i = 0; i < atoms.length; i += 2) if (!isAny(atoms[i]!)) exact = true;
  let moved: AtomSet;
  if (exact) {
    const out: AtomSet = [];
    for (let i = 0; i < atoms.length; i += 2) {
      const c = atoms[i]!;
      out.push(c, isAny(c) ? 0 : atoms[i + 1]! + by);
    }
    moved = normalize(out);
  } else moved = normalize(atoms.slice());
  return new Val(moved, -1, undefined, plusConst);
}

/** The value of arithmetic that is not `+ const`: same bases, any offset. */
function derived(v: Val): Val {
  if (v.atoms.length === 0) return NONE;
  if (v.atoms === TOP) return new Val(TOP);
  if (v.atoms.length === 2) {
    const c = v.atoms[0]!;
    return new Val(isAny(c) ? v.atoms : [anyCode(c), 0]);
  }
  return new Val(anyOffsets(v.atoms, NO_ATOMS));
}

/** derived of two values. */
function derived2(x: Val, y: Val): Val {
  if (y.atoms.length === 0) return derived(x);
  if (x.atoms.length === 0) return derived(y);
  if (x.atoms === TOP || y.atoms === TOP) return new Val(TOP);
  return new Val(anyOffsets(x.atoms, y.atoms));
}

const NO_ATOMS: AtomSet = [];

/**
 * What normalize gives for the any-offset atoms of every base of `x` and `y`, both normalized (so
 * sorted by base; every set the interpreter makes is), by merging them: one any-offset atom per
 * base in base order, TOP past MAX_ATOMS bases; `x` itself when that is what it holds.
 */
function anyOffsets(x: AtomSet, y: AtomSet): AtomSet {
  let asX = x.length <= 2 * MAX_ATOMS;
  for (let i = 0; i < x.length && asX; i += 2) if (!isAny(x[i]!)) asX = false;
  if (asX) {
    // x is one any-offset atom per base: the result when every base of y is one of x's.
    let i = 0;
    for (let j = 0; j < y.length; j += 2) {
      const b = anyCode(y[j]!);
      while (i < x.length && compareCodes(x[i]!, b) < 0) i += 2;
      if (i === x.length || x[i] !== b) {
        asX = false;
        break;
      }
    }
    if (asX) return x;
  }
  const out: AtomSet = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    const base =
      j >= y.length || (i < x.length && compareCodes(anyCode(x[i]!), anyCode(y[j]!)) <= 0)
        ? anyCode(x[i]!)
        : anyCode(y[j]!);
    while (i < x.length && anyCode(x[i]!) === base) i += 2;
    while (j < y.length && anyCode(y[j]!) === base) j += 2;
    out.push(base, 0);
  }
  return out.length > 2 * MAX_ATOMS ? TOP : out;
}

class Opaque extends Error {}

/** A block, loop, if or try being interpreted. A class with every field set: one object shape. */
class Frame {
  /** Values and locals carried by branches to the frame's end (block/if/try). */
  exitVals: Val[] | null = null;
  exitLocals: Val[] | null = null;
  /** For loops: locals at the head, and the join of the states that branch back to it. */
  headLocals: Val[] | null = null;
  backLocals: Val[] | null = null;
  /** The if had an else. */
  sawElse = false;
  /** The then-arm's end state, kept while the else arm runs. */
  thenVals: Val[] | null = null;
  thenLocals: Val[] | null = null;

  constructor(
    public kind: 'block' | 'loop' | 'if' | 'try',
    /** Stack height below the frame's parameters. */
    public height: number,
    public params: number,
    public results: number,
    /** Locals at entry (if: for the else arm; try: for catch clauses; none for blocks and loops). */
    public entryLocals: Val[],
    /** Position of the first instruction of the body (loops re-run from here). */
    public bodyStart: number,
  ) {}
}

/** Frames that ended, reused by the next blocks (one per block and pass would be garbage). */
const framePool: Frame[] = [];

/** A frame, from the pool when it has one. */
function newFrame(
  kind: Frame['kind'],
  height: number,
  params: number,
  results: number,
  entryLocals: Val[],
  start: number,
): Frame {
  const f = framePool.pop();
  if (f === undefined) return new Frame(kind, height, params, results, entryLocals, start);
  f.kind = kind;
  f.height = height;
  f.params = params;
  f.results = results;
  f.entryLocals = entryLocals;
  f.bodyStart = start;
  return f;
}

/** Returns a frame that ended (nothing refers to it any more) to the pool, holding no state. */
function freeFrame(f: Frame): void {
  f.exitVals = null;
  f.exitLocals = null;
  f.headLocals = null;
  f.backLocals = null;
  f.sawElse = false;
  f.thenVals = null;
  f.thenLocals = null;
  f.entryLocals = NO_VALS;
  framePool.push(f);
}

/** Reads pointer flow for every defined function of a module. */
export function pointerFlow(
  bytes: Uint8Array,
  info: ModuleInfo,
  options: PointerFlowOptions,
): FunctionFlow[] {
  const out: FunctionFlow[] = [];
  prepareCallees(info, options);
  for (let i = 0; i < info.codeRanges.length; i++) {
    const index = info.numImportedFunctions + i;
    const type = info.types[info.functions[i]!];
    const params = type && type.kind === 'func' ? type.params.length : 0;
    if (options.skip?.(index)) {
      out.push(emptyFlow(index, params, undefined));
      continue;
    }
    const range = info.codeRanges[i]!;
    try {
      out.push(interpret(bytes, range.start, range.end, index, info, options));
    } catch (e) {
      if (!(e instanceof Opaque)) {
        release();
        shrinkSlots();
        forgetCallees();
        throw e;
      }
      out.push(emptyFlow(index, params, e.message));
    }
  }
  release();
  shrinkSlots();
  forgetCallees();
  return out;
}

/** The flow of a function that is skipped (why undefined) or that the interpreter gave up on. */
function emptyFlow(index: number, params: number, why: string | undefined): FunctionFlow {
  return {
    index,
    params,
    loads: [],
    calls: [],
    returns: [],
    refFuncs: [],
    staticAccesses: [],
    opaque: why !== undefined,
    why,
  };
}

/** Slot tables grown past this many positions are dropped after a module (12 bytes a position). */
const KEPT_SLOTS = 1 << 16;

/** Drops slot tables a large body grew, so they are not kept between modules. */
function shrinkSlots(): void {
  if (loadSlot.length <= KEPT_SLOTS) return;
  loadSlot = new Int32Array(1024);
  callSlot = new Int32Array(1024);
  resultSlot = new Int32Array(1024);
}

/** Block type at p: [params, results, next position]. */
/** Parameters and results of the block type blockType last read. */
let btParams = 0;
let btResults = 0;

/** Reads the block type at p into btParams and btResults: the position after it. */
function blockType(bytes: Uint8Array, p: number, end: number, info: ModuleInfo): number {
  const b = bytes[p];
  if (b === undefined) throw new Opaque('truncated block type');
  btParams = 0;
  if (b === 0x40) {
    btResults = 0;
    return p + 1;
  }
  btResults = 1;
  if (b === 0x63 || b === 0x64) return skipS(bytes, p + 1, end);
  // Other negative one-byte s33 values are value types; non-negative ones are type indices.
  if (b >= 0x41 && b <= 0x7f) return p + 1;
  const idx = sleb(bytes, p, end);
  const q = lebNext;
  const t = info.types[idx];
  if (t?.kind !== 'func') throw new Opaque(`block type ${idx}`);
  btParams = t.params.length;
  btResults = t.results.length;
  return q;
}

/**
 * Position after the last immediate read by uleb, sleb or memarg. The readers return the value and
 * leave the position here, so the interpreter's hot loop allocates nothing per immediate.
 */
let lebNext = 0;

function uleb(bytes: Uint8Array, p: number, end: number): number {
  if (p < end) {
    const b = bytes[p]!;
    if (b < 0x80) {
      lebNext = p + 1;
      return b;
    }
  }
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw new Opaque('truncated LEB');
    const b = bytes[p++]!;
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) {
      lebNext = p;
      return result;
    }
    mul *= 128;
  }
  throw new Opaque('LEB too long');
}

/** Skips an unsigned LEB: the position after it. */
function skipU(bytes: Uint8Array, p: number, end: number): number {
  uleb(bytes, p, end);
  return lebNext;
}

function sleb(bytes: Uint8Array, p: number, end: number): number {
  // Fast path: up to 7 bytes fit a 49-bit signed value exactly in plain numbers (i32 constants
  // take up to 5), what slebBig gives them.
  let r = 0;
  let scale = 1;
  for (let i = 0; i < 7 && p + i < end; i++) {
    const b = bytes[p + i]!;
    r += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) {
      if (b & 0x40) r -= scale;
      lebNext = p + i + 1;
      return r;
    }
  }
  return slebBig(bytes, p, end);
}

/** Skips a signed LEB: the position after it. */
function skipS(bytes: Uint8Array, p: number, end: number): number {
  sleb(bytes, p, end);
  return lebNext;
}

function slebBig(bytes: Uint8Array, p: number, end: number): number {
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
  lebNext = p;
  return result >= -(2n ** 53n) && result <= 2n ** 53n ? Number(result) : Number.NaN;
}

/** A memarg: its static offset; the position after it in `lebNext`. */
function memarg(bytes: Uint8Array, p: number, end: number): number {
  const align = uleb(bytes, p, end);
  let r = lebNext;
  if (align & 0x40) r = skipU(bytes, r, end);
  return uleb(bytes, r, end);
}

/** The opcodes whose only immediate is a u32: br, br_if, call, local.get/set/tee, global.get/set. */
const U32_IMMEDIATE = new Uint8Array(256);
for (const op of [0x0c, 0x0d, 0x10, 0x20, 0x21, 0x22, 0x23, 0x24]) U32_IMMEDIATE[op] = 1;

/** Width of the loads 0x28 .. 0x35, by opcode. */
const LOAD_BYTES: number[] = [];
for (const [op, width] of [
  [0x28, 4],
  [0x29, 8],
  [0x2a, 4],
  [0x2b, 8],
  [0x2c, 1],
  [0x2d, 1],
  [0x2e, 2],
  [0x2f, 2],
  [0x30, 1],
  [0x31, 1],
  [0x32, 2],
  [0x33, 2],
  [0x34, 4],
  [0x35, 4],
] as const)
  LOAD_BYTES[op] = width;

/** SIMD opcodes (after 0xfd) with one v128 operand; the others of 0x5e.. are binary unless listed. */
const SIMD_UNARY = new Set([
  0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x67, 0x68, 0x69, 0x6a, 0x74, 0x75, 0x7a, 0x7c, 0x7d, 0x7e, 0x7f,
  0x80, 0x81, 0x83, 0x84, 0x87, 0x88, 0x89, 0x8a, 0x94, 0xa0, 0xa1, 0xa3, 0xa4, 0xa7, 0xa8, 0xa9, 0xaa, 0xc0,
  0xc1, 0xc3, 0xc4, 0xc7, 0xc8, 0xc9, 0xca, 0xe0, 0xe1, 0xe3, 0xec, 0xed, 0xef, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc,
  0xfd, 0xfe, 0xff, 0x101, 0x102, 0x103, 0x104,
]);
const SIMD_TERNARY = new Set([0x52, 0x105, 0x106, 0x107, 0x108, 0x109, 0x10a, 0x10b, 0x10c, 0x113]);

// The state of the function being interpreted. interpret() is not re-entrant, and its helpers are
// module functions over this state rather than closures made anew for every function: V8 then
// keeps one optimised version of each instead of deoptimising on every new set of closures.
let bytes: Uint8Array = new Uint8Array(0);
let end = 0;
let info!: ModuleInfo;
let options!: PointerFlowOptions;
/**
 * By function index, for the module being read: its parameter and result counts (-1: its type is
 * not a function type), and whether it allocates (1: yes, 0: no).
 */
let calleeParams = new Int32Array(0);
let calleeResults = new Int32Array(0);
let allocating = new Uint8Array(0);

/** Drops the module's callee tables. */
function forgetCallees(): void {
  calleeParams = new Int32Array(0);
  calleeResults = new Int32Array(0);
  allocating = new Uint8Array(0);
}

/**
 * Fills calleeParams, calleeResults and allocating for a module. `allocating` is a fixed predicate,
 * asked here once per function rather than from the interpreter: each module's options bring
 * their own closure, which a call site in the interpreter's optimised code would not expect.
 */
function prepareCallees(info: ModuleInfo, flowOptions: PointerFlowOptions): void {
  const n = info.functionTypes.length;
  calleeParams = new Int32Array(n);
  calleeResults = new Int32Array(n);
  allocating = new Uint8Array(n);
  for (let f = 0; f < n; f++) {
    const t = info.types[info.functionTypes[f]!];
    calleeParams[f] = t?.kind === 'func' ? t.params.length : -1;
    calleeResults[f] = t?.kind === 'func' ? t.results.length : 0;
    if (flowOptions.allocating(f)) allocating[f] = 1;
  }
}
let nParams = 0;
let nResults = 0;
let bodyStart = 0;
/** An empty module: what `bytes` holds between modules. */
const NO_BYTES = new Uint8Array(0);
/**
 * Slots by instruction position, relative to the body's first byte (0: none, else index + 1):
 * recorded loads (`loads`), direct calls (`calls`) and call results (`callVals`). Grown to the
 * largest body and reused; release() zeroes only what the last function set.
 */
let loadSlot = new Int32Array(1024);
let callSlot = new Int32Array(1024);
let resultSlot = new Int32Array(1024);
/** First byte of the body's code: slot positions are relative to it. */
let slotBase = 0;
let loads: LoadSite[] = [];
/** The value each recorded load gives. */
const loadVals: Val[] = [];
let calls: CallSite[] = [];
/** The value of each direct call's result, by its result slot; `callValAt` its position. */
const callVals: Val[] = [];
const callValAt: number[] = [];
let returns: AtomSet = [];
const refFuncs = new Set<number>();
const staticAccesses = new Set<number>();
// Local states are shared between frames copy-on-write: `snap()` hands out the current array,
// and the next local.set copies it first.
let initialLocals: Val[] = [];
let locals: Val[] = [];
let shared = true;
const stack: Val[] = [];
const frames: Frame[] = [];
let reachable = true;
let work = 0;
let maxWork = 0;
// Loop heads: the join of every state that branched back to them, across passes over the body.
// The whole body is re-run until no loop head learns anything new (then every value a local can
// hold at a loop head is accounted for).
const loopBack = new Map<number, Val[]>();
let pass = 0;
let dirty = true;

/** The value of each parameter at entry (`p<i> + 0`), made once: values are immutable. */
const PARAM_VALS: Val[] = [];

function paramVal(i: number): Val {
  while (PARAM_VALS.length <= i) PARAM_VALS.push(new Val([atomCode(PARAM, PARAM_VALS.length), 0]));
  return PARAM_VALS[i]!;
}

/** Forgets the last function's state (and the module's bytes). */
function release(): void {
  bytes = NO_BYTES;
  for (const site of loads) loadSlot[site.at - slotBase] = 0;
  loads = [];
  loadVals.length = 0;
  for (const site of calls) callSlot[site.at - slotBase] = 0;
  calls = [];
  for (const at of callValAt) resultSlot[at - slotBase] = 0;
  callVals.length = 0;
  callValAt.length = 0;
  returns = [];
  // (clear() makes a new table even for an empty set)
  if (refFuncs.size > 0) refFuncs.clear();
  if (staticAccesses.size > 0) staticAccesses.clear();
  initialLocals = [];
  locals = [];
  stack.length = 0;
  frames.length = 0;
  if (loopBack.size > 0) loopBack.clear();
}

function interpret(
  moduleBytes: Uint8Array,
  start: number,
  bodyEnd: number,
  index: number,
  moduleInfo: ModuleInfo,
  flowOptions: PointerFlowOptions,
): FunctionFlow {
  release();
  bytes = moduleBytes;
  end = bodyEnd;
  slotBase = start;
  if (loadSlot.length < bodyEnd - start) {
    const size = Math.max(bodyEnd - start, 2 * loadSlot.length);
    loadSlot = new Int32Array(size);
    callSlot = new Int32Array(size);
    resultSlot = new Int32Array(size);
  }
  info = moduleInfo;
  options = flowOptions;
  const fnType = info.types[info.functionTypes[index]!];
  if (fnType?.kind !== 'func') throw new Opaque('no function type');
  nParams = fnType.params.length;
  nResults = fnType.results.length;

  // Locals: params, then the declared groups.
  let p = start;
  const groups = uleb(bytes, p, end);
  p = lebNext;
  let nLocals = nParams;
  for (let g = 0; g < groups; g++) {
    const n = uleb(bytes, p, end);
    p = lebNext;
    nLocals += n;
    if (nLocals > 50000) throw new Opaque('too many locals');
    if (bytes[p] === 0x63 || bytes[p] === 0x64) p = skipS(bytes, p + 1, end);
    else p++;
  }
  bodyStart = p;
  for (let i = 0; i < nLocals; i++) initialLocals.push(i < nParams ? paramVal(i) : NONE);
  locals = initialLocals;
  shared = true;
  reachable = true;
  work = 0;
  maxWork = WORK_FACTOR * (end - bodyStart) + 1000;
  pass = 0;
  dirty = true;

  for (; dirty; pass++) {
    if (pass > MAX_PASSES) throw new Opaque('loops did not settle');
    dirty = false;
    locals = initialLocals;
    shared = true;
    stack.length = 0;
    reachable = true;
    frames.length = 0;
    frames.push(newFrame('block', 0, 0, nResults, initialLocals, bodyStart));
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
    calls,
    returns,
    refFuncs: [...refFuncs],
    staticAccesses: [...staticAccesses],
    opaque: false,
    why: undefined,
  };
}

/** Notes a constant-address access. */
function access(ptr: Val, offset: number): void {
  if (ptr.konst !== undefined && reachable) staticAccesses.add(ptr.konst + offset);
}

function snap(): Val[] {
  shared = true;
  return locals;
}

/**
 * `into` (a frame's exit or back-edge state, or null) joined with the current locals. The current
 * array is kept, so the next local.set must copy it, only when `into` is null (it becomes the
 * state) or is that array already: joinLocals otherwise returns `into` or a new array.
 */
function joinCurrent(into: Val[] | null): Val[] {
  return into === null ? snap() : joinLocals(into, locals);
}

function adopt(l: Val[]): void {
  locals = l;
  shared = true;
}

/** After br, br_table, return, unreachable: the rest of the block is dead, its stack is the frame's. */
function stopReaching(): void {
  reachable = false;
  truncate(frames[frames.length - 1]!.height);
}

/** Pops a value without counting it as a use (moves into locals, drops, masks). */
function take(): Val {
  const f = frames[frames.length - 1]!;
  if (stack.length <= f.height) {
    if (!reachable) return UNKNOWN;
    throw new Opaque('stack underflow');
  }
  return stack.pop()!;
}

function use(v: Val): void {
  if (v.load >= 0) loads[v.load]!.otherUse = true;
}

/** Pops a value its consumer uses. */
function pop(): Val {
  const v = take();
  use(v);
  return v;
}

function push(v: Val): void {
  stack.push(v);
}

/** Drops the values above `height` (popping: setting the length goes through the runtime). */
function truncate(height: number): void {
  if (height < 0 || height > stack.length)
    stack.length = height; // as before (dead code with block params)
  else while (stack.length > height) stack.pop();
}

/** Pops n values, in stack order. Value lists are packed arrays (no holes): one map for V8. */
function popN(n: number): Val[] {
  if (n === 0) return NO_VALS;
  const vs: Val[] = [];
  for (let i = 0; i < n; i++) vs.push(pop());
  return vs.reverse();
}

/** The top n values (what a block ends with, what a branch carries), not popped. */
function topVals(n: number): Val[] {
  return n === 0 ? NO_VALS : stack.slice(stack.length - n);
}

/** n unknown values. */
function unknowns(n: number): Val[] {
  if (n === 0) return NO_VALS;
  const vs: Val[] = [];
  for (let i = 0; i < n; i++) vs.push(UNKNOWN);
  return vs;
}

function joinLocals(a: Val[] | null, b: Val[]): Val[] {
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
}

/**
 * The values of `a` joined one by one with those of `b` (as long). Built by pushing, like every
 * value list here: `map` makes a holey array when TurboFan inlines it, and a second map of the
 * same role sends the interpreter's optimised code back (wrong map).
 */
function joinVals(a: Val[], b: Val[]): Val[] {
  const out: Val[] = [];
  for (let i = 0; i < a.length; i++) out.push(join(a[i]!, b[i]!));
  return out;
}

/** `next` with each local whose atoms differ from the loop head's (`head`) widened to any offset. */
function widened(next: Val[], head: Val[]): Val[] {
  const out: Val[] = [];
  for (let i = 0; i < next.length; i++) {
    const v = next[i]!;
    out.push(sameAtoms(v.atoms, head[i]!.atoms) ? v : derived(join(v, head[i]!)));
  }
  return out;
}

/**
 * True when joining `next` into the loop head's locals `head` adds no atom to any of them (what
 * comparing the atoms of joinLocals(head, next) with head's tells, without making the join).
 */
function headHolds(head: Val[], next: Val[]): boolean {
  if (head === next) return true;
  for (let i = 0; i < head.length; i++) {
    const x = head[i]!.atoms;
    const y = next[i]!.atoms;
    if (x === y) continue;
    const joined = joinNormal(x, y);
    if (joined !== x && !sameAtoms(joined, x)) return false;
  }
  return true;
}

/** A branch to the frame `depth` levels up, carrying the top values. */
function branch(depth: number): void {
  if (!reachable) return;
  const f = frames[frames.length - 1 - depth];
  if (!f) throw new Opaque('branch depth');
  if (f.kind === 'loop') {
    f.backLocals = joinCurrent(f.backLocals);
    return;
  }
  if (depth === frames.length - 1) {
    // A branch to the function's outermost block returns.
    const vals = nResults === 0 ? NO_VALS : stack.slice(Math.max(0, stack.length - nResults));
    for (const v of vals) {
      use(v);
      returns = joinNormal(returns, v.atoms);
    }
    return;
  }
  const vals = topVals(f.results);
  if (vals.length !== f.results) throw new Opaque('branch arity');
  f.exitVals = f.exitVals === null || f.results === 0 ? vals : joinVals(vals, f.exitVals);
  f.exitLocals = joinCurrent(f.exitLocals);
}

/**
 * Records a load when its pointer may sit below a base: an allocation or unknown value with a
 * negative offset, or a parameter / call result with an offset below SYMBOLIC_LIMIT (resolved
 * later: a caller may pass `p - 8`). Returns the loaded value, tagged so masks reach the record.
 */
function recordLoad(at: number, ptr: Val, offset: number, width: number, probe?: number): Val {
  if (ptr.atoms.length === 0 && probe === undefined) return UNKNOWN;
  // Recorded before with these atoms (a loop's body, a later pass): the join would add nothing.
  const known = loadSlot[at - slotBase]! - 1;
  if (known >= 0 && holdsLoadAtoms(loads[known]!.atoms, ptr.atoms, offset)) return loadVal(known);
  const atoms: AtomSet = [];
  const from = ptr.atoms;
  for (let i = 0; i < from.length; i += 2) {
    const c = from[i]!;
    if (isAny(c)) continue;
    const o = from[i + 1]! + offset;
    if (o < 0 || (isSymbolic(c) && o < SYMBOLIC_LIMIT)) atoms.push(c, o);
  }
  if (atoms.length === 0 && probe === undefined) return UNKNOWN;
  let k = loadSlot[at - slotBase]! - 1;
  if (k < 0) {
    k = loads.length;
    loadSlot[at - slotBase] = k + 1;
    const site: LoadSite = {
      at,
      atoms: normalize(atoms),
      bytes: width,
      masks: [],
      otherUse: false,
      probe,
      probeIndex: undefined,
    };
    loads.push(site);
  } else {
    loads[k]!.atoms = joinNormal(loads[k]!.atoms, normalize(atoms));
  }
  return loadVal(k);
}

/** The value recorded load k gives. */
function loadVal(k: number): Val {
  let v = loadVals[k];
  if (v === undefined) {
    // Shared across passes (it carries no `X + k` shape, the one fact a value's identity keeps).
    v = new Val(UNKNOWN.atoms, k);
    loadVals[k] = v;
  }
  return v;
}

/**
 * True when every atom recordLoad would record for `ptr` + `offset` is one of `recorded` (a
 * load's atoms: normalized, at most MAX_ATOMS): joining them in would give `recorded` again.
 */
function holdsLoadAtoms(recorded: AtomSet, ptr: AtomSet, offset: number): boolean {
  for (let i = 0; i < ptr.length; i += 2) {
    const c = ptr[i]!;
    if (isAny(c)) continue;
    const o = ptr[i + 1]! + offset;
    if (!(o < 0 || (isSymbolic(c) && o < SYMBOLIC_LIMIT))) continue;
    let found = false;
    for (let j = 0; j < recorded.length; j += 2)
      if (recorded[j] === c && recorded[j + 1] === o) {
        found = true;
        break;
      }
    if (!found) return false;
  }
  return true;
}

/** A parameter or call-result atom (resolved later), not an allocation or unknown one. */
function isSymbolic(code: number): boolean {
  const kind = kindOf(code);
  return kind === CALL || kind === PARAM;
}

/** Records the direct call at `at`: its arguments are `vals[from .. from + n)`. */
function recordCall(at: number, target: number, vals: Val[], from: number, n: number): void {
  const k = callSlot[at - slotBase]! - 1;
  if (k >= 0) {
    const site = calls[k]!;
    for (let i = 0; i < n; i++) site.args[i] = joinNormal(site.args[i]!, vals[from + i]!.atoms);
  } else {
    callSlot[at - slotBase] = calls.length + 1;
    const atoms: AtomSet[] = [];
    for (let i = 0; i < n; i++) atoms.push(vals[from + i]!.atoms);
    calls.push({ at, target, args: atoms });
  }
}

function addMask(v: Val, mask: number): void {
  if (v.load >= 0) {
    const m = loads[v.load]!.masks;
    if (!m.includes(mask)) m.push(mask);
  }
}

/**
 * One pass over the body. The opcodes every toolchain's code is made of are handled here; the
 * others go through rareOp, one call site for all of them. V8 optimises this loop early, from what
 * the first bodies ran: an opcode whose code it has never run (an `else`, a `memory.size`) sends
 * the optimised code back to be compiled again, while a call to rareOp that ran once for any rare
 * opcode serves them all. So loads and stores whose memarg is not two one-byte LEBs (an offset of
 * 128 or more) go there too: the first bodies may have none.
 */
function runPass(): void {
  // The body and the work count in locals: the loop reads them on every instruction.
  const code = bytes;
  const stop = end;
  const limit = maxWork;
  let done = work;
  let p = bodyStart;
  while (p < stop) {
    if (++done > limit) throw new Opaque('too much work');
    const at = p;
    const op = code[p++]!;
    // The immediate of the opcodes below that have one u32 (a one-byte one read inline: uleb is
    // not inlined into this large function).
    let imm = 0;
    if (U32_IMMEDIATE[op] === 1) {
      imm = p < stop ? code[p]! : 0x80;
      if (imm < 0x80) p++;
      else {
        imm = uleb(code, p, stop);
        p = lebNext;
      }
    }
    switch (op) {
      case 0x01: // nop
        break;
      case 0x02: // block
      case 0x03: // loop
        p = enterBlock(op, at, p);
        break;
      case 0x04: {
        // if
        p = blockType(bytes, p, end, info);
        const bp = btParams;
        const br = btResults;
        pop(); // condition
        frames.push(newFrame('if', stack.length - bp, bp, br, snap(), p));
        break;
      }
      case 0x0b: {
        if (endFrame()) {
          // The function's end.
          p = end;
        }
        break;
      }
      case 0x0c: // br
        branch(imm);
        stopReaching();
        break;
      case 0x0d: // br_if
        pop();
        branch(imm);
        break;
      case 0x0f: {
        // return
        if (reachable) returnTop();
        stopReaching();
        break;
      }
      case 0x10: {
        // call
        const nr = directCall(at, imm);
        for (let i = 0; i < nr; i++) push(i === 0 ? callValue : UNKNOWN);
        break;
      }
      case 0x11: // call_indirect
        p = indirectCall(op, p);
        break;
      case 0x1a: // drop
        take();
        break;
      case 0x1b: // select
        select();
        break;
      case 0x20: {
        // local.get
        const v = locals[imm];
        if (!v) throw new Opaque('local index');
        push(v);
        break;
      }
      case 0x21: // local.set
      case 0x22: {
        // local.tee
        const i = imm;
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
      case 0x23: // global.get
        push(imm === options.stackPointer ? NONE : UNKNOWN);
        break;
      case 0x24: // global.set
        pop();
        break;
      case 0x41:
      case 0x42: {
        // One byte: -64 .. 63 (what sleb gives it).
        let v = p < stop ? code[p]! : 0x80;
        if (v < 0x80) {
          if (v & 0x40) v -= 128;
          p++;
        } else {
          v = sleb(code, p, stop);
          p = lebNext;
        }
        push(Number.isNaN(v) ? NONE : constant(v));
        break;
      }
      default: {
        if (op >= 0x28 && op <= 0x3e && p + 1 < stop && code[p + 1]! < 0x80 && code[p]! < 0x40) {
          // A load or store whose alignment (no memory index) and offset are one byte each, read
          // inline; rareOp reads the other memargs.
          const offset = code[p + 1]!;
          p += 2;
          memoryAccess(op, at, offset);
        } else if (op >= 0x45 && op <= 0xc4) {
          // A value local.set or local.tee stores loses its `X + k` shape: not made at all.
          numeric(op, code[p] === 0x21 || code[p] === 0x22);
        } else {
          p = rareOp(op, at, p);
        }
      }
    }
  }
  work = done;
}

/** block, loop or try (legacy) at `at`, its block type at p: the position after it. */
function enterBlock(op: number, at: number, p: number): number {
  p = blockType(bytes, p, end, info);
  const height = stack.length - btParams;
  if (height < frames[frames.length - 1]!.height && reachable) throw new Opaque('block params');
  // Only a try's catch clauses start from its entry locals: a block or loop does not keep
  // them (keeping them would make the next local.set copy the locals).
  const frame = newFrame(
    op === 0x03 ? 'loop' : op === 0x06 ? 'try' : 'block',
    height,
    btParams,
    btResults,
    op === 0x06 ? snap() : NO_VALS,
    p,
  );
  if (op === 0x03) {
    const back = loopBack.get(at);
    if (back) adopt(joinLocals(snap(), back));
    frame.headLocals = snap();
    frame.backLocals = null;
    frame.bodyStart = at;
  }
  frames.push(frame);
  return p;
}

/** Returns the top values (the function's results) from a reachable point. */
function returnTop(): void {
  const vals = nResults === 0 ? NO_VALS : stack.slice(Math.max(0, stack.length - nResults));
  for (const v of vals) {
    use(v);
    returns = joinNormal(returns, v.atoms);
  }
}

/** The value a direct call's first result has (set by directCall). */
let callValue: Val = NONE;

/**
 * The direct call at `at` to `target`: its arguments popped, used and recorded; its first
 * result's value left in callValue. Returns how many results the callee has.
 */
function directCall(at: number, target: number): number {
  const n = target < calleeParams.length ? calleeParams[target]! : -1;
  if (n < 0) throw new Opaque(`call target ${target}`);
  const nr = calleeResults[target]!;
  const from = stack.length - n;
  if (from >= frames[frames.length - 1]!.height) {
    // The arguments are on the stack (popN without its array): used, recorded, popped.
    for (let i = from; i < stack.length; i++) use(stack[i]!);
    if (reachable) recordCall(at, target, stack, from, n);
    truncate(from);
  } else {
    const args = popN(n);
    if (reachable) recordCall(at, target, args, 0, n);
  }
  // A call without results makes no value (its result atom would reach nothing).
  let result: Val = NONE;
  if (nr === 0) {
    // no value
  } else if (allocating[target] === 1) result = ALLOCATED;
  else if (target < info.numImportedFunctions) result = UNKNOWN;
  else {
    // One value per call site across passes (values are immutable).
    const k = resultSlot[at - slotBase]! - 1;
    if (k >= 0) result = callVals[k]!;
    else {
      result = new Val([atomCode(CALL, at), 0]);
      resultSlot[at - slotBase] = callVals.length + 1;
      callVals.push(result);
      callValAt.push(at);
    }
  }
  callValue = result;
  return nr;
}

/**
 * call_indirect, return_call_indirect, call_ref, return_call_ref (immediates at p): the position
 * after them. The callee is unknown: arguments go nowhere we follow, results are unknown.
 */
function indirectCall(op: number, p: number): number {
  const typeIdx = uleb(bytes, p, end);
  p = lebNext;
  if (op === 0x11 || op === 0x13) p = skipU(bytes, p, end); // the table
  const t = info.types[typeIdx];
  if (t?.kind !== 'func') throw new Opaque('indirect call type');
  pop(); // table index or reference
  popN(t.params.length);
  if (op === 0x13 || op === 0x15) {
    if (reachable && t.results.length > 0) returns = joinNormal(returns, UNKNOWN.atoms);
    stopReaching();
  } else for (let i = 0; i < t.results.length; i++) push(UNKNOWN);
  return p;
}

/** select: the join of its two operands. */
function select(): void {
  pop();
  const b = pop();
  const a = pop();
  push(join(a, b));
}

/**
 * The opcodes runPass leaves out (immediates at p, the opcode at `at`): the position after them.
 * Control flow beyond blocks and branches (else, exceptions, tail calls, br_table), loads and
 * stores with a longer memarg, constants and memory, table and reference instructions that carry
 * no pointer, the prefixed opcodes.
 */
function rareOp(op: number, at: number, p: number): number {
  switch (op) {
    case 0x00: // unreachable
      stopReaching();
      return p;
    case 0x05: {
      // else
      const f = frames[frames.length - 1]!;
      if (f.kind !== 'if') throw new Opaque('else without if');
      if (reachable) {
        f.thenVals = topVals(f.results);
        f.thenLocals = snap();
      }
      f.sawElse = true;
      truncate(f.height);
      // The else arm starts from the entry state with the block's parameters (unknown here).
      for (let i = 0; i < f.params; i++) push(UNKNOWN);
      adopt(f.entryLocals);
      reachable = true;
      return p;
    }
    case 0x06: // try (legacy)
      return enterBlock(op, at, p);
    case 0x07: // catch tag
    case 0x19: {
      // catch_all
      const f = frames[frames.length - 1]!;
      if (f.kind !== 'try') throw new Opaque('catch outside try');
      let tagParams = 0;
      if (op === 0x07) {
        const tag = uleb(bytes, p, end);
        p = lebNext;
        const t = info.types[info.tags[tag] ?? -1];
        tagParams = t && t.kind === 'func' ? t.params.length : 0;
      }
      if (reachable) {
        const vals = topVals(f.results);
        f.exitVals = f.exitVals === null || f.results === 0 ? vals : joinVals(vals, f.exitVals);
        f.exitLocals = joinCurrent(f.exitLocals);
      }
      truncate(f.height);
      for (let i = 0; i < tagParams; i++) push(UNKNOWN);
      // Anything the try body assigned may be visible in the handler.
      adopt(joinLocals(f.exitLocals, f.entryLocals));
      reachable = true;
      return p;
    }
    case 0x08: {
      // throw
      const tag = uleb(bytes, p, end);
      p = lebNext;
      const t = info.types[info.tags[tag] ?? -1];
      popN(t && t.kind === 'func' ? t.params.length : 0);
      stopReaching();
      return p;
    }
    case 0x09: // rethrow
      p = skipU(bytes, p, end);
      stopReaching();
      return p;
    case 0x0a: // throw_ref
      pop();
      stopReaching();
      return p;
    case 0x18: // delegate: ends a try like `end`
      p = skipU(bytes, p, end);
      endFrame();
      return p;
    case 0x0e: {
      // br_table
      const n = uleb(bytes, p, end);
      p = lebNext;
      if (n > end - p) throw new Opaque('br_table');
      pop();
      for (let i = 0; i <= n; i++) {
        const depth = uleb(bytes, p, end);
        p = lebNext;
        branch(depth);
      }
      stopReaching();
      return p;
    }
    case 0x12: {
      // return_call
      const target = uleb(bytes, p, end);
      p = lebNext;
      const nr = directCall(at, target);
      if (reachable) returns = joinNormal(returns, nr > 0 ? callValue.atoms : []);
      stopReaching();
      return p;
    }
    case 0x13: // return_call_indirect
    case 0x14: // call_ref
    case 0x15: // return_call_ref
      return indirectCall(op, p);
    case 0x1c: {
      // select with types
      const n = uleb(bytes, p, end);
      p = lebNext;
      for (let i = 0; i < n; i++) {
        if (bytes[p] === 0x63 || bytes[p] === 0x64) p = skipS(bytes, p + 1, end);
        else p++;
      }
      select();
      return p;
    }
    case 0x1f: {
      // try_table: blocktype vec(catch); handled as a block whose catches branch out with unknowns
      p = blockType(bytes, p, end, info);
      const bp = btParams;
      const br = btResults;
      const n = uleb(bytes, p, end);
      p = lebNext;
      const targets: number[] = [];
      for (let i = 0; i < n; i++) {
        const kind = bytes[p++];
        if (kind === 0x00 || kind === 0x01) p = skipU(bytes, p, end);
        const label = uleb(bytes, p, end);
        p = lebNext;
        targets.push(label);
      }
      const frame = newFrame('block', stack.length - bp, bp, br, NO_VALS, p);
      // Catch clauses branch to labels outside with values we do not model: make those unknown.
      for (const label of targets) {
        const f = frames[frames.length - 1 - label];
        if (f && f.kind !== 'loop') {
          f.exitVals = unknowns(f.results);
          f.exitLocals = joinCurrent(f.exitLocals);
        }
      }
      frames.push(frame);
      return p;
    }
    case 0x25: // table.get
      p = skipU(bytes, p, end);
      pop();
      push(UNKNOWN);
      return p;
    case 0x26: // table.set
      p = skipU(bytes, p, end);
      pop();
      pop();
      return p;
    case 0x3f: // memory.size
      p = skipU(bytes, p, end);
      push(NONE);
      return p;
    case 0x40: // memory.grow
      p = skipU(bytes, p, end);
      pop();
      push(NONE);
      return p;
    case 0x43: // f32.const
      push(NONE);
      return p + 4;
    case 0x44: // f64.const
      push(NONE);
      return p + 8;
    case 0xd0: // ref.null
      if (bytes[p] === 0x63 || bytes[p] === 0x64) p++;
      p = skipS(bytes, p, end);
      push(NONE);
      return p;
    case 0xd1: // ref.is_null
    case 0xd3: // ref.as_non_null
      pop();
      push(NONE);
      return p;
    case 0xd2: {
      // ref.func
      const f = uleb(bytes, p, end);
      p = lebNext;
      refFuncs.add(f);
      push(NONE);
      return p;
    }
    case 0xd5: // ref.eq
      pop();
      pop();
      push(NONE);
      return p;
    case 0xd4: // br_on_null
    case 0xd6: {
      // br_on_non_null
      const depth = uleb(bytes, p, end);
      p = lebNext;
      branch(depth);
      if (op === 0xd6) pop();
      return p;
    }
    case 0xfc:
      return prefixFC(p);
    case 0xfd:
      return prefixFD(p, at);
    case 0xfe:
      return prefixFE(p, at);
    default:
      if (op >= 0x28 && op <= 0x3e) {
        // A load or store with a memarg runPass does not read inline.
        const offset = memarg(bytes, p, end);
        p = lebNext;
        memoryAccess(op, at, offset);
        return p;
      }
      throw new Opaque(`opcode 0x${op.toString(16)}`);
  }
}

/** A load (0x28 .. 0x35) or store (0x36 .. 0x3e) at `at`, its memarg's offset read. */
function memoryAccess(op: number, at: number, offset: number): void {
  if (op <= 0x35) {
    const ptr = pop();
    access(ptr, offset);
    push(reachable ? recordLoad(at, ptr, offset, LOAD_BYTES[op]!, probeOf(ptr, offset)) : UNKNOWN);
  } else {
    pop();
    access(pop(), offset);
  }
}

/**
 * Makes the joined state of a frame's end the current locals. When it is the array that was
 * current before the frame ended (`own`), the joins stored it nowhere (joinLocals returns its first
 * operand, a new array, or its second when both are the same array, which was then already held
 * and shared), so it stays shared only if it was.
 */
function adoptJoined(joined: Val[], own: Val[], ownShared: boolean): void {
  if (joined === own) {
    locals = own;
    shared = ownShared;
  } else adopt(joined);
}

/** The join of the arms of an if that reach its end, so far (see addArm). */
let armVals: Val[] | null = null;
let armLocals: Val[] | null = null;

/** Joins an arm's end state (none when `vs` or `ls` is null) into armVals and armLocals. */
function addArm(vs: Val[] | null, ls: Val[] | null, results: number): void {
  if (vs === null || ls === null) return;
  const into = armVals;
  armVals = into === null || results === 0 ? vs : joinVals(vs, into);
  armLocals = joinLocals(armLocals, ls);
}

/** Ends the innermost frame; true at the function's end. */
function endFrame(): boolean {
  const f = frames[frames.length - 1]!;
  // The current locals and whether something else holds them (see adoptJoined).
  const own = locals;
  const ownShared = shared;
  if (f.kind === 'loop' && f.backLocals) {
    const key = f.bodyStart;
    const known = loopBack.get(key);
    let next = joinLocals(known ?? null, f.backLocals);
    if (!headHolds(f.headLocals!, next)) {
      // After a few passes, locals that still change get any offset (pointer walks): stable.
      if (pass >= LOOP_ROUNDS) next = widened(next, f.headLocals!);
      loopBack.set(key, next);
      dirty = true;
    }
  }
  frames.pop();
  let vals: Val[];
  if (f.kind === 'if') {
    const elseVals = reachable ? topVals(f.results) : null;
    const elseLocals = reachable ? snap() : null;
    armVals = null;
    armLocals = null;
    if (f.sawElse) {
      addArm(f.thenVals, f.thenLocals, f.results);
      addArm(elseVals, elseLocals, f.results);
    } else {
      addArm(elseVals, elseLocals, f.results); // the then arm's end
      // No else: the condition was false.
      addArm(unknowns(f.results), f.entryLocals, f.results);
    }
    addArm(f.exitVals, f.exitLocals, f.results);
    const joinedLocals = armLocals as Val[] | null;
    vals = armVals ?? NO_VALS;
    armVals = null;
    armLocals = null;
    reachable = joinedLocals !== null;
    if (joinedLocals !== null) adoptJoined(joinedLocals, own, ownShared);
  } else {
    const fallVals = reachable ? topVals(f.results) : null;
    let joinedVals = fallVals;
    let joinedLocals = reachable ? snap() : null;
    if (f.exitVals !== null) {
      joinedVals = joinedVals === null || f.results === 0 ? f.exitVals : joinVals(joinedVals, f.exitVals);
      joinedLocals = joinLocals(joinedLocals, f.exitLocals!);
    }
    vals = joinedVals ?? NO_VALS;
    reachable = joinedLocals !== null;
    if (joinedLocals !== null) adoptJoined(joinedLocals, own, ownShared);
  }
  if (frames.length === 0) {
    for (const v of vals) {
      use(v);
      returns = joinNormal(returns, v.atoms);
    }
    freeFrame(f);
    return true;
  }
  truncate(f.height);
  if (reachable) {
    if (vals.length !== f.results) throw new Opaque('block results');
    for (const v of vals) stack.push(v);
  }
  freeFrame(f);
  return false;
}

function numeric(op: number, stored: boolean): void {
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
  if (isAdd && b.konst !== undefined) push(shift(a, b.konst, stored ? undefined : b.konst));
  else if (isAdd && a.konst !== undefined) push(shift(b, a.konst, undefined));
  else if (isSub && b.konst !== undefined) push(shift(a, -b.konst, stored ? undefined : -b.konst));
  else if (isSub) push(derived(a));
  else push(derived2(a, b));
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
  const sub = uleb(bytes, p0, end);
  let p1 = lebNext;
  if (sub <= 7) {
    pop();
    push(NONE);
  } else if (sub === 8) {
    p1 = skipU(bytes, p1, end);
    p1 = skipU(bytes, p1, end);
    popN(3);
  } else if (sub === 9 || sub === 13) {
    p1 = skipU(bytes, p1, end);
  } else if (sub === 10 || sub === 14 || sub === 12) {
    p1 = skipU(bytes, p1, end);
    p1 = skipU(bytes, p1, end);
    popN(3);
  } else if (sub === 11 || sub === 17) {
    p1 = skipU(bytes, p1, end);
    popN(3);
  } else if (sub === 15) {
    p1 = skipU(bytes, p1, end);
    popN(2);
    push(NONE);
  } else if (sub === 16) {
    p1 = skipU(bytes, p1, end);
    push(NONE);
  } else throw new Opaque(`opcode 0xfc ${sub}`);
  return p1;
}

function prefixFD(p0: number, at: number): number {
  const sub = uleb(bytes, p0, end);
  let p1 = lebNext;
  if (sub <= 0x0a || sub === 0x5c || sub === 0x5d) {
    const offset = memarg(bytes, p1, end);
    p1 = lebNext;
    const ptr = pop();
    const width =
      sub === 0 ? 16 : sub <= 6 ? 8 : sub === 7 ? 1 : sub === 8 ? 2 : sub === 9 || sub === 0x5c ? 4 : 8;
    if (reachable) recordLoad(at, ptr, offset, width);
    push(NONE);
    return p1;
  }
  if (sub === 0x0b) {
    memarg(bytes, p1, end);
    p1 = lebNext;
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
    const offset = memarg(bytes, p1, end);
    p1 = lebNext;
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
  const sub = uleb(bytes, p0, end);
  let p1 = lebNext;
  if (sub === 0x03) return p1 + 1; // atomic.fence
  const offset = memarg(bytes, p1, end);
  p1 = lebNext;
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
