/**
 * @fileoverview Step 'output-gate': the converted module must pass the metadata-read check verify
 * runs (its own pointer flow with the `host_*` imports allocating, resolved across calls);
 * whatever the rewrite missed is refused (HA024).
 *
 * The pointer flow interprets each function on its own, then resolves atoms across calls. A
 * function the rewrite did not touch, and whose calls reach nothing that allocates before or after
 * the rewrite, is the same code in the output as in the input (binaryen moved function indices,
 * nothing else), so its input flow — computed by the 'metadata-reads' step — is reused with its
 * indices moved. Interpreted again on the output are the functions that changed or are new, and
 * those that call the family or an allocating import (a call's atoms depend on whether its target
 * allocates). The resolution then runs over the whole output, exactly as verify's does. Whenever
 * the mapping between input and output cannot be established, the whole output is interpreted.
 *
 * `gate: 'full'` interprets the whole output; `gate: 'both'` runs both and fails with HA040 when
 * they disagree (the tests run every fixture and corpus module this way).
 */

import { ErrorCodes, HostAllocError } from '../errors.js';
import { findStackPointer } from '../layout.js';
import { allocatingImports, convertedFlows, convertedMetadataReads } from '../metadata-reads.js';
import type { CallSite, FunctionFlow } from '../wasm/pointer-flow.js';
import { type ModuleInfo, readModule } from '../wasm/reader.js';
import type { Analysis, ModuleContext } from './analyse.js';
import type { Checks } from './pipeline.js';
import type { Rewritten } from './rewrite.js';

export type GateMode = 'incremental' | 'full' | 'both';

/** What the input's analysis hands the gate: its flows and how input functions map to the output. */
export interface GateReuse {
  /** The input's flows (pointerFlow over the input bytes), one per defined function. */
  flows: readonly FunctionFlow[];
  /** Whether the input flow of function `index` was interpreted (not skipped as allocator code). */
  interpreted: (index: number) => boolean;
  /** binaryen's function names by input index (imports first). */
  inputNames: readonly string[];
  /** binaryen's function names by output index (imports first), as emitted. */
  outputNames: readonly string[];
  /** Family members (they allocate in the input's flow): their callers are interpreted again. */
  family: ReadonlySet<string>;
  /** Functions whose bodies the transform changed or generated. */
  changed: ReadonlySet<string>;
  /** The input had a stack pointer (the flow treats frames below it as no allocation). */
  inputHadStackPointer: boolean;
}

/**
 * Step 'output-gate': refuses the output when metadata reads are left in it. Forced past a check
 * earlier, the output is not claimed safe and nothing is refused here; `gate: 'both'` still
 * compares the two answers.
 */
export function outputGate(
  out: { bytes: Uint8Array; names: readonly string[] },
  m: ModuleContext,
  a: Analysis,
  done: Rewritten,
  checks: Checks,
): void {
  const mode = m.input.options.gate ?? 'incremental';
  const reuse: GateReuse = {
    ...a.flow,
    inputNames: m.names,
    outputNames: out.names,
    family: new Set(a.family.members.map((f) => f.func)),
    changed: new Set([...a.old.changed, ...done.changed]),
    inputHadStackPointer: m.input.layout.stackPointer !== null,
  };
  if (checks.forced.length > 0) {
    if (mode === 'both') leftMetadataReads(out.bytes, mode, reuse);
    return;
  }
  const left = leftMetadataReads(out.bytes, mode, reuse);
  if (left.length === 0) return;
  const reason = `after the rewrite, code still reads the old allocator's in-band metadata: ${left.join('; ')}`;
  checks.refuse({
    code: ErrorCodes.METADATA_READ,
    message: `refusing: ${reason}`,
    reason,
    step: 'output-gate',
  });
}

/** The metadata reads left in `out`, one line each (empty when the output is clean). */
function leftMetadataReads(out: Uint8Array, mode: GateMode, reuse: GateReuse): string[] {
  const info = readModule(out);
  if (mode === 'full') return convertedMetadataReads(info, convertedFlows(out, info));
  const incremental = incrementalReads(out, info, reuse);
  if (mode === 'incremental') return incremental;
  const full = convertedMetadataReads(info, convertedFlows(out, info));
  if (full.join('\n') !== incremental.join('\n')) {
    throw new HostAllocError(
      ErrorCodes.INTERNAL,
      'the output gate reused an input flow that does not match the output: this is a bug in wasm-hostalloc, please report it with the input module',
      { details: { full, incremental } },
    );
  }
  return full;
}

function incrementalReads(out: Uint8Array, info: ModuleInfo, reuse: GateReuse): string[] {
  const reused = reusableFlows(info, reuse);
  if (reused === null) return convertedMetadataReads(info, convertedFlows(out, info));
  const flows: FunctionFlow[] = [];
  for (const f of convertedFlows(out, info, (i) => reused.has(i))) flows.push(reused.get(f.index) ?? f);
  return convertedMetadataReads(info, flows);
}

/**
 * The input flows that hold for the output, by output index, with their indices moved; null when
 * the output's functions cannot be matched to binaryen's names (then nothing is reused).
 */
function reusableFlows(info: ModuleInfo, reuse: GateReuse): Map<number, FunctionFlow> | null {
  const { outputNames, inputNames } = reuse;
  if (outputNames.length !== info.functionTypes.length) return null;
  if ((findStackPointer(info) !== null) !== reuse.inputHadStackPointer) return null;
  // The loops over the module's functions and imports are functions of their own: V8 then
  // optimises those, not this function, which runs once per module.
  const outIndex = indexByName(outputNames);
  if (outIndex === null) return null;
  const allocatingOut = allocatingImports(info);
  // Another function's index in the output: -1 when it is gone, or when a call to it makes atoms
  // that differ between the two flows (it allocates on one side). Worked out once per function.
  const targets = new Int32Array(inputNames.length).fill(-2);
  const target = (inputIndex: number): number => {
    const known = targets[inputIndex];
    if (known !== undefined && known !== -2) return known;
    const name = inputNames[inputIndex];
    let o = -1;
    if (name !== undefined && !reuse.family.has(name)) {
      const found = outIndex.get(name);
      if (found !== undefined && !allocatingOut.has(found)) o = found;
    }
    if (known !== undefined) targets[inputIndex] = o;
    return o;
  };
  return movedFlows(info, reuse, outIndex, target);
}

/** Each name's index in `names`; null when a name is there twice. */
function indexByName(names: readonly string[]): Map<string, number> | null {
  const index = new Map<string, number>();
  for (let i = 0; i < names.length; i++) {
    if (index.has(names[i]!)) return null;
    index.set(names[i]!, i);
  }
  return index;
}

/** The number of parameters of function `i` (-1 when its type is not a function type). */
function paramCount(info: ModuleInfo, i: number): number {
  const t = info.types[info.functionTypes[i]!];
  return t?.kind === 'func' ? t.params.length : -1;
}

/**
 * The input flows of reusableFlows, by output index (`outIndex` by name), with their calls and
 * references moved by `target` (-1: the flow is not reused).
 */
function movedFlows(
  info: ModuleInfo,
  reuse: GateReuse,
  outIndex: Map<string, number>,
  target: (inputIndex: number) => number,
): Map<number, FunctionFlow> {
  const { inputNames } = reuse;
  const out = new Map<number, FunctionFlow>();
  for (const f of reuse.flows) {
    const name = inputNames[f.index];
    if (name === undefined || f.opaque || !reuse.interpreted(f.index)) continue;
    if (reuse.changed.has(name) || reuse.family.has(name)) continue;
    const index = outIndex.get(name);
    if (index === undefined || index < info.numImportedFunctions || paramCount(info, index) !== f.params)
      continue;
    // Lists built by pushing, as pointerFlow builds them, and objects spelt out in their types'
    // field order: the resolver reads these and fresh flows alike, and `map` (holey when TurboFan
    // inlines it) or a spread would give it arrays or objects of other maps. A target that is
    // gone or allocates on one side only: the flow is not reused.
    const calls: CallSite[] = [];
    for (const c of f.calls) {
      const t = target(c.target);
      if (t < 0) break;
      calls.push({ at: c.at, target: t, args: c.args });
    }
    if (calls.length < f.calls.length) continue;
    const refFuncs: number[] = [];
    for (const r of f.refFuncs) {
      const t = target(r);
      if (t < 0) break;
      refFuncs.push(t);
    }
    if (refFuncs.length < f.refFuncs.length) continue;
    out.set(index, {
      index,
      params: f.params,
      loads: f.loads,
      calls,
      returns: f.returns,
      refFuncs,
      staticAccesses: f.staticAccesses,
      opaque: f.opaque,
      why: f.why,
    });
  }
  return out;
}
