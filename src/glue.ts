/**
 * @fileoverview Reading Emscripten's JS glue to map (possibly minified) wasm export names back to
 * the C symbols they stand for, and to learn the import module names the glue provides.
 *
 * Shapes recognised (whitespace and quotes vary; minified or not):
 *   4.x:  _malloc = Module["_malloc"] = wasmExports["Ia"];      _malloc = wasmExports.Ia
 *   3.x:  var _malloc = Module["_malloc"] = function() {
 *           return (_malloc = Module["_malloc"] = Module["asm"]["f"]).apply(null, arguments) };
 *         var _malloc = Module["_malloc"] = asm["f"];
 *   3.x closure:  a._malloc = function() { return (a._malloc = a.asm.f).apply(null, arguments) };
 *   debug builds: var _malloc = createExportWrapper("malloc");   (the export is not minified)
 *   1.38-era:  var _malloc = Module["_malloc"] = function() {
 *                return Module["asm"]["malloc"].apply(null, arguments) };
 * Import modules: `var info = { "a": asmLibraryArg }` (3.x), `var imports = { "env": wasmImports,
 * "wasi_snapshot_preview1": wasmImports }` (4.x), minified `{a: wasmImports}`.
 */

import { roleOfName } from './conventions.js';
import { ErrorCodes, HostAllocError } from './errors.js';
import type { AllocRole } from './types.js';

export interface GlueInfo {
  /** wasm export name -> allocator role, for the family members the glue names. */
  exports: Map<string, AllocRole>;
  /** C symbol (without the leading underscore) -> wasm export name, for every export the glue maps. */
  symbols: Map<string, string>;
  /** Import module names the glue's import object provides. */
  importModules: string[];
}

const Q = `["']`;
/** `_sym = … <obj>["X"]` or `<obj>.X`, possibly through `Module["_sym"] =` chains. */
const ASSIGN = new RegExp(
  String.raw`\b_([A-Za-z_$][\w$]*)\s*=\s*(?:Module\[${Q}_[\w$]+${Q}\]\s*=\s*)?(?:function\s*\(\)\s*\{\s*return\s*\(?\s*(?:(?:[A-Za-z_$][\w$]?\.)?_[\w$]+\s*=\s*(?:Module\[${Q}_[\w$]+${Q}\]\s*=\s*)?)?)?` +
    String.raw`(?:wasmExports|asm|Module\[${Q}asm${Q}\]|Module\.asm|[A-Za-z_$][\w$]?\.asm|[A-Za-z_$][\w$]?)` +
    String.raw`(?:\[${Q}([\w$]+)${Q}\]|\.([A-Za-z_$][\w$]*))`,
  'g',
);
const WRAPPER = new RegExp(
  String.raw`\b_([A-Za-z_$][\w$]*)\s*=\s*(?:Module\[${Q}_[\w$]+${Q}\]\s*=\s*)?createExportWrapper\(${Q}([\w$]+)${Q}`,
  'g',
);
const IMPORT_OBJECT = new RegExp(
  String.raw`\{\s*((?:${Q}?[\w$]+${Q}?\s*:\s*(?:asmLibraryArg|wasmImports|info\.env|env)\s*,?\s*)+)\}`,
  'g',
);

export function readGlue(source: string): GlueInfo {
  if (typeof source !== 'string' || source.length === 0) {
    throw new HostAllocError(
      ErrorCodes.BAD_GLUE,
      'the glue is empty: pass the .js file emcc wrote next to the .wasm',
    );
  }
  const symbols = new Map<string, string>();
  for (const m of source.matchAll(ASSIGN)) {
    const sym = m[1]!;
    const exp = m[2] ?? m[3];
    if (exp && !symbols.has(sym)) symbols.set(sym, exp);
  }
  for (const m of source.matchAll(WRAPPER)) {
    if (!symbols.has(m[1]!)) symbols.set(m[1]!, m[2]!);
  }
  if (symbols.size === 0) {
    throw new HostAllocError(
      ErrorCodes.BAD_GLUE,
      'the glue maps no wasm exports to C symbols: is this the Emscripten JS output that goes with the .wasm?',
    );
  }
  const exports = new Map<string, AllocRole>();
  for (const [sym, exp] of symbols) {
    const role = roleOfName(sym);
    if (role) exports.set(exp, role);
  }
  const importModules = new Set<string>();
  for (const m of source.matchAll(IMPORT_OBJECT)) {
    for (const entry of m[1]!.split(',')) {
      const key = entry.split(':')[0]?.trim().replace(/["']/g, '');
      if (key) importModules.add(key);
    }
  }
  return { exports, symbols, importModules: [...importModules] };
}
