/**
 * @fileoverview transform(): one public function made of named steps, wasm-snip style:
 *
 *   read (raw, no binaryen) -> refuse early (component, GC runtime, shared memory, no memory)
 *   -> already compliant? return as is -> built against the ABI? adopt (src/adopt.ts)
 *   -> find-allocator -> allocator-state (+ find-grow-import, metadata-reads -> header-reads)
 *   -> replace-allocator -> fix references -> calloc-always-clear, usable-size-from-host
 *   -> unexport (only with dropExports)
 *   -> strip (remove-unused-module-elements, duplicate-import-elimination, strip-dwarf)
 *   -> check-hazards (refuse residue and memory.grow) -> export-layout -> validate -> emit
 *
 * The binaryen module is always disposed; the input bytes are never modified.
 */

import { adopt } from '../adopt.js';
import {
  type Binaryen,
  type BinaryenModule,
  captureOutput,
  validationErrors,
  withModule,
} from '../binaryen/module.js';
import {
  type FunctionSummary,
  functionNames,
  headerProbes,
  type NegativeProbe,
  summarize,
  summarizeAll,
} from '../binaryen/walk.js';
import {
  ABI_EXPORT,
  ALLOCATOR_INITIALIZERS,
  gcRuntimeMarker,
  HOST_IMPORT_SIGNATURES,
  HOST_IMPORTS,
  type HostImport,
  isAllocatorName,
  isEmscripten,
} from '../conventions.js';
import { ErrorCodes, HostAllocError } from '../errors.js';
import { FINGERPRINTS } from '../fingerprints.js';
import { type BindgenAllocExport, readGlue } from '../glue.js';
import { computeLayout, deriveDataEnd, refineHeapBase } from '../layout.js';
import { convertedFlows, convertedMetadataReads, metadataReads } from '../metadata-reads.js';
import type { AllocRole, Hazard, Layout, TransformOptions, TransformResult } from '../types.js';
import { verify } from '../verify.js';
import { safeNames } from '../wasm/names.js';
import { pointerFlow } from '../wasm/pointer-flow.js';
import { type ModuleInfo, readModule, usesAtomics } from '../wasm/reader.js';
import { WA } from '../wasm-api.js';
import { type AllocatorState, allocatorState, touchedRegions } from './passes/allocator-state.js';
import { callocAlwaysClear } from './passes/calloc-always-clear.js';
import { checkHazards } from './passes/check-hazards.js';
import { removeDeadStateReads } from './passes/dead-state-reads.js';
import {
  exportLayout,
  GROW_FUNCTION,
  layoutMeta,
  memoryName,
  staticAccessEnds,
} from './passes/export-layout.js';
import { type FoundMember, findAllocator, functionExports } from './passes/find-allocator.js';
import { findGrowImport } from './passes/find-grow-import.js';
import { matchFingerprints } from './passes/fingerprint.js';
import { describeRefusedRead, planHeaderReads } from './passes/header-reads.js';
import { type AnalysisMatch, identifyByAnalysis, isMemsetShaped } from './passes/identify-by-analysis.js';
import { identifyMore } from './passes/identify-more.js';
import { neutraliseInitializers } from './passes/neutralise-initializer.js';
import {
  adapterImportName,
  checkSignatures,
  emptyInitializers,
  fixReferences,
  replaceAllocator,
} from './passes/replace-allocator.js';
import { usableSizeFromHost } from './passes/usable-size-from-host.js';

/** True when the raw module already follows the host-allocator ABI. */
export function isCompliant(info: ModuleInfo): boolean {
  const imported = new Set(info.imports.filter((i) => i.kind === 'function').map((i) => i.name));
  return (
    imported.has('host_malloc') &&
    imported.has('host_free') &&
    info.exports.some((e) => e.name === '__hostalloc_abi' && e.kind === 'global')
  );
}

/** Refusals that need no code analysis: GC runtimes, shared memory. Also returns the layout. */
export function preflight(info: ModuleInfo, options: TransformOptions, bytes?: Uint8Array): Layout {
  const marker = info.usesGC
    ? 'WasmGC types (struct/array): the module is managed by a garbage collector'
    : gcRuntimeMarker(
        info.exports.map((e) => e.name),
        [...info.names.functions.values()],
        info.imports.map((i) => i.module),
        info.assemblyScriptData,
      );
  if (marker) {
    throw new HostAllocError(
      ErrorCodes.GC_RUNTIME,
      `refusing a garbage-collected runtime: ${marker}. A collector scans and moves its own heap; a host allocator cannot take it over`,
    );
  }
  const layout = computeLayout(info, bytes);
  if (layout.memory.shared && !options.allowShared) {
    throw new HostAllocError(
      ErrorCodes.SHARED_MEMORY,
      'the memory is shared (threads): host allocation must then be thread-safe on the host side; pass allowShared (--allow-shared) if your host serialises or locks its allocator',
    );
  }
  return layout;
}

/**
 * Rejects what the engine rejects, before binaryen sees it: binaryen reads invalid code and may
 * abort on it. Node 20's engine lacks memory64, WasmGC and multi-memory, so its "no" is only
 * trusted for modules that use none of them.
 */
export function validateInput(bytes: Uint8Array, info: ModuleInfo): void {
  if (WA.validate(bytes)) return;
  if (info.usesGC || info.memories.length !== 1 || info.memories.some((m) => m.limits.is64)) return;
  let why = 'invalid module';
  try {
    new WA.Module(bytes);
  } catch (e) {
    why = e instanceof Error ? e.message : String(e);
  }
  throw new HostAllocError(ErrorCodes.MALFORMED, `the module does not validate: ${why}`);
}

/**
 * An existing __heap_base must agree with the layout: at or above the end of static data and, when
 * the stack sits above the data, above the stack. A toolchain that says otherwise contradicts its
 * own data, and nothing safe can be derived.
 */
function checkExistingHeapBase(layout: Layout): Layout {
  const hb = layout.existing.heapBase;
  if (hb === null) return layout;
  // Above the static data and above the stack top, whichever side of the data the stack is on.
  const floor = Math.max(layout.dataEnd, layout.stack?.high ?? 0, layout.stackPointer?.initial ?? 0);
  if (hb < floor) {
    throw new HostAllocError(
      ErrorCodes.NO_HEAP_BASE,
      `the module exports __heap_base = ${hb}, below the end of its static data and stack (${floor}): the export is wrong, so no safe heap base can be derived; re-link the module (wasm-ld exports a correct one with -Wl,--export=__heap_base)`,
      { details: { heapBase: hb, floor } },
    );
  }
  // Every host block is 16-aligned: an unaligned base is rounded up (and re-exported).
  return refineHeapBase(layout, hb, 'the exported value rounded up to 16 bytes');
}

/** Exports named like our layout globals that do not say what the layout says (re-exported by export-layout). */
function staleLayoutExports(info: ModuleInfo, layout: Layout): { heapBase: boolean; dataEnd: boolean } {
  const P = layout.memory.is64 ? 'i64' : 'i32';
  const stale = (name: string, want: number): boolean => {
    const e = info.exports.find((x) => x.name === name);
    if (!e) return false;
    const g = e.kind === 'global' ? info.globals[e.index] : undefined;
    return !g || g.mutable || g.type !== P || g.init !== want;
  };
  return {
    heapBase: stale('__heap_base', layout.heapBase.value),
    dataEnd: stale('__data_end', layout.dataEnd),
  };
}

export async function transform(input: Uint8Array, options: TransformOptions = {}): Promise<TransformResult> {
  const bytes = input.slice(); // never touch the caller's buffer
  const info = readModule(bytes, options.limits);
  validateInput(bytes, info);
  const layout0 = checkExistingHeapBase(preflight(info, options, bytes));
  // Already compliant: only when it also passes verify (a module may import host_* and export the
  // marker, yet carry a wrong __heap_base or a memory.grow).
  if (isCompliant(info) && (await verify(bytes)).compliant) {
    return {
      bytes,
      report: {
        status: 'already-compliant',
        inputSize: bytes.length,
        outputSize: bytes.length,
        functionsBefore: info.functions.length,
        functionsAfter: info.functions.length,
        functionsRemoved: 0,
        importModule: options.importModule ?? 'env',
        replaced: [],
        imports: info.imports
          .filter((i) => i.kind === 'function' && i.name.startsWith('host_'))
          .map((i) => i.name),
        layout: layout0,
        hazards: [],
        // An estimate recorded by an earlier transform stays visible (hostalloc section).
        warnings:
          layout0.heapBase.confidence === 'estimated'
            ? [`heap base ${layout0.heapBase.value} is estimated (${layout0.heapBase.source})`]
            : [],
        compliant: true,
      },
    };
  }
  // Built against the ABI from source: only the marker and layout exports are missing.
  const adopted = await adopt(bytes, info, layout0, options, staleLayoutExports(info, layout0));
  if (adopted) return adopted;
  const importModule = options.importModule ?? 'env';
  if (!/^[\x20-\x7e]+$/.test(importModule)) {
    throw new HostAllocError(
      ErrorCodes.BAD_OPTION,
      `import module name '${importModule}' must be printable ASCII`,
    );
  }
  const glue = options.glue === undefined ? undefined : readGlue(options.glue);
  const glueExports = glue?.exports;
  // binaryen reads names as C strings and keys functions by them: empty, NUL-carrying and duplicate
  // names are made unique (src/wasm/names.ts) rather than the name section dropped.
  const named = info.nameSectionMalformed ? null : safeNames(bytes, info, isAllocatorName);
  if (named) info.names.functions = named.functions;
  const binaryenInput = named ? named.bytes : bytes;
  const hasDwarf = info.customSections.some((s) => s.name.startsWith('.debug_'));
  const hadNames = info.customSections.some((s) => s.name === 'name');
  const features = {
    atomics: layout0.memory.shared || usesAtomics(bytes, info),
    memory64: layout0.memory.is64,
    exceptions: info.tags.length > 0,
  };

  return withModule(binaryenInput, features, (mod, b) => {
    const warnings: string[] = [];
    const names = functionNames(b, mod);
    const label = labeller(info, names);
    const before = summarizeAll(b, mod);
    // The old allocator's code and state, for a given family, in the module as read.
    const userRoots = roots(b, mod);
    const range = staticRange(layout0);
    const stateOf = (family: Set<string>): AllocatorState =>
      allocatorState({ summaries: before, family, roots: userRoots, staticRange: range });
    const { members, initializers } = identifyFamily(b, mod, layout0, before, names, stateOf, {
      alloc: options.alloc,
      glueExports,
      glueBindgen: glue?.bindgen,
      hadNames,
      importModule,
    });
    /** Checks forced past: the output then carries no ABI marker (it is not known to be safe). */
    const forced: string[] = [];
    requireCore(members, options, warnings, forced);
    checkSignatures(b, mod, members, layout0.memory.is64);

    const family = new Set(members.map((m) => m.func));
    // The old allocator's named initialisers are emptied below: what only they call is allocator
    // code too, and does not survive (emmalloc's claim_more_memory behind initialize_emmalloc_heap).
    const present = new Set(names);
    const stateFamily = new Set([...family, ...initializers.filter((f) => present.has(f))]);
    const first = stateOf(stateFamily);
    // Code that only sets up or pings the old allocator's state is removed first (emmalloc's set-up
    // inlined into a constructor, Rust's dropped shim-flag reads), so that what only it called no
    // longer survives; the functions changed are summarised again and the state recomputed.
    const neutralised = neutraliseInitializers(b, mod, before, first.regions, family);
    for (const f of neutralised)
      warnings.push(
        `removed the old allocator's initialisation inlined into ${label(f)}: it would set up a heap nobody uses`,
      );
    const pinged = removeDeadStateReads(
      b,
      mod,
      first.regions,
      layout0.memory.initialPages * 65536,
      new Set(),
    );
    const changed = new Set([...neutralised, ...pinged]);
    for (const f of changed) before.set(f, summarize(b, mod, f));
    const state = changed.size > 0 ? stateOf(stateFamily) : first;
    const growImport = findGrowImport(b, mod, before, state.exclusive, layout0.memory.is64);
    const familyExports = new Set(members.flatMap((m) => m.exports));
    const generated = new Set<string>();
    const pointerBytes = layout0.memory.is64 ? 8 : 4;

    // Reads of the allocator's in-band metadata in surviving code, on the input's pointer flow (the
    // family allocates): rewrite the idioms the host can answer, refuse the rest.
    const familyIndices = new Set(members.map((m) => m.index));
    const survives = (i: number): boolean => state.survivors.has(names[i] ?? '');
    const reads = metadataReads({
      flows: pointerFlow(bytes, info, {
        allocating: (i) => familyIndices.has(i),
        stackPointer: layout0.stackPointer?.global ?? null,
        skip: (i) => !survives(i),
      }),
      entryPoints: entryPointIndices(info),
      pointerBytes,
      ignore: (i) => !survives(i),
    });
    const zeroes = (s: FunctionSummary): boolean =>
      s.memoryFill ||
      [...s.calls].some((c) => before.get(c)?.memoryFill || isMemsetShaped(b, mod, c, layout0.memory.is64));
    const probes = new Map<string, NegativeProbe[]>();
    const probesOf = (f: string): NegativeProbe[] => {
      if (!probes.has(f)) probes.set(f, headerProbes(b, mod, f));
      return probes.get(f)!;
    };
    const plan = planHeaderReads({
      reads: reads.reads,
      summaries: before,
      probesOf,
      names,
      pointerBytes,
      zeroes,
    });
    const unreadable = reads.opaque.map((o) => `${label(names[o.func] ?? '')} (${o.why})`);
    if (plan.refused.length > 0 || unreadable.length > 0) {
      const what = [
        ...plan.refused.map(describeRefusedRead),
        ...unreadable.map((u) => `${u}: its code could not be analysed for such reads`),
      ];
      const msg =
        `surviving code reads the old allocator's in-band metadata (the chunk header below a block), which host blocks do not have: ${what.join('; ')}. ` +
        'Rebuild without inlining the allocator into that code, or name the function with --alloc if it is an allocator member';
      if (!options.force) {
        throw new HostAllocError(ErrorCodes.METADATA_READ, `refusing: ${msg}`, {
          details: { functions: [...new Set(plan.refused.map((r) => label(r.func)))] },
        });
      }
      forced.push(msg);
    }

    const memory = memoryName(b, mod, info.names.memories.get(0));
    const { replaced, swapped } = replaceAllocator(b, mod, members, {
      importModule,
      memory64: layout0.memory.is64,
      memoryName: memory,
    });
    fixReferences(b, mod, swapped, refFuncSites(before, swapped));
    for (const f of emptyInitializers(b, mod, initializers)) {
      warnings.push(
        `emptied the old allocator's initialiser ${label(f)}: it would set up a heap nobody uses`,
      );
      generated.add(f);
    }
    if (callocAlwaysClear(b, mod, plan.calloc) > 0) {
      const fns = new Set(plan.calloc.map((p) => p.function));
      warnings.push(
        `${[...fns].map(label).join(', ')}: rewrote an inlined calloc's chunk-header check so that it always zeroes`,
      );
    }
    if (plan.usable.length > 0) {
      const usableImport = hostImport(b, mod, importModule, 'host_usable_size', layout0.memory.is64);
      usableSizeFromHost(b, mod, plan.usable, usableImport, layout0.memory.is64);
      const fns = new Set(plan.usable.map((p) => p.function));
      warnings.push(
        `${[...fns].map(label).join(', ')}: malloc_usable_size read the chunk header; it now asks the host (host_usable_size)`,
      );
    }
    if (options.dropExports) {
      // Exports the glue reaches stay: it would break without them.
      const used = new Set(glue?.symbols.values());
      for (const e of familyExports) if (!used.has(e)) mod.removeExport(e);
    }

    // Export the layout before stripping: exports are roots, and a module that exported nothing
    // would otherwise lose its memory to remove-unused-module-elements.
    const refined = refine(layout0, state, warnings);
    const layout = { ...refined, dataEndExport: deriveDataEnd(refined, staticAccessEnds(before)) };
    const emscripten = isEmscripten({
      exports: info.exports.map((e) => e.name),
      imports: info.imports.map((i) => i.name),
      functionNames: [...info.names.functions.values()],
      glue: glue?.kind === 'emscripten',
    });
    exportLayout(
      b,
      mod,
      layout,
      memory,
      { ...layoutMeta(layout, emscripten ? 8 : 16), ...(growImport ? { growImport } : {}) },
      staleLayoutExports(info, layout),
    );
    generated.add(GROW_FUNCTION);

    const passes = ['remove-unused-module-elements', 'duplicate-import-elimination'];
    if (hasDwarf && !options.keepDwarf) passes.push('strip-dwarf');
    captureOutput(() => mod.runPasses(passes));
    if (hasDwarf) {
      warnings.push(
        options.keepDwarf
          ? 'DWARF debug sections were kept as asked, but they describe the old code and are now stale'
          : 'DWARF debug sections were removed: binaryen.js cannot update them after the rewrite (keep them with keepDwarf)',
      );
    }
    const imports = ensureCoreImports(b, mod, importModule, layout0.memory.is64);

    for (const r of replaced) if (r.replacement.kind === 'adapter') generated.add(nameOf(r, names));
    const survivors = [...state.survivors].flatMap((f) => (generated.has(f) ? [] : [before.get(f)!]));
    const hazards = checkHazards({ summaries: survivors, regions: state.regions, generated, label });
    refuseHazards(hazards, roots(b, mod), label, options, forced);

    const errors = validationErrors(mod);
    if (errors) {
      throw new HostAllocError(
        ErrorCodes.INTERNAL,
        'the rewritten module does not validate: this is a bug in wasm-hostalloc, please report it with the input module',
        { details: { validation: errors.slice(0, 4000) } },
      );
    }
    if (forced.length > 0) {
      // Forced past a check: the module is not known to be safe, so it must not claim the ABI.
      mod.removeExport(ABI_EXPORT);
      for (const f of forced) warnings.push(`forced: ${f}`);
      warnings.push(
        `forced: the output carries no ${ABI_EXPORT} marker, because the checks above did not pass`,
      );
    }
    const out = emit(b, mod, hadNames);
    // The output must pass the metadata-read check verify runs: whatever the rewrite missed, refuse.
    if (forced.length === 0) {
      const outInfo = readModule(out);
      const left = convertedMetadataReads(outInfo, convertedFlows(out, outInfo));
      if (left.length > 0) {
        throw new HostAllocError(
          ErrorCodes.METADATA_READ,
          `refusing: after the rewrite, code still reads the old allocator's in-band metadata: ${left.join('; ')}`,
        );
      }
    }
    const functionsAfter = definedFunctions(b, mod);
    return {
      bytes: out,
      report: {
        status: 'transformed' as const,
        inputSize: bytes.length,
        outputSize: out.length,
        functionsBefore: info.functions.length,
        functionsAfter,
        functionsRemoved: info.functions.length - functionsAfter,
        importModule,
        replaced,
        imports,
        layout,
        hazards,
        warnings,
        compliant: forced.length === 0,
        ...(growImport ? { growImport } : {}),
      },
    };
  });
}

/** Functions whose callers are not all in the module: exports, table entries, the start function. */
export function entryPointIndices(info: ModuleInfo): Set<number> {
  const out = new Set<number>(info.elemFunctions);
  for (const e of info.exports) if (e.kind === 'function') out.add(e.index);
  if (info.start !== null) out.add(info.start);
  return out;
}

/** binaryen's name of the function importing `base` from `module`, added when missing. */
function hostImport(
  b: Binaryen,
  mod: BinaryenModule,
  module: string,
  base: HostImport,
  is64: boolean,
): string {
  for (const name of functionNames(b, mod)) {
    const fi = b.getFunctionInfo(mod.getFunction(name));
    if (fi.module === module && fi.base === base) return name;
  }
  const P = is64 ? b.i64 : b.i32;
  const params = HOST_IMPORT_SIGNATURES[base].params.map(() => P);
  const name = adapterImportName(base);
  mod.addFunctionImport(name, module, base, b.createType(params), P);
  return name;
}

/**
 * Step 1, identification: options, glue, exports and names (find-allocator); fingerprints of known
 * allocators for stripped modules; then call-graph analysis for what is left, using the static
 * state the members found so far touch as evidence.
 */
function identifyFamily(
  b: Binaryen,
  mod: BinaryenModule,
  layout: Layout,
  before: Map<string, FunctionSummary>,
  names: string[],
  stateOf: (family: Set<string>) => AllocatorState,
  input: {
    alloc: TransformOptions['alloc'];
    glueExports: Map<string, AllocRole> | undefined;
    glueBindgen?: ReadonlyMap<string, BindgenAllocExport>;
    hadNames: boolean;
    importModule: string;
  },
): { members: FoundMember[]; initializers: string[] } {
  const fingerprints = input.hadNames ? [] : matchFingerprints(b, mod, names, FINGERPRINTS);
  const found = findAllocator(b, mod, {
    alloc: input.alloc,
    glueExports: input.glueExports,
    fingerprints,
    importModule: input.importModule,
  });
  found.push(...identifyMore(b, mod, before, found, names, stateOf, input.glueBindgen));
  const foundSet = new Set(found.map((m) => m.func));
  const prelim = stateOf(foundSet);
  // Directly, or through a helper that is not itself a member (internal_memalign -> dispose_chunk).
  const touchesDirectly = (f: string): boolean => {
    const s = before.get(f);
    return !!s && touchedRegions(s, prelim.regions).length > 0;
  };
  const touchesState = (f: string): boolean =>
    touchesDirectly(f) ||
    [...(before.get(f)?.calls ?? [])].some((c) => !foundSet.has(c) && touchesDirectly(c));
  const roles = new Map(found.map((m) => [m.func, m.role]));
  // Exported under a real name (minified glue exports are one or two characters): user API.
  const userExports = new Set(
    [...functionExports(b, mod)].filter(([name]) => name.length > 2).map(([, f]) => f),
  );
  const analysed = identifyByAnalysis(b, mod, before, roles, layout.memory.is64, touchesState, userExports);
  return {
    members: [...found, ...analysed.map((a) => analysisMember(a, names))],
    initializers: [
      ...ALLOCATOR_INITIALIZERS,
      ...fingerprints.filter((f) => f.entry.role === 'initializer').map((f) => f.func),
    ],
  };
}

function analysisMember(a: AnalysisMatch, names: string[]): FoundMember {
  return {
    role: a.role,
    func: a.func,
    index: names.indexOf(a.func),
    exports: [],
    identifiedBy: 'analysis',
    imported: false,
    skip: 0,
    stateParam: false,
    evidence: a.why,
  };
}

/** Number of defined (not imported) functions. */
function definedFunctions(b: Binaryen, mod: BinaryenModule): number {
  let n = 0;
  for (let i = 0; i < mod.getNumFunctions(); i++)
    if (b.getFunctionInfo(mod.getFunctionByIndex(i)).module === '') n++;
  return n;
}

/** Labels for messages: the name-section name, or `$index` in a stripped module. */
export function labeller(info: ModuleInfo, names: string[]): (name: string) => string {
  const index = new Map(names.map((n, i) => [n, i]));
  return (name) => {
    const i = index.get(name);
    if (i === undefined) return name;
    return info.names.functions.get(i) ?? `$${i}`;
  };
}

function nameOf(r: { index: number }, names: string[]): string {
  return names[r.index] ?? '';
}

/** malloc and free (or Rust's alloc and dealloc) must be found; without them nothing is safe. */
function requireCore(
  members: FoundMember[],
  options: TransformOptions,
  warnings: string[],
  forced: string[],
): void {
  const roles = new Set(members.map((m) => m.role));
  const missing: string[] = [];
  if (!roles.has('malloc') && !roles.has('rust_alloc')) missing.push('malloc');
  if (!roles.has('free') && !roles.has('rust_dealloc')) missing.push('free');
  if (missing.length === 0) return;
  const msg =
    `could not find ${missing.join(' and ')}: no export, name-section entry or glue mapping names ${missing.length > 1 ? 'them' : 'it'}. ` +
    `Name ${missing.length > 1 ? 'them' : 'it'} with --alloc ${missing[0]}=EXPORT_OR_$FUNCTION, pass the Emscripten glue with --glue, or rebuild keeping the name section (emcc --profiling-funcs; clang and rustc keep it unless stripped)`;
  if (!options.force) throw new HostAllocError(ErrorCodes.ALLOCATOR_NOT_FOUND, msg, { details: { missing } });
  void warnings;
  forced.push(msg);
}

/** Where static data may live: from the lowest data segment (or 1024) to the end of the initial memory. */
export function staticRange(layout: Layout): { low: number; high: number } {
  return {
    // Without any data segment, zero-initialised data starts at wasm-ld's and emcc's default global
    // base (1024): smaller constants are struct offsets (`p + 4`), not addresses.
    low: layout.dataStart ?? 1024,
    high: Math.max(layout.memory.initialPages * 65536, layout.heapBase.value),
  };
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

function refFuncSites(summaries: Map<string, FunctionSummary>, swapped: Set<string>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const s of summaries.values()) {
    if (swapped.has(s.name)) continue; // its body is gone
    for (const [target, sites] of s.refFuncs) {
      if (!swapped.has(target)) continue;
      out.set(target, [...(out.get(target) ?? []), ...sites]);
    }
  }
  return out;
}

/** host_malloc and host_free are always imported, whether or not the code still calls them. */
function ensureCoreImports(b: Binaryen, mod: BinaryenModule, importModule: string, is64: boolean): string[] {
  const present = new Set<string>();
  for (const name of functionNames(b, mod)) {
    const fi = b.getFunctionInfo(mod.getFunction(name));
    if (fi.module === importModule && (HOST_IMPORTS as readonly string[]).includes(fi.base))
      present.add(fi.base);
  }
  const P = is64 ? b.i64 : b.i32;
  if (!present.has('host_malloc'))
    mod.addFunctionImport(adapterImportName('host_malloc'), importModule, 'host_malloc', P, P);
  if (!present.has('host_free'))
    mod.addFunctionImport(adapterImportName('host_free'), importModule, 'host_free', P, b.none);
  present.add('host_malloc');
  present.add('host_free');
  return HOST_IMPORTS.filter((h) => present.has(h));
}

function refuseHazards(
  hazards: Hazard[],
  entryPoints: Set<string>,
  label: (n: string) => string,
  options: TransformOptions,
  forced: string[],
): void {
  if (hazards.length === 0) return;
  if (options.force) {
    for (const h of hazards) forced.push(h.message);
    return;
  }
  const residue = hazards.find((h) => h.kind === 'allocator-residue');
  if (residue) {
    // A residue function that is not an entry point of the user's code is most likely a family
    // member nobody named (an internal realloc or memalign); in an entry point it is inlined code.
    const entryLabels = new Set([...entryPoints].map(label));
    const helpers = residue.functions.filter((f) => !entryLabels.has(f));
    const code =
      helpers.length === residue.functions.length ? ErrorCodes.FAMILY_INCOMPLETE : ErrorCodes.UNSAFE_RESIDUE;
    throw new HostAllocError(code, `refusing: ${residue.message}`, {
      details: { hazards, functions: residue.functions },
    });
  }
  const grow = hazards.find((h) => h.kind === 'memory-grow')!;
  throw new HostAllocError(ErrorCodes.STRAY_MEMORY_GROW, `refusing: ${grow.message}`, {
    details: { hazards, functions: grow.functions },
  });
}

/** Raises an estimated heap base above every static address the code touches. */
function refine(layout: Layout, state: AllocatorState, warnings: string[]): Layout {
  if (layout.heapBase.confidence !== 'estimated') return layout;
  const refined = refineHeapBase(
    layout,
    state.maxStaticAddress,
    'highest static address the code accesses (zero-initialised data has no segment)',
  );
  warnings.push(
    `heap base ${refined.heapBase.value} is estimated (${refined.heapBase.source}); export __heap_base at link time (-Wl,--export=__heap_base) to make it exact`,
  );
  return refined;
}

function emit(b: Binaryen, mod: BinaryenModule, names: boolean): Uint8Array {
  const prev = b.getDebugInfo();
  b.setDebugInfo(names);
  try {
    return mod.emitBinary().slice();
  } finally {
    b.setDebugInfo(prev);
  }
}
