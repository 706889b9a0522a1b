/**
 * @fileoverview The per-function summary every analysis step reads (direct calls, constant-address
 * accesses, memory.grow, function references, binaryen's expression counts). Two producers give the
 * same summaries: src/wasm/summaries.ts from the raw bytes (every function, before binaryen reads
 * the module) and src/binaryen/walk.ts from binaryen's IR (the functions the raw model leaves out,
 * and bodies the steps change).
 */

/** One memory access at a constant address (pointer operand is i32.const/i64.const). */
export interface ConstAccess {
  address: number;
  bytes: number;
  kind: 'read' | 'write' | 'rmw';
}

/** What one function does, as far as the analyses need to know. */
export interface FunctionSummary {
  name: string;
  imported: boolean;
  /** Direct call targets (call and return_call). */
  calls: Set<string>;
  /** Per call target, each call's operands that are a plain `local.get` (the local index), else null. */
  callArgs: Map<string, (number | null)[][]>;
  /**
   * Targets of ref.func, with the number of sites (`refFuncSites` finds the expressions, for
   * retyping after a swap).
   */
  refFuncs: Map<string, number>;
  callIndirect: boolean;
  memoryGrow: boolean;
  /** Contains memory.fill / memory.copy. */
  memoryFill: boolean;
  memoryCopy: boolean;
  constAccesses: ConstAccess[];
  /** Base addresses of accesses of the form `load (i32.add (i32.const BASE) X)`. */
  indexedBases: number[];
  /** An expression id we cannot walk was found. */
  opaque: boolean;
  /** Number of expressions walked. */
  size: number;
  /**
   * Number of expressions the fingerprint's shape hash counts: all but blocks, nops and
   * unreachables (passes/fingerprint.ts hashes only functions whose count a known allocator has).
   */
  shapeSize: number;
}

/** A summary with nothing in it yet (what an import's stays). */
export function emptySummary(name: string, imported: boolean): FunctionSummary {
  return {
    name,
    imported,
    calls: new Set(),
    callArgs: new Map(),
    refFuncs: new Map(),
    callIndirect: false,
    memoryGrow: false,
    memoryFill: false,
    memoryCopy: false,
    constAccesses: [],
    indexedBases: [],
    opaque: false,
    size: 0,
    shapeSize: 0,
  };
}
