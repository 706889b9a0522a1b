/**
 * @fileoverview Makes a module's `name` section safe for binaryen without dropping it: binaryen reads
 * names as C strings and keys functions by name, so an empty name, a name with a NUL, or two
 * functions called alike (musl's static `dummy` and `pop_arg`, Rust generics) cannot be looked up.
 * Release builds that keep names have such duplicates routinely; dropping the whole section made
 * the module look stripped.
 *
 * Every name map (functions, globals, memories, data…, and the per-function local and label maps)
 * is rewritten so that its names are unique and NUL-free: the first of a kind keeps its name, the
 * next ones get `.1`, `.2`… and an empty name becomes `$<index>` (how labels print unnamed
 * entities). A duplicated name that denotes an allocator role (two `malloc`s) is ambiguous: every
 * copy is renamed, so that none is taken for the allocator by name.
 *
 *   func[12] "dummy", func[40] "dummy"   ->   func[12] "dummy", func[40] "dummy.1"
 */

import { name as encodeName, uleb } from './encode.js';
import type { ModuleInfo } from './reader.js';

/** Subsections that map an index to a name (function, type, table, memory, global, elem, data, tag). */
const DIRECT_MAPS = new Set([1, 4, 5, 6, 7, 8, 9, 11]);
/** Subsections that map an index to a name map (locals, labels, fields). */
const INDIRECT_MAPS = new Set([2, 3, 10]);

export interface SafeNames {
  /** The module with its name section rewritten (the input itself when nothing had to change). */
  bytes: Uint8Array;
  /** Function index -> name, as binaryen will see them. */
  functions: Map<number, string>;
  /** Function names that were renamed (index -> original name). */
  renamed: Map<number, string>;
}

class Cur {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    pos: number,
    readonly end: number,
  ) {
    this.pos = pos;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    let mul = 1; // 2^shift: `2 ** shift` is a double even when small (see readLeb in instructions.ts)
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated');
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * mul;
      shift += 7;
      mul *= 128;
      if ((b & 0x80) === 0) return result;
      if (shift > 35) throw new Error('LEB too long');
    }
  }
  str(): string {
    const n = this.u32();
    if (this.pos + n > this.end) throw new Error('truncated');
    const s = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}

/**
 * Unique, NUL-free names for one name map. `protect(name)` is true for names that must not be
 * claimed by one copy of a duplicate (allocator role names).
 */
function dedupe(entries: [number, string][], protect: (name: string) => boolean): [number, string][] {
  const count = new Map<string, number>();
  for (const [, n] of entries) count.set(n, (count.get(n) ?? 0) + 1);
  const keeps = (n: string): boolean => count.get(n) === 1 && n !== '' && !n.includes('\0');
  // Names that stay as they are claim their spelling first, so that a later `x.1` never collides.
  const used = new Set<string>();
  for (const [, n] of entries) if (keeps(n)) used.add(n);
  const seen = new Set<string>();
  const out: [number, string][] = [];
  for (const [i, n] of entries) {
    if (keeps(n)) {
      out.push([i, n]);
      continue;
    }
    const base = n === '' ? `$${i}` : n.replaceAll('\0', '_');
    // The first copy of a duplicate keeps the name, unless the name is ambiguous (an allocator role).
    const first = !seen.has(n) && !(count.get(n)! > 1 && protect(n));
    seen.add(n);
    let candidate = base;
    let k = 0;
    if (!first || used.has(candidate)) {
      do candidate = `${base}.${++k}`;
      while (used.has(candidate));
    }
    used.add(candidate);
    out.push([i, candidate]);
  }
  return out;
}

function readMap(c: Cur): [number, string][] {
  const n = c.u32();
  const out: [number, string][] = [];
  for (let k = 0; k < n; k++) {
    const i = c.u32();
    out.push([i, c.str()]);
  }
  return out;
}

function writeMap(entries: [number, string][]): number[] {
  const out = uleb(entries.length);
  for (const [i, s] of entries) out.push(...uleb(i), ...encodeName(s));
  return out;
}

function needsChange(entries: [number, string][]): boolean {
  const seen = new Set<string>();
  for (const [, s] of entries) {
    if (s === '' || s.includes('\0') || seen.has(s)) return true;
    seen.add(s);
  }
  return false;
}

/**
 * Returns `bytes` with a name section binaryen can read unchanged in meaning, or null when the
 * module has no name section or it is malformed (then it is dropped as before).
 */
export function safeNames(
  bytes: Uint8Array,
  info: ModuleInfo,
  protect: (name: string) => boolean,
): SafeNames | null {
  if (info.nameSectionMalformed) return null;
  const section = info.customSections.find((s) => s.name === 'name');
  if (!section) return null;
  const subsections: { id: number; payload: number[] | Uint8Array }[] = [];
  let changed = false;
  let functions = new Map<number, string>();
  const renamed = new Map<number, string>();
  try {
    const c = new Cur(bytes, section.contentStart, section.end);
    while (c.pos < section.end) {
      const id = c.u32();
      const size = c.u32();
      const subEnd = c.pos + size;
      if (subEnd > section.end) throw new Error('subsection runs past the end');
      const sub = new Cur(bytes, c.pos, subEnd);
      if (DIRECT_MAPS.has(id)) {
        const entries = readMap(sub);
        if (sub.pos !== subEnd) throw new Error('size mismatch');
        const fixed = needsChange(entries) ? dedupe(entries, id === 1 ? protect : () => false) : entries;
        if (fixed !== entries) changed = true;
        if (id === 1) {
          functions = new Map(fixed);
          for (const [k, [i, s]] of fixed.entries()) if (s !== entries[k]![1]) renamed.set(i, entries[k]![1]);
        }
        subsections.push({
          id,
          payload: fixed === entries ? bytes.subarray(c.pos, subEnd) : writeMap(fixed),
        });
      } else if (INDIRECT_MAPS.has(id)) {
        const n = sub.u32();
        const outer: [number, [number, string][]][] = [];
        let any = false;
        for (let k = 0; k < n; k++) {
          const i = sub.u32();
          const entries = readMap(sub);
          const fixed = needsChange(entries) ? dedupe(entries, () => false) : entries;
          if (fixed !== entries) any = true;
          outer.push([i, fixed]);
        }
        if (sub.pos !== subEnd) throw new Error('size mismatch');
        if (any) {
          changed = true;
          const payload = uleb(outer.length);
          for (const [i, m] of outer) payload.push(...uleb(i), ...writeMap(m));
          subsections.push({ id, payload });
        } else subsections.push({ id, payload: bytes.subarray(c.pos, subEnd) });
      } else {
        subsections.push({ id, payload: bytes.subarray(c.pos, subEnd) });
      }
      c.pos = subEnd;
    }
  } catch {
    return null;
  }
  if (!changed) return { bytes, functions, renamed };
  const parts: Uint8Array[] = [Uint8Array.from(encodeName('name'))];
  for (const sub of subsections) {
    parts.push(Uint8Array.from([...uleb(sub.id), ...uleb(sub.payload.length)]), Uint8Array.from(sub.payload));
  }
  const contentLength = parts.reduce((n, p) => n + p.length, 0);
  parts.unshift(Uint8Array.from([0, ...uleb(contentLength)]));
  parts.unshift(bytes.subarray(0, section.start));
  parts.push(bytes.subarray(section.end));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { bytes: out, functions, renamed };
}
