/**
 * @fileoverview rebuild-libc-helpers (transform): rebuilds an allocating libc helper from its
 * specification when the optimizer inlined the old allocator into it.
 *
 * A freestanding build (`clang -O2 -nostdlib` with the allocator in the same object) inlines malloc
 * into `strdup`: the helper then reads and writes the free list itself, and would keep managing a
 * heap the host now owns (check-hazards refuses it as residue, HA011). The contract of such a
 * helper is fully specified by C/POSIX, so its body is replaced by the specification, calling the
 * family's malloc (which replace-allocator turns into `host_malloc`):
 *
 *   Before:  (func $strdup (param $0 i32) (result i32) …free-list walk, bump, memory.grow…)
 *   After:   (func $strdup (param $0 i32) (result i32) (local $1 i32) (local $2 i32) (local $3 i32)
 *              n = strlen(s) + 1; d = call $malloc(n); if (d) copy n bytes s -> d; return d)
 *
 * Helpers (the C library names only, exactly as in the name section or an export):
 *   strdup(s)     n = strlen(s) + 1, d = malloc(n), copy n bytes
 *   strndup(s, m) n = strnlen(s, m), d = malloc(n + 1), copy n bytes, d[n] = 0
 *   wcsdup(s)     n = (wcslen(s) + 1) * 4 (wchar_t is 4 bytes on wasm), d = malloc(n), copy n bytes
 * Each returns d (0 when malloc failed, which then wrote nothing).
 *
 * It applies only to a defined function with that exact name whose signature is the helper's
 * (pointer and size_t parameters, a pointer result, in the memory's pointer type), and only when
 * the function or code it alone reaches touches the old allocator's static state (an out-of-line
 * strdup that calls malloc needs nothing: the call is redirected). A stripped module has no names,
 * so its helper is not rebuilt and stays refused. The copy is `memory.copy` when the module already
 * uses bulk memory, else a byte loop (an MVP engine must still run the output).
 */

import type { Binaryen, BinaryenModule, ExpressionRef, TypeRef } from '../../binaryen/module.js';
import type { FunctionSummary } from '../../binaryen/walk.js';
import { type Region, touchesRegions } from './allocator-state.js';

/** The helpers this pass knows, with their number of parameters. */
export const LIBC_HELPERS = { strdup: 1, strndup: 2, wcsdup: 1 } as const;
export type LibcHelper = keyof typeof LIBC_HELPERS;

/** wchar_t on wasm32 and wasm64 (clang, Emscripten): a 4-byte int. */
const WCHAR_BYTES = 4;

export interface RebuildInput {
  summaries: Map<string, FunctionSummary>;
  /** Static memory the old allocator reads (allocator-state). */
  regions: Region[];
  /** Family members: calls to them are real allocations, not inlined allocator code. */
  family: Set<string>;
  /** binaryen's name of the family's malloc (rebuilt helpers call it). */
  malloc: string;
  memory64: boolean;
  memoryName: string;
}

export interface RebuiltHelper {
  /** binaryen's name of the function (the helper's C name). */
  func: string;
  helper: LibcHelper;
  /** Expressions in the old body, for the report. */
  oldSize: number;
}

/** The raw builders this pass needs, beyond the typed wrapper's. */
interface Builders {
  loop(label: string, body: ExpressionRef): ExpressionRef;
  br(label: string, condition?: ExpressionRef): ExpressionRef;
}
interface PtrOps {
  const(v: never): ExpressionRef;
  add(a: ExpressionRef, b: ExpressionRef): ExpressionRef;
  mul(a: ExpressionRef, b: ExpressionRef): ExpressionRef;
  ge_u(a: ExpressionRef, b: ExpressionRef): ExpressionRef;
  eqz(a: ExpressionRef): ExpressionRef;
}
interface I32Mem {
  load8_u(offset: number, align: number, ptr: ExpressionRef, mem?: string): ExpressionRef;
  load(offset: number, align: number, ptr: ExpressionRef, mem?: string): ExpressionRef;
  store8(
    offset: number,
    align: number,
    ptr: ExpressionRef,
    value: ExpressionRef,
    mem?: string,
  ): ExpressionRef;
}

/**
 * Whether `f`, or code it reaches other than through the family, touches the allocator's state or
 * grows memory: the old allocator's code inlined into it.
 */
export function runsAllocatorCode(
  f: string,
  input: Pick<RebuildInput, 'summaries' | 'regions' | 'family'>,
): boolean {
  const seen = new Set<string>();
  const stack = [f];
  while (stack.length > 0) {
    const g = stack.pop()!;
    if (seen.has(g) || input.family.has(g)) continue;
    seen.add(g);
    const s = input.summaries.get(g);
    if (!s) continue;
    if (touchesRegions(s, input.regions) || s.memoryGrow) return true;
    stack.push(...s.calls);
  }
  return false;
}

/** True when the function is defined with the helper's signature in pointer type P. */
function hasSignature(b: Binaryen, mod: BinaryenModule, f: string, helper: LibcHelper, P: TypeRef): boolean {
  const info = b.getFunctionInfo(mod.getFunction(f));
  if (info.module !== '') return false;
  const params = b.expandType(info.params);
  return params.length === LIBC_HELPERS[helper] && params.every((t) => t === P) && info.results === P;
}

/**
 * Rebuilds each named libc helper that runs the old allocator's code; returns what it rebuilt.
 * Functions not named like a helper, with another signature, or that only call the family, are
 * left alone.
 */
export function rebuildLibcHelpers(b: Binaryen, mod: BinaryenModule, input: RebuildInput): RebuiltHelper[] {
  const P = input.memory64 ? b.i64 : b.i32;
  const bulk = [...input.summaries.values()].some((s) => s.memoryCopy || s.memoryFill);
  const out: RebuiltHelper[] = [];
  // The rebuilt body calls malloc as malloc(size) -> pointer.
  const m = b.getFunctionInfo(mod.getFunction(input.malloc));
  const mParams = b.expandType(m.params);
  if (mParams.length !== 1 || mParams[0] !== P || m.results !== P) return out;
  for (const helper of Object.keys(LIBC_HELPERS) as LibcHelper[]) {
    const s = input.summaries.get(helper);
    if (!s || s.imported || input.family.has(helper)) continue;
    if (!hasSignature(b, mod, helper, helper, P)) continue;
    if (!runsAllocatorCode(helper, input)) continue;
    const body = specification(b, mod, helper, input, bulk);
    const params = b.getFunctionInfo(mod.getFunction(helper)).params;
    mod.removeFunction(helper);
    mod.addFunction(helper, params, P, [P, P, P], body.expr);
    out.push({ func: helper, helper, oldSize: s.size });
  }
  return out;
}

/** The helper's body: locals are the parameters, then n ($k), d ($k+1), i ($k+2). */
function specification(
  b: Binaryen,
  mod: BinaryenModule,
  helper: LibcHelper,
  input: RebuildInput,
  bulk: boolean,
): { expr: ExpressionRef } {
  const is64 = input.memory64;
  const P = is64 ? b.i64 : b.i32;
  const raw = mod as unknown as Builders & { i32: I32Mem; i64: PtrOps };
  const ops = (is64 ? mod.i64 : mod.i32) as unknown as PtrOps;
  const k = (v: number): ExpressionRef => (is64 ? mod.i64.const(BigInt(v)) : mod.i32.const(v));
  const mem = input.memoryName;
  const nParams = LIBC_HELPERS[helper];
  const S = 0;
  const M = 1; // strndup's bound
  const N = nParams;
  const D = nParams + 1;
  const I = nParams + 2;
  const get = (i: number): ExpressionRef => mod.local.get(i, P);
  const set = (i: number, v: ExpressionRef): ExpressionRef => mod.local.set(i, v);
  const inc = (i: number): ExpressionRef => set(i, ops.add(get(i), k(1)));

  // n = length: count units until a zero one (bounded by m for strndup).
  const unit =
    helper === 'wcsdup'
      ? raw.i32.load(0, WCHAR_BYTES, ops.add(get(S), ops.mul(get(N), k(WCHAR_BYTES))), mem)
      : raw.i32.load8_u(0, 1, ops.add(get(S), get(N)), mem);
  const scan = mod.block('len', [
    raw.loop(
      'scan',
      mod.block(null, [
        ...(helper === 'strndup' ? [raw.br('len', ops.ge_u(get(N), get(M)))] : []),
        raw.br('len', mod.i32.eqz(unit)),
        inc(N),
        raw.br('scan'),
      ]),
    ),
  ]);
  // Bytes to allocate and to copy.
  const size =
    helper === 'strdup'
      ? [set(N, ops.add(get(N), k(1)))]
      : helper === 'wcsdup'
        ? [set(N, ops.mul(ops.add(get(N), k(1)), k(WCHAR_BYTES)))]
        : [];
  const request = helper === 'strndup' ? ops.add(get(N), k(1)) : get(N);
  const copy = bulk
    ? mod.memory.copy(get(D), get(S), get(N), mem, mem)
    : mod.block('copied', [
        set(I, k(0)),
        raw.loop(
          'copy',
          mod.block(null, [
            raw.br('copied', ops.ge_u(get(I), get(N))),
            raw.i32.store8(
              0,
              1,
              ops.add(get(D), get(I)),
              raw.i32.load8_u(0, 1, ops.add(get(S), get(I)), mem),
              mem,
            ),
            inc(I),
            raw.br('copy'),
          ]),
        ),
      ]);
  const terminate =
    helper === 'strndup' ? [raw.i32.store8(0, 1, ops.add(get(D), get(N)), mod.i32.const(0), mem)] : [];
  const nonNull = is64 ? mod.i32.eqz(mod.i64.eqz(get(D))) : get(D);
  return {
    expr: mod.block(
      null,
      [
        set(N, k(0)),
        scan,
        ...size,
        set(D, mod.call(input.malloc, [request], P)),
        mod.if(nonNull, mod.block(null, [copy, ...terminate])),
        get(D),
      ],
      P,
    ),
  };
}
