/**
 * @fileoverview The one place that talks to binaryen.js.
 *
 * binaryen.js 132's bundled typings are stale (they declare APIs that no longer exist and omit ones
 * that do), so this file declares the subset we use, as it really behaves, and everything else goes
 * through these types. It also owns three facts of life:
 *  - loading costs ~0.4 s and 120+ MB, so it is loaded lazily, once, on first use (`--help` never
 *    pays for it); `WASM_HOSTALLOC_TRACE_LOAD=1` makes the load visible on stderr for tests;
 *  - the validator and some passes print to stderr: the library must not, so we capture that output
 *    and return it;
 *  - modules live in binaryen's own heap: `withModule` always disposes them.
 */

import { ErrorCodes, HostAllocError } from '../errors.js';
import { type ImportOptions, importBinaryen } from './load.js';

/** An expression reference (a pointer into binaryen's heap). */
export type ExpressionRef = number;
/** A value type (i32, i64, ref …). */
export type TypeRef = number;
/** A heap type (a function signature for our purposes). */
export type HeapTypeRef = number;
/** A function reference. */
export type FunctionRef = number;

export interface FunctionInfo {
  name: string;
  /** Import module, '' for defined functions. */
  module: string;
  /** Import name, '' for defined functions. */
  base: string;
  /** The function's heap type (signature). */
  type: HeapTypeRef;
  params: TypeRef;
  results: TypeRef;
  vars: TypeRef[];
  /** 0 for imports. */
  body: ExpressionRef;
}

export interface GlobalInfo {
  name: string;
  module: string;
  base: string;
  type: TypeRef;
  mutable: boolean;
  init: ExpressionRef;
}

export interface ExportInfo {
  kind: number;
  name: string;
  value: string;
}

export interface ElementSegmentInfo {
  name: string;
  table: string;
  offset: ExpressionRef;
  data: string[];
}

export interface TableInfo {
  name: string;
  /** Import module, '' for a defined table. */
  module: string;
  base: string;
  initial: number;
  max?: number;
}

export interface MemoryInfoRaw {
  module: string | null;
  base: string | null;
  initial: number;
  max?: number;
  shared: boolean;
  is64: boolean;
}

export interface BinaryenModule {
  getFunction(name: string): FunctionRef;
  getFunctionByIndex(index: number): FunctionRef;
  getNumFunctions(): number;
  removeFunction(name: string): void;
  addFunction(
    name: string,
    params: TypeRef,
    results: TypeRef,
    vars: TypeRef[],
    body: ExpressionRef,
  ): FunctionRef;
  addFunctionImport(
    internalName: string,
    externalModule: string,
    externalBase: string,
    params: TypeRef,
    results: TypeRef,
  ): void;
  addFunctionExport(internalName: string, externalName: string): number;
  addGlobalExport(internalName: string, externalName: string): number;
  addMemoryExport(internalName: string, externalName: string): number;
  removeExport(externalName: string): void;
  getExport(externalName: string): number;
  getNumExports(): number;
  getExportByIndex(index: number): number;
  addGlobal(name: string, type: TypeRef, mutable: boolean, init: ExpressionRef): number;
  getGlobal(name: string): number;
  getNumGlobals(): number;
  getGlobalByIndex(index: number): number;
  getNumTables(): number;
  getTableByIndex(index: number): number;
  getNumElementSegments(): number;
  getElementSegmentByIndex(index: number): number;
  removeElementSegment(name: string): void;
  addActiveElementSegment(table: string, name: string, funcNames: string[], offset: ExpressionRef): number;
  hasMemory(): boolean;
  getMemoryInfo(name?: string): MemoryInfoRaw;
  getStart(): FunctionRef;
  getFeatures(): number;
  setFeatures(features: number): void;
  validate(): number;
  runPasses(passes: string[]): void;
  runPassesOnFunction(func: string, passes: string[]): void;
  emitBinary(): Uint8Array;
  emitText(): string;
  copyExpression(expr: ExpressionRef): ExpressionRef;
  nop(): ExpressionRef;
  unreachable(): ExpressionRef;
  dispose(): void;
  // Expression builders (only the ones we use).
  i32: IntOps & { const(value: number): ExpressionRef };
  /** binaryen.js 132's i64.const takes one bigint (the old (low, high) form aborts). */
  i64: IntOps & { const(value: bigint): ExpressionRef };
  local: {
    get(index: number, type: TypeRef): ExpressionRef;
    set(index: number, value: ExpressionRef): ExpressionRef;
    tee(index: number, value: ExpressionRef, type: TypeRef): ExpressionRef;
  };
  global: { get(name: string, type: TypeRef): ExpressionRef };
  memory: {
    copy(
      dest: ExpressionRef,
      source: ExpressionRef,
      size: ExpressionRef,
      destMem?: string,
      srcMem?: string,
    ): ExpressionRef;
    fill(dest: ExpressionRef, value: ExpressionRef, size: ExpressionRef, mem?: string): ExpressionRef;
    grow(delta: ExpressionRef, mem?: string, memory64?: boolean): ExpressionRef;
  };
  addCustomSection(name: string, contents: Uint8Array): void;
  call(target: string, operands: ExpressionRef[], results: TypeRef): ExpressionRef;
  call_indirect(
    table: string,
    target: ExpressionRef,
    operands: ExpressionRef[],
    params: TypeRef,
    results: TypeRef,
  ): ExpressionRef;
  block(label: string | null, children: ExpressionRef[], type?: TypeRef): ExpressionRef;
  if(condition: ExpressionRef, ifTrue: ExpressionRef, ifFalse?: ExpressionRef): ExpressionRef;
  select(
    condition: ExpressionRef,
    ifTrue: ExpressionRef,
    ifFalse: ExpressionRef,
    type?: TypeRef,
  ): ExpressionRef;
  return(value?: ExpressionRef): ExpressionRef;
  drop(value: ExpressionRef): ExpressionRef;
}

/** The integer operations the adapters build, alike for i32 and i64. */
export interface IntOps {
  store(
    offset: number,
    align: number,
    ptr: ExpressionRef,
    value: ExpressionRef,
    type?: TypeRef,
    mem?: string,
  ): ExpressionRef;
  add(a: ExpressionRef, b: ExpressionRef): ExpressionRef;
  sub(a: ExpressionRef, b: ExpressionRef): ExpressionRef;
  and(a: ExpressionRef, b: ExpressionRef): ExpressionRef;
  eqz(a: ExpressionRef): ExpressionRef;
  ne(a: ExpressionRef, b: ExpressionRef): ExpressionRef;
  lt_u(a: ExpressionRef, b: ExpressionRef): ExpressionRef;
  le_u(a: ExpressionRef, b: ExpressionRef): ExpressionRef;
}

type Get<T = ExpressionRef> = (expr: ExpressionRef) => T;
type SetChild = (expr: ExpressionRef, value: ExpressionRef) => void;

/**
 * The expression classes' getters and setters the passes use, typed as binaryen.js 132 has them
 * (test/binaryen-typings.test.ts checks every one exists). The walker's generic child table
 * (src/binaryen/walk.ts) covers the other classes and refuses to start if a getter is missing.
 */
export interface ExpressionClasses {
  Block: {
    getName: Get<string | null>;
    getNumChildren: Get<number>;
    getChildAt(expr: ExpressionRef, index: number): ExpressionRef;
    setChildAt(expr: ExpressionRef, index: number, child: ExpressionRef): void;
  };
  If: { getCondition: Get; getIfTrue: Get; getIfFalse: Get };
  Loop: { getName: Get<string | null>; getBody: Get };
  Break: { getName: Get<string>; getCondition: Get; getValue: Get };
  Switch: { getCondition: Get; getValue: Get };
  Call: {
    getTarget: Get<string>;
    getNumOperands: Get<number>;
    getOperandAt(expr: ExpressionRef, index: number): ExpressionRef;
  };
  LocalGet: { getIndex: Get<number> };
  LocalSet: { getIndex: Get<number>; getValue: Get; isTee: Get<boolean> };
  GlobalGet: { getName: Get<string> };
  GlobalSet: { getName: Get<string>; getValue: Get };
  Load: { getPtr: Get; getOffset: Get<number>; getBytes: Get<number>; isSigned: Get<boolean> };
  Store: { getPtr: Get; getValue: Get; getOffset: Get<number>; getBytes: Get<number> };
  Const: { getValueI32: Get<number>; getValueI64: Get<bigint> };
  Unary: { getOp: Get<number>; getValue: Get };
  Binary: { getOp: Get<number>; getLeft: Get; getRight: Get; setLeft: SetChild; setRight: SetChild };
  Drop: { getValue: Get; setValue: SetChild };
  Return: { getValue: Get };
  AtomicRMW: {
    getOp: Get<number>;
    getBytes: Get<number>;
    getOffset: Get<number>;
    getPtr: Get;
    getValue: Get;
  };
  AtomicCmpxchg: { getBytes: Get<number>; getOffset: Get<number>; getPtr: Get };
  SIMDLoad: { getOp: Get<number>; getOffset: Get<number>; getPtr: Get };
  RefFunc: { getFunc: Get<string>; setType(expr: ExpressionRef, type: TypeRef): void };
  Function: {
    getName: Get<string>;
    getParams: Get<TypeRef>;
    getResults: Get<TypeRef>;
    getBody: Get;
    setBody(func: FunctionRef, body: ExpressionRef): void;
  };
}

/** The subset of the binaryen namespace we use, typed as it really is in v132. */
export interface Binaryen extends ExpressionClasses {
  readBinary(bytes: Uint8Array): BinaryenModule;
  parseText(text: string): BinaryenModule;
  getFunctionInfo(func: FunctionRef): FunctionInfo;
  getGlobalInfo(global: number): GlobalInfo;
  getExportInfo(exp: number): ExportInfo;
  getElementSegmentInfo(seg: number): ElementSegmentInfo;
  getTableInfo(table: number): TableInfo;
  getExpressionId(expr: ExpressionRef): number;
  getExceptionMessage(e: unknown): string;
  getTypeFromHeapType(heapType: HeapTypeRef, nullable: boolean): TypeRef;
  createType(types: TypeRef[]): TypeRef;
  expandType(type: TypeRef): TypeRef[];
  setDebugInfo(on: boolean): void;
  getDebugInfo(): boolean;
  setOptimizeLevel(level: number): void;
  setShrinkLevel(level: number): void;
  getExpressionType(expr: ExpressionRef): TypeRef;
  none: TypeRef;
  i32: TypeRef;
  i64: TypeRef;
  f32: TypeRef;
  f64: TypeRef;
  v128: TypeRef;
  funcref: TypeRef;
  externref: TypeRef;
  ExternalFunction: number;
  ExternalTable: number;
  ExternalMemory: number;
  ExternalGlobal: number;
  ExternalTag: number;
  Features: Record<string, number>;
  // Expression ids.
  BlockId: number;
  NopId: number;
  UnreachableId: number;
  IfId: number;
  LoopId: number;
  BreakId: number;
  SwitchId: number;
  CallId: number;
  CallIndirectId: number;
  CallRefId: number;
  LocalGetId: number;
  LocalSetId: number;
  GlobalGetId: number;
  GlobalSetId: number;
  LoadId: number;
  StoreId: number;
  ConstId: number;
  UnaryId: number;
  BinaryId: number;
  SelectId: number;
  DropId: number;
  ReturnId: number;
  MemoryGrowId: number;
  MemorySizeId: number;
  AtomicRMWId: number;
  AtomicCmpxchgId: number;
  AtomicWaitId: number;
  AtomicNotifyId: number;
  SIMDLoadId: number;
  SIMDLoadStoreLaneId: number;
  MemoryInitId: number;
  MemoryCopyId: number;
  MemoryFillId: number;
  RefFuncId: number;
  AddInt32: number;
  AndInt32: number;
  SubInt32: number;
  AddInt64: number;
  SubInt64: number;
}

let loading: Promise<Binaryen> | undefined;

/**
 * Loads binaryen.js once (lazily) and returns it: a light copy of it (load.ts) when possible.
 * `options.module`: binaryen's compiled wasm from another thread, instantiated instead of compiling
 * the binary again; `options.onModule` receives the module this thread uses as soon as it exists.
 * Only the first call's options count.
 */
export function loadBinaryen(options: ImportOptions = {}): Promise<Binaryen> {
  loading ??= importBinaryen(options).then(({ namespace, light, given }) => {
    if (process.env['WASM_HOSTALLOC_TRACE_LOAD'] === '1') {
      const how = [light ? 'light copy' : '', given ? 'compiled module given' : '']
        .filter(Boolean)
        .join(', ');
      process.stderr.write(`binaryen loaded${how === '' ? '' : ` (${how})`}\n`);
    }
    return (namespace as { default: unknown }).default as Binaryen;
  });
  return loading;
}

/**
 * Features for reading real-world modules. readBinary parses every proposal, but features come only
 * from a target_features section that release builds lack, and validate()/emit depend on them.
 * Features.All is avoided on purpose: it enables encodings Node 20 rejects.
 */
export function baseFeatures(
  b: Binaryen,
  extra: { atomics?: boolean; memory64?: boolean; exceptions?: boolean },
): number {
  const F = b.Features;
  let f =
    F['MutableGlobals']! |
    F['SignExt']! |
    F['BulkMemory']! |
    F['NontrappingFPToInt']! |
    F['ReferenceTypes']! |
    F['Multivalue']! |
    F['SIMD128']! |
    F['TailCall']! |
    F['ExtendedConst']!;
  if (F['BulkMemoryOpt'] !== undefined) f |= F['BulkMemoryOpt'];
  if (extra.atomics) f |= F['Atomics']!;
  if (extra.memory64) f |= F['Memory64']!;
  if (extra.exceptions) f |= F['ExceptionHandling']!;
  return f;
}

/** Runs `fn` with process.stderr/stdout writes captured; returns its result and what was printed. */
export function captureOutput<T>(fn: () => T): { result: T; output: string } {
  const chunks: string[] = [];
  const errWrite = process.stderr.write;
  const outWrite = process.stdout.write;
  const sink = (chunk: unknown): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  process.stderr.write = sink as typeof process.stderr.write;
  process.stdout.write = sink as typeof process.stdout.write;
  try {
    return { result: fn(), output: chunks.join('') };
  } finally {
    process.stderr.write = errWrite;
    process.stdout.write = outWrite;
  }
}

/** Validates `mod`; returns null when valid, else binaryen's messages. Never prints. */
export function validationErrors(mod: BinaryenModule): string | null {
  const { result, output } = captureOutput(() => mod.validate());
  return result ? null : output.trim() || 'binaryen validation failed';
}

/**
 * Reads `bytes` into a binaryen module with explicit features, runs `fn`, and always disposes.
 * Read failures become HA002 (the raw reader should have caught them first).
 */
export async function withModule<T>(
  bytes: Uint8Array,
  features: { atomics?: boolean; memory64?: boolean; exceptions?: boolean },
  fn: (mod: BinaryenModule, b: Binaryen) => T | Promise<T>,
): Promise<T> {
  assertBinaryenUsable();
  const b = await loadBinaryen();
  let mod: BinaryenModule;
  try {
    mod = captureOutput(() => b.readBinary(bytes)).result;
  } catch (e) {
    throw new HostAllocError(ErrorCodes.MALFORMED, `binaryen could not read the module: ${describe(b, e)}`, {
      cause: e,
    });
  }
  try {
    mod.setFeatures(baseFeatures(b, features));
    // binaryen prints on abort; the library must not: capture what the synchronous part prints.
    return await captureOutput(() => fn(mod, b)).result;
  } catch (e) {
    throw typedBinaryenFailure(b, e);
  } finally {
    mod.dispose();
  }
}

/** Set once binaryen.js aborted: its instance is unusable for the rest of the process. */
let aborted: string | undefined;

/**
 * Turns a failure thrown from inside binaryen.js into a typed error. A JS stack overflow in its
 * recursive walkers (deeply nested code) is a limit; an abort (failed assertion) leaves binaryen.js
 * unusable in this process, so later calls refuse at once (the CLI recycles such workers).
 */
function typedBinaryenFailure(b: Binaryen, e: unknown): unknown {
  if (e instanceof HostAllocError) return e;
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return new HostAllocError(
      ErrorCodes.LIMIT_EXCEEDED,
      'the module nests code too deeply for binaryen.js (its walkers recurse): run node with a larger --stack-size, or flatten the code',
      { cause: e },
    );
  }
  const message = describe(b, e);
  if (/^Aborted\(/.test(message) || (e instanceof Error && e.name === 'RuntimeError')) {
    aborted = message;
    return new HostAllocError(
      ErrorCodes.INTERNAL,
      `binaryen.js aborted (${message.slice(0, 300)}); this process cannot use it again: this is a bug, please report it with the input module`,
      { cause: e, details: { binaryenAborted: true } },
    );
  }
  return e;
}

/** Throws HA040 when binaryen.js aborted earlier in this process. */
export function assertBinaryenUsable(): void {
  if (aborted !== undefined) {
    throw new HostAllocError(
      ErrorCodes.INTERNAL,
      `binaryen.js aborted earlier in this process (${aborted.slice(0, 200)}): start a new process`,
      { details: { binaryenAborted: true } },
    );
  }
}

/** Binaryen throws non-Error values (pointers); turn anything into a message. */
export function describe(b: Binaryen, e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'number') {
    try {
      return b.getExceptionMessage(e);
    } catch {
      return `binaryen exception ${e}`;
    }
  }
  return String(e);
}
