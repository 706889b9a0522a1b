/**
 * @fileoverview The rewrite steps, after the analysis (./analyse.ts) found the family, the old
 * state and the metadata reads:
 *
 *   replace-allocator ─ calloc-always-clear ─ usable-size-from-host ─ drop-exports ─ export-layout
 *   ─ strip ─ check-hazards ─ emit ─ output-gate
 *
 * Only these steps change the binaryen module. Each returns what it did (functions generated,
 * warnings) instead of changing another step's data.
 */

import type { Binaryen, BinaryenModule, ExpressionRef } from '../binaryen/module.js';
import { captureOutput, validationErrors } from '../binaryen/module.js';
import {
  definedFunctions,
  emittedFunctionNames,
  importedFunction,
  importedFunctions,
} from '../binaryen/queries.js';
import { type FunctionSummary, refFuncSites } from '../binaryen/walk.js';
import { HOST_IMPORT_SIGNATURES, HOST_IMPORTS, type HostImport, isEmscripten } from '../conventions.js';
import { ErrorCodes, HostAllocError } from '../errors.js';
import { deriveDataEnd, refineHeapBase } from '../layout.js';
import type { Hazard, Layout, ReplacedFunction } from '../types.js';
import { WA } from '../wasm-api.js';
import type { Analysis, ModuleContext } from './analyse.js';
import { callocAlwaysClear } from './passes/calloc-always-clear.js';
import { checkHazards } from './passes/check-hazards.js';
import { exportLayout, GROW_FUNCTION, layoutMeta, staticAccessEnds } from './passes/export-layout.js';
import {
  adapterImportName,
  emptyInitializers,
  fixReferences,
  replaceAllocator,
} from './passes/replace-allocator.js';
import { usableSizeFromHost } from './passes/usable-size-from-host.js';
import type { Checks, Steps } from './pipeline.js';
import { SliceMiss } from './slice.js';
import { installPlaceholders, type Placeholders, pin, spliceRefusal, unpin } from './splice.js';

/** What the rewrite did, for the report. */
export interface Rewritten {
  replaced: ReplacedFunction[];
  /** Host imports the output declares. */
  imports: string[];
  layout: Layout;
  hazards: Hazard[];
  warnings: string[];
  /** Functions whose bodies the rewrite changed or generated (the output gate interprets them again). */
  changed: Set<string>;
  /** Untouched bodies binaryen holds as placeholders: emit splices the input's back (./splice.ts). */
  placeholders?: Placeholders;
}

/** Runs the rewrite steps in order on the analysed module. */
export function rewrite(m: ModuleContext, a: Analysis, steps: Steps, checks: Checks): Rewritten {
  const warnings: string[] = [];
  const memory = m.memory;
  const swap = steps.run('replace-allocator', () => replace(m, a, memory));
  warnings.push(...swap.warnings);
  const changed = new Set([
    ...swap.generated,
    ...a.members.map((f) => f.func),
    ...a.reads.calloc.map((p) => p.function),
    ...a.reads.usable.map((p) => p.function),
    GROW_FUNCTION,
  ]);
  if (a.reads.calloc.length > 0) {
    steps.run('calloc-always-clear', () => callocAlwaysClear(m.b, m.mod, a.reads.calloc));
    const fns = new Set(a.reads.calloc.map((p) => p.function));
    warnings.push(
      `${[...fns].map(m.label).join(', ')}: rewrote an inlined calloc's chunk-header check so that it always zeroes`,
    );
  }
  if (a.reads.usable.length > 0) {
    steps.run('usable-size-from-host', () => {
      const host = hostImport(m.b, m.mod, m.input.importModule, 'host_usable_size', m.is64);
      usableSizeFromHost(m.b, m.mod, a.reads.usable, host, m.is64);
    });
    const fns = new Set(a.reads.usable.map((p) => p.function));
    warnings.push(
      `${[...fns].map(m.label).join(', ')}: malloc_usable_size read the chunk header; it now asks the host (host_usable_size)`,
    );
  }
  if (m.input.options.dropExports) steps.run('drop-exports', () => dropExports(m, a));
  // Export the layout before stripping: exports are roots, and a module that exported nothing
  // would otherwise lose its memory to remove-unused-module-elements.
  const layout = steps.run('export-layout', () => layoutStep(m, a, memory, warnings));
  const stripped = steps.run('strip', () => strip(m, new Set([...a.old.changed, ...changed])));
  warnings.push(...stripped.warnings);
  const imports = ensureCoreImports(m.b, m.mod, m.input.importModule, m.is64);
  const generated = new Set([...swap.generated, GROW_FUNCTION]);
  const hazards = steps.run('check-hazards', () => hazardsStep(m, a, generated, checks));
  return {
    replaced: swap.replaced,
    imports,
    layout,
    hazards,
    warnings,
    changed,
    ...(stripped.placeholders ? { placeholders: stripped.placeholders } : {}),
  };
}

/**
 * Step 'replace-allocator': each member becomes a host import or an adapter; references to the
 * swapped functions are retyped; the old initialisers are emptied.
 */
function replace(
  m: ModuleContext,
  a: Analysis,
  memory: string,
): { replaced: ReplacedFunction[]; generated: Set<string>; warnings: string[] } {
  const { b, mod } = m;
  const { replaced, swapped } = replaceAllocator(b, mod, a.members, {
    importModule: m.input.importModule,
    memory64: m.is64,
    memoryName: memory,
  });
  fixReferences(b, mod, swapped, swappedRefFuncSites(b, mod, a.old.summaries, swapped));
  const generated = new Set<string>();
  const warnings: string[] = [];
  for (const f of emptyInitializers(b, mod, a.family.initializers)) {
    warnings.push(
      `emptied the old allocator's initialiser ${m.label(f)}: it would set up a heap nobody uses`,
    );
    generated.add(f);
  }
  for (const r of replaced) if (r.replacement.kind === 'adapter') generated.add(m.names[r.index] ?? '');
  return { replaced, generated, warnings };
}

/**
 * ref.func sites naming a swapped function, in functions that keep their bodies: only the functions
 * whose summary counts such a reference are walked.
 */
function swappedRefFuncSites(
  b: Binaryen,
  mod: BinaryenModule,
  summaries: Map<string, FunctionSummary>,
  swapped: Set<string>,
): Map<string, ExpressionRef[]> {
  const out = new Map<string, ExpressionRef[]>();
  for (const s of summaries.values()) {
    if (swapped.has(s.name)) continue; // its body is gone
    if (![...s.refFuncs.keys()].some((t) => swapped.has(t))) continue;
    for (const [target, sites] of refFuncSites(b, mod, s.name, swapped)) {
      out.set(target, [...(out.get(target) ?? []), ...sites]);
    }
  }
  return out;
}

/** Step 'drop-exports': the family's exports go, except those the glue reaches (it would break). */
function dropExports(m: ModuleContext, a: Analysis): void {
  const used = new Set(m.input.glue?.symbols.values());
  for (const e of new Set(a.members.flatMap((f) => f.exports))) if (!used.has(e)) m.mod.removeExport(e);
}

/** Step 'export-layout': the layout (see outputLayout) exported, with the hostalloc section. */
function layoutStep(m: ModuleContext, a: Analysis, memory: string, warnings: string[]): Layout {
  const { info } = m.input;
  const { layout, warning } = outputLayout(m, a);
  if (warning) warnings.push(warning);
  const emscripten = isEmscripten({
    exports: info.exports.map((e) => e.name),
    imports: info.imports.map((i) => i.name),
    functionNames: [...info.names.functions.values()],
    glue: m.input.glue?.kind === 'emscripten',
  });
  exportLayout(
    m.b,
    m.mod,
    layout,
    memory,
    { ...layoutMeta(layout, emscripten ? 8 : 16), ...(a.growImport ? { growImport: a.growImport } : {}) },
    m.input.staleExports,
  );
  return layout;
}

/**
 * The layout the output declares: an estimated heap base raised above every static address the
 * code touches (with a warning saying so), and `__data_end` derived from the static accesses.
 */
export function outputLayout(m: ModuleContext, a: Analysis): { layout: Layout; warning?: string } {
  const layout = m.input.layout;
  const dataEnd = (l: Layout): Layout => ({
    ...l,
    dataEndExport: deriveDataEnd(l, staticAccessEnds(a.old.summaries)),
  });
  if (layout.heapBase.confidence !== 'estimated') return { layout: dataEnd(layout) };
  const refined = refineHeapBase(
    layout,
    a.old.state.maxStaticAddress,
    'highest static address the code accesses (zero-initialised data has no segment)',
  );
  return {
    layout: dataEnd(refined),
    warning: `heap base ${refined.heapBase.value} is estimated (${refined.heapBase.source}); export __heap_base at link time (-Wl,--export=__heap_base) to make it exact`,
  };
}

/**
 * Step 'strip': binaryen's remove-unused-module-elements removes what nothing reaches any more
 * (the old allocator). Untouched bodies a splice can carry are first swapped for placeholders
 * (./splice.ts), so that this and emit cost a fraction; `changed` are the functions whose bodies
 * the transform changed. Returns warnings, and the placeholders when there are any.
 */
function strip(
  m: ModuleContext,
  changed: ReadonlySet<string>,
): { warnings: string[]; placeholders: Placeholders | null } {
  const hasDwarf = m.input.info.customSections.some((s) => s.name.startsWith('.debug_'));
  const keepDwarf = m.input.options.keepDwarf === true;
  const after = ['duplicate-import-elimination'];
  if (hasDwarf && !keepDwarf) after.push('strip-dwarf');
  const refusal = spliceRefusal(m, hasDwarf);
  // A slice's left-out bodies exist only in the input's bytes: only a splice writes them.
  if (refusal !== null && m.slice)
    throw new SliceMiss(`no splice (${refusal}), so no left-out body can be written`);
  const placeholders = refusal === null ? installPlaceholders(m, changed) : null;
  if (placeholders) {
    pin(m, placeholders, changed);
    captureOutput(() => m.mod.runPasses(['remove-unused-module-elements']));
    unpin(m, placeholders);
    captureOutput(() => m.mod.runPasses(after));
  } else {
    captureOutput(() => m.mod.runPasses(['remove-unused-module-elements', ...after]));
  }
  const warnings = !hasDwarf
    ? []
    : [
        keepDwarf
          ? 'DWARF debug sections were kept as asked, but they describe the old code and are now stale'
          : 'DWARF debug sections were removed: binaryen.js cannot update them after the rewrite (keep them with keepDwarf)',
      ];
  return { warnings, placeholders };
}

/**
 * Step 'check-hazards': on the survivors' summaries (functions the user's code reaches without going
 * through the family; generated and emptied functions exempt), no access to the old state and no
 * memory.grow. Residue in a helper is an unidentified member (HA011), in an entry point inlined
 * allocator code (HA020); a stray memory.grow is HA021.
 */
export function hazardsStep(m: ModuleContext, a: Analysis, generated: Set<string>, checks: Checks): Hazard[] {
  const survivors = [...a.old.state.survivors].flatMap((f) =>
    generated.has(f) ? [] : [a.old.summaries.get(f)!],
  );
  const found = checkHazards({
    summaries: survivors,
    regions: a.old.state.regions,
    generated,
    label: m.label,
  });
  const entryLabels = new Set([...m.roots].map(m.label));
  const hazards = found.map((h) => {
    // A residue function that is not an entry point of the user's code is most likely a family
    // member nobody named (an internal realloc or memalign); in an entry point it is inlined code.
    const code =
      h.kind === 'memory-grow'
        ? ErrorCodes.STRAY_MEMORY_GROW
        : h.functions.every((f) => !entryLabels.has(f))
          ? ErrorCodes.FAMILY_INCOMPLETE
          : ErrorCodes.UNSAFE_RESIDUE;
    return { ...h, code };
  });
  for (const h of hazards) {
    checks.refuse({
      code: h.code,
      message: `refusing: ${h.message}`,
      reason: h.message,
      details: { hazards: found, functions: h.functions },
      step: 'check-hazards',
    });
  }
  return hazards;
}

/** binaryen's name of the function importing host function `base`, added when missing. */
function hostImport(
  b: Binaryen,
  mod: BinaryenModule,
  module: string,
  base: HostImport,
  is64: boolean,
): string {
  const present = importedFunction(b, mod, module, base);
  if (present !== undefined) return present;
  const P = is64 ? b.i64 : b.i32;
  const params = HOST_IMPORT_SIGNATURES[base].params.map(() => P);
  const name = adapterImportName(base);
  mod.addFunctionImport(name, module, base, b.createType(params), P);
  return name;
}

/** host_malloc and host_free are always imported, whether or not the code still calls them. */
function ensureCoreImports(b: Binaryen, mod: BinaryenModule, importModule: string, is64: boolean): string[] {
  const P = is64 ? b.i64 : b.i32;
  const present = importedFunctions(b, mod, importModule);
  if (!present.has('host_malloc')) {
    const name = adapterImportName('host_malloc');
    mod.addFunctionImport(name, importModule, 'host_malloc', P, P);
    present.set('host_malloc', name);
  }
  if (!present.has('host_free')) {
    const name = adapterImportName('host_free');
    mod.addFunctionImport(name, importModule, 'host_free', P, b.none);
    present.set('host_free', name);
  }
  return HOST_IMPORTS.filter((h) => present.has(h));
}

/**
 * Step 'emit': the rewritten module is written (with names when the input had them) and must
 * validate; a failure is a bug in wasm-hostalloc. The engine's own validator (WebAssembly.validate,
 * a few milliseconds) checks the bytes; only when it rejects them — also when the module uses a
 * proposal this Node does not enable, such as memory64 on Node 20 — does binaryen's validator,
 * five to ten times slower, decide and name what is wrong. Returns the bytes, the number of defined
 * functions and their names in the binary's order.
 */
export function emit(
  m: ModuleContext,
  withNames: boolean,
): { bytes: Uint8Array; functionsAfter: number; names: string[] } {
  const prev = m.b.getDebugInfo();
  m.b.setDebugInfo(withNames);
  let bytes: Uint8Array;
  try {
    bytes = m.mod.emitBinary().slice();
  } finally {
    m.b.setDebugInfo(prev);
  }
  if (!WA.validate(bytes)) {
    const errors = validationErrors(m.mod);
    if (errors) {
      throw new HostAllocError(
        ErrorCodes.INTERNAL,
        'the rewritten module does not validate: this is a bug in wasm-hostalloc, please report it with the input module',
        { details: { validation: errors.slice(0, 4000) } },
      );
    }
  }
  return { bytes, functionsAfter: definedFunctions(m.b, m.mod), names: emittedFunctionNames(m.b, m.mod) };
}
