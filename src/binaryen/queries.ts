/**
 * @fileoverview Questions asked of a binaryen module, in one place: function names by index,
 * function exports, the memory's internal name, the user's entry points, the function count. Passes
 * ask these here instead of walking binaryen's tables themselves.
 */

import { ErrorCodes, HostAllocError } from '../errors.js';
import { type Binaryen, type BinaryenModule, captureOutput, type FunctionRef } from './module.js';

/** binaryen's internal names of all functions, by absolute index (imports first). */
export function functionNames(b: Binaryen, mod: BinaryenModule): string[] {
  const names: string[] = [];
  for (const f of functionRefs(mod)) names.push(b.Function.getName(f));
  return names;
}

/**
 * binaryen's function references by absolute index (imports first). A reference stays valid until
 * its function is removed; later additions do not move it.
 */
export function functionRefs(mod: BinaryenModule): FunctionRef[] {
  const n = mod.getNumFunctions();
  const refs: FunctionRef[] = [];
  for (let i = 0; i < n; i++) refs.push(mod.getFunctionByIndex(i));
  return refs;
}

/** binaryen's internal names of all globals, in binaryen's order (as read: the binary's order). */
export function globalNames(b: Binaryen, mod: BinaryenModule): string[] {
  const out: string[] = [];
  const n = mod.getNumGlobals();
  for (let i = 0; i < n; i++) out.push(b.getGlobalInfo(mod.getGlobalByIndex(i)).name);
  return out;
}

/** binaryen's internal names of all tables, in binaryen's order (as read: the binary's order). */
export function tableNames(b: Binaryen, mod: BinaryenModule): string[] {
  const out: string[] = [];
  const n = mod.getNumTables();
  for (let i = 0; i < n; i++) out.push(b.getTableInfo(mod.getTableByIndex(i)).name);
  return out;
}

/**
 * Names by their index in the emitted binary: binaryen writes the imported ones first, then the
 * defined ones, each in its own order.
 */
class EmittedOrder {
  private readonly imported: string[] = [];
  private readonly defined: string[] = [];

  /** The next item in binaryen's order: `module` is its import module, '' when defined. */
  add(name: string, module: string): void {
    (module ? this.imported : this.defined).push(name);
  }

  names(): string[] {
    return this.imported.concat(this.defined);
  }
}

/**
 * binaryen's internal names of all functions by their index in the emitted binary: binaryen writes
 * imported functions first, then the defined ones, each in its own order (functions imported by
 * the rewrite come after the module's defined ones internally, but before them in the binary).
 */
export function emittedFunctionNames(b: Binaryen, mod: BinaryenModule): string[] {
  const order = new EmittedOrder();
  const n = mod.getNumFunctions();
  for (let i = 0; i < n; i++) {
    const info = b.getFunctionInfo(mod.getFunctionByIndex(i));
    order.add(info.name, info.module);
  }
  return order.names();
}

/** binaryen's internal names of all globals by their index in the emitted binary. */
export function emittedGlobalNames(b: Binaryen, mod: BinaryenModule): string[] {
  const order = new EmittedOrder();
  const n = mod.getNumGlobals();
  for (let i = 0; i < n; i++) {
    const info = b.getGlobalInfo(mod.getGlobalByIndex(i));
    order.add(info.name, info.module);
  }
  return order.names();
}

/** binaryen's internal names of all tables by their index in the emitted binary. */
export function emittedTableNames(b: Binaryen, mod: BinaryenModule): string[] {
  const order = new EmittedOrder();
  const n = mod.getNumTables();
  for (let i = 0; i < n; i++) {
    const info = b.getTableInfo(mod.getTableByIndex(i));
    order.add(info.name, info.module);
  }
  return order.names();
}

/** Export name -> internal function name, for function exports. */
export function functionExports(b: Binaryen, mod: BinaryenModule): Map<string, string> {
  const out = new Map<string, string>();
  const n = mod.getNumExports();
  for (let i = 0; i < n; i++) {
    const info = b.getExportInfo(mod.getExportByIndex(i));
    if (info.kind === b.ExternalFunction) out.set(info.name, info.value);
  }
  return out;
}

/** True when the module has an export named `name` (of any kind). */
export function hasExport(b: Binaryen, mod: BinaryenModule, name: string): boolean {
  const n = mod.getNumExports();
  for (let i = 0; i < n; i++) if (b.getExportInfo(mod.getExportByIndex(i)).name === name) return true;
  return false;
}

/**
 * binaryen's internal name of the (single) memory: the name an export gives, else its name-section
 * name, else binaryen's default for a defined ('0') or imported ('mimport$0') memory. binaryen.js
 * lists no memories, so candidates are probed with getMemoryInfo.
 */
export function memoryName(b: Binaryen, mod: BinaryenModule, nameSectionName?: string): string {
  const n = mod.getNumExports();
  for (let i = 0; i < n; i++) {
    const info = b.getExportInfo(mod.getExportByIndex(i));
    if (info.kind === b.ExternalMemory) return info.value;
  }
  const candidates = [nameSectionName, '0', 'mimport$0'].filter((c): c is string => !!c);
  for (const c of candidates) {
    const { result } = captureOutput(() => {
      try {
        mod.getMemoryInfo(c);
        return true;
      } catch {
        return false;
      }
    });
    if (result) return c;
  }
  throw new HostAllocError(
    ErrorCodes.INTERNAL,
    `cannot find binaryen's name for the memory (tried ${candidates.join(', ')})`,
  );
}

/** Roots of the user's code: exported functions, the start function, table entries. */
export function roots(b: Binaryen, mod: BinaryenModule): Set<string> {
  const out = new Set<string>(functionExports(b, mod).values());
  const start = mod.getStart();
  if (start) out.add(b.getFunctionInfo(start).name);
  const n = mod.getNumElementSegments();
  for (let i = 0; i < n; i++)
    for (const f of b.getElementSegmentInfo(mod.getElementSegmentByIndex(i)).data) out.add(f);
  return out;
}

/** Number of defined (not imported) functions. */
export function definedFunctions(b: Binaryen, mod: BinaryenModule): number {
  let defined = 0;
  const n = mod.getNumFunctions();
  for (let i = 0; i < n; i++) if (b.getFunctionInfo(mod.getFunctionByIndex(i)).module === '') defined++;
  return defined;
}

/** binaryen's name of the function importing `base` from `module`, or undefined. */
export function importedFunction(
  b: Binaryen,
  mod: BinaryenModule,
  module: string,
  base: string,
): string | undefined {
  return importedFunctions(b, mod, module).get(base);
}

/**
 * The functions imported from `module`: import name -> binaryen's name (the first, when a name is
 * imported twice). One pass over the functions, for a caller asking about several imports.
 */
export function importedFunctions(b: Binaryen, mod: BinaryenModule, module: string): Map<string, string> {
  const out = new Map<string, string>();
  const n = mod.getNumFunctions();
  for (let i = 0; i < n; i++) {
    const fi = b.getFunctionInfo(mod.getFunctionByIndex(i));
    if (fi.module === module && !out.has(fi.base)) out.set(fi.base, fi.name);
  }
  return out;
}
