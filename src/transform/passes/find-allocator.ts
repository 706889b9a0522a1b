/**
 * @fileoverview find-allocator (analysis): finds the allocator family — malloc, free, calloc,
 * realloc, the aligned variants, malloc_usable_size and Rust's `__rust_*` shims — from, in order of
 * precedence: explicit options (`alloc: { realloc: 'export' | '$name' | '$12' }`), the Emscripten JS
 * glue (minified export names mapped back to `_malloc`…), exports, and the name section.
 *
 * It never guesses: a name that matches no convention is not a member. Members found only by
 * analysis (stripped modules) are added by the identify-by-analysis pass, which runs after this one.
 *
 *   (export "malloc" (func $12))   ->  { role: 'malloc', function: '12', identifiedBy: 'export' }
 *   (func $dlrealloc …)            ->  { role: 'realloc', function: 'dlrealloc', identifiedBy: 'name' }
 */

import type { Binaryen, BinaryenModule, FunctionInfo } from '../../binaryen/module.js';
import { functionExports } from '../../binaryen/queries.js';

import { internalRoleOfName, isAllocRole, roleOfName } from '../../conventions.js';
import { ErrorCodes, HostAllocError } from '../../errors.js';
import type { AllocRole, Identification } from '../../types.js';
import type { FingerprintMatch } from './fingerprint.js';

/** A family member as binaryen sees it (internal function name). */
export interface FoundMember {
  role: AllocRole;
  /** binaryen internal name of the function. */
  func: string;
  /** Absolute function index. */
  index: number;
  exports: string[];
  identifiedBy: Identification;
  /** True when the function is an import (e.g. a -sMALLOC=none build importing env.malloc). */
  imported: boolean;
  /** Identified as an allocator internal that may take the allocator state as a first parameter. */
  stateParam: boolean;
  /** What analysis saw, when identifiedBy is 'analysis' (carried into the report). */
  evidence?: string;
  /**
   * Trailing parameters beyond the role's that the function ignores for our purposes (the size
   * rustc's optimizer left on a dealloc whose align it dropped); an adapter accepts and drops them.
   */
  trailing?: number;
}

/** A member found by analysis rather than by an export, a name or the options. */
export function analysedMember(
  role: AllocRole,
  func: string,
  index: number,
  more: Partial<Pick<FoundMember, 'exports' | 'stateParam' | 'evidence' | 'trailing'>> = {},
): FoundMember {
  return {
    role,
    func,
    index,
    exports: [],
    identifiedBy: 'analysis',
    imported: false,
    stateParam: false,
    ...more,
  };
}

export interface FindAllocatorInput {
  /** role -> export name, `$name` or `$index`. */
  alloc?: Partial<Record<AllocRole, string>>;
  /** export name -> role, read from Emscripten glue. */
  glueExports?: Map<string, AllocRole>;
  /** Functions the fingerprint pass recognised (lowest precedence). */
  fingerprints?: FingerprintMatch[];
  /**
   * The host import module: a module built against the host ABI already imports host_malloc and
   * host_free from it (they are members that need no replacement, only the layout exports).
   */
  importModule?: string;
}

/** Roles of the host imports themselves (a module built against the ABI imports them). */
const HOST_IMPORT_ROLE: Record<string, AllocRole> = {
  host_malloc: 'malloc',
  host_free: 'free',
  host_calloc: 'calloc',
  host_realloc: 'realloc',
  host_aligned_alloc: 'aligned_alloc',
  host_usable_size: 'malloc_usable_size',
};

export function findAllocator(b: Binaryen, mod: BinaryenModule, input: FindAllocatorInput): FoundMember[] {
  const infos: FunctionInfo[] = [];
  const names: string[] = [];
  const indexOf = new Map<string, number>();
  const n = mod.getNumFunctions();
  for (let i = 0; i < n; i++) {
    const info = b.getFunctionInfo(mod.getFunctionByIndex(i));
    infos.push(info);
    names.push(info.name);
    indexOf.set(info.name, i);
  }
  const exportsOf = new Map<string, string[]>();
  const exportMap = functionExports(b, mod);
  for (const [exp, func] of exportMap) {
    const list = exportsOf.get(func) ?? [];
    list.push(exp);
    exportsOf.set(func, list);
  }
  const byFunc = new Map<string, FoundMember>();
  const add = (role: AllocRole, func: string, identifiedBy: Identification, stateParam = false): void => {
    if (byFunc.has(func)) return; // first identification wins (options > glue > export > name)
    const info = b.getFunctionInfo(mod.getFunction(func));
    byFunc.set(func, {
      role,
      func,
      index: indexOf.get(func) ?? -1,
      exports: exportsOf.get(func) ?? [],
      identifiedBy,
      imported: info.module !== '',
      stateParam,
    });
  };

  for (const info of infos) {
    if (info.module !== '' && info.module === input.importModule) {
      const role = HOST_IMPORT_ROLE[info.base];
      if (role) add(role, info.name, 'import');
    }
  }
  for (const [role, ref] of Object.entries(input.alloc ?? {})) {
    if (!isAllocRole(role)) {
      throw new HostAllocError(ErrorCodes.BAD_OPTION, `unknown allocator role '${role}'`);
    }
    add(role, resolveFunctionRef(names, exportMap, ref, role), 'option');
  }
  for (const [exp, role] of input.glueExports ?? []) {
    const func = exportMap.get(exp);
    if (func !== undefined) add(role, func, 'glue');
  }
  for (const [exp, func] of exportMap) {
    const role = roleOfName(exp);
    if (role) add(role, func, 'export');
  }
  for (const func of names) {
    const role = roleOfName(func);
    if (role) add(role, func, 'name');
    const internal = internalRoleOfName(func);
    if (internal) add(internal, func, 'name', true);
  }
  for (const { func, entry } of input.fingerprints ?? []) {
    if (entry.role !== 'internal' && entry.role !== 'initializer') {
      add(entry.role, func, 'fingerprint', internalRoleOfName(entry.name) !== undefined);
    }
  }
  return [...byFunc.values()].sort((a, b2) => a.index - b2.index);
}

/** Resolves `export`, `$name` or `$index` to a binaryen internal function name. */
function resolveFunctionRef(
  names: string[],
  exportMap: Map<string, string>,
  ref: string,
  role: string,
): string {
  if (ref.startsWith('$')) {
    const key = ref.slice(1);
    // `$N` is the absolute function index (imports included), as inspect and messages print it;
    // binaryen's own names of unnamed functions count defined functions only, so they are not used.
    if (/^\d+$/.test(key)) {
      const byIndex = names[Number(key)];
      if (byIndex !== undefined) return byIndex;
    } else if (names.includes(key)) return key;
    throw new HostAllocError(
      ErrorCodes.BAD_OPTION,
      `--alloc ${role}=${ref}: no function named or numbered '${key}' (run 'wasm-hostalloc inspect' to list candidates)`,
    );
  }
  const func = exportMap.get(ref);
  if (func === undefined) {
    throw new HostAllocError(
      ErrorCodes.BAD_OPTION,
      `--alloc ${role}=${ref}: the module has no function export '${ref}'`,
    );
  }
  return func;
}
