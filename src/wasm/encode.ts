/**
 * @fileoverview The binary encodings the library writes itself (the name-section rewrite of
 * src/wasm/names.ts): unsigned LEB128 and names. Tests assemble whole modules with
 * test/harness/encode.ts, which builds on these.
 */

/** Unsigned LEB128 of a non-negative integer (a bigint for values beyond 2^53: memory64 limits). */
export function uleb(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return out;
}

/** A length-prefixed UTF-8 name. */
export function name(s: string): number[] {
  const bytes = new TextEncoder().encode(s);
  return [...uleb(bytes.length), ...bytes];
}
