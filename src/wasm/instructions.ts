/**
 * @fileoverview A WebAssembly instruction skipper: finds where each instruction ends without
 * building anything, so code can be scanned for a few opcodes (memory.grow) at memory speed.
 *
 * A byte-level search for `0x40 0x00` (memory.grow 0) is wrong: the same bytes occur inside
 * immediates, e.g. `i32.const -64` is `0x41 0x40`. So every instruction is decoded far enough to
 * know its length. Covered: MVP, sign extension (0xc0–0xc4), tail calls (0x12/0x13), reference
 * types and typed function references (0xd0–0xd6, 0x14/0x15), legacy and new exception handling
 * (0x06–0x0a, 0x18/0x19, 0x1f), multi-memory and memory64 memargs, the 0xfb (GC), 0xfc
 * (saturating truncation, bulk memory, tables), 0xfd (SIMD, relaxed SIMD) and 0xfe (threads)
 * prefixes. Anything else is reported as unknown rather than guessed.
 */

/** `nextInstruction` result: the opcode is not one this decoder knows. */
export const UNKNOWN_OPCODE = -1;
/** `nextInstruction` result: the instruction runs past `end`. */
export const TRUNCATED = -2;

// How the immediates of a one-byte opcode are laid out (plain constants: they inline in the hot loop).
/** No immediates. */
const IMM_NONE = 0;
/** Not an opcode we know. */
const IMM_UNKNOWN = 1;
/** A block type: 0x40, a value type, or an s33 type index. */
const IMM_BLOCKTYPE = 2;
/** One LEB128 (index, label, constant…). */
const IMM_LEB = 3;
/** Two LEB128s. */
const IMM_LEB2 = 4;
/** br_table: vec(label) label. */
const IMM_BRTABLE = 5;
/** A memarg: align (with the multi-memory bit 6), [memidx], offset. */
const IMM_MEMARG = 6;
/** Four raw bytes (f32.const). */
const IMM_BYTES4 = 7;
/** Eight raw bytes (f64.const). */
const IMM_BYTES8 = 8;
/** select t*: vec(valtype). */
const IMM_SELECTT = 9;
/** try_table: blocktype vec(catch). */
const IMM_TRYTABLE = 10;
/** 0xfb GC prefix. */
const IMM_PREFIXFB = 11;
/** 0xfc prefix. */
const IMM_PREFIXFC = 12;
/** 0xfd SIMD prefix. */
const IMM_PREFIXFD = 13;
/** 0xfe threads prefix. */
const IMM_PREFIXFE = 14;

/** Immediate layout per one-byte opcode. */
const IMM: Uint8Array = (() => {
  const t = new Uint8Array(256).fill(IMM_UNKNOWN);
  const set = (from: number, to: number, kind: number) => t.fill(kind, from, to + 1);
  set(0x00, 0x01, IMM_NONE); // unreachable nop
  set(0x02, 0x04, IMM_BLOCKTYPE); // block loop if
  set(0x05, 0x05, IMM_NONE); // else
  set(0x06, 0x06, IMM_BLOCKTYPE); // try (legacy exceptions)
  set(0x07, 0x09, IMM_LEB); // catch tag, throw tag, rethrow label
  set(0x0a, 0x0b, IMM_NONE); // throw_ref end
  set(0x0c, 0x0d, IMM_LEB); // br br_if
  set(0x0e, 0x0e, IMM_BRTABLE);
  set(0x0f, 0x0f, IMM_NONE); // return
  set(0x10, 0x10, IMM_LEB); // call
  set(0x11, 0x11, IMM_LEB2); // call_indirect type table
  set(0x12, 0x12, IMM_LEB); // return_call
  set(0x13, 0x13, IMM_LEB2); // return_call_indirect
  set(0x14, 0x15, IMM_LEB); // call_ref return_call_ref
  set(0x18, 0x18, IMM_LEB); // delegate
  set(0x19, 0x19, IMM_NONE); // catch_all
  set(0x1a, 0x1b, IMM_NONE); // drop select
  set(0x1c, 0x1c, IMM_SELECTT);
  set(0x1f, 0x1f, IMM_TRYTABLE);
  set(0x20, 0x26, IMM_LEB); // local.* global.* table.get/set
  set(0x28, 0x3e, IMM_MEMARG); // loads and stores
  set(0x3f, 0x40, IMM_LEB); // memory.size memory.grow (memidx)
  set(0x41, 0x42, IMM_LEB); // i32.const i64.const
  set(0x43, 0x43, IMM_BYTES4);
  set(0x44, 0x44, IMM_BYTES8);
  set(0x45, 0xc4, IMM_NONE); // numeric, incl. sign extension 0xc0–0xc4
  set(0xd0, 0xd0, IMM_LEB); // ref.null heaptype (s33)
  set(0xd1, 0xd1, IMM_NONE); // ref.is_null
  set(0xd2, 0xd2, IMM_LEB); // ref.func
  set(0xd3, 0xd3, IMM_NONE); // ref.as_non_null
  set(0xd4, 0xd4, IMM_LEB); // br_on_null
  set(0xd5, 0xd5, IMM_NONE); // ref.eq
  set(0xd6, 0xd6, IMM_LEB); // br_on_non_null
  set(0xfb, 0xfb, IMM_PREFIXFB);
  set(0xfc, 0xfc, IMM_PREFIXFC);
  set(0xfd, 0xfd, IMM_PREFIXFD);
  set(0xfe, 0xfe, IMM_PREFIXFE);
  return t;
})();

/** Value of the last `readLeb` (a module-level slot, so decoding allocates nothing). */
let lebValue = 0;

/** Skips one LEB128 at `p`; returns the position after it, or TRUNCATED. */
function skipLeb(bytes: Uint8Array, p: number, end: number): number {
  for (let i = 0; i < 10; i++) {
    if (p >= end) return TRUNCATED;
    if ((bytes[p++]! & 0x80) === 0) return p;
  }
  return TRUNCATED;
}

/**
 * Reads an unsigned LEB128 (up to 32 bits) into a module-level slot (read it with `lastLeb()`);
 * returns the next position or TRUNCATED.
 */
export function readLeb(bytes: Uint8Array, p: number, end: number): number {
  let result = 0;
  let shift = 0;
  // 2^shift as a running product: `2 ** shift` is a double even when small, and so would the value be.
  let mul = 1;
  for (;;) {
    if (p >= end || shift > 28) return TRUNCATED;
    const b = bytes[p++]!;
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) break;
    shift += 7;
    mul *= 128;
  }
  lebValue = result;
  return p;
}

/** Reads a signed LEB128 of up to 32 bits (an i32.const) like `readLeb`. */
export function readSignedLeb(bytes: Uint8Array, p: number, end: number): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (p >= end || shift > 28) return TRUNCATED;
    const b = bytes[p++]!;
    result |= (b & 0x7f) << shift;
    shift += 7;
    if ((b & 0x80) === 0) {
      lebValue = shift < 32 && b & 0x40 ? result | (-1 << shift) : result;
      return p;
    }
  }
}

/** The value the last `readLeb` or `readSignedLeb` decoded. */
export function lastLeb(): number {
  return lebValue;
}

/** Skips a value type (with the heap type of `(ref null? ht)`); returns the next position. */
export function skipValType(bytes: Uint8Array, p: number, end: number): number {
  if (p >= end) return TRUNCATED;
  const b = bytes[p++]!;
  if (b === 0x63 || b === 0x64) return skipLeb(bytes, p, end);
  return p;
}

/** Skips a block type. */
function skipBlockType(bytes: Uint8Array, p: number, end: number): number {
  if (p >= end) return TRUNCATED;
  const b = bytes[p]!;
  if (b === 0x63 || b === 0x64) return skipLeb(bytes, p + 1, end);
  return skipLeb(bytes, p, end); // 0x40, a one-byte value type, or an s33 type index
}

/** Skips a memarg (align with optional memidx, then a u64 offset). */
function skipMemArg(bytes: Uint8Array, p: number, end: number): number {
  p = readLeb(bytes, p, end);
  if (p < 0) return p;
  if (lebValue & 0x40) {
    p = skipLeb(bytes, p, end);
    if (p < 0) return p;
  }
  return skipLeb(bytes, p, end);
}

/** Skips `n` LEB128s. */
function skipLebs(bytes: Uint8Array, p: number, end: number, n: number): number {
  for (let i = 0; i < n && p >= 0; i++) p = skipLeb(bytes, p, end);
  return p;
}

/**
 * Decodes the instruction whose opcode is at `p` and returns the position just after it, or
 * UNKNOWN_OPCODE / TRUNCATED. `end` bounds the read (the end of the function body).
 */
export function nextInstruction(bytes: Uint8Array, p: number, end: number): number {
  if (p >= end) return TRUNCATED;
  const op = bytes[p++]!;
  switch (IMM[op]!) {
    case IMM_NONE:
      return p;
    case IMM_LEB:
      return skipLeb(bytes, p, end);
    case IMM_LEB2:
      return skipLebs(bytes, p, end, 2);
    case IMM_MEMARG:
      return skipMemArg(bytes, p, end);
    case IMM_BLOCKTYPE:
      return skipBlockType(bytes, p, end);
    case IMM_BYTES4:
      return p + 4 <= end ? p + 4 : TRUNCATED;
    case IMM_BYTES8:
      return p + 8 <= end ? p + 8 : TRUNCATED;
    case IMM_BRTABLE: {
      p = readLeb(bytes, p, end);
      if (p < 0) return p;
      if (lebValue > end - p) return TRUNCATED;
      return skipLebs(bytes, p, end, lebValue + 1);
    }
    case IMM_SELECTT: {
      p = readLeb(bytes, p, end);
      if (p < 0) return p;
      const n = lebValue;
      if (n > end - p) return TRUNCATED;
      for (let i = 0; i < n && p >= 0; i++) p = skipValType(bytes, p, end);
      return p;
    }
    case IMM_TRYTABLE: {
      p = skipBlockType(bytes, p, end);
      if (p < 0) return p;
      p = readLeb(bytes, p, end);
      if (p < 0) return p;
      const n = lebValue;
      if (n > end - p) return TRUNCATED;
      for (let i = 0; i < n; i++) {
        if (p >= end) return TRUNCATED;
        const kind = bytes[p++]!;
        if (kind <= 1) p = skipLebs(bytes, p, end, 2);
        else if (kind <= 3) p = skipLeb(bytes, p, end);
        else return UNKNOWN_OPCODE;
        if (p < 0) return p;
      }
      return p;
    }
    case IMM_PREFIXFB:
      return prefixFB(bytes, p, end);
    case IMM_PREFIXFC:
      return prefixFC(bytes, p, end);
    case IMM_PREFIXFD:
      return prefixFD(bytes, p, end);
    case IMM_PREFIXFE:
      return prefixFE(bytes, p, end);
    default:
      return UNKNOWN_OPCODE;
  }
}

/** GC instructions (0xfb prefix). */
function prefixFB(bytes: Uint8Array, p: number, end: number): number {
  p = readLeb(bytes, p, end);
  if (p < 0) return p;
  const sub = lebValue;
  switch (sub) {
    case 15: // array.len
    case 26: // any.convert_extern
    case 27: // extern.convert_any
    case 28: // ref.i31
    case 29: // i31.get_s
    case 30: // i31.get_u
      return p;
    case 0: // struct.new t
    case 1: // struct.new_default t
    case 6: // array.new t
    case 7: // array.new_default t
    case 11: // array.get t
    case 12: // array.get_s t
    case 13: // array.get_u t
    case 14: // array.set t
    case 16: // array.fill t
    case 20: // ref.test ht
    case 21: // ref.test null ht
    case 22: // ref.cast ht
    case 23: // ref.cast null ht
      return skipLeb(bytes, p, end);
    case 2: // struct.get t f
    case 3:
    case 4:
    case 5: // struct.set t f
    case 8: // array.new_fixed t n
    case 9: // array.new_data t d
    case 10: // array.new_elem t e
    case 17: // array.copy t t
    case 18: // array.init_data t d
    case 19: // array.init_elem t e
      return skipLebs(bytes, p, end, 2);
    case 24: // br_on_cast flags label ht ht
    case 25: // br_on_cast_fail
      return p < end ? skipLebs(bytes, p + 1, end, 3) : TRUNCATED;
    default:
      return UNKNOWN_OPCODE;
  }
}

/** Saturating truncation, bulk memory and table instructions (0xfc prefix). */
function prefixFC(bytes: Uint8Array, p: number, end: number): number {
  p = readLeb(bytes, p, end);
  if (p < 0) return p;
  const sub = lebValue;
  if (sub <= 7) return p; // *.trunc_sat_*
  switch (sub) {
    case 8: // memory.init data mem
    case 10: // memory.copy mem mem
    case 12: // table.init elem table
    case 14: // table.copy table table
      return skipLebs(bytes, p, end, 2);
    case 9: // data.drop
    case 11: // memory.fill mem
    case 13: // elem.drop
    case 15: // table.grow
    case 16: // table.size
    case 17: // table.fill
      return skipLeb(bytes, p, end);
    default:
      return UNKNOWN_OPCODE;
  }
}

/** SIMD and relaxed SIMD (0xfd prefix). */
function prefixFD(bytes: Uint8Array, p: number, end: number): number {
  p = readLeb(bytes, p, end);
  if (p < 0) return p;
  const sub = lebValue;
  if (sub <= 11) return skipMemArg(bytes, p, end); // v128.load* / v128.store
  if (sub <= 13) return p + 16 <= end ? p + 16 : TRUNCATED; // v128.const, i8x16.shuffle
  if (sub <= 20) return p; // swizzle, splats
  if (sub <= 34) return p < end ? p + 1 : TRUNCATED; // extract/replace_lane laneidx
  if (sub <= 83) return p;
  if (sub <= 91) {
    // v128.loadN_lane / storeN_lane: memarg laneidx
    p = skipMemArg(bytes, p, end);
    if (p < 0) return p;
    return p < end ? p + 1 : TRUNCATED;
  }
  if (sub <= 93) return skipMemArg(bytes, p, end); // v128.load32_zero / load64_zero
  if (sub <= 0x113) return p; // arithmetic and relaxed SIMD: no immediates
  return UNKNOWN_OPCODE;
}

/** Threads / atomics (0xfe prefix). */
function prefixFE(bytes: Uint8Array, p: number, end: number): number {
  p = readLeb(bytes, p, end);
  if (p < 0) return p;
  const sub = lebValue;
  if (sub <= 2) return skipMemArg(bytes, p, end); // notify, wait32, wait64
  if (sub === 3) return p < end ? p + 1 : TRUNCATED; // atomic.fence 0x00
  if (sub >= 0x10 && sub <= 0x4e) return skipMemArg(bytes, p, end);
  return UNKNOWN_OPCODE;
}

/**
 * Skips a function body's local declarations; returns the position of the first instruction, or
 * TRUNCATED.
 */
export function skipLocals(bytes: Uint8Array, p: number, end: number): number {
  p = readLeb(bytes, p, end);
  if (p < 0) return p;
  const groups = lebValue;
  if (groups > end - p) return TRUNCATED;
  for (let i = 0; i < groups; i++) {
    p = skipLeb(bytes, p, end);
    if (p < 0) return p;
    p = skipValType(bytes, p, end);
    if (p < 0) return p;
  }
  return p;
}

/**
 * Scans one function body [start, end) (after its size) for memory.grow (opcode 0x40, any memory
 * index). Returns true when found, false when the whole body decodes without it, and null when an
 * unknown opcode or a truncated instruction stops the scan ("unknown").
 */
export function bodyGrowsMemory(bytes: Uint8Array, start: number, end: number): boolean | null {
  let p = skipLocals(bytes, start, end);
  if (p < 0) return null;
  while (p < end) {
    if (bytes[p] === 0x40) return true;
    p = nextInstruction(bytes, p, end);
    if (p < 0) return null;
  }
  return p === end && bytes[end - 1] === 0x0b ? false : null;
}

/** What a function body does, for verify's adapter check. */
export interface BodyShape {
  /** Direct call targets (function indices). */
  calls: number[];
  /** Number of memory loads (0x28-0x35). */
  loads: number;
}

/** Decodes one function body and lists its direct calls and loads; null when it cannot be decoded. */
export function bodyShape(bytes: Uint8Array, start: number, end: number): BodyShape | null {
  let p = skipLocals(bytes, start, end);
  if (p < 0) return null;
  const shape: BodyShape = { calls: [], loads: 0 };
  while (p < end) {
    const op = bytes[p]!;
    if (op === 0x10 || op === 0x12) {
      const q = readLeb(bytes, p + 1, end);
      if (q < 0) return null;
      shape.calls.push(lebValue);
    } else if (op >= 0x28 && op <= 0x35) {
      shape.loads++;
    }
    p = nextInstruction(bytes, p, end);
    if (p < 0) return null;
  }
  return shape;
}
