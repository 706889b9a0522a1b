/**
 * @fileoverview Splicing the input's function bodies into a module binaryen wrote.
 *
 * The transform changes a handful of functions; binaryen reading, then writing back, the other
 * thousands costs most of a transform. So binaryen writes the module with those bodies replaced
 * by `unreachable` (cheap), and the input's own bodies are put back here, byte for byte, with
 * the indices they name moved to where the output has them: functions (call, return_call),
 * globals (global.get/set) and types (call_indirect). Locals, constants, memory accesses and
 * control flow are copied as they are.
 *
 * Two passes over raw bytes:
 * - `indexBodies` (on the input) decodes every body once and records where each index immediate
 *   sits, and whether the body holds anything a splice cannot carry over: ref.func (binaryen
 *   writes the declarations it needs only for the references it sees), table and segment
 *   instructions, exception tags, typed block types and references. Such a body stays with
 *   binaryen.
 * - `spliceBodies` (on binaryen's output) rewrites the code section, appends function types only
 *   the spliced bodies use, and puts the input's local names back for the spliced functions
 *   (binaryen writes locals grouped by type; the input's bodies keep the input's order).
 *
 * Anything that does not line up (an index the output lost, a type it cannot encode) makes
 * `spliceBodies` return null: the caller then lets binaryen write every body.
 */

import { lastLeb, nextInstruction, readLeb, skipLocals } from './instructions.js';
import type { ModuleInfo, ValType } from './reader.js';

/** Kinds of recorded index immediates. */
export const SITE_CALL = 0;
export const SITE_REF_FUNC = 1;
export const SITE_GLOBAL = 2;
export const SITE_TYPE = 3;
export const SITE_TABLE = 4;
/** The table of table.get/set/grow/size/fill/copy (not carried by a splice). */
export const SITE_TABLE_OP = 5;

/** Where each defined function's index immediates sit, and which bodies a splice can carry. */
export interface BodyIndex {
  /** Sites of defined function k are [siteStart[k], siteStart[k + 1]). */
  readonly siteStart: Uint32Array;
  /** Each site: the immediate's first byte, the byte after it, its kind (SITE_*), its value. */
  readonly pos: Uint32Array;
  readonly end: Uint32Array;
  readonly kind: Uint8Array;
  readonly value: Uint32Array;
  /** Per defined function: 1 when a splice can carry its body over. */
  readonly spliceable: Uint8Array;
  /**
   * Per defined function: 1 when it uses element segments (table.init, elem.drop); the tables
   * other table instructions use are SITE_TABLE_OP sites.
   */
  readonly tableOps: Uint8Array;
  /** Per defined function: where its first instruction starts (after the locals). */
  readonly codeStart: Uint32Array;
}

/** Growable site arrays. */
class Sites {
  pos = new Uint32Array(1 << 12);
  end = new Uint32Array(1 << 12);
  kind = new Uint8Array(1 << 12);
  value = new Uint32Array(1 << 12);
  n = 0;

  add(pos: number, end: number, kind: number, value: number): void {
    if (this.n === this.pos.length) this.grow();
    const i = this.n++;
    this.pos[i] = pos;
    this.end[i] = end;
    this.kind[i] = kind;
    this.value[i] = value;
  }

  private grow(): void {
    this.pos = grown(this.pos, new Uint32Array(this.pos.length * 2));
    this.end = grown(this.end, new Uint32Array(this.end.length * 2));
    this.kind = grown(this.kind, new Uint8Array(this.kind.length * 2));
    this.value = grown(this.value, new Uint32Array(this.value.length * 2));
  }
}

/** `into`, holding `from` at its start. */
export function grown<T extends Uint8Array | Uint32Array | Int32Array | Float64Array>(from: T, into: T): T {
  into.set(from);
  return into;
}

/** Block types and `select t` value types a splice copies as they are: none and the plain value types. */
function plainType(b: number): boolean {
  return b === 0x40 || (b >= 0x7b && b <= 0x7f) || b === 0x70 || b === 0x6f;
}

/** Decodes every defined function of `bytes` once (see the file overview). */
export function indexBodies(bytes: Uint8Array, info: ModuleInfo): BodyIndex {
  const n = info.codeRanges.length;
  const siteStart = new Uint32Array(n + 1);
  const spliceable = new Uint8Array(n);
  const tableOps = new Uint8Array(n);
  const codeStart = new Uint32Array(n);
  const sites = new Sites();
  for (let k = 0; k < n; k++) {
    siteStart[k] = sites.n;
    const { start, end } = info.codeRanges[k]!;
    const p = skipLocals(bytes, start, end);
    if (p < 0) continue;
    codeStart[k] = p;
    const found = indexBody(bytes, p, end, sites);
    spliceable[k] = found & SPLICEABLE ? 1 : 0;
    tableOps[k] = found & USES_SEGMENTS ? 1 : 0;
  }
  siteStart[n] = sites.n;
  return {
    siteStart,
    pos: sites.pos,
    end: sites.end,
    kind: sites.kind,
    value: sites.value,
    spliceable,
    tableOps,
    codeStart,
  };
}

/** `indexBody` result bits: a splice can carry the body; it uses element segments. */
const SPLICEABLE = 1;
const USES_SEGMENTS = 2;

/** Records the sites of the code [p, end) of one body; returns SPLICEABLE | USES_SEGMENTS bits. */
function indexBody(bytes: Uint8Array, p: number, end: number, sites: Sites): number {
  let found = 0;
  let ok = true;
  while (p < end) {
    const op = bytes[p]!;
    if (op === 0x10 || op === 0x12) {
      const q = readLeb(bytes, p + 1, end);
      if (q < 0) break;
      sites.add(p + 1, q, SITE_CALL, lastLeb());
    } else if (op === 0x23 || op === 0x24) {
      const q = readLeb(bytes, p + 1, end);
      if (q < 0) break;
      sites.add(p + 1, q, SITE_GLOBAL, lastLeb());
    } else if (op === 0x11 || op === 0x13) {
      const q = readLeb(bytes, p + 1, end);
      if (q < 0) break;
      sites.add(p + 1, q, SITE_TYPE, lastLeb());
      const r = readLeb(bytes, q, end);
      if (r < 0) break;
      sites.add(q, r, SITE_TABLE, lastLeb());
    } else if (op === 0xd2) {
      const q = readLeb(bytes, p + 1, end);
      if (q < 0) break;
      sites.add(p + 1, q, SITE_REF_FUNC, lastLeb());
      ok = false;
    } else if (op >= 0x02 && op <= 0x04) {
      if (p + 1 < end && !plainType(bytes[p + 1]!)) ok = false;
    } else if (op === 0x25 || op === 0x26) {
      const q = readLeb(bytes, p + 1, end);
      if (q < 0) break;
      sites.add(p + 1, q, SITE_TABLE_OP, lastLeb());
      ok = false;
    } else if (op === 0xfc) {
      let q = readLeb(bytes, p + 1, end);
      if (q < 0) break;
      const sub = lastLeb();
      if (sub === 12 || sub === 13) found |= USES_SEGMENTS;
      // table.copy names two tables; table.grow, table.size and table.fill one.
      for (let t = sub === 14 ? 2 : sub >= 15 && sub <= 17 ? 1 : 0; t > 0 && q > 0; t--) {
        const r = readLeb(bytes, q, end);
        if (r > 0) sites.add(q, r, SITE_TABLE_OP, lastLeb());
        q = r;
      }
      if (sub === 8 || sub === 9 || (sub >= 12 && sub <= 17)) ok = false;
    } else if (op === 0x1c) {
      if (p + 2 >= end || bytes[p + 1] !== 1 || !plainType(bytes[p + 2]!)) ok = false;
    } else if (op === 0xd0) {
      if (p + 1 >= end || (bytes[p + 1] !== 0x70 && bytes[p + 1] !== 0x6f)) ok = false;
    } else if (
      (op >= 0x06 && op <= 0x0a) ||
      op === 0x14 ||
      op === 0x15 ||
      op === 0x18 ||
      op === 0x19 ||
      op === 0x1f ||
      op === 0xfb
    ) {
      ok = false;
    }
    const next = nextInstruction(bytes, p, end);
    if (next < 0) break;
    p = next;
  }
  // A body that did not decode to its end keeps its sites for reachability but is not spliced.
  return ok && p === end && bytes[end - 1] === 0x0b ? found | SPLICEABLE : found;
}

/** What `spliceBodies` puts where. */
export interface SplicePlan {
  /**
   * For each defined function of the output (in order): the input's defined-function index whose
   * body replaces binaryen's, or -1 to keep binaryen's.
   */
  source: Int32Array;
  /** Input function index (imports first) -> output function index, -1 when gone. */
  functions: Int32Array;
  /** Input global index -> output global index, -1 when gone. */
  globals: Int32Array;
  /** Input table index -> output table index, -1 when gone. */
  tables: Int32Array;
  /**
   * The name section binaryen read (the input's, made safe): its local names are put back for
   * spliced functions when the output has a name section; null without one (always set, so
   * every plan has one shape).
   */
  inputNames: { bytes: Uint8Array; numImportedFunctions: number } | null;
}

/** A byte buffer that grows. */
export class ByteWriter {
  buf: Uint8Array;
  n = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }

  copy(src: Uint8Array, start: number, end: number): void {
    this.room(end - start);
    this.buf.set(src.subarray(start, end), this.n);
    this.n += end - start;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.n++] = b;
  }

  leb(v: number): void {
    this.room(5);
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.buf[this.n++] = b;
    } while (v !== 0);
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

/** Length of the unsigned LEB128 encoding of `v` (< 2^32). */
export function lebLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

const VALTYPE_BYTE: Record<string, number> = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
  funcref: 0x70,
  externref: 0x6f,
};

/** `params->results` of a function type; null for other types or value types we do not encode. */
function typeKey(info: ModuleInfo, index: number): string | null {
  const t = info.types[index];
  if (t?.kind !== 'func') return null;
  const all: ValType[] = [...t.params, ...t.results];
  if (all.some((v) => VALTYPE_BYTE[v] === undefined)) return null;
  return `${t.params.join(',')}->${t.results.join(',')}`;
}

/**
 * Input type index -> output type index for every type a spliced body names, appending the ones
 * the output lacks; null when one cannot be encoded.
 */
function mapTypes(
  input: ModuleInfo,
  output: ModuleInfo,
  needed: Set<number>,
): { map: Map<number, number>; appended: string[] } | null {
  const have = new Map<string, number>();
  for (let i = 0; i < output.types.length; i++) {
    const key = typeKey(output, i);
    if (key !== null && !have.has(key)) have.set(key, i);
  }
  const map = new Map<number, number>();
  const appended: string[] = [];
  for (const t of needed) {
    const key = typeKey(input, t);
    if (key === null) return null;
    let o = have.get(key);
    if (o === undefined) {
      o = output.types.length + appended.length;
      appended.push(key);
      have.set(key, o);
    }
    map.set(t, o);
  }
  return { map, appended };
}

/** Encodes function types given as `params->results` keys. */
function encodeTypes(out: ByteWriter, keys: string[]): void {
  for (const key of keys) {
    const [params, results] = key.split('->') as [string, string];
    out.byte(0x60);
    for (const list of [params, results]) {
      const types = list === '' ? [] : list.split(',');
      out.leb(types.length);
      for (const v of types) out.byte(VALTYPE_BYTE[v]!);
    }
  }
}

/** The two modules a splice works on: binaryen's output and the input, each with its reading. */
export interface SpliceModules {
  built: Uint8Array;
  builtInfo: ModuleInfo;
  input: Uint8Array;
  inputInfo: ModuleInfo;
  /** `indexBodies` of the input. */
  index: BodyIndex;
}

/**
 * binaryen's output `built` with the planned bodies replaced by the input's (indices moved); null
 * when the plan cannot be carried out (see the file overview).
 */
export function spliceBodies(modules: SpliceModules, plan: SplicePlan): Uint8Array | null {
  const { built, builtInfo, input, inputInfo, index } = modules;
  const { source } = plan;
  if (source.length !== builtInfo.codeRanges.length) return null;
  const neededTypes = typesNamed(source, index);
  if (neededTypes === null) return null;
  const types = mapTypes(inputInfo, builtInfo, neededTypes);
  if (types === null) return null;
  const moves = new IndexMoves(plan.functions, plan.globals, plan.tables, types.map);

  const out = new ByteWriter(built.length + input.length);
  out.copy(built, 0, 8);
  for (const section of builtInfo.sections) {
    if (section.id === 10) {
      if (!writeCode(out, modules, source, moves)) return null;
    } else if (section.id === 1 && types.appended.length > 0) {
      writeTypes(out, built, builtInfo, section, types.appended);
    } else if (section.id === 0 && plan.inputNames && customPayload(built, section, 'name') >= 0) {
      writeNames(out, built, builtInfo, section, plan);
    } else {
      out.copy(built, section.start, section.end);
    }
  }
  return out.bytes();
}

/** The input types the bodies `source` takes name (call_indirect); null when one is not spliceable. */
function typesNamed(source: Int32Array, index: BodyIndex): Set<number> | null {
  const types = new Set<number>();
  for (let j = 0; j < source.length; j++) {
    const k = source[j]!;
    if (k < 0) continue;
    if (!index.spliceable[k]) return null;
    for (let s = index.siteStart[k]!; s < index.siteStart[k + 1]!; s++)
      if (index.kind[s] === SITE_TYPE) types.add(index.value[s]!);
  }
  return types;
}

/** A section's header: its id and content size. */
function sectionHeader(out: ByteWriter, id: number, size: number): void {
  out.byte(id);
  out.leb(size);
}

/** The code section, each body binaryen's or the input's. */
function writeCode(out: ByteWriter, modules: SpliceModules, source: Int32Array, moves: IndexMoves): boolean {
  const { built, builtInfo, input, inputInfo, index } = modules;
  const body = new ByteWriter(built.length + input.length);
  body.leb(source.length);
  for (let j = 0; j < source.length; j++) {
    const k = source[j]!;
    if (k < 0) {
      const r = builtInfo.codeRanges[j]!;
      body.leb(r.end - r.start);
      body.copy(built, r.start, r.end);
      continue;
    }
    const { start, end } = inputInfo.codeRanges[k]!;
    if (!writeBody(body, input, start, end, index, k, moves)) return false;
  }
  sectionHeader(out, 10, body.n);
  out.copy(body.buf, 0, body.n);
  return true;
}

/** The input's body [start, end) of defined function `k`, its indices moved; false when one is lost. */
function writeBody(
  body: ByteWriter,
  input: Uint8Array,
  start: number,
  end: number,
  index: BodyIndex,
  k: number,
  moves: IndexMoves,
): boolean {
  const first = index.siteStart[k]!;
  const last = index.siteStart[k + 1]!;
  // The new size: the old one, each immediate's old length swapped for its new one.
  let size = end - start;
  for (let s = first; s < last; s++) {
    const v = moves.mapped(index, s);
    if (v < 0) return false;
    size += lebLength(v) - (index.end[s]! - index.pos[s]!);
  }
  body.leb(size);
  let at = start;
  for (let s = first; s < last; s++) {
    body.copy(input, at, index.pos[s]!);
    body.leb(moves.mapped(index, s));
    at = index.end[s]!;
  }
  body.copy(input, at, end);
  return true;
}

/** Where the indices a spliced body names go in the output (the plan's, and the types'). */
class IndexMoves {
  constructor(
    readonly functions: Int32Array,
    readonly globals: Int32Array,
    readonly tables: Int32Array,
    readonly types: Map<number, number>,
  ) {}

  /** The output's value for site `s`, or -1 when the output lost it. */
  mapped(index: BodyIndex, s: number): number {
    const v = index.value[s]!;
    switch (index.kind[s]) {
      case SITE_CALL:
        return this.functions[v] ?? -1;
      case SITE_GLOBAL:
        return this.globals[v] ?? -1;
      case SITE_TYPE:
        return this.types.get(v) ?? -1;
      case SITE_TABLE:
        return this.tables[v] ?? -1;
      default:
        return -1;
    }
  }
}

/** The type section with `appended` function types after binaryen's. */
function writeTypes(
  out: ByteWriter,
  built: Uint8Array,
  builtInfo: ModuleInfo,
  section: { contentStart: number; end: number },
  appended: string[],
): void {
  const p = readLeb(built, section.contentStart, section.end);
  const body = new ByteWriter(section.end - section.contentStart + appended.length * 16);
  body.leb(builtInfo.types.length + appended.length);
  body.copy(built, p, section.end);
  encodeTypes(body, appended);
  sectionHeader(out, 1, body.n);
  out.copy(body.buf, 0, body.n);
}

/**
 * The chunks of `bytes` in [start, end) laid out as sections and name subsections are: an id byte,
 * a LEB128 size, the content. Stops at the first chunk that does not fit.
 */
function* chunks(
  bytes: Uint8Array,
  start: number,
  end: number,
): Generator<{ id: number; start: number; contentStart: number; end: number }> {
  let p = start;
  while (p < end) {
    const q = readLeb(bytes, p + 1, end);
    if (q < 0 || q + lastLeb() > end) return;
    const chunkEnd = q + lastLeb();
    yield { id: bytes[p]!, start: p, contentStart: q, end: chunkEnd };
    p = chunkEnd;
  }
}

/** Where the payload of a custom section named `name` starts (after its name), or -1. */
function customPayload(
  bytes: Uint8Array,
  section: { contentStart: number; end: number },
  name: string,
): number {
  const p = readLeb(bytes, section.contentStart, section.end);
  if (p < 0 || lastLeb() !== name.length) return -1;
  return String.fromCharCode(...bytes.subarray(p, p + name.length)) === name ? p + name.length : -1;
}

/** Function index -> [start, end) of its local name map, from the name section's subsection 2. */
function localNameMaps(bytes: Uint8Array): Map<number, [number, number]> {
  const out = new Map<number, [number, number]>();
  for (const section of chunks(bytes, 8, bytes.length)) {
    const payload = section.id === 0 ? customPayload(bytes, section, 'name') : -1;
    if (payload < 0) continue;
    for (const sub of chunks(bytes, payload, section.end)) {
      if (sub.id !== 2) continue;
      const subEnd = sub.end;
      let r = readLeb(bytes, sub.contentStart, subEnd);
      const n = lastLeb();
      for (let i = 0; i < n && r > 0 && r < subEnd; i++) {
        r = readLeb(bytes, r, subEnd);
        const func = lastLeb();
        const mapStart = r;
        r = readLeb(bytes, r, subEnd);
        const count = lastLeb();
        for (let c = 0; c < count && r > 0; c++) {
          r = readLeb(bytes, r, subEnd); // local index
          r = readLeb(bytes, r, subEnd); // name length
          r += lastLeb();
        }
        if (r < 0 || r > subEnd) return new Map();
        out.set(func, [mapStart, r]);
      }
    }
    break;
  }
  return out;
}

/** The name section with the input's local names for the spliced functions. */
function writeNames(
  out: ByteWriter,
  built: Uint8Array,
  builtInfo: ModuleInfo,
  section: { start: number; contentStart: number; end: number },
  plan: SplicePlan,
): void {
  const { inputNames, source, functions } = plan;
  const mine = localNameMaps(built);
  const theirs = inputNames ? localNameMaps(inputNames.bytes) : new Map();
  const imported = builtInfo.numImportedFunctions;
  // Output function index -> [bytes, start, end] of the local name map to write.
  const entries = new Map<number, [Uint8Array, number, number]>();
  for (const [f, [s, e]] of mine) {
    const j = f - imported;
    if (j < 0 || j >= source.length || source[j]! < 0) entries.set(f, [built, s, e]);
  }
  if (inputNames) {
    const inputImported = inputNames.numImportedFunctions;
    for (let j = 0; j < source.length; j++) {
      const k = source[j]!;
      if (k < 0) continue;
      const from = theirs.get(k + inputImported);
      if (from && functions[k + inputImported] === j + imported)
        entries.set(j + imported, [inputNames.bytes, from[0], from[1]]);
    }
  }
  const locals = new ByteWriter(1024);
  const order = [...entries.keys()].sort((a, b) => a - b);
  locals.leb(order.length);
  for (const f of order) {
    const [src, s, e] = entries.get(f)!;
    locals.leb(f);
    locals.copy(src, s, e);
  }

  const body = new ByteWriter(section.end - section.contentStart + locals.n);
  const payload = customPayload(built, section, 'name');
  body.copy(built, section.contentStart, payload);
  // Subsections go in id order: the local names (2) come before any later one.
  let wrote = false;
  const writeLocals = (): void => {
    if (!wrote && order.length > 0) {
      body.byte(2);
      body.leb(locals.n);
      body.copy(locals.buf, 0, locals.n);
    }
    wrote = true;
  };
  for (const sub of chunks(built, payload, section.end)) {
    if (sub.id >= 2) writeLocals();
    if (sub.id !== 2) body.copy(built, sub.start, sub.end);
  }
  writeLocals();
  sectionHeader(out, 0, body.n);
  out.copy(body.buf, 0, body.n);
}
