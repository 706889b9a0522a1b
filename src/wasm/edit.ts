/**
 * @fileoverview Small edits of a module's bytes that binaryen cannot make: dropping custom sections
 * by name (binaryen.js keeps every custom section it read and can only add more).
 */

/** Reads an unsigned LEB128 at `pos`: [value, next position], or null past the end. */
function readUleb(bytes: Uint8Array, pos: number): [number, number] | null {
  let value = 0;
  let shift = 0;
  let mul = 1; // 2^shift: `2 ** shift` is a double even when small (see readLeb in instructions.ts)
  for (let i = pos; i < bytes.length && shift < 35; i++) {
    const b = bytes[i]!;
    value += (b & 0x7f) * mul;
    shift += 7;
    mul *= 128;
    if ((b & 0x80) === 0) return [value, i + 1];
  }
  return null;
}

/**
 * `bytes` without the custom sections called `name` (the input itself when it has none). The module
 * was read and validated before, so its section framing is sound; anything unexpected leaves the
 * bytes unchanged.
 */
export function dropCustomSections(bytes: Uint8Array, name: string): Uint8Array {
  const want = new TextEncoder().encode(name);
  const keep: [number, number][] = [];
  let pos = 8;
  let dropped = false;
  while (pos < bytes.length) {
    const start = pos;
    const id = bytes[pos]!;
    const size = readUleb(bytes, pos + 1);
    if (!size || size[1] + size[0] > bytes.length) return bytes;
    const end = size[1] + size[0];
    let drop = false;
    if (id === 0) {
      const n = readUleb(bytes, size[1]);
      if (n && n[0] === want.length && n[1] + n[0] <= end) {
        drop = want.every((c, i) => bytes[n[1] + i] === c);
      }
    }
    if (drop) dropped = true;
    else keep.push([start, end]);
    pos = end;
  }
  if (!dropped) return bytes;
  const out = new Uint8Array(8 + keep.reduce((n, [s, e]) => n + e - s, 0));
  out.set(bytes.subarray(0, 8));
  let at = 8;
  for (const [s, e] of keep) {
    out.set(bytes.subarray(s, e), at);
    at += e - s;
  }
  return out;
}
