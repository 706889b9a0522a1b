/**
 * @fileoverview verify(): is a module compliant with the host-allocator ABI (docs/abi.md)? Reads the
 * binary itself (no binaryen), so it is fast enough for CI over hundreds of plugins. Checks:
 *   - imports host_malloc and host_free (and any other host_* import) with the ABI's signatures;
 *   - exports its memory, `__heap_base` (immutable, of the pointer type) and `__hostalloc_abi` of
 *     the version this release writes (an ABI 1 module is told to re-run the transform);
 *   - `__heap_base` is 16-aligned and above static data and, in a data-stack-heap layout, the stack;
 *   - no allocator residue: no defined function carries an allocator name, none is exported as one;
 *   - ABI 2's growth signal and metadata (`checkGrowth`, `checkMetadata`): `__hostalloc_grow` is
 *     exactly the generated function, `__hostalloc_align` is 8 or 16, the `hostalloc` section
 *     agrees with the exports;
 *   - no memory.grow anywhere else (only the host grows memory).
 */

import {
  ALIGN_EXPORT,
  GROW_EXPORT,
  HOST_IMPORT_SIGNATURES,
  type HostImport,
  META_SECTION,
  roleOfName,
} from './conventions.js';
import { isHostAllocError } from './errors.js';
import { computeLayout, readHostallocMeta } from './layout.js';
import { convertedFlows, convertedMetadataReads } from './metadata-reads.js';
import { ABI_VERSION, type HostallocMeta, type VerifyProblem, type VerifyReport } from './types.js';
import { type BodyShape, bodyShape } from './wasm/instructions.js';
import type { FunctionFlow } from './wasm/pointer-flow.js';
import {
  functionLabel,
  functionType,
  type ModuleInfo,
  readModule,
  scanMemoryGrowDetailed,
} from './wasm/reader.js';

/**
 * An adapter (posix_memalign, Rust's shims over host imports) is small, reads no memory, and calls
 * nothing but host imports. Anything else carrying an allocator name is residue.
 */
const ADAPTER_MAX_BYTES = 160;

export async function verify(input: Uint8Array): Promise<VerifyReport> {
  const info = readModule(input);
  const problems: VerifyProblem[] = [];
  const problem = (code: string, message: string): void => {
    problems.push({ code, message });
  };
  let layout: ReturnType<typeof computeLayout> | undefined;
  try {
    layout = computeLayout(info, input);
  } catch (e) {
    if (!isHostAllocError(e)) throw e;
    problem(e.code, e.message);
  }
  const P = layout?.memory.is64 ? 'i64' : 'i32';

  const hostImports = info.imports.filter((i) => i.kind === 'function' && i.name.startsWith('host_'));
  for (const required of ['host_malloc', 'host_free'] as const) {
    if (!hostImports.some((i) => i.name === required))
      problem('missing-import', `does not import ${required}`);
  }
  for (const imp of hostImports) {
    const sig = HOST_IMPORT_SIGNATURES[imp.name as HostImport];
    if (!sig) continue;
    const t = functionType(info, imp.index);
    const want = `(${sig.params.map(() => P).join(',')})->(${sig.results.map(() => P).join(',')})`;
    const got = t ? `(${t.params.join(',')})->(${t.results.join(',')})` : 'unknown';
    if (got !== want)
      problem('bad-import-type', `${imp.module}.${imp.name} has type ${got}, the ABI says ${want}`);
  }

  const exported = (name: string, kind: string) =>
    info.exports.find((e) => e.name === name && e.kind === kind);
  if (!info.exports.some((e) => e.kind === 'memory'))
    problem('memory-not-exported', 'does not export its memory');
  const abi = exported('__hostalloc_abi', 'global');
  const abiVersion = abi ? (info.globals[abi.index]?.init ?? null) : null;
  if (!abi) problem('missing-abi-marker', 'does not export __hostalloc_abi');
  else if (abiVersion === 1)
    problem(
      'old-abi-version',
      `__hostalloc_abi is 1: the module lacks ABI ${ABI_VERSION}'s ${GROW_EXPORT}, so engines such as WAMR treat its memory as never growing; re-run wasm-hostalloc transform on the original module`,
    );
  else if (abiVersion !== ABI_VERSION)
    problem('unknown-abi-version', `__hostalloc_abi is ${abiVersion}, this release knows ${ABI_VERSION}`);

  const hb = exported('__heap_base', 'global');
  const hbGlobal = hb ? info.globals[hb.index] : undefined;
  const heapBase = hbGlobal?.init ?? null;
  if (!hb) problem('missing-heap-base', 'does not export __heap_base');
  else if (heapBase === null || hbGlobal?.mutable)
    problem('bad-heap-base', '__heap_base must be an immutable global with a constant value');
  else if (hbGlobal && hbGlobal.type !== P)
    problem('bad-heap-base', `__heap_base is ${hbGlobal.type}, the memory needs ${P}`);
  if (heapBase !== null && layout) {
    if (heapBase % 16 !== 0) problem('heap-base-alignment', `__heap_base ${heapBase} is not 16-byte aligned`);
    if (heapBase < layout.dataEnd)
      problem(
        'heap-base-overlaps-data',
        `__heap_base ${heapBase} is below the end of static data (${layout.dataEnd})`,
      );
    if (layout.kind === 'data-stack-heap' && layout.stack && heapBase < layout.stack.high) {
      problem(
        'heap-base-overlaps-stack',
        `__heap_base ${heapBase} is below the top of the stack (${layout.stack.high})`,
      );
    }
  }

  const hostImportIndices = new Set(hostImports.map((i) => i.index));
  const shapeOf = (index: number): { size: number; shape: BodyShape | null } | undefined => {
    const range = info.codeRanges[index - info.numImportedFunctions];
    return range
      ? { size: range.end - range.start, shape: bodyShape(input, range.start, range.end) }
      : undefined;
  };
  // An adapter the transform generated: small, no loads, calls nothing but host imports.
  const isAdapter = (index: number): boolean => {
    const s = shapeOf(index);
    if (!s?.shape || s.size > ADAPTER_MAX_BYTES) return false;
    return (
      s.shape.loads === 0 && s.shape.calls.length > 0 && s.shape.calls.every((c) => hostImportIndices.has(c))
    );
  };
  // Host-backed: reaches a host import through its calls (Rust's __rust_alloc -> __rg_alloc -> a
  // #[global_allocator] over host_malloc). An allocator-named function that reaches none is an
  // allocator of its own.
  const hostBacked = new Set<number>(hostImportIndices);
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = info.numImportedFunctions; i < info.functionTypes.length; i++) {
      if (hostBacked.has(i)) continue;
      if ((shapeOf(i)?.shape?.calls ?? []).some((c) => hostBacked.has(c))) {
        hostBacked.add(i);
        changed = true;
      }
    }
  }
  for (let i = info.numImportedFunctions; i < info.functionTypes.length; i++) {
    const name = info.names.functions.get(i);
    if (name && roleOfName(name) && !isAdapter(i) && !hostBacked.has(i)) {
      problem(
        'allocator-residue',
        `defines an allocator function '${name}' that does not use the host imports`,
      );
    }
  }
  for (const e of info.exports) {
    if (e.kind !== 'function' || !roleOfName(e.name)) continue;
    if (e.index >= info.numImportedFunctions && !isAdapter(e.index)) {
      problem(
        'allocator-residue',
        `exports '${e.name}' from its own code instead of forwarding the host import`,
      );
    }
  }
  const growFunction = abiVersion === 1 ? null : checkGrowth(input, info, P, problem);
  const meta = checkMetadata(input, info, abiVersion, problem);
  const scan = scanMemoryGrowDetailed(input, info);
  for (const f of scan.grows) {
    if (f === growFunction) continue;
    problem(
      'memory-grow',
      `${functionLabel(info, f)} calls memory.grow; only the host may grow memory (the one allowed is ${GROW_EXPORT}, exactly as the transform generates it)`,
    );
  }
  for (const f of scan.unknown) {
    problem(
      'undecodable',
      `${functionLabel(info, f)} could not be decoded, so memory.grow cannot be ruled out`,
    );
  }
  const flows = convertedFlows(input, info);
  for (const line of convertedMetadataReads(info, flows)) problem('metadata-read', line);
  for (const line of survivingAllocator(input, info, heapBase, flows)) problem('allocator-residue', line);
  const heapBaseConfidence =
    heapBase === null ? null : (layout?.heapBase.confidence ?? meta?.heapBase ?? 'exact');
  return { compliant: problems.length === 0, problems, abiVersion, heapBase, heapBaseConfidence, meta };
}

/**
 * The body of `__hostalloc_grow` as the transform generates it: no locals, `local.get 0`,
 * `memory.grow 0`, `end` (the same bytes for memory32 and memory64).
 */
const GROW_BODY = [0x00, 0x20, 0x00, 0x40, 0x00, 0x0b];

/**
 * ABI 2's growth signal: `__hostalloc_grow` is exported, of type (P) -> (P), and its body is exactly
 * `memory.grow` of its parameter. Returns its function index when it is, so that its memory.grow is
 * not reported; null otherwise (then every memory.grow is).
 */
function checkGrowth(
  input: Uint8Array,
  info: ModuleInfo,
  P: 'i32' | 'i64',
  problem: (code: string, message: string) => void,
): number | null {
  const e = info.exports.find((x) => x.name === GROW_EXPORT);
  if (!e) {
    problem(
      'missing-grow-export',
      `does not export ${GROW_EXPORT}: engines (WAMR) then treat the memory as never growing; re-run wasm-hostalloc transform on the original module`,
    );
    return null;
  }
  if (e.kind !== 'function') {
    problem('bad-grow-export', `${GROW_EXPORT} is a ${e.kind}, the ABI says a function`);
    return null;
  }
  const t = functionType(info, e.index);
  const got = t ? `(${t.params.join(',')})->(${t.results.join(',')})` : 'unknown';
  if (got !== `(${P})->(${P})`) {
    problem('bad-grow-export', `${GROW_EXPORT} has type ${got}, the ABI says (${P})->(${P})`);
    return null;
  }
  const range = info.codeRanges[e.index - info.numImportedFunctions];
  const body = range ? [...input.subarray(range.start, range.end)] : null;
  if (body === null || body.length !== GROW_BODY.length || body.some((byte, i) => byte !== GROW_BODY[i])) {
    problem(
      'bad-grow-export',
      `${GROW_EXPORT} must be exactly (memory.grow (local.get 0)), as the transform generates it`,
    );
    return null;
  }
  return e.index;
}

/**
 * ABI 2's metadata: `__hostalloc_align` is an immutable i32 global of 8 or 16, and the `hostalloc`
 * custom section, when present, is well formed and agrees with `__hostalloc_abi` and the alignment.
 * Returns the section's contents, or null.
 */
function checkMetadata(
  input: Uint8Array,
  info: ModuleInfo,
  abiVersion: number | null,
  problem: (code: string, message: string) => void,
): HostallocMeta | null {
  let meta: HostallocMeta | null = null;
  try {
    meta = readHostallocMeta(input, info);
  } catch (e) {
    if (!isHostAllocError(e)) throw e;
    problem('bad-metadata', e.message);
  }
  if (abiVersion === 1) return meta;
  const e = info.exports.find((x) => x.name === ALIGN_EXPORT);
  const g = e?.kind === 'global' ? info.globals[e.index] : undefined;
  const align = g && !g.mutable && g.type === 'i32' ? g.init : null;
  if (!e) problem('missing-align-export', `does not export ${ALIGN_EXPORT}`);
  else if (align !== 8 && align !== 16)
    problem('bad-align-export', `${ALIGN_EXPORT} must be an immutable i32 global of 8 or 16`);
  if (meta) {
    if (meta.abi !== abiVersion)
      problem(
        'bad-metadata',
        `the '${META_SECTION}' section says ABI ${meta.abi}, __hostalloc_abi is ${abiVersion}`,
      );
    if (align !== null && meta.align !== align)
      problem(
        'bad-metadata',
        `the '${META_SECTION}' section says align ${meta.align}, ${ALIGN_EXPORT} is ${align}`,
      );
  }
  return meta;
}

/**
 * An allocator that survived under any name still needs memory above __heap_base, and gets its
 * start from a constant the linker put there: a static word holding the heap base that code reads
 * (sbrk's break pointer). Neither a mutable global starting at the heap base (the stack pointer
 * does, in a data-stack-heap layout) nor the heap base as a constant in code (emcc's stack
 * functions return the stack top) is evidence. memory.grow is reported separately.
 */
function survivingAllocator(
  input: Uint8Array,
  info: ModuleInfo,
  heapBase: number | null,
  flows: FunctionFlow[],
): string[] {
  if (heapBase === null || heapBase === 0) return [];
  const out: string[] = [];
  const touched = new Map<number, number>();
  for (const f of flows) for (const a of f.staticAccesses) touched.set(a, f.index);
  const P = info.memories[0]?.limits.is64 ? 8 : 4;
  for (const seg of info.dataSegments) {
    const { start, end } = seg.contents;
    // Toolchains trim trailing zero bytes off a segment: a word may run past its end (into zeroes).
    for (let at = start; at < end; at += 1) {
      let v = 0;
      for (let k = P - 1; k >= 0; k--) v = v * 256 + (at + k < end ? input[at + k]! : 0);
      if (v !== heapBase || seg.offset === null) continue;
      // The linker's value is left in data after the allocator is gone; it matters when code reads it.
      const addr = seg.offset + at - start;
      const reader = touched.get(addr);
      if (reader === undefined) continue;
      out.push(
        `${functionLabel(info, reader)} uses the static word at ${addr}, which holds the heap base ${heapBase}: an allocator's break pointer (sbrk) survives`,
      );
      break;
    }
  }
  return out;
}
