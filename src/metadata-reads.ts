/**
 * @fileoverview metadata-reads: which loads read the old allocator's in-band metadata, the bytes just
 * below a block it handed out? dlmalloc keeps a chunk's size and in-use bits at p-4 (prev_foot at
 * p-8); code that reads them (malloc_usable_size, calloc's "fresh memory?" test, inlined or not)
 * reads a neighbour's bytes once the host owns the heap, because host blocks have no header.
 *
 * Two kinds of evidence, on the pointer flow of src/wasm/pointer-flow.ts:
 *
 * - allocation: the pointer may come from an allocating call (in the same function, through
 *   parameters whose callers pass allocation results, or through functions that return them), and
 *   the load reads the header word below it (p-4 or p-8 on wasm32) and masks it like the allocator
 *   does (every dlmalloc and emmalloc idiom masks the head: flags, or the size without them). Offsets are tracked, so a wrapper that stores its own prefix and hands
 *   out `p + 8` reads `(p + 8) - 8`, inside the block, and is not reported.
 * - pattern: the pointer's origin is unknown (loaded from memory, a global, an export's
 *   parameter), and the load has the shape of a header read: at p-4 or p-8 (wasm32; p-8, p-16 on
 *   memory64) with its value masked by the allocator's flag or size masks (& 3, & -8 …). A user
 *   prefix read of a pointer of unknown origin is not masked like that.
 *
 * transform runs this before the rewrite (allocating = the family) to rewrite or refuse, and verify
 * runs it on converted modules (allocating = the host imports), so verify reports what transform
 * would refuse.
 */

import { closure } from './graph.js';
import { findStackPointer } from './layout.js';
import {
  ALLOC,
  type AtomSet,
  anyCode,
  atomCode,
  CALL,
  type CallSite,
  type FunctionFlow,
  isAny,
  isCanonicalSet,
  joinAtoms,
  kindOf,
  type LoadSite,
  numberOf,
  PARAM,
  pointerFlow,
  UNKNOWN_KIND,
} from './wasm/pointer-flow.js';
import { functionLabel, type ModuleInfo } from './wasm/reader.js';

/** Masks that only make sense on an allocator header: in-use and mmap flags, size without flags. */
const HEADER_MASKS = new Set([1, 2, 3, 4, 7, -2, -4, -8, -16]);

export interface MetadataRead {
  /** Function index (imports included). */
  func: number;
  /** Position of the load in the module. */
  at: number;
  /** Offset below the allocation (negative). */
  delta: number;
  bytes: number;
  masks: number[];
  otherUse: boolean;
  /** Index among the function's `local ± k` loads (binaryen's negativeProbes), when it is one. */
  probeIndex?: number;
  evidence: 'allocation' | 'pattern';
  /** Where the pointer comes from, in words. */
  via: string;
}

export interface MetadataReadInput {
  flows: FunctionFlow[];
  /** Functions whose callers are unknown (exports, table entries, start): their parameters are unknown. */
  entryPoints: Set<number>;
  /** Pointer size in bytes (4, or 8 for memory64). */
  pointerBytes: number;
  /** Functions whose reads do not matter (the allocator's own code, removed by the rewrite). */
  ignore?: (index: number) => boolean;
}

export interface MetadataReadResult {
  reads: MetadataRead[];
  /** Functions the interpreter could not follow, with why. */
  opaque: { func: number; why: string }[];
}

const MAX_ROUNDS = 40;

/**
 * The atoms moved by `by` bytes (null: to any offset), in the same order, not normalized. An atom
 * at any offset stays there.
 */
function shiftAtoms(atoms: AtomSet, by: number | null): AtomSet {
  const out: AtomSet = [];
  for (let i = 0; i < atoms.length; i += 2) {
    const c = atoms[i]!;
    if (isAny(c) || by === null) out.push(anyCode(c), 0);
    else out.push(c, atoms[i + 1]! + by);
  }
  return out;
}

function same(a: AtomSet, b: AtomSet): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const UNKNOWN: AtomSet = [atomCode(UNKNOWN_KIND, 0), 0];
/** The code of an allocation at an exact offset. */
const ALLOC_EXACT = atomCode(ALLOC, 0);

const NO_INDICES: number[] = [];
const NO_PARAMS = new Uint8Array(0);

/** The empty set, shared (atom arrays are never changed in place). */
const NO_ATOMS: AtomSet = [];

/**
 * A table by function index (or call slot) of n entries, each `fill`, to be filled out of order:
 * sized up front (a growing array would turn into a dictionary) and built by pushing, so it is
 * packed and keeps its elements kind when filled (`new Array(n)` is holey, and changes kind with
 * its first object), one array map for every table.
 */
function table<T>(n: number, fill: T): T[] {
  const t: T[] = [];
  for (let i = 0; i < n; i++) t.push(fill);
  return t;
}

/** True when `atoms` holds an atom of kind `kind`. */
function hasKind(atoms: AtomSet, kind: number): boolean {
  for (let i = 0; i < atoms.length; i += 2) if (kindOf(atoms[i]!) === kind) return true;
  return false;
}

/**
 * Interprocedural resolution, context-sensitive for what functions return:
 *
 * - Each function gets a summary of what it returns in terms of its own parameters (memset and
 *   memcpy return their first argument, a wrapper returns `malloc(n) + 8`). A call's result is the
 *   callee's summary with the call's own arguments put in, so `memset(p + 8, …)` returns p + 8 at
 *   that call and not every pointer any caller passed to memset.
 * - Each parameter then gets the join of what every call site passes (unknown for entry points).
 *
 * Tables are arrays by function index (imports are holes). Atoms are written a, u, p<j>, c<s> below:
 * kinds ALLOC, UNKNOWN_KIND, PARAM numbered j, CALL numbered s (see src/wasm/pointer-flow.ts).
 */
class Resolver {
  /** Each function's flow (the last one given for an index), for its call sites. */
  private readonly flowOf: (FunctionFlow | undefined)[];
  /** Each function's call sites by position, made when first asked. */
  private readonly calls: (Map<number, CallSite> | undefined)[];
  /** What each function returns, over atoms a, u and p<j> (its own parameters). */
  private readonly summaries: (AtomSet | undefined)[];
  /** What each parameter may hold, over atoms a and u. */
  private readonly params: (AtomSet[] | undefined)[];
  /** Symbolic result of each call site (offset 0), by function, then position; valid while summaries are. */
  private readonly callResults: (Map<number, AtomSet> | undefined)[];

  /**
   * `wanted`: the atoms that will be resolved, by function (all of every function when absent).
   * Only what those depend on is settled. Summaries: those of the functions that the wanted
   * functions and their callers, transitively, call, transitively. Parameters: those the wanted
   * atoms may name, and those the arguments passed to them may name, transitively (see
   * neededParams). Both sets are closed under what they depend on, so their rounds run exactly as
   * over the whole module.
   */
  constructor(flows: FunctionFlow[], entryPoints: Set<number>, wanted?: Map<number, AtomSet>) {
    // The loops over the module's functions are functions of their own: V8 then optimises those,
    // not this constructor, which runs once per module.
    const size = indexBound(flows);
    this.flowOf = table(size, undefined);
    this.calls = table(size, undefined);
    this.summaries = table(size, undefined);
    this.params = table(size, undefined);
    this.callResults = table(size, undefined);
    this.initialise(flows, entryPoints);
    if (wanted === undefined) {
      this.settleSummaries(flows);
      this.settleParams(flows, null, null);
      return;
    }
    const { params, summaries } = dependencies(flows, new Set(wanted.keys()));
    this.settleSummaries(flows.filter((f) => summaries.has(f.index)));
    this.settleParams(flows, marks(flows, params, size), this.neededParams(flows, wanted), wanted.keys());
  }

  /**
   * Each function's flow, and its summary and parameters before the rounds: nothing, or unknown
   * for an opaque function and for the parameters of functions called from outside (entry points,
   * reference targets, or all when any flow is opaque).
   */
  private initialise(flows: FunctionFlow[], entryPoints: Set<number>): void {
    for (const f of flows) this.flowOf[f.index] = f;
    const anyOpaque = flows.some((f) => f.opaque);
    const refTargets = new Set<number>();
    for (const f of flows) for (const r of f.refFuncs) refTargets.add(r);
    for (const f of flows) {
      this.summaries[f.index] = f.opaque ? UNKNOWN : NO_ATOMS;
      const outside = entryPoints.has(f.index) || refTargets.has(f.index) || anyOpaque;
      const params: AtomSet[] = [];
      for (let i = 0; i < f.params; i++) params.push(outside ? UNKNOWN : NO_ATOMS);
      this.params[f.index] = params;
    }
  }

  /**
   * The parameters resolving `wanted` may read, by function (1: needed): those named by the
   * wanted atoms once call results are put in, and, for each of those, the parameters named by
   * what its call sites pass, transitively. A parameter's value is the join of those arguments,
   * which read only their callers' parameters they name, so the set is closed under what it
   * depends on. The names are found by following call results through the callees' settled
   * summaries without joining (a join may only drop names), and without the call-result memo, so
   * resolution later computes it in the same order as without this.
   */
  private neededParams(flows: FunctionFlow[], wanted: Map<number, AtomSet>): (Uint8Array | undefined)[] {
    const needed: (Uint8Array | undefined)[] = table(this.params.length, undefined);
    const stack: number[] = []; // function, parameter, function, parameter, ...
    const names = new Set<number>();
    for (const [f, atoms] of wanted) {
      names.clear();
      this.paramNames(atoms, f, names);
      for (const j of names) this.need(needed, stack, f, j);
    }
    const sitesTo = callSitesTo(flows, this.params.length);
    while (stack.length > 0) {
      const j = stack.pop()!;
      const f = stack.pop()!;
      const sites = sitesTo[f];
      if (sites === undefined) continue;
      for (const { caller, call } of sites) {
        const arg = call.args[j];
        if (arg === undefined) continue;
        names.clear();
        this.paramNames(arg, caller, names);
        for (const k of names) this.need(needed, stack, caller, k);
      }
    }
    return needed;
  }

  /** Marks parameter j of f needed (neededParams), and pushes it on `stack` when it was not. */
  private need(needed: (Uint8Array | undefined)[], stack: number[], f: number, j: number): void {
    const params = this.params[f];
    if (params === undefined || j >= params.length) return; // read as unknown
    let marks = needed[f];
    if (marks === undefined) {
      marks = new Uint8Array(params.length);
      needed[f] = marks;
    }
    if (marks[j] === 1) return;
    marks[j] = 1;
    stack.push(f, j);
  }

  /**
   * Adds to `out` every parameter of `f` that symbolic(atoms, f) may name: those in `atoms`, and
   * for each call result, those the call's arguments name where the callee's summary names its
   * parameter (followed with a work list: chains of calls can be long).
   */
  private paramNames(atoms: AtomSet, f: number, out: Set<number>): void {
    /** Call sites and arguments already followed, as position * 65536 + argument. */
    const seen = new Set<number>();
    const work: AtomSet[] = [atoms];
    while (work.length > 0) {
      const set = work.pop()!;
      for (let i = 0; i < set.length; i += 2) {
        const kind = kindOf(set[i]!);
        if (kind === PARAM) out.add(numberOf(set[i]!));
        else if (kind === CALL) {
          const at = numberOf(set[i]!);
          const site = this.callSites(f)?.get(at);
          const summary = site ? this.summaries[site.target] : undefined;
          if (!site || !summary) continue;
          for (let j = 0; j < summary.length; j += 2) {
            if (kindOf(summary[j]!) !== PARAM) continue;
            const k = numberOf(summary[j]!);
            const arg = site.args[k];
            const key = at * 65536 + k;
            if (arg === undefined || seen.has(key)) continue;
            seen.add(key);
            work.push(arg);
          }
        }
      }
    }
  }

  /** `atoms` of function `f`, with call results replaced by the callees' summaries: over a, u, p<j>. */
  symbolic(atoms: AtomSet, f: number, depth = 0): AtomSet {
    // Without call results, joining the atoms one by one gives a canonical set back.
    if (!hasKind(atoms, CALL) && isCanonicalSet(atoms)) return atoms;
    let out: AtomSet = [];
    for (let i = 0; i < atoms.length; i += 2) {
      const c = atoms[i]!;
      if (kindOf(c) !== CALL) {
        out = joinAtoms(out, [c, atoms[i + 1]!]);
        continue;
      }
      out = joinAtoms(
        out,
        shiftAtoms(this.callResult(f, numberOf(c), depth), isAny(c) ? null : atoms[i + 1]!),
      );
    }
    return out;
  }

  /** The symbolic result of the call at position `at` in function `f`, memoised. */
  private callResult(f: number, at: number, depth: number): AtomSet {
    let results = this.callResults[f];
    if (results === undefined) {
      results = new Map();
      this.callResults[f] = results;
    }
    const known = results.get(at);
    if (known) return known;
    const site = this.callSites(f)?.get(at);
    const summary = site ? this.summaries[site.target] : undefined;
    let out: AtomSet = [];
    if (!site || !summary || depth > 64) out = UNKNOWN;
    else {
      for (let j = 0; j < summary.length; j += 2) {
        const c = summary[j]!;
        if (kindOf(c) !== PARAM) out = joinAtoms(out, [c, summary[j + 1]!]);
        else {
          const arg = site.args[numberOf(c)] ?? UNKNOWN;
          out = joinAtoms(
            out,
            this.symbolic(shiftAtoms(arg, isAny(c) ? null : summary[j + 1]!), f, depth + 1),
          );
        }
      }
    }
    results.set(at, out);
    return out;
  }

  /** The call sites of function `f` by position (undefined for a function without a flow). */
  private callSites(f: number): Map<number, CallSite> | undefined {
    let sites = this.calls[f];
    if (sites === undefined) {
      const flow = this.flowOf[f];
      if (flow === undefined) return undefined;
      sites = new Map();
      for (const c of flow.calls) sites.set(c.at, c);
      this.calls[f] = sites;
    }
    return sites;
  }

  /** `atoms` of function `f` in concrete terms: a and u only. */
  concrete(atoms: AtomSet, f: number): AtomSet {
    return this.substitute(this.symbolic(atoms, f), f);
  }

  /** Symbolic atoms of function `f` (over a, u, p<j>) with its parameters put in. */
  private substitute(symbolic: AtomSet, f: number): AtomSet {
    // Without parameters, joining the atoms one by one gives a canonical set back.
    if (!hasKind(symbolic, PARAM) && isCanonicalSet(symbolic)) return symbolic;
    let out: AtomSet = [];
    for (let i = 0; i < symbolic.length; i += 2) {
      const c = symbolic[i]!;
      if (kindOf(c) !== PARAM) out = joinAtoms(out, [c, symbolic[i + 1]!]);
      else {
        const v = this.params[f]?.[numberOf(c)] ?? UNKNOWN;
        out = joinAtoms(out, shiftAtoms(v, isAny(c) ? null : symbolic[i + 1]!));
      }
    }
    return out;
  }

  /**
   * Settles parameters: those `needed` marks (all when null; closed under what they depend on).
   * `visited`: the functions whose parameters the rounds would settle without `needed` (closed
   * under callers); the symbolic forms of the arguments passed to them are made first, in the
   * order the first round would make them, for every caller whose call-result memo is read later
   * (its arguments are joined, or its loads resolved: `wanted`), so those memos (whose depth
   * cut-off makes them depend on the order they are filled in) end up as without `needed`.
   *
   * What a call passes, in concrete terms, depends only on its caller's parameters (the summaries
   * are final here, and so is each argument's symbolic form): kept per call site and argument
   * (a slot) with the version of the caller's parameters it was computed for, so each round
   * recomputes only the calls of functions whose parameters changed. A join whose two operands
   * are the very arrays of a join that changed nothing is not redone, and a call all of whose
   * joins were such, with neither its caller's nor its target's parameters changed since, is
   * passed over whole. The rounds, their order and their joins are the same as without these
   * caches.
   *
   * Three steps, one function each (each a long loop, run once per module: V8 compiles such a
   * loop while it runs, and what follows it, not run yet, would send that code back).
   */
  private settleParams(
    flows: FunctionFlow[],
    visited: Uint8Array | null,
    needed: (Uint8Array | undefined)[] | null,
    wanted?: Iterable<number>,
  ): void {
    const edges = this.paramEdges(flows, visited, needed);
    const slotSymbolic = this.argumentForms(edges, needed, wanted);
    this.paramRounds(edges, slotSymbolic);
  }

  /** The calls settleParams' rounds visit, in order, each with its first slot. */
  private paramEdges(
    flows: FunctionFlow[],
    visited: Uint8Array | null,
    needed: (Uint8Array | undefined)[] | null,
  ): ParamEdges {
    const edges: ParamEdges = { caller: [], call: [], target: [], slot: [], args: [], needed: [], slots: 0 };
    // The calls of a flow met twice share their slots: keyed by the flow's list of calls.
    const slotOf = new Map<CallSite[], number>();
    let slots = 0;
    for (const f of flows) {
      if (f.opaque) continue;
      let slot = slotOf.get(f.calls);
      if (slot === undefined) {
        slot = slots;
        for (const call of f.calls) slots += call.args.length;
        slotOf.set(f.calls, slot);
      }
      for (const call of f.calls) {
        const first = slot;
        slot += call.args.length;
        if (visited !== null && visited[call.target] !== 1) continue;
        const target = this.params[call.target];
        if (!target) continue; // an import
        edges.caller.push(f.index);
        edges.call.push(call);
        edges.target.push(target);
        edges.slot.push(first);
        edges.args.push(Math.min(call.args.length, target.length));
        edges.needed.push(needed === null ? null : (needed[call.target] ?? NO_PARAMS));
      }
    }
    edges.slots = slots;
    return edges;
  }

  /**
   * Each slot's argument over a, u and p<j> (final once computed, as the summaries are), made in
   * the order the first round would make them; null for a slot that is never read.
   */
  private argumentForms(
    edges: ParamEdges,
    needed: (Uint8Array | undefined)[] | null,
    wanted: Iterable<number> | undefined,
  ): (AtomSet | null)[] {
    const slotSymbolic: (AtomSet | null)[] = table(edges.slots, null);
    // A function's call-result memo is read only by symbolic over its own atoms: those of the
    // callers whose arguments the rounds join, or whose loads are resolved (`wanted`), are made
    // in the order the first round would make them; the others are never read.
    let warm: Uint8Array | null = null;
    if (needed !== null) {
      warm = new Uint8Array(this.params.length);
      for (const f of wanted ?? []) warm[f] = 1;
      for (let e = 0; e < edges.call.length; e++) {
        const marks = edges.needed[e]!;
        for (let i = 0; i < edges.args[e]!; i++) if (marks[i] === 1) warm[edges.caller[e]!] = 1;
      }
    }
    for (let e = 0; e < edges.call.length; e++) {
      if (warm !== null && warm[edges.caller[e]!] !== 1) continue;
      const call = edges.call[e]!;
      for (let i = 0, s = edges.slot[e]!; i < edges.args[e]!; i++, s++)
        slotSymbolic[s] ??= this.symbolic(call.args[i]!, edges.caller[e]!);
    }
    return slotSymbolic;
  }

  /** settleParams' rounds, over its edges and their slots' symbolic arguments. */
  private paramRounds(edges: ParamEdges, slotSymbolic: (AtomSet | null)[]): void {
    const { caller: edgeCaller, call: edgeCall, target: edgeTarget, slot: edgeSlot } = edges;
    const { args: edgeArgs, needed: edgeNeeded, slots } = edges;
    /** Version of each function's parameters: bumped whenever one of them changes. */
    const version = new Float64Array(this.params.length);
    /** The call's last visit changed nothing: with these versions of its caller's and target's parameters. */
    const edgeQuiet = new Uint8Array(edgeCall.length);
    const edgeCallerVersion = new Float64Array(edgeCall.length);
    const edgeTargetVersion = new Float64Array(edgeCall.length);
    /** Version of the caller's parameters the slot's argument was computed for (-1: not yet). */
    const slotVersion = new Float64Array(slots).fill(-1);
    /** The argument in concrete terms. */
    const slotArg: AtomSet[] = table(slots, NO_ATOMS);
    /** The last operands joined into the parameter without changing it. */
    const slotLastTarget: (AtomSet | null)[] = table(slots, null);
    const slotLastArg: (AtomSet | null)[] = table(slots, null);
    for (let round = 0; ; round++) {
      let changed = false;
      for (let e = 0; e < edgeCall.length; e++) {
        const caller = edgeCaller[e]!;
        const call = edgeCall[e]!;
        if (
          edgeQuiet[e] === 1 &&
          edgeCallerVersion[e] === version[caller]! &&
          edgeTargetVersion[e] === version[call.target]!
        )
          continue;
        const target = edgeTarget[e]!;
        const n = edgeArgs[e]!;
        const wanted = edgeNeeded[e]!;
        let quiet = 1;
        for (let i = 0, s = edgeSlot[e]!; i < n; i++, s++) {
          if (wanted !== null && wanted[i] !== 1) continue;
          // A recursive call may change the caller's own parameters between two arguments.
          const v = version[caller]!;
          if (slotVersion[s] !== v) {
            const arg = this.substitute(slotSymbolic[s]!, caller);
            // Same content: keep the array the last joins were made with.
            if (slotVersion[s] === -1 || !same(arg, slotArg[s]!)) slotArg[s] = arg;
            slotVersion[s] = v;
          }
          const t = target[i]!;
          const arg = slotArg[s]!;
          if (slotLastTarget[s] === t && slotLastArg[s] === arg) continue;
          const next = joinAtoms(t, arg);
          if (!same(next, t)) {
            target[i] = round >= MAX_ROUNDS ? shiftAtoms(next, null) : next;
            version[call.target]!++;
            changed = true;
            quiet = 0;
          } else {
            slotLastTarget[s] = t;
            slotLastArg[s] = arg;
          }
        }
        edgeQuiet[e] = quiet;
        edgeCallerVersion[e] = version[caller]!;
        edgeTargetVersion[e] = version[call.target]!;
      }
      if (!changed || round > MAX_ROUNDS + 2) return;
    }
  }

  /** Settles the summaries of `flows` (closed under callees). */
  private settleSummaries(flows: FunctionFlow[]): void {
    // A function's symbolic returns depend only on the summaries of the functions it calls (and
    // its call results, memoised, only on those too). Joining the same atoms into a summary again
    // changes nothing (a join of canonical sets is idempotent), so a function none of whose callees'
    // summaries changed since its last visit is passed over, and keeps its memoised call results;
    // the rounds and their joins are the same as when every function is visited every round. From
    // round MAX_ROUNDS on, summaries are widened to sets that are not canonical: every function is
    // visited again.
    /** 1: to visit (never visited, or a callee's summary changed since its last visit). */
    const stale = new Uint8Array(this.params.length).fill(1);
    const callersOf = this.summaryReaders(flows);
    for (let round = 0; ; round++) {
      let changed = false;
      for (let k = 0; k < flows.length; k++) {
        const f = flows[k]!;
        if (f.opaque) continue;
        if (stale[f.index] === 0 && round < MAX_ROUNDS) continue;
        stale[f.index] = 0;
        this.callResults[f.index] = undefined; // summaries changed since they were made
        const old = this.summaries[f.index]!;
        const next = joinAtoms(old, this.symbolic(f.returns, f.index));
        if (!same(next, old)) {
          this.summaries[f.index] = round >= MAX_ROUNDS ? shiftAtoms(next, null) : next;
          for (const h of callersOf[f.index] ?? NO_INDICES) stale[h] = 1;
          changed = true;
        }
      }
      if (!changed || round > MAX_ROUNDS + 2) return;
    }
  }

  /**
   * By function index: the functions of `flows` whose memoised call results read its summary,
   * those whose flow (the one callSites reads) has a call site with it as target.
   */
  private summaryReaders(flows: FunctionFlow[]): (number[] | undefined)[] {
    const callersOf: (number[] | undefined)[] = table(this.params.length, undefined);
    for (const f of flows)
      for (const c of (this.flowOf[f.index] ?? f).calls) {
        const list = callersOf[c.target];
        if (list === undefined) callersOf[c.target] = [f.index];
        else if (list[list.length - 1] !== f.index) list.push(f.index);
      }
    return callersOf;
  }
}

/** The calls settleParams visits, as parallel lists (one entry per call). */
interface ParamEdges {
  /** The calling function. */
  caller: number[];
  call: CallSite[];
  /** The target's parameters (the resolver's own list, which the rounds update). */
  target: AtomSet[][];
  /** The call's first slot: argument i is in slot + i. */
  slot: number[];
  /** Arguments the call passes to parameters its target has. */
  args: number[];
  /** Which of them the rounds join (null: all). */
  needed: (Uint8Array | null)[];
  /** Slots in all. */
  slots: number;
}

/** A call site passing arguments to a function: the calling function and the call. */
interface SiteTo {
  caller: number;
  call: CallSite;
}

/** By function index (below `size`): the call sites of `flows` that call it (opaque flows' calls are never followed). */
function callSitesTo(flows: FunctionFlow[], size: number): (SiteTo[] | undefined)[] {
  const sitesTo: (SiteTo[] | undefined)[] = table(size, undefined);
  for (const g of flows) {
    if (g.opaque) continue;
    for (const call of g.calls) {
      const sites = sitesTo[call.target];
      if (sites === undefined) sitesTo[call.target] = [{ caller: g.index, call }];
      else sites.push({ caller: g.index, call });
    }
  }
  return sitesTo;
}

/** By function index (below `size`): 1 for the functions of `flows` in `set`. */
function marks(flows: FunctionFlow[], set: Set<number>, size: number): Uint8Array {
  const marked = new Uint8Array(size);
  for (const f of flows) if (set.has(f.index)) marked[f.index] = 1;
  return marked;
}

/** One more than the largest function index `flows` mention (their own and their calls' targets). */
function indexBound(flows: FunctionFlow[]): number {
  let n = 0;
  for (const f of flows) {
    if (f.index >= n) n = f.index + 1;
    for (const c of f.calls) if (c.target >= n) n = c.target + 1;
  }
  return n;
}

/**
 * What resolving the atoms of the `wanted` functions depends on: the parameters of those functions
 * and of every function that calls one of them, transitively (`params`), and the summaries of every
 * function those call, transitively (`summaries`).
 */
function dependencies(
  flows: FunctionFlow[],
  wanted: Set<number>,
): { params: Set<number>; summaries: Set<number> } {
  // The loops over the module's calls are functions of their own: V8 then optimises those, not
  // this function, which runs once per module.
  const size = indexBound(flows);
  const callers = callerLists(flows, size);
  const callees = calleeLists(flows, size);
  const params = closure(wanted, (i) => callers[i] ?? NO_INDICES);
  const summaries = closure(params, (i) => callees[i] ?? NO_INDICES);
  return { params, summaries };
}

/** By function index (below `size`): the targets of its calls, in the last flow given for it. */
function calleeLists(flows: FunctionFlow[], size: number): (number[] | undefined)[] {
  const callees: (number[] | undefined)[] = table(size, undefined);
  for (const f of flows) {
    const targets: number[] = [];
    for (const c of f.calls) targets.push(c.target);
    callees[f.index] = targets;
  }
  return callees;
}

/** By function index (below `size`): the functions whose calls to it are followed (not opaque), once per call. */
function callerLists(flows: FunctionFlow[], size: number): (number[] | undefined)[] {
  const callers: (number[] | undefined)[] = table(size, undefined);
  for (const f of flows) {
    if (f.opaque) continue; // its calls are never followed
    for (const c of f.calls) {
      const list = callers[c.target];
      if (list === undefined) callers[c.target] = [f.index];
      else list.push(f.index);
    }
  }
  return callers;
}

/** One of the masks is an allocator header's. */
function headerMasked(masks: number[]): boolean {
  for (let i = 0; i < masks.length; i++) if (HEADER_MASKS.has(masks[i]!)) return true;
  return false;
}

/** Classifies every recorded load of `input.flows`. */
export function metadataReads(input: MetadataReadInput): MetadataReadResult {
  // Each loop over the module's functions or loads is a function of its own: V8 then optimises
  // those, not this driver, which runs once per module.
  const { classified, opaque } = partitionFlows(input.flows, input.ignore);
  const resolver = new Resolver(input.flows, input.entryPoints, wantedAtoms(classified));
  const headerDeltas = new Set([-input.pointerBytes, -2 * input.pointerBytes]);
  return { reads: headerReads(classified, resolver, headerDeltas), opaque };
}

/** The flows whose loads are classified, and those that could not be: `ignore` asked once each. */
function partitionFlows(
  flows: FunctionFlow[],
  ignore: ((index: number) => boolean) | undefined,
): { classified: FunctionFlow[]; opaque: MetadataReadResult['opaque'] } {
  const classified: FunctionFlow[] = [];
  const opaque: MetadataReadResult['opaque'] = [];
  for (const f of flows) {
    if (ignore?.(f.index)) continue;
    if (f.opaque) opaque.push({ func: f.index, why: f.why ?? '' });
    else classified.push(f);
  }
  return { classified, opaque };
}

/**
 * By function: the atoms (those with an offset) of its masked loads, the only ones that can be
 * header reads (headerRead) and so the only ones resolved.
 */
function wantedAtoms(classified: FunctionFlow[]): Map<number, AtomSet> {
  const wanted = new Map<number, AtomSet>();
  for (const f of classified) {
    let atoms: AtomSet | undefined;
    for (const l of f.loads) {
      if (!headerMasked(l.masks)) continue;
      atoms ??= [];
      for (let i = 0; i < l.atoms.length; i += 2)
        if (!isAny(l.atoms[i]!)) atoms.push(l.atoms[i]!, l.atoms[i + 1]!);
    }
    if (atoms !== undefined) wanted.set(f.index, atoms);
  }
  return wanted;
}

/** The header reads among the loads of `classified`, in order. */
function headerReads(
  classified: FunctionFlow[],
  resolver: Resolver,
  headerDeltas: Set<number>,
): MetadataRead[] {
  const reads: MetadataRead[] = [];
  for (const f of classified) {
    for (const site of f.loads) {
      // Every allocator idiom that reads a header masks it (flags, or the size without them); an
      // unmasked word below a pointer is a user's own prefix, C++'s base-class adjustment or an
      // array cookie, which a may-alias join would otherwise make look like a header read.
      if (!headerMasked(site.masks)) continue;
      const found = headerRead(f.index, site, resolver, headerDeltas);
      if (found) reads.push(found);
    }
  }
  return reads;
}

/** The masked load `site` of function `f` as a header read, if it is one. */
function headerRead(
  f: number,
  site: LoadSite,
  resolver: Resolver,
  headerDeltas: Set<number>,
): MetadataRead | undefined {
  let found: MetadataRead | undefined;
  const atoms = site.atoms;
  const read = (delta: number, evidence: MetadataRead['evidence'], via: string): MetadataRead => ({
    func: f,
    at: site.at,
    delta,
    bytes: site.bytes,
    masks: site.masks,
    otherUse: site.otherUse,
    evidence,
    via,
  });
  for (let i = 0; i < atoms.length && !found; i += 2) {
    const code = atoms[i]!;
    if (isAny(code)) continue;
    const concrete = resolver.concrete([code, atoms[i + 1]!], f);
    for (let j = 0; j < concrete.length; j += 2) {
      const c = concrete[j]!;
      const delta = concrete[j + 1]!;
      if (c !== ALLOC_EXACT || !headerDeltas.has(delta)) continue;
      found = read(delta, 'allocation', describe(code));
      break;
    }
  }
  // Else the first atom at a header offset whose base may be unknown.
  for (let i = 0; i < atoms.length && !found; i += 2) {
    const code = atoms[i]!;
    const delta = atoms[i + 1]!;
    if (isAny(code) || !headerDeltas.has(delta)) continue;
    if (!hasKind(resolver.concrete([code, 0], f), UNKNOWN_KIND)) continue;
    found = read(
      delta,
      'pattern',
      `${origin(code)}, masked like an allocator header (& ${site.masks.join(', & ')})`,
    );
  }
  if (found && site.probeIndex !== undefined) found.probeIndex = site.probeIndex;
  return found;
}

function origin(code: number): string {
  const kind = kindOf(code);
  if (kind === UNKNOWN_KIND) return 'a pointer of unknown origin (loaded from memory, a global or an import)';
  if (kind === PARAM) return `parameter ${numberOf(code)} (its callers are not all known)`;
  return 'the result of a call';
}

function describe(code: number): string {
  const kind = kindOf(code);
  if (kind === ALLOC) return 'a pointer an allocation call returned';
  if (kind === UNKNOWN_KIND) return 'a pointer';
  if (kind === PARAM) return `parameter ${numberOf(code)}, which callers pass allocations to`;
  return 'the result of a call that returns an allocation';
}

/** The host imports whose results are fresh blocks. */
export const ALLOCATING_IMPORTS: ReadonlySet<string> = new Set([
  'host_malloc',
  'host_calloc',
  'host_realloc',
  'host_aligned_alloc',
]);

/** The function indices of the module's allocating `host_*` imports ({@link ALLOCATING_IMPORTS}). */
export function allocatingImports(info: ModuleInfo): Set<number> {
  const allocating = new Set<number>();
  for (const i of info.imports)
    if (i.kind === 'function' && ALLOCATING_IMPORTS.has(i.name)) allocating.add(i.index);
  return allocating;
}

/** Pointer flow of a converted module: its `host_*` imports allocate. `skip`ped functions get an empty flow. */
export function convertedFlows(
  bytes: Uint8Array,
  info: ModuleInfo,
  skip?: (index: number) => boolean,
): FunctionFlow[] {
  const allocating = allocatingImports(info);
  return pointerFlow(bytes, info, {
    allocating: (i) => allocating.has(i),
    stackPointer: findStackPointer(info)?.global ?? null,
    ...(skip ? { skip } : {}),
  });
}

/**
 * The metadata reads left in a converted module, one line each ("$label reads p-4 of …"); verify
 * reports them and transform refuses its own output when any is left. Functions the interpreter
 * cannot follow are listed too.
 */
export function convertedMetadataReads(info: ModuleInfo, flows: FunctionFlow[]): string[] {
  const is64 = info.memories[0]?.limits.is64 ?? false;
  const entryPoints = new Set<number>(info.elemFunctions);
  for (const e of info.exports) if (e.kind === 'function') entryPoints.add(e.index);
  if (info.start !== null) entryPoints.add(info.start);
  const found = metadataReads({ flows, entryPoints, pointerBytes: is64 ? 8 : 4 });
  const lines: string[] = [];
  for (const r of found.reads) {
    const masks = r.masks.length ? `, masked & ${r.masks.join(', & ')}` : '';
    lines.push(`${functionLabel(info, r.func)} reads p${r.delta} (${r.bytes} bytes${masks}) of ${r.via}`);
  }
  for (const o of found.opaque) lines.push(`${functionLabel(info, o.func)} could not be analysed (${o.why})`);
  return lines;
}
