/**
 * @fileoverview Hand-assembling WebAssembly modules in tests and the fuzzer: signed LEB128, vectors,
 * sections, the module header. Unsigned LEB128 and names are the library's own (src/wasm/encode.ts).
 */

import { name, uleb } from '../../src/wasm/encode.js';

export { name, uleb };

/** Signed LEB128 of an integer (a bigint for i64 constants). */
export function sleb(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

/** A vector: count, then the items' bytes. */
export function vec(items: readonly (readonly number[])[]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A section: id, size, payload. */
export function section(id: number, payload: readonly number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}

/** A custom section with `sectionName` and `payload`. */
export function customSection(sectionName: string, payload: readonly number[]): number[] {
  return section(0, [...name(sectionName), ...payload]);
}

/** The 8-byte header of a core module. */
export const MODULE_HEADER: readonly number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** A core module made of the given (already encoded) sections. */
export function moduleBytes(...sections: readonly (readonly number[])[]): Uint8Array {
  return Uint8Array.from([...MODULE_HEADER, ...sections.flat()]);
}
