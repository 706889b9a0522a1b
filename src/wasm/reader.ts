/**
 * @fileoverview A fast, allocation-light reader of WebAssembly module metadata.
 *
 * binaryen.js costs ~0.4 s to load and may abort the process on malformed input, so every input is
 * first read here: the header (core module vs component), every section's structure, and the facts
 * the layout model and the passes need (imports, globals with their constant initialisers,
 * exports, element and data segments, function body ranges, the name section). Instructions are
 * not decoded, except by `scanMemoryGrow` on request and for constant expressions.
 *
 * Problems are HostAllocErrors: HA001 (not wasm), HA002 (malformed, with the byte offset in the
 * message and in `details.offset`), HA003 (a component), HA032 (a configured limit). A malformed
 * `name` section is not an error: it is ignored and `nameSectionMalformed` is set.
 */

import { ErrorCodes, HostAllocError } from '../errors.js';
import { bodyGrowsMemory, nextInstruction, skipLocals, TRUNCATED } from './instructions.js';

/** A value type: 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref' | other reference types. */
export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref' | (string & {});

/** The kinds of imports and exports. */
export type ExternKind = 'function' | 'table' | 'memory' | 'global' | 'tag';

/** One entry of the type section (each subtype of a GC rec group is an entry of its own). */
export type TypeEntry =
  | { kind: 'func'; params: ValType[]; results: ValType[] }
  /** GC struct / array types and stack-switching continuation types: shape not recorded. */
  | { kind: 'struct' | 'array' | 'cont' };

/** ResizableLimits of a memory or table. Sizes are numbers (memory64 values are exact below 2^53). */
export interface ResizableLimits {
  /** Initial size (pages for memories, elements for tables). */
  min: number;
  /** Maximum size, or null. */
  max: number | null;
  /** The shared flag (threads). */
  shared: boolean;
  /** memory64 / table64: sizes and addresses are i64. */
  is64: boolean;
  /** log2 of the page size when the custom-page-sizes proposal sets one, else null (64 KiB). */
  pageSizeLog2: number | null;
}

/** Where an imported entity comes from. */
export interface ImportRef {
  module: string;
  name: string;
}

/** One import, in import-section order. */
export interface ImportInfo {
  module: string;
  name: string;
  kind: ExternKind;
  /** Index in the entity's own index space (imports come first in each space). */
  index: number;
  /** Type index of an imported function or tag. */
  type?: number;
  /** ResizableLimits of an imported memory or table. */
  limits?: ResizableLimits;
  /** Element type of an imported table. */
  elemType?: ValType;
  /** Value type of an imported global. */
  valType?: ValType;
  /** Mutability of an imported global. */
  mutable?: boolean;
}

/** A memory of the memory index space (imported ones first). */
export interface MemoryEntry {
  limits: ResizableLimits;
  /** Set when the memory is imported. */
  imported: ImportRef | null;
}

/** A table of the table index space (imported ones first). */
export interface TableEntry {
  elemType: ValType;
  limits: ResizableLimits;
  imported: ImportRef | null;
}

/** A global of the global index space (imported ones first). */
export interface GlobalEntry {
  type: ValType;
  mutable: boolean;
  imported: ImportRef | null;
  /**
   * The initial value when the initialiser is constant: a single `i32.const` / `i64.const` /
   * `f32.const` / `f64.const`, a `global.get` of an earlier immutable defined global with a
   * constant value, or extended-const `add`/`sub`/`mul` over those. i32 values are read as unsigned
   * (they are addresses to us); i64 values are exact below 2^53. null when imported or not constant.
   */
  init: number | null;
  /** The global read when the initialiser is exactly one `global.get` (e.g. of an imported global). */
  initGlobal: number | null;
}

/** One export. */
export interface ExportEntry {
  name: string;
  kind: ExternKind;
  index: number;
}

/**
 * A byte range [start, end) in the input. A class rather than a `{ start, end }` literal: literals
 * of that shape made elsewhere (address intervals, beyond 2^30) would otherwise share its hidden
 * class, turn its fields into doubles, and make every body decoder that reads a position deoptimise.
 */
export class ByteRange {
  constructor(
    public start: number,
    public end: number,
  ) {}
}

/** One element segment (contents are only recorded in `elemFunctions`). */
export interface ElementSegmentEntry {
  index: number;
  mode: 'active' | 'passive' | 'declarative';
  /** Table of an active segment, else null. */
  table: number | null;
  /** Constant offset of an active segment, else null. */
  offset: number | null;
  /** Number of elements. */
  count: number;
}

/** One data segment. */
export interface DataSegmentEntry {
  index: number;
  /** Memory of an active segment (0 for passive ones). */
  memory: number;
  passive: boolean;
  /** Constant offset of an active segment (see GlobalEntry.init for what is constant), else null. */
  offset: number | null;
  /** Length of the contents in bytes. */
  size: number;
  /** Byte range of the contents in the input. */
  contents: ByteRange;
}

/** One custom section. */
export interface CustomSectionInfo {
  name: string;
  /** The whole section, from its id byte to its end. */
  start: number;
  end: number;
  /** Where the payload after the name starts. */
  contentStart: number;
}

/** One section of any kind, in file order. */
export interface SectionInfo {
  /** Section id (0 = custom, 1 = type, …, 12 = data count, 13 = tag). */
  id: number;
  /** Offset of the id byte. */
  start: number;
  /** Offset of the payload (after the size). */
  contentStart: number;
  /** End of the section. */
  end: number;
}

/** What the `name` custom section says. Empty when it is absent or malformed. */
export interface NameInfo {
  /** Subsection 0. */
  module: string | null;
  /** Subsection 1: function index -> name. */
  functions: Map<number, string>;
  /** Subsection 7: global index -> name. */
  globals: Map<number, string>;
  /** Subsection 9: data segment index -> name. */
  data: Map<number, string>;
  /** Subsection 6: memory index -> name. */
  memories: Map<number, string>;
}

/** Everything `readModule` learns about a core module. */
export interface ModuleInfo {
  /** Input size in bytes. */
  size: number;
  /** The type section. */
  types: TypeEntry[];
  /** All imports, in order. */
  imports: ImportInfo[];
  /** Type index of every function of the index space (imported functions first). */
  functionTypes: number[];
  /** Type index of each DEFINED function (function index = numImportedFunctions + i). */
  functions: number[];
  /** The table index space (imported tables first). */
  tables: TableEntry[];
  /** The memory index space (imported memories first). */
  memories: MemoryEntry[];
  /** The global index space (imported globals first). */
  globals: GlobalEntry[];
  /** Type index of every tag of the index space (imported tags first). */
  tags: number[];
  exports: ExportEntry[];
  /** The start function, or null. */
  start: number | null;
  elements: ElementSegmentEntry[];
  /** Function indices named by any element segment (active, passive or declarative). */
  elemFunctions: Set<number>;
  /** The data count section's value, or null when absent. */
  dataCount: number | null;
  /** Byte range of each defined function's body (locals + instructions, after the size). */
  codeRanges: ByteRange[];
  dataSegments: DataSegmentEntry[];
  customSections: CustomSectionInfo[];
  /** Every section, in file order. */
  sections: SectionInfo[];
  names: NameInfo;
  /** A `name` section was present but malformed; `names` is then empty. */
  nameSectionMalformed: boolean;
  /** The type section uses GC-proposal forms (rec, sub, struct, array). */
  usesGC: boolean;
  /** A data segment holds AssemblyScript's runtime file names (see hasAssemblyScriptRuntimeData). */
  assemblyScriptData: boolean;
  numImportedFunctions: number;
  numImportedTables: number;
  numImportedMemories: number;
  numImportedGlobals: number;
  numImportedTags: number;
}

/** ResizableLimits that keep a hostile input from costing too much. */
export interface ReadLimits {
  /** Largest accepted input. Default 256 MiB. */
  maxBytes?: number;
  /** Most functions (imported + defined). Default 1,000,000. */
  maxFunctions?: number;
  /** Most data segments. Default 100,000. */
  maxDataSegments?: number;
}

/** Default limits of `readModule`. */
export const DEFAULT_READ_LIMITS: Required<ReadLimits> = {
  maxBytes: 256 * 1024 * 1024,
  maxFunctions: 1_000_000,
  maxDataSegments: 100_000,
};

const EXTERN_KINDS: readonly ExternKind[] = ['function', 'table', 'memory', 'global', 'tag'];

const SECTION_NAMES: readonly string[] = [
  'custom',
  'type',
  'import',
  'function',
  'table',
  'memory',
  'global',
  'export',
  'start',
  'element',
  'code',
  'data',
  'data count',
  'tag',
];

/** Required order of the non-custom sections (by id); the tag section sits between memory and global. */
const SECTION_RANK: readonly number[] = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11, 6];

/** One-byte value types and abstract heap type shorthands. */
const SIMPLE_TYPES: ReadonlyMap<number, ValType> = new Map<number, ValType>([
  [0x7f, 'i32'],
  [0x7e, 'i64'],
  [0x7d, 'f32'],
  [0x7c, 'f64'],
  [0x7b, 'v128'],
  [0x70, 'funcref'],
  [0x6f, 'externref'],
  [0x6e, 'anyref'],
  [0x6d, 'eqref'],
  [0x6c, 'i31ref'],
  [0x6b, 'structref'],
  [0x6a, 'arrayref'],
  [0x69, 'exnref'],
  [0x68, 'contref'],
  [0x73, 'nullfuncref'],
  [0x72, 'nullexternref'],
  [0x71, 'nullref'],
  [0x74, 'nullexnref'],
  [0x75, 'nullcontref'],
]);

/** Abstract heap type names, by their one-byte encoding. */
const HEAP_TYPES: ReadonlyMap<number, string> = new Map([
  [0x70, 'func'],
  [0x6f, 'extern'],
  [0x6e, 'any'],
  [0x6d, 'eq'],
  [0x6c, 'i31'],
  [0x6b, 'struct'],
  [0x6a, 'array'],
  [0x69, 'exn'],
  [0x68, 'cont'],
  [0x73, 'nofunc'],
  [0x72, 'noextern'],
  [0x71, 'none'],
  [0x74, 'noexn'],
  [0x75, 'nocont'],
]);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Throws HA002 for a problem at `offset`. */
function malformed(offset: number, what: string): never {
  throw new HostAllocError(
    ErrorCodes.MALFORMED,
    `malformed WebAssembly module at byte ${offset} (0x${offset.toString(16)}): ${what}`,
    { details: { offset } },
  );
}

function hex(bytes: Uint8Array, from: number, n: number): string {
  return Array.from(bytes.subarray(from, from + n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** A cursor over the input, bounded by `limit` (the end of the current section). */
class Cursor {
  pos = 0;
  limit: number;
  private view: DataView | null = null;

  constructor(
    readonly bytes: Uint8Array,
    /** Label of the current section, for error messages. */
    public where = 'header',
  ) {
    this.limit = bytes.length;
  }

  fail(what: string, offset = this.pos): never {
    return malformed(offset, `${what} (in the ${this.where})`);
  }

  eof(): never {
    return this.pos >= this.bytes.length
      ? this.fail('unexpected end of input')
      : this.fail('unexpected end of section');
  }

  u8(): number {
    if (this.pos >= this.limit) this.eof();
    return this.bytes[this.pos++]!;
  }

  peek(): number {
    if (this.pos >= this.limit) this.eof();
    return this.bytes[this.pos]!;
  }

  /** Unsigned LEB128, at most 32 bits. */
  u32(): number {
    const start = this.pos;
    const bytes = this.bytes;
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.limit) this.eof();
      const b = bytes[this.pos++]!;
      if (shift === 28 && (b & 0xf0) !== 0) this.fail('integer too large (LEB128 u32 overflow)', start);
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  }

  /** Unsigned LEB128, at most 64 bits, as a number (exact below 2^53). */
  u64(): number {
    const start = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.limit) this.eof();
      const b = this.bytes[this.pos++]!;
      if (i === 9 && (b & 0xfe) !== 0) this.fail('integer too large (LEB128 u64 overflow)', start);
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
  }

  /** Signed LEB128 of up to `bits` bits, as a number (exact below 2^53 in magnitude). */
  sleb(bits: 32 | 33 | 64): number {
    const start = this.pos;
    const maxBytes = Math.ceil(bits / 7);
    let result = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.limit) this.eof();
      const b = this.bytes[this.pos++]!;
      if (i === maxBytes - 1 && (b & 0x80) !== 0)
        this.fail(`integer too large (LEB128 s${bits} overflow)`, start);
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return b & 0x40 ? result - mul : result;
    }
  }

  /** A length-prefixed UTF-8 string. */
  str(): string {
    const len = this.u32();
    const start = this.pos;
    if (len > this.limit - start) this.fail(`string length ${len} runs past the end`, start);
    this.pos += len;
    const bytes = this.bytes;
    // ASCII fast path: most names are short and ASCII.
    if (len <= 64) {
      let ascii = true;
      for (let i = start; i < start + len; i++) {
        if (bytes[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii)
        return String.fromCharCode.apply(null, bytes.subarray(start, start + len) as unknown as number[]);
    }
    try {
      return utf8.decode(bytes.subarray(start, start + len));
    } catch {
      return this.fail('invalid UTF-8 in a name', start);
    }
  }

  /** A vector count, checked against the bytes left (every element takes at least `minSize` bytes). */
  count(what: string, minSize = 1): number {
    const at = this.pos;
    const n = this.u32();
    if (n * minSize > this.limit - this.pos) this.fail(`${what} count ${n} runs past the end`, at);
    return n;
  }

  f32(): number {
    if (this.pos + 4 > this.limit) this.eof();
    this.view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f64(): number {
    if (this.pos + 8 > this.limit) this.eof();
    this.view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A heap type (s33): an abstract type name or a type index. */
  heapType(): string {
    const b = this.peek();
    if ((b & 0xc0) === 0x40) {
      const name = HEAP_TYPES.get(b);
      if (name === undefined) this.fail(`unknown heap type 0x${b.toString(16)}`);
      this.pos++;
      return name;
    }
    const at = this.pos;
    const idx = this.sleb(33);
    if (idx < 0) this.fail('unknown heap type', at);
    return String(idx);
  }

  valType(): ValType {
    const at = this.pos;
    const b = this.u8();
    const simple = SIMPLE_TYPES.get(b);
    if (simple !== undefined) return simple;
    if (b === 0x63) return `(ref null ${this.heapType()})`;
    if (b === 0x64) return `(ref ${this.heapType()})`;
    return this.fail(`unknown value type 0x${b.toString(16)}`, at);
  }

  limits(kind: 'memory' | 'table'): ResizableLimits {
    const at = this.pos;
    const flags = this.u8();
    if (flags & ~0x0f) this.fail(`unknown ${kind} limits flags 0x${flags.toString(16)}`, at);
    const is64 = (flags & 0x04) !== 0;
    const min = is64 ? this.u64() : this.u32();
    const max = flags & 0x01 ? (is64 ? this.u64() : this.u32()) : null;
    const pageSizeLog2 = flags & 0x08 ? this.u32() : null;
    return { min, max, shared: (flags & 0x02) !== 0, is64, pageSizeLog2 };
  }
}

/** Reusable stack for constant-expression evaluation. */
const evalStack: (number | null)[] = [];

/**
 * Reads a WebAssembly core module's metadata. Throws HostAllocError HA001 / HA002 / HA003 / HA032.
 */
export function readModule(bytes: Uint8Array, limits: ReadLimits = {}): ModuleInfo {
  const maxBytes = limits.maxBytes ?? DEFAULT_READ_LIMITS.maxBytes;
  const maxFunctions = limits.maxFunctions ?? DEFAULT_READ_LIMITS.maxFunctions;
  const maxDataSegments = limits.maxDataSegments ?? DEFAULT_READ_LIMITS.maxDataSegments;

  checkHeader(bytes);
  if (bytes.length > maxBytes) {
    throw new HostAllocError(
      ErrorCodes.LIMIT_EXCEEDED,
      `the input is ${bytes.length} bytes, more than the limit of ${maxBytes} (raise it with --max-bytes)`,
      { details: { limit: 'maxBytes', value: bytes.length, max: maxBytes } },
    );
  }

  const info: ModuleInfo = {
    size: bytes.length,
    types: [],
    imports: [],
    functionTypes: [],
    functions: [],
    tables: [],
    memories: [],
    globals: [],
    tags: [],
    exports: [],
    start: null,
    elements: [],
    elemFunctions: new Set(),
    dataCount: null,
    codeRanges: [],
    dataSegments: [],
    customSections: [],
    sections: [],
    names: emptyNames(),
    nameSectionMalformed: false,
    usesGC: false,
    assemblyScriptData: false,
    numImportedFunctions: 0,
    numImportedTables: 0,
    numImportedMemories: 0,
    numImportedGlobals: 0,
    numImportedTags: 0,
  };

  const r: Cursor = new Cursor(bytes);
  r.pos = 8;
  let lastRank = 0;
  let sawCode = false;
  let sawData = false;
  let nameSection: CustomSectionInfo | null = null;

  while (r.pos < bytes.length) {
    const start = r.pos;
    r.limit = bytes.length;
    r.where = 'section header';
    const id = r.u8();
    const size = r.u32();
    const contentStart = r.pos;
    if (id >= SECTION_NAMES.length) r.fail(`unknown section id ${id}`, start);
    const sectionName = SECTION_NAMES[id]!;
    if (size > bytes.length - contentStart) {
      r.fail(
        `the ${sectionName} section's size ${size} runs past the end of the input (${bytes.length} bytes)`,
        start,
      );
    }
    const end = contentStart + size;
    r.limit = end;
    r.where = `${sectionName} section`;
    if (id !== 0) {
      const rank = SECTION_RANK[id]!;
      if (rank <= lastRank) r.fail(`the ${sectionName} section is out of order or repeated`, start);
      lastRank = rank;
    }
    info.sections.push({ id, start, contentStart, end });

    switch (id) {
      case 0: {
        const name = r.str();
        const custom: CustomSectionInfo = { name, start, end, contentStart: r.pos };
        info.customSections.push(custom);
        if (name === 'name' && nameSection === null) nameSection = custom;
        r.pos = end;
        break;
      }
      case 1:
        readTypes(r, info);
        break;
      case 2:
        readImports(r, info, maxFunctions);
        break;
      case 3: {
        const n = r.count('function');
        checkFunctionLimit(info.numImportedFunctions + n, maxFunctions);
        for (let i = 0; i < n; i++) {
          const t = r.u32();
          info.functions.push(t);
          info.functionTypes.push(t);
        }
        break;
      }
      case 4: {
        const n = r.count('table');
        for (let i = 0; i < n; i++) {
          if (r.peek() === 0x40) {
            // table with an initialiser expression (typed function references)
            r.pos++;
            if (r.u8() !== 0x00) r.fail('bad table initialiser prefix', r.pos - 1);
            const elemType = r.valType();
            info.tables.push({ elemType, limits: r.limits('table'), imported: null });
            constExpr(r, info, null);
          } else {
            const elemType = r.valType();
            info.tables.push({ elemType, limits: r.limits('table'), imported: null });
          }
        }
        break;
      }
      case 5: {
        const n = r.count('memory');
        for (let i = 0; i < n; i++) info.memories.push({ limits: r.limits('memory'), imported: null });
        break;
      }
      case 13: {
        const n = r.count('tag');
        for (let i = 0; i < n; i++) {
          r.u8(); // attribute: 0 = exception
          info.tags.push(r.u32());
        }
        break;
      }
      case 6: {
        const n = r.count('global', 3);
        for (let i = 0; i < n; i++) {
          const type = r.valType();
          const mutAt = r.pos;
          const mut = r.u8();
          if (mut > 1) r.fail(`bad global mutability 0x${mut.toString(16)}`, mutAt);
          const entry: GlobalEntry = {
            type,
            mutable: mut === 1,
            imported: null,
            init: null,
            initGlobal: null,
          };
          const v = constExpr(r, info, null);
          entry.init = v.value === null ? null : type === 'i32' ? v.value >>> 0 : v.value;
          entry.initGlobal = v.singleGlobal;
          info.globals.push(entry);
        }
        break;
      }
      case 7: {
        const n = r.count('export', 3);
        for (let i = 0; i < n; i++) {
          const name = r.str();
          const kindAt = r.pos;
          const kind = EXTERN_KINDS[r.u8()];
          if (kind === undefined) r.fail('unknown export kind', kindAt);
          info.exports.push({ name, kind, index: r.u32() });
        }
        break;
      }
      case 8:
        info.start = r.u32();
        break;
      case 9:
        readElements(r, info);
        break;
      case 12: {
        info.dataCount = r.u32();
        checkDataLimit(info.dataCount, maxDataSegments);
        break;
      }
      case 10: {
        sawCode = true;
        const at = r.pos;
        const n = r.count('function body');
        if (n !== info.functions.length) {
          r.fail(
            `the code section has ${n} bodies but the function section declares ${info.functions.length}`,
            at,
          );
        }
        for (let i = 0; i < n; i++) {
          const sizeAt = r.pos;
          const bodySize = r.u32();
          const bodyStart = r.pos;
          if (bodySize > end - bodyStart)
            r.fail(`function body ${i} size ${bodySize} runs past the end`, sizeAt);
          if (bodySize === 0) r.fail(`function body ${i} is empty`, sizeAt);
          r.pos = bodyStart + bodySize;
          info.codeRanges.push(new ByteRange(bodyStart, r.pos));
        }
        break;
      }
      case 11: {
        sawData = true;
        const at = r.pos;
        const n = r.count('data segment');
        checkDataLimit(n, maxDataSegments);
        if (info.dataCount !== null && n !== info.dataCount) {
          r.fail(`the data section has ${n} segments but the data count section says ${info.dataCount}`, at);
        }
        readData(r, info, n);
        break;
      }
    }
    if (r.pos !== end)
      r.fail(`the ${sectionName} section ends at byte ${r.pos}, before its declared end ${end}`);
  }

  r.where = 'module';
  if (!sawCode && info.functions.length > 0) {
    r.fail(`the function section declares ${info.functions.length} functions but there is no code section`);
  }
  if (!sawData && info.dataCount !== null && info.dataCount > 0) {
    r.fail(`the data count section says ${info.dataCount} segments but there is no data section`);
  }
  readNameSection(bytes, nameSection, info);
  info.assemblyScriptData = hasAssemblyScriptRuntimeData(bytes, info);
  return info;
}

/** HA001 / HA002 / HA003 from the first 8 bytes. */
function checkHeader(bytes: Uint8Array): void {
  const magic =
    bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
  if (!magic) {
    let found: string;
    if (bytes.length === 0) found = 'an empty input';
    else {
      found = hex(bytes, 0, 4);
      const text = new TextDecoder('utf-8').decode(bytes.subarray(0, 64)).trimStart();
      if (bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
        found += ' (an ELF file)';
      } else if (text.startsWith('(module') || text.startsWith('(component') || text.startsWith(';;')) {
        found += ' (WebAssembly text: assemble it first, e.g. with wat2wasm or `wasm-tools parse`)';
      } else if (text.startsWith('"use strict"') || text.startsWith('var ') || text.startsWith('//')) {
        found += ' (JavaScript: pass the .wasm file, and the JS glue with --glue)';
      }
    }
    throw new HostAllocError(
      ErrorCodes.NOT_WASM,
      `not a WebAssembly module (expected \\0asm magic, found ${found})`,
      { details: { offset: 0 } },
    );
  }
  if (bytes.length < 8) malformed(bytes.length, 'unexpected end of input in the header (version)');
  const version = bytes[4]! | (bytes[5]! << 8);
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (layer === 1) {
    throw new HostAllocError(
      ErrorCodes.COMPONENT,
      'the input is a WebAssembly component, not a core module: run wasm-hostalloc on the core module(s) ' +
        'inside it, e.g. extracted with `wasm-tools component unbundle` or `jco`, then re-wrap them',
      { details: { version, layer } },
    );
  }
  if (layer !== 0 || version !== 1) {
    malformed(4, `unsupported WebAssembly binary version ${hex(bytes, 4, 4)} (expected 01 00 00 00)`);
  }
}

function checkFunctionLimit(n: number, max: number): void {
  if (n > max) {
    throw new HostAllocError(
      ErrorCodes.LIMIT_EXCEEDED,
      `the module has ${n} functions, more than the limit of ${max} (raise it with --max-functions)`,
      { details: { limit: 'maxFunctions', value: n, max } },
    );
  }
}

function checkDataLimit(n: number, max: number): void {
  if (n > max) {
    throw new HostAllocError(
      ErrorCodes.LIMIT_EXCEEDED,
      `the module has ${n} data segments, more than the limit of ${max} (raise it with --max-data-segments)`,
      { details: { limit: 'maxDataSegments', value: n, max } },
    );
  }
}

function emptyNames(): NameInfo {
  return { module: null, functions: new Map(), globals: new Map(), data: new Map(), memories: new Map() };
}

function readTypes(r: Cursor, info: ModuleInfo): void {
  const n = r.count('type');
  for (let i = 0; i < n; i++) {
    const form = r.u8();
    if (form === 0x4e) {
      info.usesGC = true;
      const m = r.count('rec group');
      for (let j = 0; j < m; j++) subType(r, info, r.u8());
    } else {
      subType(r, info, form);
    }
  }
}

function subType(r: Cursor, info: ModuleInfo, form: number): void {
  if (form === 0x50 || form === 0x4f) {
    info.usesGC = true;
    const supers = r.count('supertype');
    for (let k = 0; k < supers; k++) r.u32();
    form = r.u8();
  }
  const at = r.pos - 1;
  switch (form) {
    case 0x60: {
      const np = r.count('parameter');
      const params: ValType[] = [];
      for (let k = 0; k < np; k++) params.push(r.valType());
      const nr = r.count('result');
      const results: ValType[] = [];
      for (let k = 0; k < nr; k++) results.push(r.valType());
      info.types.push({ kind: 'func', params, results });
      break;
    }
    case 0x5f: {
      info.usesGC = true;
      const nf = r.count('field', 2);
      for (let k = 0; k < nf; k++) fieldType(r);
      info.types.push({ kind: 'struct' });
      break;
    }
    case 0x5e:
      info.usesGC = true;
      fieldType(r);
      info.types.push({ kind: 'array' });
      break;
    case 0x5d:
      r.sleb(33);
      info.types.push({ kind: 'cont' });
      break;
    default:
      r.fail(`unknown type form 0x${form.toString(16)} (unsupported proposal?)`, at);
  }
}

function fieldType(r: Cursor): void {
  const b = r.peek();
  if (b === 0x78 || b === 0x77) r.pos++;
  else r.valType();
  const at = r.pos;
  if (r.u8() > 1) r.fail('bad field mutability', at);
}

function readImports(r: Cursor, info: ModuleInfo, maxFunctions: number): void {
  const n = r.count('import', 4);
  for (let i = 0; i < n; i++) {
    const module = r.str();
    const name = r.str();
    const kindAt = r.pos;
    const kindByte = r.u8();
    switch (kindByte) {
      case 0: {
        const type = r.u32();
        info.imports.push({ module, name, kind: 'function', index: info.numImportedFunctions++, type });
        info.functionTypes.push(type);
        break;
      }
      case 1: {
        const elemType = r.valType();
        const limits = r.limits('table');
        info.imports.push({ module, name, kind: 'table', index: info.numImportedTables++, limits, elemType });
        info.tables.push({ elemType, limits, imported: { module, name } });
        break;
      }
      case 2: {
        const limits = r.limits('memory');
        info.imports.push({ module, name, kind: 'memory', index: info.numImportedMemories++, limits });
        info.memories.push({ limits, imported: { module, name } });
        break;
      }
      case 3: {
        const valType = r.valType();
        const mutAt = r.pos;
        const mut = r.u8();
        if (mut > 1) r.fail(`bad global mutability 0x${mut.toString(16)}`, mutAt);
        const mutable = mut === 1;
        info.imports.push({
          module,
          name,
          kind: 'global',
          index: info.numImportedGlobals++,
          valType,
          mutable,
        });
        info.globals.push({
          type: valType,
          mutable,
          imported: { module, name },
          init: null,
          initGlobal: null,
        });
        break;
      }
      case 4: {
        r.u8(); // attribute
        const type = r.u32();
        info.imports.push({ module, name, kind: 'tag', index: info.numImportedTags++, type });
        info.tags.push(type);
        break;
      }
      default:
        r.fail(`unknown import kind 0x${kindByte.toString(16)}`, kindAt);
    }
  }
  checkFunctionLimit(info.numImportedFunctions, maxFunctions);
}

/** Result of `constExpr`. */
interface ConstValue {
  value: number | null;
  singleGlobal: number | null;
}

/**
 * Reads a constant expression up to its `end`, evaluating it when it is made of constants,
 * `global.get` of constant immutable defined globals and extended-const arithmetic. `ref.func`
 * operands are added to `refFuncs` when given.
 */
function constExpr(r: Cursor, info: ModuleInfo, refFuncs: Set<number> | null): ConstValue {
  const stack = evalStack;
  stack.length = 0;
  let evaluable = true;
  let count = 0;
  let singleGlobal: number | null = null;
  for (;;) {
    const at = r.pos;
    const op = r.u8();
    if (op === 0x0b) break;
    count++;
    switch (op) {
      case 0x41:
        stack.push(r.sleb(32) >>> 0);
        break;
      case 0x42:
        stack.push(r.sleb(64));
        break;
      case 0x43:
        stack.push(r.f32());
        break;
      case 0x44:
        stack.push(r.f64());
        break;
      case 0x23: {
        const g = r.u32();
        const entry = info.globals[g];
        if (count === 1) singleGlobal = g;
        stack.push(entry !== undefined && entry.imported === null && !entry.mutable ? entry.init : null);
        break;
      }
      case 0xd2: {
        const f = r.u32();
        refFuncs?.add(f);
        stack.push(null);
        break;
      }
      case 0x6a: // i32.add
      case 0x6b: // i32.sub
      case 0x6c: // i32.mul
      case 0x7c: // i64.add
      case 0x7d: // i64.sub
      case 0x7e: {
        // i64.mul
        const b = stack.pop();
        const a = stack.pop();
        if (a === undefined || b === undefined || a === null || b === null) {
          stack.push(null);
          break;
        }
        let v: number;
        if (op === 0x6a) v = (a + b) >>> 0;
        else if (op === 0x6b) v = (a - b) >>> 0;
        else if (op === 0x6c) v = Math.imul(a, b) >>> 0;
        else if (op === 0x7c) v = a + b;
        else if (op === 0x7d) v = a - b;
        else v = a * b;
        stack.push(v);
        break;
      }
      default: {
        const next = nextInstruction(r.bytes, at, r.limit);
        if (next === TRUNCATED) r.eof();
        if (next < 0) r.fail(`unknown opcode 0x${op.toString(16)} in a constant expression`, at);
        r.pos = next;
        evaluable = false;
      }
    }
  }
  const value = evaluable && stack.length === 1 ? (stack[0] ?? null) : null;
  return { value, singleGlobal: count === 1 ? singleGlobal : null };
}

function readElements(r: Cursor, info: ModuleInfo): void {
  const n = r.count('element segment');
  for (let i = 0; i < n; i++) {
    const flagsAt = r.pos;
    const flags = r.u32();
    if (flags > 7) r.fail(`unknown element segment flags ${flags}`, flagsAt);
    const active = (flags & 1) === 0;
    let table: number | null = null;
    let offset: number | null = null;
    if (active) {
      table = flags & 2 ? r.u32() : 0;
      offset = constExpr(r, info, null).value;
    }
    const usesExprs = (flags & 4) !== 0;
    if ((flags & 3) !== 0) {
      if (usesExprs) r.valType();
      else {
        const at = r.pos;
        if (r.u8() !== 0x00) r.fail('unknown element kind', at);
      }
    }
    const count = r.count('element');
    if (usesExprs) {
      for (let k = 0; k < count; k++) constExpr(r, info, info.elemFunctions);
    } else {
      for (let k = 0; k < count; k++) info.elemFunctions.add(r.u32());
    }
    const mode = active ? 'active' : (flags & 3) === 1 ? 'passive' : 'declarative';
    info.elements.push({ index: i, mode, table, offset, count });
  }
}

function readData(r: Cursor, info: ModuleInfo, n: number): void {
  for (let i = 0; i < n; i++) {
    const flagsAt = r.pos;
    const flags = r.u32();
    let memory = 0;
    let offset: number | null = null;
    const passive = flags === 1;
    if (flags > 2) r.fail(`unknown data segment flags ${flags}`, flagsAt);
    if (!passive) {
      if (flags === 2) memory = r.u32();
      const mem = info.memories[memory];
      const v = constExpr(r, info, null).value;
      offset = v === null ? null : mem?.limits.is64 ? v : v >>> 0;
    }
    const sizeAt = r.pos;
    const size = r.u32();
    if (size > r.limit - r.pos) r.fail(`data segment ${i} size ${size} runs past the end`, sizeAt);
    const contents = new ByteRange(r.pos, r.pos + size);
    r.pos += size;
    info.dataSegments.push({ index: i, memory, passive, offset, size, contents });
  }
}

/**
 * Parses the `name` section (null: there is none, names stay empty); on any problem, leaves names
 * empty and sets nameSectionMalformed.
 */
function readNameSection(bytes: Uint8Array, section: CustomSectionInfo | null, info: ModuleInfo): void {
  if (section === null) return;
  const r: Cursor = new Cursor(bytes, 'name section');
  r.pos = section.contentStart;
  r.limit = section.end;
  const names = emptyNames();
  try {
    while (r.pos < section.end) {
      const id = r.u8();
      const size = r.u32();
      if (size > section.end - r.pos) r.fail('subsection runs past the end');
      const subEnd = r.pos + size;
      r.limit = subEnd;
      if (id === 0) names.module = r.str();
      else if (id === 1) nameMap(r, names.functions);
      else if (id === 7) nameMap(r, names.globals);
      else if (id === 9) nameMap(r, names.data);
      else if (id === 6) nameMap(r, names.memories);
      else r.pos = subEnd;
      if (r.pos !== subEnd) r.fail('subsection size mismatch');
      r.limit = section.end;
    }
    info.names = names;
  } catch {
    info.nameSectionMalformed = true;
    info.names = emptyNames();
  }
}

function nameMap(r: Cursor, map: Map<number, string>): void {
  const n = r.count('name', 2);
  for (let i = 0; i < n; i++) {
    const idx = r.u32();
    map.set(idx, r.str());
  }
}

/** The name of function `index` from the name section, or `$<index>`. */
export function functionLabel(info: ModuleInfo, index: number): string {
  return info.names.functions.get(index) ?? `$${index}`;
}

/** The signature of function `index` (imports counted), or undefined for a bad index or non-function type. */
export function functionType(
  info: ModuleInfo,
  index: number,
): { params: ValType[]; results: ValType[] } | undefined {
  const t = info.functionTypes[index];
  if (t === undefined) return undefined;
  const entry = info.types[t];
  return entry?.kind === 'func' ? entry : undefined;
}

/** Export names of the entity `index` of `kind`. */
export function exportNames(info: ModuleInfo, kind: ExternKind, index: number): string[] {
  const out: string[] = [];
  for (const e of info.exports) if (e.kind === kind && e.index === index) out.push(e.name);
  return out;
}

/** Result of `scanMemoryGrowDetailed`. */
export interface MemoryGrowScan {
  /** Functions (imports counted) that contain memory.grow. */
  grows: number[];
  /** Functions whose body could not be decoded (unknown opcode, truncated instruction). */
  unknown: number[];
}

/**
 * Per defined function: true when its body contains memory.grow, false when it decodes without
 * one, null when it could not be decoded ("unknown"). Index i is function numImportedFunctions + i.
 */
export function scanMemoryGrowPerFunction(bytes: Uint8Array, info: ModuleInfo): (boolean | null)[] {
  const out: (boolean | null)[] = new Array(info.codeRanges.length);
  for (let i = 0; i < info.codeRanges.length; i++) {
    const range = info.codeRanges[i]!;
    out[i] = bodyGrowsMemory(bytes, range.start, range.end);
  }
  return out;
}

/** Functions that contain memory.grow, and functions that could not be decoded. */
export function scanMemoryGrowDetailed(bytes: Uint8Array, info: ModuleInfo): MemoryGrowScan {
  const grows: number[] = [];
  const unknown: number[] = [];
  const per = scanMemoryGrowPerFunction(bytes, info);
  for (let i = 0; i < per.length; i++) {
    const r = per[i];
    if (r === true) grows.push(info.numImportedFunctions + i);
    else if (r === null) unknown.push(info.numImportedFunctions + i);
  }
  return { grows, unknown };
}

/**
 * Function indices (imports counted) whose bodies contain memory.grow. Functions that cannot be
 * decoded are not listed: use `scanMemoryGrowDetailed` to see them.
 */
export function scanMemoryGrow(bytes: Uint8Array, info: ModuleInfo): number[] {
  return scanMemoryGrowDetailed(bytes, info).grows;
}

/**
 * True when some defined function uses a threads-proposal instruction (0xfe prefix: atomic loads,
 * stores, read-modify-writes, wait/notify, fence). Emscripten and clang emit them on memories that
 * are not shared, so the threads feature cannot be inferred from the memory alone. Functions that
 * cannot be decoded count as using them (enabling a feature the module does not use is harmless).
 */
export function usesAtomics(bytes: Uint8Array, info: ModuleInfo): boolean {
  for (const range of info.codeRanges) if (bodyUsesAtomics(bytes, range.start, range.end)) return true;
  return false;
}

/** `usesAtomics` for the body [start, end). */
function bodyUsesAtomics(bytes: Uint8Array, start: number, end: number): boolean {
  let p = skipLocals(bytes, start, end);
  if (p < 0) return true;
  while (p < end) {
    if (bytes[p] === 0xfe) return true;
    p = nextInstruction(bytes, p, end);
    if (p < 0) return true;
  }
  return false;
}

const AS_RUNTIME_UTF16 = new Uint8Array([...'~lib/rt/'].flatMap((c) => [c.charCodeAt(0), 0]));

/**
 * True when a data segment holds the UTF-16 string `~lib/rt/`: AssemblyScript's runtime keeps its
 * source file names (for abort messages) as UTF-16 strings, which survive stripping.
 */
export function hasAssemblyScriptRuntimeData(bytes: Uint8Array, info: ModuleInfo): boolean {
  for (let s = 0; s < info.dataSegments.length; s++) {
    const { start, end } = info.dataSegments[s]!.contents;
    if (end - start >= AS_RUNTIME_UTF16.length && holdsNeedle(bytes.subarray(start, end), AS_RUNTIME_UTF16))
      return true;
  }
  return false;
}

/** Whether `needle` occurs in `data` (its first byte found by the native `indexOf`). */
function holdsNeedle(data: Uint8Array, needle: Uint8Array): boolean {
  const last = data.length - needle.length;
  for (let i = data.indexOf(needle[0]!); i >= 0 && i <= last; i = data.indexOf(needle[0]!, i + 1)) {
    let k = 1;
    while (k < needle.length && data[i + k] === needle[k]) k++;
    if (k === needle.length) return true;
  }
  return false;
}
