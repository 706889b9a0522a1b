/**
 * @fileoverview fingerprint (analysis): names allocator functions in stripped modules by the shape of
 * their code.
 *
 * A function's shape hash covers its signature, its locals' types and, for every expression in
 * order, the expression kind, its operator, its value type and memory access width — but not
 * constants, load/store offsets, call targets, local indices, blocks, nops or unreachables, which change from one program to the
 * next (the allocator's state lives at a different address in every plugin). Two builds of the same
 * allocator with the same toolchain and flags hash alike; a user function essentially never does.
 *
 *   (func $12 (param i32) (result i32) …dlmalloc…)  --hash-->  "9f3c…"  --db-->  malloc (emcc dlmalloc)
 *
 * The database (src/fingerprints.ts) is derived from the named fixtures by
 * `npm run fingerprints`: every function of each allocator's code gets an entry with its role
 * (family member), 'internal' (helpers only the allocator reaches) or 'initializer'.
 */

import type { Binaryen, BinaryenModule, ExpressionRef } from '../../binaryen/module.js';
import { type FunctionSummary, walk } from '../../binaryen/walk.js';
import type { AllocRole } from '../../types.js';

export type FingerprintRole = AllocRole | 'internal' | 'initializer';

export interface FingerprintEntry {
  hash: string;
  role: FingerprintRole;
  /** Which allocator and toolchain it was derived from, e.g. 'emcc-dlmalloc'. */
  allocator: string;
  /** The function's name in the fixture it was derived from. */
  name: string;
  /** Number of expressions (tiny functions are not fingerprinted: they match too easily). */
  size: number;
  /** Its signature as {@link signatureKey} writes it (the hash covers it too). */
  signature: string;
}

export interface FingerprintDb {
  version: 1;
  entries: FingerprintEntry[];
}

/**
 * A signature as `params->results`, each type `i32`, `i64`, `f32`, `f64`, `v128` or `ref` (every
 * reference type alike): what the shape hash mixes in first, coarser. Given the value types by
 * name, as the raw reader writes them.
 */
export function signatureKey(params: readonly string[], results: readonly string[]): string {
  return `${typeList(params)}->${typeList(results)}`;
}

/** Value types (by name) as {@link signatureKey} lists them. */
function typeList(types: readonly string[]): string {
  let out = '';
  for (let i = 0; i < types.length; i++) out += i === 0 ? keyType(types[i]!) : `,${keyType(types[i]!)}`;
  return out;
}

function keyType(t: string): string {
  return t === 'i32' || t === 'i64' || t === 'f32' || t === 'f64' || t === 'v128' ? t : 'ref';
}

/**
 * {@link signatureKey} of a binaryen function; `names`: binaryen's basic value types by name (see
 * {@link basicTypeNames}), for a caller asking about many functions.
 */
export function functionSignature(
  b: Binaryen,
  fi: { params: number; results: number },
  names: ReadonlyMap<number, string> = basicTypeNames(b),
): string {
  return signatureKey(valueTypeNames(b, names, fi.params), valueTypeNames(b, names, fi.results));
}

/** A binaryen (tuple) type's value types by name (`ref` for every non-basic one). */
function valueTypeNames(b: Binaryen, names: ReadonlyMap<number, string>, tuple: number): string[] {
  const out: string[] = [];
  for (const t of b.expandType(tuple)) out.push(names.get(t) ?? 'ref');
  return out;
}

/** binaryen's basic value types by their {@link signatureKey} names (every other type is `ref`). */
function basicTypeNames(b: Binaryen): Map<number, string> {
  return new Map<number, string>([
    [b.i32, 'i32'],
    [b.i64, 'i64'],
    [b.f32, 'f32'],
    [b.f64, 'f64'],
    [b.v128, 'v128'],
  ]);
}

/**
 * The (size, signature) pairs some entry of `db` has, as `size|signature`: a function whose pair is
 * not among them cannot match (its hash covers both).
 */
export function fingerprintShapes(db: FingerprintDb): Set<string> {
  return new Set(db.entries.map((e) => `${e.size}|${e.signature}`));
}

/** Functions with fewer expressions than this are too generic to identify by shape. */
export const MIN_FINGERPRINT_SIZE = 12;

type OperandGetters = Map<number, ((e: ExpressionRef) => number | boolean)[]>;
const operandCache = new WeakMap<Binaryen, OperandGetters>();

/** Per expression class, the operands that say what it computes (the op, the access width…). */
function operandGetters(b: Binaryen): OperandGetters {
  let extra = operandCache.get(b);
  if (!extra) {
    extra = new Map<number, ((e: ExpressionRef) => number | boolean)[]>([
      [b.UnaryId, [b.Unary.getOp]],
      [b.BinaryId, [b.Binary.getOp]],
      [b.LoadId, [b.Load.getBytes, b.Load.isSigned]],
      [b.StoreId, [b.Store.getBytes]],
      [b.CallId, [b.Call.getNumOperands]],
      [b.AtomicRMWId, [b.AtomicRMW.getOp, b.AtomicRMW.getBytes]],
    ]);
    operandCache.set(b, extra);
  }
  return extra;
}

/** The shape hash of a defined function (null for imports). */
export function shapeHash(
  b: Binaryen,
  mod: BinaryenModule,
  name: string,
): { hash: string; size: number } | null {
  const fi = b.getFunctionInfo(mod.getFunction(name));
  if (fi.module !== '' || !fi.body) return null;
  const extra = operandGetters(b);
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  const mix = (v: number): void => {
    h1 = Math.imul(h1 ^ (v & 0xffff), 16777619) >>> 0;
    h1 = Math.imul(h1 ^ (v >>> 16), 16777619) >>> 0;
    h2 = (Math.imul(h2, 31) + v + 0x9e3779b9) >>> 0;
    h2 = (h2 ^ (h2 >>> 15)) >>> 0;
  };
  // Basic value types are small constants in binaryen; reference types are pointers that differ
  // between modules, so they all hash alike.
  const ty = (t: number): number => (t < 64 ? t : 63);
  for (const t of b.expandType(fi.params)) mix(ty(t));
  mix(0xfeed);
  for (const t of b.expandType(fi.results)) mix(ty(t));
  // Writers reorder locals (binaryen groups them by type), so the vars count as a sorted multiset.
  for (const t of fi.vars.map(ty).sort((x, y) => x - y)) mix(t);
  let size = 0;
  // Held in locals: each is a lookup in binaryen's (very large) namespace object otherwise.
  const [BLOCK, NOP, UNREACHABLE] = [b.BlockId, b.NopId, b.UnreachableId];
  const typeOf = b.getExpressionType;
  walk(b, fi.body, (expr, id) => {
    // Blocks and nops come and go when a module is read and written again (binaryen adds blocks
    // around br_table targets, removes unnamed ones, and older writers pad dead code with
    // unreachable); they say nothing about the algorithm.
    if (id === BLOCK || id === NOP || id === UNREACHABLE) return;
    size++;
    mix(id);
    mix(ty(typeOf(expr)));
    const getters = extra.get(id);
    if (getters) for (const g of getters) mix(Number(g(expr)));
  });
  return { hash: `${h1.toString(16).padStart(8, '0')}${h2.toString(16).padStart(8, '0')}`, size };
}

/** aligned_alloc and memalign have one signature and one host import: the same role to us. */
function sameService(a: FingerprintRole, b: FingerprintRole): boolean {
  const norm = (r: FingerprintRole): FingerprintRole => (r === 'aligned_alloc' ? 'memalign' : r);
  return norm(a) === norm(b);
}

export interface FingerprintMatch {
  func: string;
  entry: FingerprintEntry;
}

/**
 * Matches every defined function of `mod` against `db`. A hash the database gives conflicting
 * roles for is ignored (it cannot identify anything). With the module's `summaries`, only functions
 * whose expression count (FunctionSummary.shapeSize, the hash's own `size`) and signature some
 * entry has are hashed: the same matches, for a few percent of the walks (and the slice read
 * predicts exactly those: src/transform/slice-prediction.ts).
 */
export function matchFingerprints(
  b: Binaryen,
  mod: BinaryenModule,
  names: string[],
  db: FingerprintDb,
  summaries?: ReadonlyMap<string, FunctionSummary>,
): FingerprintMatch[] {
  const byHash = new Map<string, FingerprintEntry | null>();
  for (const e of db.entries) {
    const prev = byHash.get(e.hash);
    if (prev === undefined) byHash.set(e.hash, e);
    else if (prev !== null && !sameService(prev.role, e.role)) byHash.set(e.hash, null);
  }
  const shapes = fingerprintShapes(db);
  const typeNames = basicTypeNames(b);
  const out: FingerprintMatch[] = [];
  for (const func of names) {
    const known = summaries?.get(func);
    if (known?.imported) continue;
    if (known) {
      const signature = functionSignature(b, b.getFunctionInfo(mod.getFunction(func)), typeNames);
      if (!shapes.has(`${known.shapeSize}|${signature}`)) continue;
    }
    const s = shapeHash(b, mod, func);
    if (!s || s.size < MIN_FINGERPRINT_SIZE) continue;
    const entry = byHash.get(s.hash);
    if (entry) out.push({ func, entry });
  }
  return out;
}
