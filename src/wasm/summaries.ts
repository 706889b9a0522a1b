/**
 * @fileoverview The per-function summaries of src/binaryen/walk.ts (`summarizeAll`), computed from
 * the raw bytes, without binaryen having read the bodies.
 *
 * A summary counts binaryen's expressions (`size`, `shapeSize`) and lists what it finds in the
 * order of binaryen's walk (pre-order, children in field order), so the bytes are decoded the way
 * binaryen v132's binary reader builds its IR (IRBuilder, src/wasm/wasm-ir-builder.cpp), on a
 * model of its expression stack that keeps, per expression, only its type class (none,
 * unreachable, a value), the size of its subtree and what the summary records in it:
 *
 * - a scope (function body, block, loop, if arm, else arm) with one expression becomes that
 *   expression, with none an empty block, with more a block (an explicit `block` is always one);
 * - a branch to the label of the function or of an `if` wraps it in a named block (a function
 *   body that is an unnamed block is named instead);
 * - a value popped from under none-typed expressions is hoisted: `local.set $scratch` of it, the
 *   expressions after it, and `local.get $scratch`, in a block; an operand other than the first
 *   also takes the none-typed expressions just below it into its block ("greedy" pops);
 * - dead code is kept: a pop with nothing left past an unreachable gets a new `unreachable`,
 *   values left before an unreachable at the end of a scope are dropped, and operands that would
 *   reach past an unreachable are given new `unreachable`s (the unreachable fallback);
 * - an expression with an unreachable operand is unreachable; a block is unreachable when typed
 *   none, unbranched and holding an unreachable; a loop typed none with an unreachable body, an if
 *   with an unreachable condition or two unreachable arms;
 * - an expression the walker does not know (table.init/copy/fill, elem.drop) counts as one and
 *   hides its operands, and makes the summary `opaque`.
 *
 * What the model does not cover is not guessed: the function is listed in `needsBinaryen`, and
 * the caller summarises it on binaryen's IR. That is multi-value (results or block parameters),
 * exception handling (try, catch, delegate, throw, try_table), GC, typed function references,
 * stack switching, and one corner of the unreachable fallback that needs value types (a value
 * below an unreachable that an operand would take). Its summaries, keyed by function name (the
 * names binaryen gives, passed in), equal `summarizeAll`'s on every field.
 */

import { type ConstAccess, emptySummary, type FunctionSummary } from '../summary.js';
import { lastLeb, readLeb } from './instructions.js';
import type { ModuleInfo } from './reader.js';
import { grown } from './splice.js';

/** Raw summaries, by function name in index order, and the functions left to binaryen. */
export interface RawSummaries {
  summaries: Map<string, FunctionSummary>;
  /** Defined functions (by name) whose summary must come from binaryen's IR. */
  needsBinaryen: string[];
}

// Type classes of an expression.
const NONE = 0;
const UNREACH = 1;
const VAL = 2;

// Node kinds the summary looks at.
const K_OTHER = 0;
/** A Const: V is its address value (i32 unsigned, i64 in [0, 2^53)), NaN otherwise. */
const K_CONST = 1;
/** i32.add / i64.add: A, B the address values of constant operands (NaN otherwise). */
const K_ADD = 2;
/** local.get: V is the index. */
const K_LOCAL_GET = 3;
/** A block without a name (an explicit one nobody branches to, or one binaryen made). */
const K_UNNAMED_BLOCK = 4;

// Events, recorded in walk order.
const E_CALL = 0;
const E_REF_FUNC = 1;
const E_CALL_INDIRECT = 2;
const E_GROW = 3;
const E_FILL = 4;
const E_COPY = 5;
const E_ACCESS = 6;
const E_BASE = 7;

/**
 * The expressions of the function being decoded, numbered from 0 (a pool of typed arrays, reset
 * per function): type class, subtree size, subtree shape size, kind, values, events.
 */
class Pool {
  n = 0;
  t: Uint8Array;
  k: Uint8Array;
  sz: Int32Array;
  sh: Int32Array;
  v: Float64Array;
  a: Float64Array;
  b: Float64Array;
  /** First and last event of the subtree (-1: none): a list linked through `eNext`. */
  evH: Int32Array;
  evT: Int32Array;

  // Events: kind, next in walk order, values (function index, address or base; width or where
  // a call's operands start in `argv`; access kind or a call's operand count).
  en = 0;
  eCap = 1024;
  eKind = new Uint8Array(this.eCap);
  eNext = new Int32Array(this.eCap);
  eA = new Float64Array(this.eCap);
  eB = new Int32Array(this.eCap);
  eC = new Int32Array(this.eCap);
  /** Call operands, call after call: the local index of a plain `local.get`, NaN for anything else. */
  argv = new Float64Array(256);
  an = 0;

  /** `cap`: the expected largest count (a body's size in bytes bounds its instructions). */
  constructor(public cap: number) {
    this.t = new Uint8Array(cap);
    this.k = new Uint8Array(cap);
    this.sz = new Int32Array(cap);
    this.sh = new Int32Array(cap);
    this.v = new Float64Array(cap);
    this.a = new Float64Array(cap);
    this.b = new Float64Array(cap);
    this.evH = new Int32Array(cap);
    this.evT = new Int32Array(cap);
  }

  reset(): void {
    this.n = 0;
    this.en = 0;
    this.an = 0;
  }

  /** A new expression; `own` is its own event (-1: none), before its operands'. */
  alloc(t: number, sz: number, sh: number, k: number, own: number): number {
    if (this.n === this.cap) this.grow();
    const i = this.n++;
    this.t[i] = t;
    this.sz[i] = sz;
    this.sh[i] = sh;
    this.k[i] = k;
    this.evH[i] = own;
    this.evT[i] = own;
    return i;
  }

  /** Appends the events of operand `c` to those of `n` (each expression has one parent). */
  cat(n: number, c: number): void {
    const h = this.evH[c]!;
    if (h < 0) return;
    if (this.evH[n]! < 0) this.evH[n] = h;
    else this.eNext[this.evT[n]!] = h;
    this.evT[n] = this.evT[c]!;
  }

  event(kind: number, a = 0, b = 0, c = 0): number {
    if (this.en === this.eCap) this.growEvents();
    const i = this.en++;
    this.eKind[i] = kind;
    this.eNext[i] = -1;
    this.eA[i] = a;
    this.eB[i] = b;
    this.eC[i] = c;
    return i;
  }

  private grow(): void {
    const cap = this.cap * 2;
    this.t = grown(this.t, new Uint8Array(cap));
    this.k = grown(this.k, new Uint8Array(cap));
    this.sz = grown(this.sz, new Int32Array(cap));
    this.sh = grown(this.sh, new Int32Array(cap));
    this.v = grown(this.v, new Float64Array(cap));
    this.a = grown(this.a, new Float64Array(cap));
    this.b = grown(this.b, new Float64Array(cap));
    this.evH = grown(this.evH, new Int32Array(cap));
    this.evT = grown(this.evT, new Int32Array(cap));
    this.cap = cap;
  }

  /** Room for `n` more call operands in `argv`. */
  argRoom(n: number): void {
    if (this.an + n <= this.argv.length) return;
    this.argv = grown(this.argv, new Float64Array(Math.max(this.argv.length * 2, this.an + n)));
  }

  private growEvents(): void {
    const cap = this.eCap * 2;
    this.eKind = grown(this.eKind, new Uint8Array(cap));
    this.eNext = grown(this.eNext, new Int32Array(cap));
    this.eA = grown(this.eA, new Float64Array(cap));
    this.eB = grown(this.eB, new Int32Array(cap));
    this.eC = grown(this.eC, new Int32Array(cap));
    this.eCap = cap;
  }
}

/** Access kinds by event value. */
const ACCESS_KINDS: ConstAccess['kind'][] = ['read', 'write', 'rmw'];
const READ = 0;
const WRITE = 1;
const RMW = 2;

// Scope kinds.
const S_FUNC = 0;
const S_BLOCK = 1;
const S_LOOP = 2;
const S_IF = 3;
const S_ELSE = 4;

/** An open scope (reused: `pushScope` sets every field). */
class Scope {
  kind = S_FUNC;
  /** Where its expressions start on the value stack. */
  base = 0;
  /** An unreachable-typed expression was pushed. */
  unreachable = false;
  /** A branch targets this scope's label. */
  labelUsed = false;
  /** Declared result: NONE or VAL. */
  type = NONE;
  /** An if's condition and, once its else is reached, its true arm (-1: none). */
  cond = -1;
  ifTrue = -1;
}

/** Thrown (and caught per function) when a body leaves the model: binaryen summarises it. */
class Unmodelled extends Error {}

function unmodelled(): never {
  throw new Unmodelled();
}

// Operand counts of the one-byte numeric opcodes 0x45..0xc4 (1 unary, 2 binary).
const NUMERIC: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const set = (from: number, to: number, n: number) => t.fill(n, from, to + 1);
  set(0x45, 0x45, 1); // i32.eqz
  set(0x46, 0x4f, 2);
  set(0x50, 0x50, 1); // i64.eqz
  set(0x51, 0x66, 2); // i64, f32, f64 comparisons
  set(0x67, 0x69, 1); // i32 clz ctz popcnt
  set(0x6a, 0x78, 2);
  set(0x79, 0x7b, 1);
  set(0x7c, 0x8a, 2);
  set(0x8b, 0x91, 1); // f32 abs … sqrt
  set(0x92, 0x98, 2);
  set(0x99, 0x9f, 1);
  set(0xa0, 0xa6, 2);
  set(0xa7, 0xc4, 1); // conversions, reinterpretations, sign extension
  return t;
})();

// SIMD (0xfd) sub-opcodes by binaryen class: binaryen's readInst (src/wasm/wasm-binary.cpp).
const SIMD_UNARY = [
  15, 16, 17, 18, 19, 20, 77, 83, 94, 95, 96, 97, 98, 99, 100, 103, 104, 105, 106, 116, 117, 122, 124, 125,
  126, 127, 128, 129, 131, 132, 135, 136, 137, 138, 148, 160, 161, 163, 164, 167, 168, 169, 170, 192, 193,
  195, 196, 199, 200, 201, 202, 224, 225, 227, 236, 237, 239, 248, 249, 250, 251, 252, 253, 254, 255, 257,
  258, 259, 260,
];
const SIMD_BINARY = [
  14, 101, 102, 110, 111, 112, 113, 114, 115, 118, 119, 120, 121, 123, 130, 133, 134, 142, 143, 144, 145, 146,
  147, 149, 150, 151, 152, 153, 155, 156, 157, 158, 159, 174, 177, 181, 182, 183, 184, 185, 186, 188, 189,
  190, 191, 206, 209, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 228, 229, 230, 231, 232, 233,
  234, 235, 240, 241, 242, 243, 244, 245, 246, 247, 256, 269, 270, 271, 272, 273, 274,
];
const SIMD_SHIFT = [107, 108, 109, 139, 140, 141, 171, 172, 173, 203, 204, 205];
const SIMD_TERNARY = [82, 261, 262, 263, 264, 265, 266, 267, 268, 275];
const SIMD_EXTRACT = [21, 22, 24, 25, 27, 29, 31, 33];
const SIMD_REPLACE = [23, 26, 28, 30, 32, 34];
/** Operand count per SIMD sub-opcode for the plain classes (0: handled apart or unknown). */
const SIMD_ARITY: Uint8Array = (() => {
  const t = new Uint8Array(0x114);
  for (const s of SIMD_UNARY) t[s] = 1;
  for (const s of [...SIMD_BINARY, ...SIMD_SHIFT]) t[s] = 2;
  for (const s of SIMD_TERNARY) t[s] = 3;
  return t;
})();

/** Widths of the atomic accesses (0xfe 0x10–0x4e), in the opcode's group of seven. */
const ATOMIC_WIDTHS = [4, 8, 1, 2, 1, 2, 4];
/** Widths of the plain loads 0x28–0x35 and stores 0x36–0x3e. */
const LOAD_WIDTHS = [4, 8, 4, 8, 1, 1, 2, 2, 1, 1, 2, 2, 4, 4];
const STORE_WIDTHS = [4, 8, 4, 8, 1, 2, 1, 2, 4];

/** Decoding state: the pool, the scopes, the position; one per module, reset per body. */
class Body {
  p = 0;
  end = 0;
  depth = 0;
  opaque = false;
  readonly pool: Pool;
  /** Scopes by depth (reused; the function's is always there). */
  readonly scopes: Scope[] = [new Scope()];
  /** Operands being assembled, in walk order. */
  kids = new Int32Array(64);
  /** The expression stack of every open scope (expression numbers), and its height. */
  vs = new Int32Array(1024);
  sp = 0;
  /** Parameter count and result class per function, and per type (-1: not a function type). */
  readonly funcParams: Int32Array;
  readonly funcResult: Int32Array;
  readonly typeParams: Int32Array;
  readonly typeResult: Int32Array;

  constructor(
    readonly bytes: Uint8Array,
    readonly info: ModuleInfo,
    readonly names: readonly string[],
  ) {
    let largest = 0;
    for (const r of info.codeRanges) largest = Math.max(largest, r.end - r.start);
    this.pool = new Pool(largest + 64);
    const nt = info.types.length;
    this.typeParams = new Int32Array(nt).fill(-1);
    this.typeResult = new Int32Array(nt).fill(-1);
    info.types.forEach((t, i) => {
      if (t.kind !== 'func') return;
      this.typeParams[i] = t.params.length;
      // More than one result is not modelled: -1.
      this.typeResult[i] = t.results.length === 0 ? NONE : t.results.length === 1 ? VAL : -1;
    });
    const nf = info.functionTypes.length;
    this.funcParams = new Int32Array(nf);
    this.funcResult = new Int32Array(nf);
    info.functionTypes.forEach((t, f) => {
      this.funcParams[f] = t < nt ? this.typeParams[t]! : -1;
      this.funcResult[f] = t < nt ? this.typeResult[t]! : -1;
    });
  }

  // --- expressions ------------------------------------------------------------------------

  leaf(t: number, shape: number, k = K_OTHER, v = Number.NaN): number {
    const n = this.pool.alloc(t, 1, shape, k, -1);
    this.pool.v[n] = v;
    return n;
  }

  /** An expression of one operand: unreachable when the operand is. */
  mk1(c: number, type: number, own: number, k = K_OTHER): number {
    const P = this.pool;
    const n = P.alloc(P.t[c] === UNREACH ? UNREACH : type, 1 + P.sz[c]!, 1 + P.sh[c]!, k, own);
    P.cat(n, c);
    return n;
  }

  /** An expression of `n` operands in `kids` (walk order). */
  mkN(n: number, type: number, own: number, k = K_OTHER): number {
    const P = this.pool;
    const kids = this.kids;
    let t = type;
    let sz = 1;
    let sh = 1;
    for (let i = 0; i < n; i++) {
      const c = kids[i]!;
      if (P.t[c] === UNREACH) t = UNREACH;
      sz += P.sz[c]!;
      sh += P.sh[c]!;
    }
    const e = P.alloc(t, sz, sh, k, own);
    for (let i = 0; i < n; i++) P.cat(e, kids[i]!);
    return e;
  }

  /**
   * Binaryen's block over stack[from, to) typed `type` (NONE/VAL; UNREACH for a packaged
   * unreachable): unreachable when typed none, unbranched and holding an unreachable.
   */
  block(stack: Int32Array, from: number, to: number, type: number, branched: boolean): number {
    const P = this.pool;
    let sz = 1;
    let sh = 0;
    let dead = false;
    for (let i = from; i < to; i++) {
      const c = stack[i]!;
      if (P.t[c] === UNREACH) dead = true;
      sz += P.sz[c]!;
      sh += P.sh[c]!;
    }
    const t = type === NONE ? (dead && !branched ? UNREACH : NONE) : type;
    const b = P.alloc(t, sz, sh, branched ? K_OTHER : K_UNNAMED_BLOCK, -1);
    for (let i = from; i < to; i++) P.cat(b, stack[i]!);
    return b;
  }

  /** The address value of a constant operand (NaN when not a usable constant). */
  constOf(n: number): number {
    return this.pool.k[n] === K_CONST ? this.pool.v[n]! : Number.NaN;
  }

  // --- immediates -------------------------------------------------------------------------

  u32(): number {
    const p = this.p;
    if (p < this.end) {
      const b = this.bytes[p]!;
      if (b < 0x80) {
        this.p = p + 1;
        return b;
      }
    }
    const q = readLeb(this.bytes, p, this.end);
    if (q < 0) unmodelled();
    this.p = q;
    return lastLeb();
  }

  /** A signed LEB128 as i32 (unsigned address value) or i64 (a number in [0, 2^53), else NaN). */
  sconst(bits: 32 | 64): number {
    const { bytes, end } = this;
    let p = this.p;
    if (p < end) {
      const b = bytes[p]!;
      if (b < 0x40) {
        // One byte, non-negative.
        this.p = p + 1;
        return b;
      }
    }
    let result = 0;
    let mul = 1;
    let big: bigint | null = null;
    let shift = 0;
    let byte = 0;
    for (;;) {
      if (p >= end || shift >= bits + 7) unmodelled();
      byte = bytes[p++]!;
      if (shift < 49) result += (byte & 0x7f) * mul;
      else {
        big ??= BigInt(result);
        big += BigInt(byte & 0x7f) << BigInt(shift);
      }
      mul *= 128;
      shift += 7;
      if ((byte & 0x80) === 0) break;
    }
    this.p = p;
    const negative = (byte & 0x40) !== 0;
    if (bits === 32) {
      // Sign-extend from the bits read, keep the low 32 as an unsigned address.
      const v = negative && shift < 53 ? result - 2 ** shift : result;
      return (v | 0) >>> 0;
    }
    if (negative) return Number.NaN;
    if (big !== null) return big < 2n ** 53n ? Number(big) : Number.NaN;
    return result < 2 ** 53 ? result : Number.NaN;
  }

  /** A memarg: returns the static offset as binaryen's C API reads it (low 32 bits, signed). */
  memarg(): number {
    const align = this.u32();
    if ((align & ~0x40) > 8) unmodelled(); // memory orders, array backing
    if (align & 0x40) this.u32();
    return this.u32() | 0;
  }

  /**
   * Skips a body's local declarations; returns where its code starts. (Binaryen's reader fixes up
   * non-nullable locals only where they do not validate, TypeUpdating::handleNonDefaultableLocals.)
   */
  locals(start: number, end: number): number {
    this.p = start;
    this.end = end;
    const groups = this.u32();
    for (let i = 0; i < groups; i++) {
      this.u32();
      this.valType();
    }
    return this.p;
  }

  /** Skips `n` bytes of immediates. */
  skip(n: number): void {
    this.p += n;
    if (this.p > this.end) unmodelled();
  }

  /** Skips a value type. */
  valType(): void {
    if (this.p >= this.end) unmodelled();
    const b = this.bytes[this.p++]!;
    if (b === 0x63 || b === 0x64) this.u32();
  }

  /** A block type: NONE or VAL; parameters and multiple results leave the model. */
  blockType(): number {
    if (this.p >= this.end) unmodelled();
    const b = this.bytes[this.p]!;
    if (b === 0x40) {
      this.p++;
      return NONE;
    }
    if (b === 0x63 || b === 0x64 || (b >= 0x41 && b < 0x80)) {
      this.valType();
      return VAL;
    }
    const t = this.info.types[this.u32()];
    if (t?.kind !== 'func' || t.params.length > 0) return unmodelled();
    return resultClass(t.results.length);
  }

  // --- the expression stack ---------------------------------------------------------------

  scope(): Scope {
    return this.scopes[this.depth - 1]!;
  }

  push(n: number): void {
    if (this.pool.t[n] === UNREACH) this.scopes[this.depth - 1]!.unreachable = true;
    if (this.sp === this.vs.length) {
      const vs = new Int32Array(this.vs.length * 2);
      vs.set(this.vs);
      this.vs = vs;
    }
    this.vs[this.sp++] = n;
  }

  /** IRBuilder::hoistLastValue + packageHoistedValue + the pop (ChildPopper::pop), size 1. */
  pop(greedy: boolean): number {
    const s = this.scopes[this.depth - 1]!;
    const T = this.pool.t;
    const base = s.base;
    const vs = this.vs;
    const last = this.sp - 1;
    // The common case: a value on top, not above none-typed expressions to take along.
    if (last >= base && T[vs[last]!] !== NONE && (!greedy || last === base || T[vs[last - 1]!] !== NONE)) {
      this.sp = last;
      return vs[last]!;
    }
    const val = this.lastValue(base);
    if (val < base) return s.unreachable ? this.leaf(UNREACH, 0) : unmodelled();
    let hoist = val;
    if (greedy) while (hoist > base && T[vs[hoist - 1]!] === NONE) hoist--;
    if (val !== last && T[vs[val]!] === VAL) {
      // local.set $scratch of the value, then local.get $scratch on top.
      vs[val] = this.mk1(vs[val]!, NONE, -1);
      this.push(this.leaf(VAL, 1));
    }
    const sp = this.sp;
    if (hoist < sp - 1) {
      const top = T[this.vs[sp - 1]!]!;
      const b = this.block(this.vs, hoist, sp, top === VAL ? VAL : UNREACH, false);
      this.sp = hoist;
      this.push(b);
    }
    return this.vs[--this.sp]!;
  }

  /** The topmost stack slot from `base` up that is not none-typed (`base - 1`: none). */
  lastValue(base: number): number {
    const T = this.pool.t;
    const vs = this.vs;
    let val = this.sp - 1;
    while (val >= base && T[vs[val]!] === NONE) val--;
    return val;
  }

  /**
   * Pops `n` operands into `kids` (stack order) as ChildPopper::popConstrainedChildren does, with
   * the unreachable fallback.
   */
  pops(n: number): void {
    if (n > this.kids.length) this.kids = new Int32Array(n * 2);
    const kids = this.kids;
    const s = this.scopes[this.depth - 1]!;
    const fallback = s.unreachable && n > 1 ? this.fallbackSize(n) : -1;
    for (let i = n - 1; i >= 0; i--) {
      if (fallback >= 0 && this.sp === fallback && i > 0) kids[i] = this.leaf(UNREACH, 0);
      else kids[i] = this.pop(i > 0);
    }
  }

  /**
   * ChildPopper::checkNeedsUnreachableFallback, for `n` single-value operands: the stack height at
   * which operands are made up instead of popped, or -1.
   */
  fallbackSize(n: number): number {
    const base = this.scope().base;
    const T = this.pool.t;
    const vs = this.vs;
    let si = this.sp;
    let fallback = -1;
    let seenConcrete = false;
    for (let child = n; child > 0; child--) {
      do {
        if (si === base) return fallback;
        si--;
      } while (T[vs[si]!] === NONE);
      const t = T[vs[si]!];
      // A value deeper than an unreachable must match the operand's type: types are not modelled.
      if (fallback >= 0 && t === VAL) unmodelled();
      if (t === UNREACH) fallback = seenConcrete ? si + 1 : this.sp;
      else seenConcrete = true;
    }
    return -1;
  }

  /** Pushes an expression of `n` operands (walk order = stack order). */
  op(n: number, type: number, own = -1): number {
    let e: number;
    if (n === 0) e = this.pool.alloc(type, 1, 1, K_OTHER, own);
    else if (n === 1) e = this.mk1(this.pop(false), type, own);
    else {
      this.pops(n);
      e = this.mkN(n, type, own);
    }
    this.push(e);
    return e;
  }

  /** An expression the walker does not know: it counts as one, its operands are not walked. */
  opaqueOp(n: number, type: number): void {
    let dead = false;
    if (n > 0) {
      this.pops(n);
      for (let i = 0; i < n; i++) if (this.pool.t[this.kids[i]!] === UNREACH) dead = true;
    }
    this.opaque = true;
    this.push(this.leaf(dead ? UNREACH : type, 1));
  }

  /** A memory access at `ptr`: a constant address or an indexed base, as summarizeFunction records it. */
  access(ptr: number, offset: number, bytes: number, kind: number): number {
    const P = this.pool;
    const k = P.k[ptr];
    if (k === K_CONST) {
      const c = P.v[ptr]!;
      return Number.isNaN(c) ? -1 : P.event(E_ACCESS, c + offset, bytes, kind);
    }
    if (k !== K_ADD) return -1;
    const base = Number.isNaN(P.b[ptr]!) ? P.a[ptr]! : P.b[ptr]!;
    return Number.isNaN(base) ? -1 : P.event(E_BASE, base + offset);
  }

  /** A load-like expression of one pointer operand (Load, SIMDLoad, atomic loads). */
  load(offset: number, bytes: number): void {
    const ptr = this.pop(false);
    this.push(this.mk1(ptr, VAL, this.access(ptr, offset, bytes, READ)));
  }

  /** An access of `n` operands, pointer first (Store, AtomicRMW, AtomicCmpxchg). */
  access2(n: number, type: number, offset: number, bytes: number, kind: number): void {
    this.pops(n);
    this.push(this.mkN(n, type, this.access(this.kids[0]!, offset, bytes, kind)));
  }

  // --- control flow -----------------------------------------------------------------------

  pushScope(kind: number, type: number, cond = -1): void {
    let s = this.scopes[this.depth];
    if (!s) {
      s = new Scope();
      this.scopes.push(s);
    }
    s.kind = kind;
    s.base = this.sp;
    s.unreachable = false;
    s.labelUsed = false;
    s.type = type;
    s.cond = cond;
    s.ifTrue = -1;
    this.depth++;
  }

  /** The scope a branch of depth `d` targets; marks its label used. Returns whether it takes a value. */
  branch(d: number): boolean {
    const s = d < this.depth ? this.scopes[this.depth - 1 - d] : undefined;
    if (!s) return unmodelled();
    s.labelUsed = true;
    return s.kind !== S_LOOP && s.type === VAL;
  }

  /**
   * IRBuilder::finishScope: leaves the scope's expressions on the value stack from its base (an
   * explicit block keeps them as its list), with the values before its last unreachable dropped
   * and its result hoisted to the top.
   */
  finish(s: Scope): void {
    const T = this.pool.t;
    const vs = this.vs;
    if (s.unreachable) {
      let saw = false;
      for (let i = this.sp - 1; i >= s.base; i--) {
        const n = vs[i]!;
        if (saw) {
          if (T[n] === VAL) vs[i] = this.mk1(n, NONE, -1); // drop
        } else if (T[n] === UNREACH) saw = true;
      }
    }
    if (s.type === VAL) {
      const val = this.lastValue(s.base);
      if (val < s.base) unmodelled();
      if (val !== this.sp - 1 && T[vs[val]!] === VAL) {
        vs[val] = this.mk1(vs[val]!, NONE, -1);
        this.push(this.leaf(VAL, 1));
      }
    }
  }

  /** The expression a non-block scope becomes (its expressions leave the value stack). */
  scopeExpr(s: Scope): number {
    this.finish(s);
    const n = this.sp - s.base;
    this.sp = s.base;
    if (n === 0) return this.leaf(NONE, 0, K_UNNAMED_BLOCK);
    if (n === 1) return this.vs[s.base]!;
    return this.block(this.vs, s.base, s.base + n, s.type, false);
  }

  /** A block named for the scope's label around `n` (a branch targets it). */
  wrap(n: number, type: number): number {
    const P = this.pool;
    const b = P.alloc(type, 1 + P.sz[n]!, P.sh[n]!, K_OTHER, -1);
    P.cat(b, n);
    return b;
  }

  /** `end`: closes the innermost scope; returns the function body when it was the function's. */
  end_(): number {
    const s = this.scopes[--this.depth]!;
    const P = this.pool;
    switch (s.kind) {
      case S_FUNC: {
        const body = this.scopeExpr(s);
        if (!s.labelUsed) return body;
        if (P.k[body] === K_UNNAMED_BLOCK) {
          P.k[body] = K_OTHER;
          return body;
        }
        return this.wrap(body, s.type);
      }
      case S_BLOCK: {
        this.finish(s);
        const b = this.block(this.vs, s.base, this.sp, s.type, s.labelUsed);
        this.sp = s.base;
        this.push(b);
        return -1;
      }
      case S_LOOP: {
        const body = this.scopeExpr(s);
        const loop = this.mk1(body, s.type, -1);
        P.t[loop] = s.type === VAL ? VAL : P.t[body] === UNREACH ? UNREACH : NONE;
        this.push(loop);
        return -1;
      }
      case S_IF:
      case S_ELSE: {
        const arm = this.scopeExpr(s);
        const { cond, ifTrue } = s;
        const kids = this.kids;
        kids[0] = cond;
        let n = 2;
        if (s.kind === S_IF) kids[1] = arm;
        else {
          kids[1] = ifTrue;
          kids[2] = arm;
          n = 3;
        }
        const iff = this.mkN(n, s.type, -1);
        const deadArms = s.kind === S_ELSE && P.t[ifTrue] === UNREACH && P.t[arm] === UNREACH;
        P.t[iff] = P.t[cond] === UNREACH || deadArms ? UNREACH : s.type;
        this.push(s.labelUsed ? this.wrap(iff, s.type) : iff);
        return -1;
      }
      default:
        return unmodelled();
    }
  }

  else_(): void {
    const s = this.scopes[this.depth - 1]!;
    if (s.kind !== S_IF) unmodelled();
    s.ifTrue = this.scopeExpr(s);
    s.kind = S_ELSE;
    s.unreachable = false;
  }

  // --- instructions -----------------------------------------------------------------------

  /** Decodes the body [p, end) (after its locals); returns its root expression. */
  run(p: number, end: number, result: number): number {
    this.p = p;
    this.end = end;
    this.depth = 0;
    this.sp = 0;
    this.opaque = false;
    this.pool.reset();
    this.pushScope(S_FUNC, result);
    const { bytes } = this;
    const P = this.pool;
    while (this.p < end) {
      const op = bytes[this.p++]!;
      if (op >= 0x45 && op <= 0xc4) {
        if (NUMERIC[op] === 1) {
          this.push(this.mk1(this.pop(false), VAL, -1));
        } else {
          this.pops(2);
          if (op === 0x6a || op === 0x7c) {
            const l = this.kids[0]!;
            const r = this.kids[1]!;
            const e = this.mkN(2, VAL, -1, K_ADD);
            P.a[e] = this.constOf(l);
            P.b[e] = this.constOf(r);
            this.push(e);
          } else this.push(this.mkN(2, VAL, -1));
        }
        continue;
      }
      switch (op) {
        case 0x20:
          this.push(this.leaf(VAL, 1, K_LOCAL_GET, this.u32()));
          continue;
        case 0x41:
          this.push(this.leaf(VAL, 1, K_CONST, this.sconst(32)));
          continue;
        case 0x21:
        case 0x24:
          this.u32();
          this.op(1, NONE);
          continue;
        case 0x22:
          this.u32();
          this.op(1, VAL);
          continue;
        case 0x23:
          this.u32();
          this.push(this.leaf(VAL, 1));
          continue;
      }
      if (op >= 0x28 && op <= 0x35) {
        this.load(this.memarg(), LOAD_WIDTHS[op - 0x28]!);
        continue;
      }
      if (op >= 0x36 && op <= 0x3e) {
        this.access2(2, NONE, this.memarg(), STORE_WIDTHS[op - 0x36]!, WRITE);
        continue;
      }
      const body = this.instruction(op);
      if (this.depth === 0) {
        if (this.p !== end) unmodelled();
        return body;
      }
    }
    return unmodelled();
  }

  /**
   * Control flow, calls and the other instructions `run` does not decode itself; returns the
   * function body when this was its `end` (and `depth` is then 0).
   */
  instruction(op: number): number {
    const P = this.pool;
    switch (op) {
      case 0x00:
        this.push(this.leaf(UNREACH, 0));
        break;
      case 0x02:
        this.pushScope(S_BLOCK, this.blockType());
        break;
      case 0x03:
        this.pushScope(S_LOOP, this.blockType());
        break;
      case 0x04: {
        const type = this.blockType();
        this.pushScope(S_IF, type, this.pop(false));
        break;
      }
      case 0x05:
        this.else_();
        break;
      case 0x0b:
        return this.end_();
      case 0x0c:
      case 0x0d: {
        const value = this.branch(this.u32());
        const type = op === 0x0c ? UNREACH : value ? VAL : NONE;
        if (value && op === 0x0d) {
          // Binaryen's Break walks its condition before its value.
          this.pops(2);
          const v = this.kids[0]!;
          this.kids[0] = this.kids[1]!;
          this.kids[1] = v;
          this.push(this.mkN(2, type, -1));
        } else this.op(value || op === 0x0d ? 1 : 0, type);
        break;
      }
      case 0x0e: {
        const count = this.u32();
        if (count > this.end - this.p) unmodelled();
        let value = false;
        for (let i = 0; i <= count; i++) value = this.branch(this.u32());
        if (value) {
          this.pops(2);
          const v = this.kids[0]!;
          this.kids[0] = this.kids[1]!;
          this.kids[1] = v;
          this.push(this.mkN(2, UNREACH, -1));
        } else this.op(1, UNREACH);
        break;
      }
      case 0x0f:
        this.op(this.scopes[0]!.type === VAL ? 1 : 0, UNREACH);
        break;
      case 0x10:
      case 0x12: {
        const f = this.u32();
        const params = this.funcParams[f] ?? -1;
        const result = this.funcResult[f] ?? -1;
        if (params < 0 || result < 0 || this.names[f] === undefined) unmodelled();
        if (params > 0) this.pops(params);
        P.argRoom(params);
        const from = P.an;
        for (let i = 0; i < params; i++) {
          const c = this.kids[i]!;
          P.argv[P.an++] = P.k[c] === K_LOCAL_GET ? P.v[c]! : Number.NaN;
        }
        this.push(this.mkN(params, op === 0x12 ? UNREACH : result, P.event(E_CALL, f, from, params)));
        break;
      }
      case 0x11:
      case 0x13: {
        const t = this.u32();
        const params = this.typeParams[t] ?? -1;
        const result = this.typeResult[t] ?? -1;
        if (params < 0 || result < 0) unmodelled();
        this.u32(); // table
        this.pops(params + 1);
        // Binaryen's CallIndirect walks its target (the table index) first.
        const kids = this.kids;
        const target = kids[params]!;
        kids.copyWithin(1, 0, params);
        kids[0] = target;
        this.push(this.mkN(params + 1, op === 0x13 ? UNREACH : result, P.event(E_CALL_INDIRECT)));
        break;
      }
      case 0x1a:
        this.op(1, NONE);
        break;
      case 0x1b:
        this.op(3, VAL);
        break;
      case 0x42:
        this.push(this.leaf(VAL, 1, K_CONST, this.sconst(64)));
        break;
      case 0x43:
      case 0x44:
        this.skip(op === 0x43 ? 4 : 8);
        this.push(this.leaf(VAL, 1, K_CONST));
        break;
      default:
        this.rareOp(op);
    }
    return -1;
  }

  /**
   * The instructions most bodies do not have (nop, typed select, tables, memory.size and grow,
   * references, the 0xfc/0xfd/0xfe prefixes) and those the model leaves out: apart from `run`, so
   * its code does not depend on them.
   */
  rareOp(op: number): void {
    switch (op) {
      case 0x01:
        this.push(this.leaf(NONE, 0));
        return;
      case 0x1c: {
        if (this.u32() !== 1) unmodelled();
        this.valType();
        this.op(3, VAL);
        return;
      }
      case 0x25: // table.get
        this.u32();
        this.op(1, VAL);
        return;
      case 0x26: // table.set
        this.u32();
        this.op(2, NONE);
        return;
      case 0x3f: // memory.size
        this.u32();
        this.push(this.leaf(VAL, 1));
        return;
      case 0x40: // memory.grow
        this.u32();
        this.op(1, VAL, this.pool.event(E_GROW));
        return;
      case 0xd0: // ref.null
        this.heapType();
        this.push(this.leaf(VAL, 1));
        return;
      case 0xd1: // ref.is_null
      case 0xd3: // ref.as_non_null
        this.op(1, VAL);
        return;
      case 0xd2: {
        const f = this.u32();
        if (this.names[f] === undefined) unmodelled();
        this.op(0, VAL, this.pool.event(E_REF_FUNC, f));
        return;
      }
      case 0xd5: // ref.eq
        this.op(2, VAL);
        return;
      case 0xfc:
        this.prefixFC();
        return;
      case 0xfd:
        this.prefixFD();
        return;
      case 0xfe:
        this.prefixFE();
        return;
      default:
        // Exceptions, GC, typed function references, stack switching.
        unmodelled();
    }
  }

  /** ref.null's heap type: a one-byte shorthand or an s33 type index. */
  heapType(): void {
    if (this.p >= this.end) unmodelled();
    const b = this.bytes[this.p]!;
    if (b >= 0x40 && b < 0x80) this.p++;
    else this.u32();
  }

  prefixFC(): void {
    const sub = this.u32();
    if (sub <= 7) {
      this.op(1, VAL); // trunc_sat
      return;
    }
    switch (sub) {
      case 8: // memory.init data mem
        this.u32();
        this.u32();
        this.op(3, NONE);
        return;
      case 9: // data.drop
        this.u32();
        this.op(0, NONE);
        return;
      case 10: // memory.copy
        this.u32();
        this.u32();
        this.op(3, NONE, this.pool.event(E_COPY));
        return;
      case 11: // memory.fill
        this.u32();
        this.op(3, NONE, this.pool.event(E_FILL));
        return;
      case 12: // table.init elem table
      case 14: // table.copy table table
        this.u32();
        this.u32();
        this.opaqueOp(3, NONE);
        return;
      case 13: // elem.drop
        this.u32();
        this.opaqueOp(0, NONE);
        return;
      case 15: // table.grow
        this.u32();
        this.op(2, VAL);
        return;
      case 16: // table.size
        this.u32();
        this.op(0, VAL);
        return;
      case 17: // table.fill
        this.u32();
        this.opaqueOp(3, NONE);
        return;
      default:
        unmodelled();
    }
  }

  prefixFD(): void {
    const sub = this.u32();
    if (sub === 0) {
      this.load(this.memarg(), 16); // v128.load is a Load
      return;
    }
    if ((sub >= 1 && sub <= 10) || sub === 92 || sub === 93) {
      this.load(this.memarg(), 16); // SIMDLoad: the walker records 16 bytes
      return;
    }
    if (sub === 11) {
      this.access2(2, NONE, this.memarg(), 16, WRITE);
      return;
    }
    if (sub === 12) {
      this.skip(16);
      this.push(this.leaf(VAL, 1, K_CONST));
      return;
    }
    if (sub === 13) {
      this.skip(16);
      this.op(2, VAL);
      return;
    }
    if (SIMD_EXTRACT.includes(sub) || SIMD_REPLACE.includes(sub)) {
      this.skip(1);
      this.op(SIMD_REPLACE.includes(sub) ? 2 : 1, VAL);
      return;
    }
    if (sub >= 84 && sub <= 91) {
      this.memarg();
      this.skip(1);
      this.op(2, sub <= 87 ? VAL : NONE);
      return;
    }
    const n = sub < SIMD_ARITY.length ? SIMD_ARITY[sub]! : 0;
    if (n === 0) unmodelled();
    this.op(n, VAL);
  }

  prefixFE(): void {
    const sub = this.u32();
    if (sub === 0) {
      this.memarg();
      this.op(2, VAL); // notify
      return;
    }
    if (sub === 1 || sub === 2) {
      this.memarg();
      this.op(3, VAL); // wait32 / wait64
      return;
    }
    if (sub === 3) {
      if (this.p >= this.end || this.bytes[this.p] !== 0) unmodelled();
      this.p++;
      this.op(0, NONE); // atomic.fence
      return;
    }
    if (sub < 0x10 || sub > 0x4e) unmodelled();
    const offset = this.memarg();
    const width = ATOMIC_WIDTHS[(sub - 0x10) % 7]!;
    if (sub <= 0x16) this.load(offset, width);
    else if (sub <= 0x1d) this.access2(2, NONE, offset, width, WRITE);
    else if (sub <= 0x47) this.access2(2, VAL, offset, width, RMW);
    else this.access2(3, VAL, offset, width, RMW);
  }
}

function resultClass(n: number): number {
  if (n > 1) unmodelled();
  return n === 0 ? NONE : VAL;
}

/** The summary of a body's root expression: its events in walk order. */
function fromRoot(sum: FunctionSummary, pool: Pool, root: number, names: readonly string[]): void {
  sum.size = pool.sz[root]!;
  sum.shapeSize = pool.sh[root]!;
  const { eKind, eNext, eA, eB, eC, argv } = pool;
  // The flags are set once, after the events (most functions have none of them).
  let callIndirect = false;
  let memoryGrow = false;
  let memoryFill = false;
  let memoryCopy = false;
  for (let e = pool.evH[root]!; e >= 0; e = eNext[e]!) {
    switch (eKind[e]) {
      case E_CALL: {
        const name = names[eA[e]!]!;
        const args: (number | null)[] = [];
        for (let i = eB[e]!, end = i + eC[e]!; i < end; i++) {
          const v = argv[i]!;
          args.push(Number.isNaN(v) ? null : v);
        }
        sum.calls.add(name);
        const list = sum.callArgs.get(name);
        if (list) list.push(args);
        else sum.callArgs.set(name, [args]);
        break;
      }
      case E_REF_FUNC: {
        const name = names[eA[e]!]!;
        sum.refFuncs.set(name, (sum.refFuncs.get(name) ?? 0) + 1);
        break;
      }
      case E_CALL_INDIRECT:
        callIndirect = true;
        break;
      case E_GROW:
        memoryGrow = true;
        break;
      case E_FILL:
        memoryFill = true;
        break;
      case E_COPY:
        memoryCopy = true;
        break;
      case E_ACCESS:
        sum.constAccesses.push({ address: eA[e]!, bytes: eB[e]!, kind: ACCESS_KINDS[eC[e]!]! });
        break;
      case E_BASE:
        sum.indexedBases.push(eA[e]!);
        break;
    }
  }
  sum.callIndirect = callIndirect;
  sum.memoryGrow = memoryGrow;
  sum.memoryFill = memoryFill;
  sum.memoryCopy = memoryCopy;
}

/**
 * Summaries of every function of the raw module, keyed by `names` (binaryen's function names by
 * absolute index), equal to binaryen's `summarizeAll` on the same module — except the functions
 * in `needsBinaryen`, whose entries are placeholders the caller replaces.
 */
export function rawSummaries(bytes: Uint8Array, info: ModuleInfo, names: readonly string[]): RawSummaries {
  const summaries = new Map<string, FunctionSummary>();
  const needsBinaryen: string[] = [];
  const imported = info.numImportedFunctions;
  for (let i = 0; i < imported; i++) summaries.set(names[i]!, emptySummary(names[i]!, true));
  const body = new Body(bytes, info, names);
  for (let k = 0; k < info.codeRanges.length; k++) {
    const name = names[imported + k]!;
    const sum = emptySummary(name, false);
    summaries.set(name, sum);
    const { start, end } = info.codeRanges[k]!;
    try {
      const first = body.locals(start, end);
      const type = info.types[info.functions[k]!];
      if (type?.kind !== 'func') unmodelled();
      const root = body.run(first, end, resultClass(type.results.length));
      fromRoot(sum, body.pool, root, names);
      sum.opaque = body.opaque;
    } catch (e) {
      if (!(e instanceof Unmodelled)) throw e;
      needsBinaryen.push(name);
    }
  }
  return { summaries, needsBinaryen };
}
