/**
 * @fileoverview The slice read: binaryen reads only the function bodies the pipeline looks at.
 *
 * binaryen.js spends most of a transform reading the input (sql.js's debug build: 142 ms of its
 * 258 ms read+validate+emit); the same module with every body `unreachable` reads in 16 ms. The
 * analysis learns what it needs of every function from the raw bytes (src/wasm/summaries.ts) and
 * looks into a body only for the few functions those facts point at; emit splices the input's
 * bodies back (./splice.ts). So binaryen is given the *slice*: the input with each body the
 * pipeline will not look at replaced by `unreachable`.
 *
 *   choose    `sliceSet`: the bodies binaryen keeps: those a splice cannot carry, tiny ones,
 *             those the raw summaries leave to binaryen's IR, and those the steps will look into
 *             (./slice-prediction.ts)
 *   read      `sliceBytes`: the code section rewritten, each left-out body its own locals then
 *             `unreachable` (binaryen writes a function it empties with its locals), everything
 *             else as it is (names included: function indices and names stay the same)
 *   guard     `guardBodies`: the binaryen namespace the steps see throws SliceMiss when a step asks
 *             for a left-out function's body (getFunctionInfo's `body`, Function.getBody), unless
 *             a step gave it a new body or removed it first
 *
 * A miss costs time, never a different output: transform() runs again on the whole module. The
 * steps see exactly the module binaryen alone would read for every function they look into, and
 * strip and emit already treat every untouched function as a placeholder whose real body stays
 * in the input's bytes.
 */

import type {
  Binaryen,
  BinaryenModule,
  ExpressionRef,
  FunctionInfo,
  FunctionRef,
} from '../binaryen/module.js';
import { lastLeb, readLeb } from '../wasm/instructions.js';
import { ByteRange, type ModuleInfo } from '../wasm/reader.js';
import { bodyShapes } from '../wasm/shapes.js';
import { type BodyIndex, ByteWriter, indexBodies, lebLength } from '../wasm/splice.js';
import type { RawSummaries } from '../wasm/summaries.js';
import type { BinaryenInput, Input } from './read.js';
import { predictedBodies } from './slice-prediction.js';

/** The slice does not hold what a step needs (a left-out body); transform() reads everything. */
export class SliceMiss extends Error {
  constructor(readonly why: string) {
    super(`slice: ${why}`);
  }
}

/** Bodies up to this many bytes are always kept (placeholders skip them too: ./splice.ts). */
const TINY_BODY = 4;

/** The code binaryen reads for a left-out function, after its own locals: `unreachable`, `end`. */
const PLACEHOLDER_CODE = [0x00, 0x0b];

/** The slice binaryen reads: which defined functions it has the real body of. */
export interface SlicePlan {
  /** The bytes binaryen reads. */
  readonly bytes: Uint8Array;
  /** The input's bodies, indexed (strip and emit need it too). */
  readonly index: BodyIndex;
  /** Per defined function (input order): 1 when binaryen reads its real body. */
  readonly kept: Uint8Array;
  /** The body shapes of src/wasm/shapes.ts, by defined function. */
  readonly shapes: Uint8Array;
}

/** The slice as the steps see it (ModuleContext.slice). */
export interface Slice extends SlicePlan {
  /** The namespace without the guard (strip and emit compare placeholder bodies). */
  readonly unguarded: Binaryen;
}

/**
 * Step 'slice': the bytes binaryen reads, or null when the whole module is read: binaryen writes
 * every body (emit: 'binaryen'; memory64, several memories, DWARF: see spliceRefusal in
 * ./splice.ts), or nothing would be left out.
 */
export function planSlice(input: Input, forBinaryen: BinaryenInput, raw: RawSummaries): SlicePlan | null {
  const { info, options } = input;
  if ((options.emit ?? 'splice') === 'binaryen') return null;
  if (input.layout.memory.is64 || info.memories.length > 1 || forBinaryen.hasDwarf) return null;
  const code = sectionRange(forBinaryen.bytes, 10);
  const inputCode = info.sections.find((s) => s.id === 10);
  // binaryen reads the input with its names made safe: the code section is the same, elsewhere.
  if (code === null || inputCode === undefined || code.end - code.start !== inputCode.end - inputCode.start)
    return null;
  const index = indexBodies(input.bytes, info);
  const shapeSizes: number[] = [];
  for (let i = 0; i < info.functionTypes.length; i++)
    shapeSizes.push(raw.summaries.get(String(i))?.shapeSize ?? 0);
  const shapes = bodyShapes(input.bytes, info);
  const wanted = [
    ...predictedBodies(input.bytes, info, shapeSizes, shapes),
    // The raw model leaves a few functions to binaryen's IR (see src/wasm/summaries.ts).
    ...raw.needsBinaryen.map(Number),
  ];
  const kept = sliceSet(info, index, wanted);
  if (kept.every((k) => k === 1)) return null;
  const shift = code.start - inputCode.start;
  return {
    bytes: sliceBytes(forBinaryen.bytes, code, info.codeRanges, index.codeStart, shift, kept),
    index,
    kept,
    shapes,
  };
}

/** Where section `id` of a module sits (its id byte to its end), or null. */
function sectionRange(bytes: Uint8Array, id: number): ByteRange | null {
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    const contentStart = readLeb(bytes, at + 1, bytes.length);
    if (contentStart < 0) return null;
    const end = contentStart + lastLeb();
    if (bytes[start] === id) return end <= bytes.length ? new ByteRange(start, end) : null;
    at = end;
  }
  return null;
}

/**
 * Per defined function, 1 when binaryen must read its real body: bodies a splice cannot carry
 * (binaryen writes them), tiny ones (never placeholders), and `wanted` (by absolute index).
 */
function sliceSet(info: ModuleInfo, index: BodyIndex, wanted: Iterable<number>): Uint8Array {
  const n = info.codeRanges.length;
  const kept = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const r = info.codeRanges[k]!;
    if (!index.spliceable[k] || r.end - r.start <= TINY_BODY) kept[k] = 1;
  }
  for (const i of wanted) {
    const k = i - info.numImportedFunctions;
    if (k >= 0 && k < n) kept[k] = 1;
  }
  return kept;
}

/**
 * `bytes` with the code of each body `kept` does not mark replaced by `unreachable` (its locals
 * stay: binaryen writes an emptied function with them): the code section (`code`, its bodies at
 * `ranges`, their code at `codeStart`, all moved by `shift`) rewritten, everything else as it is.
 */
export function sliceBytes(
  bytes: Uint8Array,
  code: { start: number; end: number },
  ranges: readonly { start: number; end: number }[],
  codeStart: Uint32Array,
  shift: number,
  kept: Uint8Array,
): Uint8Array {
  const n = ranges.length;
  /** The size of each body binaryen reads. */
  const size = new Uint32Array(n);
  let content = lebLength(n);
  for (let k = 0; k < n; k++) {
    const r = ranges[k]!;
    size[k] = kept[k] ? r.end - r.start : codeStart[k]! - r.start + PLACEHOLDER_CODE.length;
    content += lebLength(size[k]!) + size[k]!;
  }
  const out = new ByteWriter(code.start + 1 + lebLength(content) + content + (bytes.length - code.end));
  out.copy(bytes, 0, code.start);
  out.byte(10);
  out.leb(content);
  out.leb(n);
  for (let k = 0; k < n; k++) {
    const r = ranges[k]!;
    out.leb(size[k]!);
    if (kept[k]) out.copy(bytes, r.start + shift, r.end + shift);
    else {
      out.copy(bytes, r.start + shift, codeStart[k]! + shift);
      for (const b of PLACEHOLDER_CODE) out.byte(b);
    }
  }
  out.copy(bytes, code.end, bytes.length);
  return out.bytes();
}

/**
 * The binaryen namespace and module the steps see: asking for the body of a left-out function (by
 * its reference, as read; its name, signature and locals are the input's) throws SliceMiss, until a step gives it a body of its own or
 * removes it (binaryen may hand a function added later the same reference).
 */
export function guardBodies(
  b: Binaryen,
  mod: BinaryenModule,
  leftOut: Map<FunctionRef, string>,
): { b: Binaryen; mod: BinaryenModule } {
  const guarded = Object.create(b) as Binaryen;
  const getFunctionInfo = (func: FunctionRef): FunctionInfo => {
    const info = b.getFunctionInfo(func);
    const name = leftOut.get(func);
    if (name === undefined) return info;
    return Object.defineProperty(info, 'body', {
      get: (): never => {
        throw new SliceMiss(`a step looked into the body of ${name}, which was left out`);
      },
      enumerable: true,
    });
  };
  const fn = b.Function;
  const guardedFunction: Binaryen['Function'] = {
    getName: (f) => fn.getName(f),
    getParams: (f) => fn.getParams(f),
    getResults: (f) => fn.getResults(f),
    getBody: (f): ExpressionRef => {
      const name = leftOut.get(f);
      if (name !== undefined)
        throw new SliceMiss(`a step looked into the body of ${name}, which was left out`);
      return fn.getBody(f);
    },
    setBody: (f, body) => {
      leftOut.delete(f);
      fn.setBody(f, body);
    },
  };
  Object.defineProperties(guarded, {
    getFunctionInfo: { value: getFunctionInfo },
    Function: { value: guardedFunction },
  });
  // The module itself carries the guard (binaryen.js's methods are its own writable properties):
  // an Object.create layer would give every sliced module its own hidden class, and every
  // `mod.x` site in the steps a new map to deoptimise on, module after module.
  const removeFunction = mod.removeFunction;
  mod.removeFunction = (name: string): void => {
    leftOut.delete(mod.getFunction(name));
    removeFunction.call(mod, name);
  };
  return { b: guarded, mod };
}
