/**
 * @fileoverview The analysis steps, on the binaryen module as read: identify the allocator family,
 * check its signatures, find the old allocator's state (removing its set-up from constructors),
 * its grow import, and the reads of its in-band metadata in surviving code. transform() follows
 * them with the rewrite (./rewrite.ts); inspect() stops here and reports what they found.
 *
 *   context ─ identify ─ check-signatures ─ old-state ─ find-grow-import ─ metadata-reads ─> Analysis
 *
 * Each step takes the module context and the results it needs, and returns its own result; a
 * refusal goes through `Checks` (./pipeline.ts).
 */

import type { Binaryen, BinaryenModule, FunctionRef } from '../binaryen/module.js';
import {
  functionExports,
  functionRefs,
  globalNames,
  memoryName,
  roots,
  tableNames,
} from '../binaryen/queries.js';
import {
  type FunctionSummary,
  headerProbes,
  type NegativeProbe,
  summarize as summarizeOne,
} from '../binaryen/walk.js';
import { ALLOCATOR_INITIALIZERS } from '../conventions.js';
import { ErrorCodes } from '../errors.js';
import { FINGERPRINTS } from '../fingerprints.js';
import { metadataReads } from '../metadata-reads.js';
import type { GrowImport } from '../types.js';
import { type FunctionFlow, pointerFlow } from '../wasm/pointer-flow.js';
import { bodyShapes, DROPS_CONSTANT_LOAD, forwardedCallee } from '../wasm/shapes.js';
import { type RawSummaries, rawSummaries } from '../wasm/summaries.js';
import {
  type AllocatorState,
  allocatorState,
  type Region,
  touchesRegions,
} from './passes/allocator-state.js';
import { removeDeadStateReads } from './passes/dead-state-reads.js';
import { analysedMember, type FoundMember, findAllocator } from './passes/find-allocator.js';
import { findGrowImport } from './passes/find-grow-import.js';
import { matchFingerprints } from './passes/fingerprint.js';
import { describeRefusedRead, type HeaderReadPlan, planHeaderReads } from './passes/header-reads.js';
import { identifyByAnalysis, isMemsetShaped } from './passes/identify-by-analysis.js';
import { identifyMore } from './passes/identify-more.js';
import { neutraliseInitializers } from './passes/neutralise-initializer.js';
import { ALIGNED_NEW, ALIGNED_NEW_IMPORT, rebuildAlignedNew } from './passes/rebuild-aligned-new.js';
import { rebuildLibcHelpers } from './passes/rebuild-libc-helpers.js';
import { checkSignatures, type SignedMember } from './passes/replace-allocator.js';
import { remapSpecialised } from './passes/specialised-signatures.js';
import type { Checks, Steps } from './pipeline.js';
import { entryPointIndices, type Input, staticRange } from './read.js';
import { guardBodies, type Slice, type SlicePlan } from './slice.js';

/** The binaryen module and what every step asks of it. */
export interface ModuleContext {
  readonly b: Binaryen;
  readonly mod: BinaryenModule;
  readonly input: Input;
  /** binaryen's function names by absolute index (imports first). */
  readonly names: readonly string[];
  /** binaryen's function references by absolute index, as read (valid while the function stays). */
  readonly functionRefs: readonly FunctionRef[];
  /** The absolute index of binaryen's function `name` in the input, when it was there. */
  readonly indexOf: (name: string) => number | undefined;
  /** The bytes binaryen read (the input with a name section binaryen keeps). */
  readonly readBytes: Uint8Array;
  /** binaryen's global and table names by input index, as read (before any step added one). */
  readonly globalNames: readonly string[];
  readonly tableNames: readonly string[];
  /** A function as messages show it: its name-section name, or `$index` when stripped. */
  readonly label: (func: string) => string;
  /** The user's entry points: exports, the start function, table entries. */
  readonly roots: ReadonlySet<string>;
  readonly is64: boolean;
  readonly pointerBytes: 4 | 8;
  /** binaryen's internal name of the memory. */
  readonly memory: string;
  /** The slice binaryen read (./slice.ts), or null when it read every body. */
  readonly slice: Slice | null;
  /** The function `func` only forwards its parameters to, by the input's bytes (src/wasm/shapes.ts). */
  readonly forwardedCallee: (func: string) => string | null;
  /** Whether `func`'s input body drops a load from a constant address (src/wasm/shapes.ts). */
  readonly dropsConstantLoads: (func: string) => boolean;
}

/**
 * What every step asks of binaryen's module. With a slice, the steps see binaryen through the guard
 * of ./slice.ts: a left-out body is a SliceMiss, never an `unreachable` taken for the real code.
 */
export function moduleContext(
  unguarded: Binaryen,
  read: BinaryenModule,
  input: Input,
  readBytes: Uint8Array,
  plan: SlicePlan | null = null,
): ModuleContext {
  // Its loops over the module's functions are functions of their own: V8 then optimises those,
  // not this function, which runs once per module.
  const refs = functionRefs(read);
  const names = functionNames(unguarded, refs);
  const index = new Map(names.map((n, i) => [n, i]));
  const is64 = input.layout.memory.is64;
  const imported = input.info.numImportedFunctions;
  let b = unguarded;
  let mod = read;
  if (plan !== null) ({ b, mod } = guardBodies(unguarded, read, leftOutBodies(plan, refs, names, imported)));
  const definedIndex = (func: string): number => (index.get(func) ?? -1) - imported;
  let shapes: Uint8Array | undefined;
  return {
    slice: plan === null ? null : { ...plan, unguarded },
    forwardedCallee: (func) => {
      const k = definedIndex(func);
      if (k < 0) return null;
      const target = forwardedCallee(input.bytes, input.info, k);
      return target === null ? null : (names[target] ?? null);
    },
    dropsConstantLoads: (func) => {
      const k = definedIndex(func);
      shapes ??= plan?.shapes ?? bodyShapes(input.bytes, input.info);
      return k >= 0 && (shapes[k]! & DROPS_CONSTANT_LOAD) !== 0;
    },
    b,
    mod,
    input,
    names,
    functionRefs: refs,
    indexOf: (name) => index.get(name),
    readBytes,
    globalNames: globalNames(b, mod),
    tableNames: tableNames(b, mod),
    label: (func) => {
      const i = index.get(func);
      return i === undefined ? func : (input.info.names.functions.get(i) ?? `$${i}`);
    },
    roots: roots(b, mod),
    is64,
    pointerBytes: is64 ? 8 : 4,
    memory: memoryName(b, mod, input.info.names.memories.get(0)),
  };
}

/** binaryen's names of the functions `refs`. */
function functionNames(b: Binaryen, refs: readonly FunctionRef[]): string[] {
  const names: string[] = [];
  for (const f of refs) names.push(b.Function.getName(f));
  return names;
}

/** The functions whose bodies `plan` leaves out (by reference, with their names); `imported` come first. */
function leftOutBodies(
  plan: SlicePlan,
  refs: readonly FunctionRef[],
  names: readonly string[],
  imported: number,
): Map<FunctionRef, string> {
  const leftOut = new Map<FunctionRef, string>();
  for (let k = 0; k < plan.kept.length; k++)
    if (plan.kept[k] === 0) leftOut.set(refs[imported + k]!, names[imported + k]!);
  return leftOut;
}

/** Result of 'identify'. */
export interface Family {
  members: FoundMember[];
  /** The old allocator's initialisers present in the module (emptied by replace-allocator). */
  initializers: string[];
}

/** Result of 'old-state'. */
export interface OldState {
  state: AllocatorState;
  /** Summaries of the module as the rewrite will find it (functions changed here summarised again). */
  summaries: Map<string, FunctionSummary>;
  /** Functions whose inlined allocator set-up was removed. */
  neutralised: string[];
  /** Functions rebuilt from their specification (rebuild-libc-helpers, rebuild-aligned-new), with the warning. */
  rebuilt: { func: string; warning: string }[];
  /** Every function whose body this step changed (neutralised, state pings removed, rebuilt). */
  changed: Set<string>;
}

/** Result of 'metadata-reads': the plan, and the input's pointer flow (the output gate reuses it). */
export interface MetadataReads {
  plan: HeaderReadPlan;
  flows: FunctionFlow[];
  /** Whether a function's flow was interpreted (survivors), by input index. */
  interpreted: (index: number) => boolean;
}

/** What the analysis steps found: everything the rewrite needs, and what inspect reports. */
export interface Analysis {
  family: Family;
  members: SignedMember[];
  old: OldState;
  growImport: GrowImport | undefined;
  reads: HeaderReadPlan;
  /** The input's pointer flow, for the output gate. */
  flow: Pick<MetadataReads, 'flows' | 'interpreted'>;
  warnings: string[];
}

/**
 * Step 'summarize' (before binaryen reads the module): every function's summary from the raw
 * bytes (src/wasm/summaries.ts), keyed by absolute index ('0', '1', …) until binaryen names them.
 */
export function summarize(input: Input): RawSummaries {
  const names: string[] = [];
  for (let i = 0; i < input.info.functionTypes.length; i++) names.push(String(i));
  return rawSummaries(input.bytes, input.info, names);
}

/**
 * The summaries by binaryen's function names; those the raw model leaves to binaryen
 * (`needsBinaryen`, never left out of a slice) summarised on its IR.
 */
function namedSummaries(m: ModuleContext, raw: RawSummaries): Map<string, FunctionSummary> {
  const out = renamedSummaries(m.names, raw.summaries);
  for (const key of raw.needsBinaryen) {
    const f = nameOfKey(m.names, key);
    out.set(f, summarizeOne(m.b, m.mod, f));
  }
  return out;
}

/** The raw summaries (keyed by absolute index) with binaryen's function names. */
function renamedSummaries(
  names: readonly string[],
  summaries: ReadonlyMap<string, FunctionSummary>,
): Map<string, FunctionSummary> {
  const out = new Map<string, FunctionSummary>();
  for (const [key, s] of summaries) {
    const f = nameOfKey(names, key);
    out.set(f, renamedSummary(names, s, f));
  }
  return out;
}

/** Raw summary `s` of function `f`, its callees named by binaryen's names. */
function renamedSummary(names: readonly string[], s: FunctionSummary, f: string): FunctionSummary {
  const calls = new Set<string>();
  for (const c of s.calls) calls.add(nameOfKey(names, c));
  const callArgs: FunctionSummary['callArgs'] = new Map();
  for (const [t, args] of s.callArgs) callArgs.set(nameOfKey(names, t), args);
  const refFuncs: FunctionSummary['refFuncs'] = new Map();
  for (const [t, n] of s.refFuncs) refFuncs.set(nameOfKey(names, t), n);
  return { ...s, name: f, calls, callArgs, refFuncs };
}

/** binaryen's name of the function a raw summary keys `key` (its absolute index). */
function nameOfKey(names: readonly string[], key: string): string {
  return names[Number(key)] ?? key;
}

/** Runs the analysis steps in order, on the summaries of step 'summarize'. */
export function analyse(m: ModuleContext, raw: RawSummaries, steps: Steps, checks: Checks): Analysis {
  const summaries = namedSummaries(m, raw);
  const stateOf = stateFinder(m, summaries);
  const family = steps.run('identify', () => identify(m, summaries, stateOf, checks));
  const members = steps.run('check-signatures', () =>
    checkSignatures(m.b, m.mod, family.members, m.is64, checks),
  );
  const old = steps.run('old-state', () => oldState(m, summaries, family, stateOf));
  const growImport = steps.run('find-grow-import', () =>
    findGrowImport(m.b, m.mod, old.summaries, old.state.exclusive, m.is64),
  );
  const { plan: reads, ...flow } = steps.run('metadata-reads', () =>
    planMetadataReads(m, family, old, checks),
  );
  const warnings = [
    ...old.neutralised.map(
      (f) =>
        `removed the old allocator's initialisation inlined into ${m.label(f)}: it would set up a heap nobody uses`,
    ),
    ...old.rebuilt.map((r) => r.warning),
  ];
  return { family, members, old, growImport, reads, flow, warnings };
}

type StateOf = (family: Set<string>) => AllocatorState;

/** The old allocator's state for a given family, in the module as summarised. */
function stateFinder(m: ModuleContext, summaries: Map<string, FunctionSummary>): StateOf {
  const range = staticRange(m.input.layout);
  const userRoots = new Set(m.roots);
  return (family) => allocatorState({ summaries, family, roots: userRoots, staticRange: range });
}

/**
 * Step 'identify': options, glue, exports and names (find-allocator); fingerprints of known
 * allocators for stripped modules; wasm-bindgen's exports and wrappers (identify-more); then
 * call-graph analysis for what is left, with the static state the members found so far touch as
 * evidence. malloc and free (or Rust's alloc and dealloc) must be found (HA010).
 */
export function identify(
  m: ModuleContext,
  summaries: Map<string, FunctionSummary>,
  stateOf: StateOf,
  checks: Checks,
): Family {
  const { b, mod, input } = m;
  const names = m.names as string[];
  const hadNames = input.info.customSections.some((s) => s.name === 'name');
  const fingerprints = hadNames ? [] : matchFingerprints(b, mod, names, FINGERPRINTS, summaries);
  const found = findAllocator(b, mod, {
    alloc: input.options.alloc,
    glueExports: input.glue?.exports,
    fingerprints,
    importModule: input.importModule,
  });
  found.push(
    ...identifyMore(b, mod, summaries, found, names, stateOf, m.forwardedCallee, input.glue?.bindgen),
  );
  const foundSet = new Set(found.map((f) => f.func));
  const prelim = stateOf(foundSet);
  // Directly, or through a helper that is not itself a member (internal_memalign -> dispose_chunk).
  const touchesDirectly = (f: string): boolean => {
    const s = summaries.get(f);
    return !!s && touchesRegions(s, prelim.regions);
  };
  const touchesState = (f: string): boolean =>
    touchesDirectly(f) ||
    [...(summaries.get(f)?.calls ?? [])].some((c) => !foundSet.has(c) && touchesDirectly(c));
  const roles = new Map(found.map((f) => [f.func, f.role]));
  // Exported under a real name (minified glue exports are one or two characters): user API.
  const userExports = new Set(
    [...functionExports(b, mod)].filter(([name]) => name.length > 2).map(([, f]) => f),
  );
  const range = staticRange(input.layout);
  const allocatorWrites = staticWrites(prelim.exclusive, summaries);
  const writesOnlyAllocatorMemory = (f: string): boolean =>
    (summaries.get(f)?.constAccesses ?? []).every(
      (a) =>
        a.kind === 'read' ||
        a.address < range.low ||
        a.address >= range.high ||
        allocatorWrites.has(a.address) ||
        prelim.regions.some((r) => a.address >= r.start && a.address < r.end),
    );
  const analysed = identifyByAnalysis(
    b,
    mod,
    summaries,
    roles,
    m.is64,
    touchesState,
    userExports,
    writesOnlyAllocatorMemory,
  );
  const members = remapSpecialised(b, mod, summaries, found, m.is64).concat(
    analysed.map((a) => analysedMember(a.role, a.func, names.indexOf(a.func), { evidence: a.why })),
  );
  requireCore(members, hadNames, checks);
  const present = new Set(names);
  const initializers = [
    ...ALLOCATOR_INITIALIZERS,
    ...fingerprints.filter((f) => f.entry.role === 'initializer').map((f) => f.func),
  ].filter((f) => present.has(f));
  return { members, initializers };
}

/**
 * The constant addresses the functions of `fs` write (for the allocator's exclusive code: its
 * state, errno on failure…). A function of its own: its loop would make V8 optimise identify,
 * which runs once per module.
 */
function staticWrites(fs: Set<string>, summaries: Map<string, FunctionSummary>): Set<number> {
  const writes = new Set<number>();
  for (const f of fs)
    for (const a of summaries.get(f)?.constAccesses ?? []) if (a.kind !== 'read') writes.add(a.address);
  return writes;
}

/** malloc and free (or Rust's alloc and dealloc) must be found; without them nothing is safe. */
function requireCore(members: FoundMember[], hadNames: boolean, checks: Checks): void {
  const roles = new Set(members.map((f) => f.role));
  const missing: string[] = [];
  if (!roles.has('malloc') && !roles.has('rust_alloc')) missing.push('malloc');
  if (!roles.has('free') && !roles.has('rust_dealloc')) missing.push('free');
  if (missing.length === 0) return;
  const them = missing.length > 1 ? 'them' : 'it';
  const found = members.filter((f) => f.identifiedBy === 'name').map((f) => `${f.role} (${f.func})`);
  // With names kept and part of the family named, the missing member was not stripped: it was
  // inlined into its callers (an unexported malloc at -O2), and only exporting it keeps it whole.
  const advice =
    hadNames && found.length > 0
      ? `The module keeps its names and names ${found.join(', ')}, so ${missing.join(' and ')} ${missing.length > 1 ? 'were' : 'was'} most likely inlined into ${missing.length > 1 ? 'their' : 'its'} callers: export ${them} at link time so ${missing.length > 1 ? 'they stay functions' : 'it stays a function'} (emcc -sEXPORTED_FUNCTIONS=_malloc,_free; wasm-ld --export=malloc --export=free), or name ${them} with --alloc ${missing[0]}=EXPORT_OR_$FUNCTION`
      : `Name ${them} with --alloc ${missing[0]}=EXPORT_OR_$FUNCTION, pass the module's JS glue with --glue (Emscripten's, or wasm-bindgen's NAME_bg.js), or rebuild keeping the name section (emcc --profiling-funcs; clang and rustc keep it unless stripped)`;
  const reason = `could not find ${missing.join(' and ')}: no export, name-section entry or glue mapping names ${them}. ${advice}`;
  checks.refuse({
    code: ErrorCodes.ALLOCATOR_NOT_FOUND,
    message: reason,
    reason,
    details: { missing },
    step: 'identify',
  });
}

/**
 * Step 'old-state': the old allocator's state and exclusive code, for the family and its named
 * initialisers (what only they call is allocator code too: emmalloc's claim_more_memory behind
 * initialize_emmalloc_heap). Code that only sets up or pings that state is removed first
 * (emmalloc's set-up inlined into a constructor, Rust's dropped shim-flag reads), so that what only
 * it called no longer survives; the functions changed are summarised again and the state recomputed.
 */
export function oldState(
  m: ModuleContext,
  summaries: Map<string, FunctionSummary>,
  family: Family,
  stateOf: StateOf,
): OldState {
  const { b, mod } = m;
  const members = new Set(family.members.map((f) => f.func));
  const stateFamily = new Set([...members, ...family.initializers]);
  const first = stateOf(stateFamily);
  const neutralised = neutraliseInitializers(b, mod, summaries, first.regions, members, m.forwardedCallee);
  const pinged = removeDeadStateReads(
    b,
    mod,
    first.regions,
    m.input.layout.memory.initialPages * 65536,
    new Set(),
    summaries,
    m.dropsConstantLoads,
  );
  const rebuilt = rebuildFromSpecification(m, summaries, first.regions, family.members);
  const changed = new Set([...neutralised, ...pinged, ...rebuilt.map((r) => r.func)]);
  if (changed.size === 0) return { state: first, summaries, neutralised, rebuilt, changed };
  const after = new Map(summaries);
  for (const f of changed) after.set(f, summarizeOne(b, mod, f));
  if (rebuilt.some((r) => r.func in ALIGNED_NEW))
    after.set(ALIGNED_NEW_IMPORT, summarizeOne(b, mod, ALIGNED_NEW_IMPORT));
  const state = stateFinder(m, after)(stateFamily);
  return { state, summaries: after, neutralised, rebuilt, changed };
}

/**
 * Allocating libc helpers and C++'s aligned operator new with the old allocator inlined, rebuilt
 * from their specification on the family's malloc and host_aligned_alloc (their own passes say
 * when); the rest of the analysis then sees the new bodies.
 */
function rebuildFromSpecification(
  m: ModuleContext,
  summaries: Map<string, FunctionSummary>,
  regions: Region[],
  members: FoundMember[],
): { func: string; warning: string }[] {
  const { b, mod } = m;
  const family = new Set(members.map((f) => f.func));
  const malloc = members.find((f) => f.role === 'malloc' && !f.imported)?.func;
  const helpers = malloc
    ? rebuildLibcHelpers(b, mod, {
        summaries,
        regions,
        family,
        malloc,
        memory64: m.is64,
        memoryName: m.memory,
      })
    : [];
  const alignedNew = rebuildAlignedNew(b, mod, {
    summaries,
    regions,
    family,
    importModule: m.input.importModule,
    memory64: m.is64,
  });
  return [
    ...helpers.map((r) => ({
      func: r.func,
      warning: `rebuilt ${m.label(r.func)} from its specification (${r.helper}): the old allocator was inlined into it`,
    })),
    ...alignedNew.map((r) => ({
      func: r.func,
      warning: `rebuilt ${m.label(r.func)} from its specification on host_aligned_alloc: the old allocator was inlined into it`,
    })),
  ];
}

/**
 * Step 'metadata-reads': reads of the allocator's in-band metadata in surviving code, on the
 * input's pointer flow (the family allocates). The idioms the host can answer are planned for a
 * rewrite; the rest, and code the flow cannot analyse, is refused (HA024).
 */
export function planMetadataReads(
  m: ModuleContext,
  family: Family,
  old: OldState,
  checks: Checks,
): MetadataReads {
  const { b, mod, input, names } = m;
  const familyIndices = new Set(family.members.map((f) => f.index));
  // A rebuilt function's old body is still in the input bytes the flow reads: it no longer exists.
  const rebuilt = new Set(old.rebuilt.map((r) => r.func));
  const survives = (i: number): boolean =>
    old.state.survivors.has(names[i] ?? '') && !rebuilt.has(names[i] ?? '');
  const flows = pointerFlow(input.bytes, input.info, {
    allocating: (i) => familyIndices.has(i),
    stackPointer: input.layout.stackPointer?.global ?? null,
    skip: (i) => !survives(i),
  });
  const found = metadataReads({
    flows,
    entryPoints: entryPointIndices(input.info),
    pointerBytes: m.pointerBytes,
    ignore: (i) => !survives(i),
  });
  const zeroes = (s: FunctionSummary): boolean =>
    s.memoryFill ||
    [...s.calls].some((c) => old.summaries.get(c)?.memoryFill || isMemsetShaped(b, mod, c, m.is64));
  const probes = new Map<string, NegativeProbe[]>();
  const plan = planHeaderReads({
    reads: found.reads,
    summaries: old.summaries,
    probesOf: (f) => {
      if (!probes.has(f)) probes.set(f, headerProbes(b, mod, f));
      return probes.get(f)!;
    },
    names: names as string[],
    pointerBytes: m.pointerBytes,
    zeroes,
  });
  const unreadable = found.opaque.map((o) => `${m.label(names[o.func] ?? '')} (${o.why})`);
  if (plan.refused.length > 0 || unreadable.length > 0) {
    const what = [
      ...plan.refused.map(describeRefusedRead),
      ...unreadable.map((u) => `${u}: its code could not be analysed for such reads`),
    ];
    const reason =
      `surviving code reads the old allocator's in-band metadata (the chunk header below a block), which host blocks do not have: ${what.join('; ')}. ` +
      'Rebuild without inlining the allocator into that code, or name the function with --alloc if it is an allocator member';
    checks.refuse({
      code: ErrorCodes.METADATA_READ,
      message: `refusing: ${reason}`,
      reason,
      details: { functions: [...new Set(plan.refused.map((r) => m.label(r.func)))] },
      step: 'metadata-reads',
    });
  }
  return { plan, flows, interpreted: survives };
}
