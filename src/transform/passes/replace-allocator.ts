/**
 * @fileoverview replace-allocator (transform): turns every family member into a host import, or into
 * a small adapter over host imports where the signatures differ (posix_memalign, Rust's shims).
 *
 * binaryen refers to functions by name, so removing `$dlmalloc` and adding an import under the same
 * internal name makes every direct call, table entry, ref.func, export and start reference reach the
 * import:
 *
 *   Before:  (func $dlmalloc (param i32) (result i32) …dlmalloc…)   (call $dlmalloc (i32.const 16))
 *   After:   (import "env" "host_malloc" (func $dlmalloc (param i32) (result i32)))
 *            (call $dlmalloc (i32.const 16))
 *
 * Two traps (see shared/BINARYEN-JS.md): the function must be removed before the import is added
 * (else it flips in place with an exact type), and table entries and ref.func expressions that
 * named it keep the defined function's exact reference type, which imports do not have: element
 * segments are rebuilt and ref.func expressions retyped.
 *
 * Adapters (P is i32, or i64 for memory64):
 *   posix_memalign(pp, align, size): EINVAL (28, WASI numbering) unless align is a power of two >= sizeof(void*);
 *     p = host_aligned_alloc(align, size); if !p return ENOMEM; *pp = p; return 0
 *   __rust_alloc(size, align)            align <= 16 ? host_malloc(size) : host_aligned_alloc(align, size)
 *   __rust_alloc_zeroed(size, align)     align <= 16 ? host_calloc(1, size) : aligned + memory.fill
 *   __rust_dealloc(ptr, size, align)     host_free(ptr)
 *   __rust_realloc(ptr, old, align, new) align <= 16 ? host_realloc(ptr, new)
 *                                        : aligned_alloc + memory.copy(min(old, new)) + host_free
 */

import type { Binaryen, BinaryenModule, ExpressionRef, TypeRef } from '../../binaryen/module.js';
import {
  DIRECT_IMPORT,
  HOST_IMPORT_SIGNATURES,
  type HostImport,
  ROLE_SIGNATURES,
} from '../../conventions.js';
import { ErrorCodes, HostAllocError } from '../../errors.js';
import type { AllocRole, FamilyMember, ReplacedFunction } from '../../types.js';
import type { Checks } from '../pipeline.js';
import type { FoundMember } from './find-allocator.js';

/** errno values of wasi-libc and Emscripten (WASI numbering, not Linux's 22/12). */
const WASI_EINVAL = 28;
const WASI_ENOMEM = 48;

/** Every host allocator guarantees this alignment for host_malloc/host_calloc/host_realloc. */
export const HOST_MIN_ALIGN = 16;

export interface ReplaceOptions {
  importModule: string;
  memory64: boolean;
  /** binaryen name of the memory (for memory.copy/fill in adapters). */
  memoryName: string;
}

export interface ReplaceResult {
  replaced: ReplacedFunction[];
  /** Host imports referenced (by the swapped functions or adapters). */
  hostImports: Set<HostImport>;
  /** Internal names whose references now reach an import (for element/ref.func fix-ups). */
  swapped: Set<string>;
}

/** Internal name of the helper import an adapter calls. */
export function adapterImportName(imp: HostImport): string {
  return `hostalloc$${imp}`;
}

function typesOf(b: Binaryen, t: TypeRef): TypeRef[] {
  return b.expandType(t);
}

function expectedTypes(b: Binaryen, spec: ('P' | 'i32')[], memory64: boolean): TypeRef[] {
  return spec.map((s) => (s === 'P' ? (memory64 ? b.i64 : b.i32) : b.i32));
}

function sameTypes(a: TypeRef[], b: TypeRef[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** A member whose signature fits its role. */
export interface SignedMember extends FoundMember {
  /**
   * Leading parameters the role's signature does not have (the allocator state of dlmalloc's
   * internal_memalign, `self` of Rust's Dlmalloc methods); an adapter drops them.
   */
  skip: number;
}

/**
 * Step 'check-signatures': each member's signature against its role, allowing one leading
 * pointer-typed state parameter (returned as `skip`). A mismatch is refused (HA012, which not even
 * `force` passes: the rewrite would not validate); the member is then left out.
 */
export function checkSignatures(
  b: Binaryen,
  mod: BinaryenModule,
  members: readonly FoundMember[],
  memory64: boolean,
  checks: Checks,
): SignedMember[] {
  const P = memory64 ? b.i64 : b.i32;
  const out: SignedMember[] = [];
  for (const m of members) {
    const fi = b.getFunctionInfo(mod.getFunction(m.func));
    const want = ROLE_SIGNATURES[m.role];
    const params = typesOf(b, fi.params);
    const results = typesOf(b, fi.results);
    const wantParams = expectedTypes(b, want.params, memory64);
    const trailing = m.trailing ?? 0;
    const extra = params.length - wantParams.length - trailing;
    // Only internals known to take the allocator's state first may have a parameter dropped.
    const skip = m.stateParam && extra === 1 && params[0] === P && !m.imported ? 1 : 0;
    const rest = params.slice(skip + wantParams.length);
    if (
      !sameTypes(params.slice(skip, skip + wantParams.length), wantParams) ||
      rest.length !== trailing ||
      rest.some((t) => t !== P) ||
      (trailing > 0 && (m.imported || !DIRECT_IMPORT[m.role])) ||
      !sameTypes(results, expectedTypes(b, want.results, memory64))
    ) {
      const message =
        `${m.role} candidate '${m.func}' has ${params.length} parameter(s) and ${results.length} result(s), ` +
        `which does not match ${m.role}'s signature; if this is not ${m.role}, name the right function with --alloc ${m.role}=NAME`;
      checks.refuse({
        code: ErrorCodes.BAD_SIGNATURE,
        message,
        reason: message,
        details: { role: m.role, function: m.func },
        step: 'check-signatures',
        fatal: true,
      });
      continue;
    }
    out.push({ ...m, skip });
  }
  return out;
}

export function replaceAllocator(
  b: Binaryen,
  mod: BinaryenModule,
  members: readonly SignedMember[],
  opts: ReplaceOptions,
): ReplaceResult {
  const P = opts.memory64 ? b.i64 : b.i32;
  const hostImports = new Set<HostImport>();
  const swapped = new Set<string>();
  const replaced: ReplacedFunction[] = [];
  const helperAdded = new Set<HostImport>();

  const sigTypes = (imp: HostImport): { params: TypeRef; results: TypeRef } => {
    const s = HOST_IMPORT_SIGNATURES[imp];
    return { params: b.createType(s.params.map(() => P)), results: b.createType(s.results.map(() => P)) };
  };
  /** Ensures the adapter helper import exists; returns its internal name. */
  const helper = (imp: HostImport): string => {
    const name = adapterImportName(imp);
    if (!helperAdded.has(imp)) {
      const { params, results } = sigTypes(imp);
      mod.addFunctionImport(name, opts.importModule, imp, params, results);
      helperAdded.add(imp);
    }
    hostImports.add(imp);
    return name;
  };

  for (const m of members) {
    const info = b.getFunctionInfo(mod.getFunction(m.func));
    const direct = DIRECT_IMPORT[m.role];
    if (m.imported && direct && info.module === opts.importModule && info.base === direct) {
      hostImports.add(direct);
      continue; // already a host import
    }
    mod.removeFunction(m.func);
    swapped.add(m.func);
    if (direct && m.skip === 0 && !m.trailing) {
      const { params, results } = sigTypes(direct);
      mod.addFunctionImport(m.func, opts.importModule, direct, params, results);
      hostImports.add(direct);
      replaced.push({
        ...publicMember(m),
        replacement: { kind: 'import', module: opts.importModule, name: direct },
      });
    } else {
      const over = buildAdapter(b, mod, m.role, m.func, m.skip, P, opts, helper, m.trailing ?? 0);
      replaced.push({ ...publicMember(m), replacement: { kind: 'adapter', over } });
    }
  }
  return { replaced, hostImports, swapped };
}

/** A member as reports show it (a stripped module's index-named functions have no name). */
export function publicMember(m: FoundMember): FamilyMember {
  return {
    role: m.role,
    index: m.index,
    name: /^\d+$/.test(m.func) ? null : m.func,
    exports: m.exports,
    identifiedBy: m.identifiedBy,
    ...(m.evidence ? { evidence: m.evidence } : {}),
  };
}

function buildAdapter(
  b: Binaryen,
  mod: BinaryenModule,
  role: AllocRole,
  name: string,
  skip: number,
  P: TypeRef,
  opts: ReplaceOptions,
  helper: (imp: HostImport) => string,
  trailing = 0,
): HostImport[] {
  const is64 = opts.memory64;
  const c = (v: number): ExpressionRef => (is64 ? mod.i64.const(BigInt(v)) : mod.i32.const(v));
  // Parameter i of the role's signature is local i + skip (skipped state parameters come first).
  const get = (i: number, t: TypeRef = P): ExpressionRef => mod.local.get(i + skip, t);
  const set = (i: number, v: ExpressionRef): ExpressionRef => mod.local.set(i + skip, v);
  const ops = is64 ? mod.i64 : mod.i32;
  const smallAlign = (align: ExpressionRef): ExpressionRef => ops.le_u(align, c(HOST_MIN_ALIGN));
  const spec = ROLE_SIGNATURES[role];
  const params = b.createType([
    ...Array.from({ length: skip }, () => P),
    ...spec.params.map((s) => (s === 'P' ? P : b.i32)),
    ...Array.from({ length: trailing }, () => P),
  ]);
  const results = b.createType(spec.results.map((s) => (s === 'P' ? P : b.i32)));
  const mem = opts.memoryName;
  let body: ExpressionRef;
  let vars: TypeRef[] = [];
  let over: HostImport[];

  const direct = DIRECT_IMPORT[role];
  switch (direct ? 'direct' : role) {
    case 'direct': {
      // A direct role behind a state parameter: forward the role's own parameters.
      const imp = helper(direct!);
      const n = spec.params.length;
      body = mod.call(
        imp,
        Array.from({ length: n }, (_, i) => get(i)),
        spec.results.length ? P : b.none,
      );
      over = [direct!];
      break;
    }
    case 'posix_memalign': {
      // params: 0 pp, 1 align, 2 size; var 3 p
      const aligned = helper('host_aligned_alloc');
      const notPow2 = ops.ne(ops.and(get(1), ops.sub(get(1), c(1))), c(0));
      const tooSmall = ops.lt_u(get(1), c(is64 ? 8 : 4));
      vars = [P];
      body = mod.block(
        null,
        [
          mod.if(
            mod.i32.ne(mod.i32.const(0), mod.select(tooSmall, mod.i32.const(1), notPow2, b.i32)),
            mod.return(mod.i32.const(WASI_EINVAL)),
          ),
          set(3, mod.call(aligned, [get(1), get(2)], P)),
          mod.if(ops.eqz(get(3)), mod.return(mod.i32.const(WASI_ENOMEM))),
          is64
            ? mod.i64.store(0, 8, get(0), get(3), undefined, mem)
            : mod.i32.store(0, 4, get(0), get(3), undefined, mem),
          mod.i32.const(0),
        ],
        b.i32,
      );
      over = ['host_aligned_alloc'];
      break;
    }
    case 'rust_alloc': {
      // params: 0 size, 1 align
      const malloc = helper('host_malloc');
      const aligned = helper('host_aligned_alloc');
      body = mod.if(
        smallAlign(get(1)),
        mod.call(malloc, [get(0)], P),
        mod.call(aligned, [get(1), get(0)], P),
      );
      over = ['host_malloc', 'host_aligned_alloc'];
      break;
    }
    case 'rust_alloc_zeroed': {
      // params: 0 size, 1 align; var 2 p
      const calloc = helper('host_calloc');
      const aligned = helper('host_aligned_alloc');
      vars = [P];
      body = mod.if(
        smallAlign(get(1)),
        mod.call(calloc, [c(1), get(0)], P),
        mod.block(
          null,
          [
            set(2, mod.call(aligned, [get(1), get(0)], P)),
            mod.if(ops.ne(get(2), c(0)), mod.memory.fill(get(2), mod.i32.const(0), get(0), mem)),
            get(2),
          ],
          P,
        ),
      );
      over = ['host_calloc', 'host_aligned_alloc'];
      break;
    }
    case 'rust_dealloc': {
      const free = helper('host_free');
      body = mod.call(free, [get(0)], b.none);
      over = ['host_free'];
      break;
    }
    case 'rust_realloc': {
      // params: 0 ptr, 1 old_size, 2 align, 3 new_size; var 4 p
      const realloc = helper('host_realloc');
      const aligned = helper('host_aligned_alloc');
      const free = helper('host_free');
      vars = [P];
      const min = mod.select(ops.lt_u(get(1), get(3)), get(1), get(3), P);
      body = mod.if(
        smallAlign(get(2)),
        mod.call(realloc, [get(0), get(3)], P),
        mod.block(
          null,
          [
            set(4, mod.call(aligned, [get(2), get(3)], P)),
            mod.if(
              ops.ne(get(4), c(0)),
              mod.block(null, [
                mod.memory.copy(get(4), get(0), min, mem, mem),
                mod.call(free, [get(0)], b.none),
              ]),
            ),
            get(4),
          ],
          P,
        ),
      );
      over = ['host_realloc', 'host_aligned_alloc', 'host_free'];
      break;
    }
    default:
      throw new HostAllocError(ErrorCodes.INTERNAL, `no adapter for role ${role}`);
  }
  mod.addFunction(name, params, results, vars, body);
  return over;
}

/**
 * Empties allocator initialisers that run as constructors (see ALLOCATOR_INITIALIZERS); returns the
 * names emptied.
 */
export function emptyInitializers(b: Binaryen, mod: BinaryenModule, names: readonly string[]): string[] {
  const emptied: string[] = [];
  for (const name of names) {
    const f = mod.getFunction(name);
    if (!f) continue;
    const fi = b.getFunctionInfo(f);
    if (fi.module !== '' || fi.results !== b.none) continue;
    mod.removeFunction(name);
    mod.addFunction(name, fi.params, fi.results, [], mod.block(null, []));
    emptied.push(name);
  }
  return emptied;
}

/**
 * Rebuilds element segments that list a swapped function and retypes ref.func expressions naming
 * one, so that their reference types match the (inexact) import.
 */
export function fixReferences(
  b: Binaryen,
  mod: BinaryenModule,
  swapped: Set<string>,
  refFuncSites: Map<string, ExpressionRef[]>,
): void {
  if (swapped.size === 0) return;
  const segments: { name: string; table: string; data: string[]; offset: ExpressionRef }[] = [];
  const n = mod.getNumElementSegments();
  for (let i = 0; i < n; i++) {
    const info = b.getElementSegmentInfo(mod.getElementSegmentByIndex(i));
    if (info.table && info.offset && info.data.some((f) => swapped.has(f))) {
      segments.push({
        name: info.name,
        table: info.table,
        data: info.data,
        offset: mod.copyExpression(info.offset),
      });
    }
  }
  for (const s of segments) {
    mod.removeElementSegment(s.name);
    mod.addActiveElementSegment(s.table, s.name, s.data, s.offset);
  }
  for (const [target, sites] of refFuncSites) {
    if (!swapped.has(target)) continue;
    const heapType = b.getFunctionInfo(mod.getFunction(target)).type;
    const type = b.getTypeFromHeapType(heapType, false);
    for (const expr of sites) b.RefFunc.setType(expr, type);
  }
}
