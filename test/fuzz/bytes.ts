/**
 * @fileoverview Byte-level helpers for the fuzzer: a seeded PRNG, the LEB128 encoders and a raw section
 * splitter. Nothing here loads binaryen or the library.
 */

import { MODULE_HEADER, name, section, sleb, uleb, vec } from '../harness/encode.js';

/** mulberry32: small, fast, good enough for fuzzing; fully determined by its 32-bit seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 4294967296) * n);
  }
  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** A seed for input `index` of a campaign seeded with `seed`: inputs are independent of each other. */
export function inputSeed(seed: number, index: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  return h >>> 0;
}

export function ulebPadded(v: number, width: number): number[] {
  const out: number[] = [];
  let x = v >>> 0;
  for (let i = 0; i < width; i++) {
    const b = x & 0x7f;
    x >>>= 7;
    out.push(i < width - 1 ? b | 0x80 : b);
  }
  return out;
}

// The encoders are the library's own (src/wasm/encode.ts); re-exported for the fuzz modules.
export { name, section, sleb, uleb, vec };
/** The 8-byte header of a core module. */
export const HEADER: number[] = [...MODULE_HEADER];

/** One raw section of a module: its id, payload, and (for custom sections) the name. */
export interface RawSection {
  id: number;
  payload: Uint8Array;
  /** Offset of the payload in the original bytes. */
  offset: number;
  customName?: string;
}

/** Reads an unsigned LEB at `pos`; null when it runs off the end or is longer than 5 bytes. */
export function readUleb(bytes: Uint8Array, pos: number): { value: number; next: number } | null {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    const b = bytes[pos + i];
    if (b === undefined) return null;
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return { value: result, next: pos + i + 1 };
  }
  return null;
}

/** Splits a well-formed module into sections; null when the framing is broken. */
export function splitSections(bytes: Uint8Array): RawSection[] | null {
  if (bytes.length < 8) return null;
  const out: RawSection[] = [];
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos]!;
    const size = readUleb(bytes, pos + 1);
    if (!size || size.next + size.value > bytes.length) return null;
    const payload = bytes.subarray(size.next, size.next + size.value);
    const s: RawSection = { id, payload, offset: size.next };
    if (id === 0) {
      const n = readUleb(payload, 0);
      if (n && n.next + n.value <= payload.length)
        s.customName = Buffer.from(payload.subarray(n.next, n.next + n.value)).toString('latin1');
    }
    out.push(s);
    pos = size.next + size.value;
  }
  return out;
}

export function joinSections(
  sections: readonly { id: number; payload: Uint8Array | number[] }[],
): Uint8Array {
  const parts: number[] = [...HEADER];
  for (const s of sections) parts.push(...section(s.id, [...s.payload]));
  return Uint8Array.from(parts);
}

/** Concatenates byte arrays. */
export function concat(parts: readonly (Uint8Array | number[])[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
