/**
 * @fileoverview Body shapes read from the raw bytes, for the steps that used to ask binaryen (and so
 * needed every body read): whether a function only forwards to another, whether it drops a load
 * from a constant address, whether it loads below a pointer.
 *
 *   forwarder      (local.get 0) … (local.get n-1) (call F) [return] end, around it only blocks
 *                  without a label use: what binaryen reads as `call F (local.get 0) …`, alone in
 *                  the body (follow-wrappers, neutralise-initializer)
 *   dropped load   (i32.const A) (load* …) (drop): binaryen's `drop (load (i32.const A))`
 *                  (dead-state-reads rewrites those; a body without one is never looked into)
 *   load below     (i32.const k) (i32.sub) (load* …) with 0 < k <= 16, or (i32.const -k) (i32.add):
 *                  binaryen's `load (X - k)`, the shape of a header read (headerProbes in
 *                  src/binaryen/walk.ts looks for those, in the functions the pointer flow names)
 */

import { lastLeb, nextInstruction, readLeb, readSignedLeb, skipLocals } from './instructions.js';
import type { ModuleInfo } from './reader.js';

/** i32.load … i64.load32_u. */
function isLoad(op: number): boolean {
  return op >= 0x28 && op <= 0x35;
}

/**
 * The callee when defined function `k`'s body is a forwarder (above) of its own parameters to a
 * defined function of the same signature, else null (absolute function indices).
 */
export function forwardedCallee(bytes: Uint8Array, info: ModuleInfo, k: number): number | null {
  const range = info.codeRanges[k];
  if (!range) return null;
  const self = info.numImportedFunctions + k;
  const type = info.types[info.functionTypes[self]!];
  if (type?.kind !== 'func') return null;
  const end = range.end;
  let p = skipLocals(bytes, range.start, end);
  if (p < 0) return null;
  // Blocks around the forwarding sequence (no branch can target them: nothing else is in them).
  let blocks = 0;
  while (p < end && bytes[p] === 0x02) {
    p = nextInstruction(bytes, p, end);
    if (p < 0) return null;
    blocks++;
  }
  for (let i = 0; i < type.params.length; i++) {
    if (bytes[p] !== 0x20) return null;
    p = readLeb(bytes, p + 1, end);
    if (p < 0 || lastLeb() !== i) return null;
  }
  if (bytes[p] !== 0x10 && bytes[p] !== 0x12) return null; // call, return_call
  p = readLeb(bytes, p + 1, end);
  if (p < 0) return null;
  const target = lastLeb();
  if (bytes[p] === 0x0f) p++; // return
  for (let i = 0; i <= blocks; i++) if (bytes[p++] !== 0x0b) return null;
  if (p !== end || target === self || target < info.numImportedFunctions) return null;
  const other = info.types[info.functionTypes[target] ?? -1];
  if (other?.kind !== 'func' || !sameTypes(other.params, type.params)) return null;
  return sameTypes(other.results, type.results) ? target : null;
}

function sameTypes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** Largest k of a `load (X - k)` header probe (as headerProbes). */
const PROBE_LIMIT = 16;

/** Per defined function, the shapes above: bit DROPS_CONSTANT_LOAD, bit LOADS_BELOW_POINTER. */
export const DROPS_CONSTANT_LOAD = 1;
export const LOADS_BELOW_POINTER = 2;

/** One pass over every body: which of the shapes above each one has (bits, by defined function). */
export function bodyShapes(bytes: Uint8Array, info: ModuleInfo): Uint8Array {
  const out = new Uint8Array(info.codeRanges.length);
  for (let k = 0; k < info.codeRanges.length; k++) {
    const { start, end } = info.codeRanges[k]!;
    out[k] = shapesOf(bytes, start, end);
  }
  return out;
}

/** The shapes of the body [start, end) (bits). */
function shapesOf(bytes: Uint8Array, start: number, end: number): number {
  let p = skipLocals(bytes, start, end);
  // The last two instructions: opcodes, and where the one before the last started.
  let prev = -1;
  let prev2 = -1;
  let prev2At = -1;
  let prevAt = -1;
  let found = 0;
  while (p >= 0 && p < end && found !== (DROPS_CONSTANT_LOAD | LOADS_BELOW_POINTER)) {
    const op = bytes[p]!;
    if (op === 0x1a && prev2 === 0x41 && isLoad(prev)) found |= DROPS_CONSTANT_LOAD;
    else if (isLoad(op) && prev2 === 0x41 && (prev === 0x6b || prev === 0x6a)) {
      const c = readSignedLeb(bytes, prev2At + 1, end) < 0 ? 0 : lastLeb();
      // How far below the pointer: the constant i32.sub takes, or i32.add's negated.
      const below = c * (prev === 0x6b ? 1 : -1);
      if (below > 0 && below <= PROBE_LIMIT) found |= LOADS_BELOW_POINTER;
    }
    prev2 = prev;
    prev2At = prevAt;
    prev = op;
    prevAt = p;
    p = nextInstruction(bytes, p, end);
  }
  return found;
}
