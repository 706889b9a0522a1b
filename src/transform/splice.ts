/**
 * @fileoverview Steps 'strip' and 'emit' without binaryen writing the code the transform did not
 * touch (src/wasm/splice.ts explains the bytes side).
 *
 *   placeholders  every untouched function whose body a splice can carry gets the body
 *                 `unreachable` in binaryen's module (its real body stays in the input's bytes)
 *   reachability  which functions, globals and indirect-call types the placeholders' real bodies
 *                 need, over the input's bytes for untouched functions and binaryen's IR for changed
 *                 ones, with the same rules as binaryen's remove-unused-module-elements (exports and
 *                 the start function are roots; a call_indirect reaches the table's functions of
 *                 its type, or all of them when the table is visible outside or changed at run time)
 *   pin           a temporary exported function referring to all of that, so that binaryen's own
 *                 remove-unused-module-elements, run on the cheap module, keeps exactly what the
 *                 real bodies need and removes the rest as it always does
 *   emit          binaryen writes the cheap module; the input's bodies are spliced in with their
 *                 indices moved; the engine validates the result
 *
 * When anything does not line up (an index the output lost, a body the engine rejects) the
 * splice throws SpliceMismatch and transform() runs again with binaryen writing every body, so a
 * splice can cost time but never change what the transform produces.
 */

import type { Binaryen, BinaryenModule, ExpressionRef, TypeRef } from '../binaryen/module.js';
import {
  emittedFunctionNames,
  emittedGlobalNames,
  emittedTableNames,
  functionExports,
} from '../binaryen/queries.js';
import { summarize } from '../binaryen/walk.js';
import { readModule, type TypeEntry } from '../wasm/reader.js';
import {
  type BodyIndex,
  indexBodies,
  SITE_CALL,
  SITE_GLOBAL,
  SITE_REF_FUNC,
  SITE_TABLE_OP,
  SITE_TYPE,
  spliceBodies,
} from '../wasm/splice.js';
import { WA } from '../wasm-api.js';
import type { ModuleContext } from './analyse.js';
import { SliceMiss } from './slice.js';

/** The splice could not be carried out; transform() runs again with binaryen writing every body. */
export class SpliceMismatch extends Error {
  constructor(readonly why: string) {
    super(`splice: ${why}`);
  }
}

/** What the placeholders hide, for the pin and the splice. */
export interface Placeholders {
  readonly index: BodyIndex;
  /** Per input defined function: the placeholder body binaryen holds, 0 when it keeps its own. */
  readonly body: number[];
  /** Name of the temporary exported function (removed again by `unpin`). */
  pin?: string;
  /** Imports duplicate-import-elimination merges into an earlier one: name -> the one kept. */
  merged: Map<string, string>;
}

/** Why this module is written by binaryen alone, or null when a splice applies. */
export function spliceRefusal(m: ModuleContext, hasDwarf: boolean): string | null {
  const { info, options } = m.input;
  if ((options.emit ?? 'splice') === 'binaryen') return 'asked for (emit: binaryen)';
  // The spliced bytes are checked by the engine's validator, which does not know memory64 on Node 20.
  if (m.is64) return 'memory64';
  if (info.memories.length > 1) return 'more than one memory';
  if (hasDwarf && options.keepDwarf) return 'DWARF kept';
  if (m.names.length !== info.functionTypes.length) return 'function count differs from binaryen';
  return null;
}

/** Gives each untouched, spliceable function the body `unreachable` (see the file overview). */
export function installPlaceholders(m: ModuleContext, changed: ReadonlySet<string>): Placeholders | null {
  const { b, mod, slice } = m;
  const { bytes, info } = m.input;
  if (m.globalNames.length !== info.globals.length || m.tableNames.length !== info.tables.length) {
    if (slice)
      throw new SliceMiss('binaryen names globals or tables differently, so no left-out body can be written');
    return null;
  }
  const index = slice?.index ?? indexBodies(bytes, info);
  const imported = info.numImportedFunctions;
  const body: number[] = new Array(info.codeRanges.length).fill(0);
  for (let k = 0; k < body.length; k++) {
    const name = m.names[imported + k]!;
    const range = info.codeRanges[k]!;
    if (slice?.kept[k] === 0) {
      // Left out of the slice: binaryen already holds a placeholder, unless a step gave it a body.
      if (!changed.has(name)) body[k] = slice.unguarded.Function.getBody(m.functionRefs[imported + k]!);
      continue;
    }
    // Tiny bodies are not worth it, and an empty start function must stay a nop for the strip.
    if (!index.spliceable[k] || changed.has(name) || range.end - range.start <= 4) continue;
    const u = mod.unreachable();
    b.Function.setBody(m.functionRefs[imported + k]!, u);
    body[k] = u;
  }
  return { index, body, merged: new Map() };
}

/** binaryen's key of a signature. */
function signatureKey(params: TypeRef, results: TypeRef): string {
  return `${params}:${results}`;
}

/** A table's functions, and what makes them used (the rules of remove-unused-module-elements). */
interface TableContents {
  /** Every function its element segments hold. */
  functions: string[];
  bySignature: Map<string, string[]>;
  /** Imported or exported, or a segment may trap at instantiation: all its functions are used. */
  visible: boolean;
  /** All its functions are used. */
  whole: boolean;
  /** Signatures a used call_indirect calls through it. */
  called: Set<string>;
}

/** The module's tables by binaryen name; `passive` is set when a segment has no table. */
function tableContents(m: ModuleContext): { tables: Map<string, TableContents>; passive: string[] } {
  const { b, mod } = m;
  const tables = new Map<string, TableContents>();
  const initial = new Map<string, number>();
  const numTables = mod.getNumTables();
  for (let i = 0; i < numTables; i++) {
    const t = b.getTableInfo(mod.getTableByIndex(i));
    initial.set(t.name, t.initial);
    tables.set(t.name, {
      functions: [],
      bySignature: new Map(),
      visible: t.module !== '',
      whole: false,
      called: new Set(),
    });
  }
  const numExports = mod.getNumExports();
  for (let i = 0; i < numExports; i++) {
    const e = b.getExportInfo(mod.getExportByIndex(i));
    const t = e.kind === b.ExternalTable ? tables.get(e.value) : undefined;
    if (t) t.visible = true;
  }
  const passive: string[] = [];
  const numElementSegments = mod.getNumElementSegments();
  for (let i = 0; i < numElementSegments; i++) {
    const seg = b.getElementSegmentInfo(mod.getElementSegmentByIndex(i));
    const t = seg.table ? tables.get(seg.table) : undefined;
    if (!t) {
      passive.push(...seg.data);
      continue;
    }
    if (
      !seg.offset ||
      b.getExpressionId(seg.offset) !== b.ConstId ||
      b.Const.getValueI32(seg.offset) + seg.data.length > (initial.get(seg.table) ?? 0)
    )
      t.visible = true;
    for (const f of seg.data) {
      t.functions.push(f);
      const ref = mod.getFunction(f);
      const key = signatureKey(b.Function.getParams(ref), b.Function.getResults(ref));
      const list = t.bySignature.get(key);
      if (list) list.push(f);
      else t.bySignature.set(key, [f]);
    }
  }
  return { tables, passive };
}

/**
 * The functions the module needs with the placeholders' real bodies, the globals those bodies
 * read or write, and the (table, signature) pairs they call through. Functions follow the rules
 * of remove-unused-module-elements: exports and the start function are roots; a call or ref.func
 * uses its target; a call_indirect uses the functions of its signature in its table, or all of
 * them when the table is imported, exported, may trap at instantiation or is used by another
 * table instruction. Segment instructions (table.init, elem.drop) make every table whole (more
 * than binaryen keeps, never less).
 */
function reachable(
  m: ModuleContext,
  p: Placeholders,
  changed: ReadonlySet<string>,
): { functions: Set<string>; globals: Set<string>; indirect: Map<string, [string, TypeRef, TypeRef]> } {
  const { b, mod } = m;
  const imported = m.input.info.numImportedFunctions;
  const { tables, passive } = tableContents(m);
  const r = new Reachability(m, p, tables, passive);
  for (const t of tables.values()) if (t.visible) r.useWhole(t);
  for (const f of functionExports(b, mod).values()) r.use(f);
  const start = mod.getStart();
  if (start) r.use(b.getFunctionInfo(start).name);
  for (let f = r.next(); f !== undefined; f = r.next()) {
    const k = (m.indexOf(f) ?? -1) - imported;
    if (k >= 0 && !changed.has(f)) r.followInput(k);
    else if (b.getFunctionInfo(mod.getFunction(f)).module === '') r.followIR(f);
  }
  return { functions: r.functions, globals: r.globals, indirect: r.indirect };
}

/** The search of {@link reachable}: what is used so far, and the functions still to follow. */
class Reachability {
  readonly functions = new Set<string>();
  readonly globals = new Set<string>();
  readonly indirect = new Map<string, [string, TypeRef, TypeRef]>();
  private readonly queue: string[] = [];
  private allWhole = false;
  private readonly signatures: Signatures;

  constructor(
    private readonly m: ModuleContext,
    private readonly p: Placeholders,
    private readonly tables: Map<string, TableContents>,
    private readonly passive: string[],
  ) {
    this.signatures = new Signatures(m.b, m.input.info.types);
  }

  /** The next function to follow, or undefined when all are followed. */
  next(): string | undefined {
    return this.queue.pop();
  }

  use(f: string): void {
    if (this.functions.has(f)) return;
    this.functions.add(f);
    this.queue.push(f);
  }

  useWhole(t: TableContents): void {
    if (t.whole) return;
    t.whole = true;
    for (const f of t.functions) this.use(f);
  }

  useAllTables(): void {
    if (this.allWhole) return;
    this.allWhole = true;
    for (const t of this.tables.values()) this.useWhole(t);
    for (const f of this.passive) this.use(f);
  }

  callIndirect(table: string, key: string): void {
    const t = this.tables.get(table);
    if (!t) {
      this.useAllTables();
      return;
    }
    if (t.called.has(key)) return;
    t.called.add(key);
    // Already used when the table is whole (use is idempotent).
    for (const f of t.bySignature.get(key) ?? []) this.use(f);
  }

  /** What untouched defined function `k` uses, by its input body's sites. */
  followInput(k: number): void {
    const { m, p } = this;
    const index = p.index;
    if (index.tableOps[k]) this.useAllTables();
    const placeholder = p.body[k] !== 0;
    const end = index.siteStart[k + 1]!;
    for (let s = index.siteStart[k]!; s < end; s++) {
      const kind = index.kind[s];
      const v = index.value[s]!;
      if (kind === SITE_CALL || kind === SITE_REF_FUNC) this.use(m.names[v]!);
      else if (kind === SITE_GLOBAL) {
        if (placeholder) this.globals.add(m.globalNames[v]!);
      } else if (kind === SITE_TYPE)
        this.followCallIndirect(v, m.tableNames[index.value[s + 1]!] ?? '', placeholder);
      else if (kind === SITE_TABLE_OP) {
        const t = this.tables.get(m.tableNames[v] ?? '');
        if (t) this.useWhole(t);
        else this.useAllTables();
      }
    }
  }

  /** A call_indirect of input type `type` through `table`. */
  private followCallIndirect(type: number, table: string, placeholder: boolean): void {
    const sig = this.signatures.of(type);
    if (sig === null) {
      this.useAllTables();
      return;
    }
    const key = signatureKey(sig[0], sig[1]);
    this.callIndirect(table, key);
    if (placeholder) this.indirect.set(`${table}\u0000${key}`, [table, sig[0], sig[1]]);
  }

  /** What changed (or added) function `f` uses, by its binaryen IR. */
  followIR(f: string): void {
    const s = summarize(this.m.b, this.m.mod, f);
    for (const c of s.calls) this.use(c);
    for (const r of s.refFuncs.keys()) this.use(r);
    // The summary does not say which table and signature: more than binaryen keeps, never less.
    if (s.callIndirect) this.useAllTables();
  }
}

/** binaryen's (params, results) types of the input's function types, made when first asked. */
class Signatures {
  private readonly byType = new Map<number, [TypeRef, TypeRef] | null>();
  private readonly typeRef: Map<string, TypeRef>;

  constructor(
    private readonly b: Binaryen,
    private readonly types: readonly TypeEntry[],
  ) {
    this.typeRef = valTypeRefs(b);
  }

  /** Of input type `t`; null when it is no function type or has a value type binaryen's names lack. */
  of(t: number): [TypeRef, TypeRef] | null {
    let sig = this.byType.get(t);
    if (sig !== undefined) return sig;
    sig = null;
    const entry = this.types[t];
    if (entry?.kind === 'func') {
      const params = this.refs(entry.params);
      const results = this.refs(entry.results);
      if (params !== null && results !== null) sig = [this.b.createType(params), this.b.createType(results)];
    }
    this.byType.set(t, sig);
    return sig;
  }

  /** binaryen's types of value types named `names`, or null when one has none. */
  private refs(names: readonly string[]): TypeRef[] | null {
    const out: TypeRef[] = [];
    for (const name of names) {
      const ref = this.typeRef.get(name);
      if (ref === undefined) return null;
      out.push(ref);
    }
    return out;
  }
}

/** binaryen's value types by the reader's names. */
function valTypeRefs(b: Binaryen): Map<string, TypeRef> {
  return new Map<string, TypeRef>([
    ['i32', b.i32],
    ['i64', b.i64],
    ['f32', b.f32],
    ['f64', b.f64],
    ['v128', b.v128],
    ['funcref', b.funcref],
    ['externref', b.externref],
  ]);
}

/**
 * Adds the pin: an exported function referring to everything the placeholders' real bodies need,
 * so that remove-unused-module-elements keeps it (see the file overview).
 */
export function pin(m: ModuleContext, p: Placeholders, changed: ReadonlySet<string>): void {
  const { b, mod } = m;
  const { functions, globals, indirect } = reachable(m, p, changed);
  const body: ExpressionRef[] = [];
  for (const f of functions) body.push(mod.call(f, [], b.none));
  for (const g of globals) body.push(mod.drop(mod.global.get(g, b.getGlobalInfo(mod.getGlobal(g)).type)));
  for (const [table, params, results] of indirect.values())
    body.push(mod.call_indirect(table, mod.unreachable(), [], params, results));
  let name = '__wasm_hostalloc_pin';
  const exports = functionExports(b, mod);
  while (exports.has(name) || functionExists(mod, name)) name += '_';
  mod.addFunction(name, b.none, b.none, [], mod.block(null, body, b.none));
  mod.addFunctionExport(name, name);
  p.pin = name;
}

function functionExists(mod: BinaryenModule, name: string): boolean {
  try {
    return mod.getFunction(name) !== 0;
  } catch {
    return false;
  }
}

/**
 * Removes the pin again (after remove-unused-module-elements), and notes which imports
 * duplicate-import-elimination, next, will merge: it keeps the first of the function imports of one
 * module, name and type, and moves every reference to the others onto it.
 */
export function unpin(m: ModuleContext, p: Placeholders): void {
  const { b, mod } = m;
  if (p.pin) {
    mod.removeExport(p.pin);
    mod.removeFunction(p.pin);
    p.pin = undefined;
  }
  const seen = new Map<string, { name: string; type: number }>();
  const n = mod.getNumFunctions();
  for (let i = 0; i < n; i++) {
    const f = b.getFunctionInfo(mod.getFunctionByIndex(i));
    if (!f.module) continue;
    const key = `${f.module}\u0000${f.base}`;
    const first = seen.get(key);
    if (first && first.type === f.type) p.merged.set(f.name, first.name);
    else seen.set(key, { name: f.name, type: f.type });
  }
}

/**
 * Step 'emit' with a splice: binaryen writes the module with its placeholders, the input's bodies
 * go back in. Throws SpliceMismatch when the result would not be the module binaryen alone writes.
 */
export function emitSpliced(
  m: ModuleContext,
  p: Placeholders,
  withNames: boolean,
): { bytes: Uint8Array; functionsAfter: number; names: string[] } {
  const { b, mod } = m;
  const prev = b.getDebugInfo();
  b.setDebugInfo(withNames);
  let built: Uint8Array;
  try {
    built = mod.emitBinary().slice();
  } finally {
    b.setDebugInfo(prev);
  }
  const builtInfo = readModule(built);
  const names = emittedFunctionNames(b, mod);
  if (names.length !== builtInfo.functionTypes.length) throw new SpliceMismatch('function count');
  const outIndex = new Map<string, number>();
  for (let i = 0; i < names.length; i++) outIndex.set(names[i]!, i);

  const { info } = m.input;
  const functions = new Int32Array(m.names.length);
  for (let i = 0; i < m.names.length; i++) {
    const name = m.names[i]!;
    functions[i] = outIndex.get(p.merged.get(name) ?? name) ?? -1;
  }
  const globals = indexMap(m.globalNames, emittedGlobalNames(b, mod));
  const tables = indexMap(m.tableNames, emittedTableNames(b, mod));

  const imported = builtInfo.numImportedFunctions;
  const inputImported = info.numImportedFunctions;
  const source = new Int32Array(builtInfo.codeRanges.length).fill(-1);
  const unguarded = m.slice?.unguarded ?? b;
  for (let j = 0; j < source.length; j++) {
    const k = (m.indexOf(names[imported + j]!) ?? -1) - inputImported;
    if (k < 0 || p.body[k] === 0) continue;
    // remove-unused-module-elements empties functions it only found referenced: keep binaryen's.
    if (unguarded.Function.getBody(m.functionRefs[k + inputImported]!) === p.body[k]) source[j] = k;
  }
  const spliced = spliceBodies(
    { built, builtInfo, input: m.input.bytes, inputInfo: info, index: p.index },
    {
      source,
      functions,
      globals,
      tables,
      inputNames: withNames ? { bytes: m.readBytes, numImportedFunctions: inputImported } : null,
    },
  );
  if (spliced === null) throw new SpliceMismatch('an index the spliced bodies name is gone');
  if (!WA.validate(spliced)) throw new SpliceMismatch('the engine rejects the spliced module');
  return { bytes: spliced, functionsAfter: source.length, names };
}

/** For each input name, its index among `output`, -1 when gone. */
function indexMap(input: readonly string[], output: readonly string[]): Int32Array {
  const at = new Map<string, number>();
  for (let i = 0; i < output.length; i++) at.set(output[i]!, i);
  const out = new Int32Array(input.length);
  for (let i = 0; i < input.length; i++) out[i] = at.get(input[i]!) ?? -1;
  return out;
}
