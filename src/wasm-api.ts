/**
 * @fileoverview Structural types for the WebAssembly JS API, and the runtime `WebAssembly` object
 * typed by them (`WA`). The project compiles against `lib: ES2023` + `@types/node` 20, neither of
 * which declares the `WebAssembly` namespace. These interfaces are structurally compatible with
 * lib.dom's, so callers with DOM types can pass theirs. The one place that declares them: the
 * library, the host allocator, the tests and the scripts all use these.
 */

/** A linear memory (`WebAssembly.Memory`). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(deltaPages: number): number;
}

/** A global (`WebAssembly.Global`). */
export interface WasmGlobal {
  value: unknown;
}

/** An instance (`WebAssembly.Instance`). */
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

/** A compiled module (`WebAssembly.Module`). */
export type WasmModule = object;

/** An import object: namespace -> name -> value. */
export type WasmImports = Record<string, Record<string, unknown>>;

/** The kinds `WebAssembly.Module.imports/exports` report. */
export type WasmExternKind = 'function' | 'table' | 'memory' | 'global' | 'tag';

/** One import of a module, as listed by `WebAssembly.Module.imports`. */
export interface WasmImportDescriptor {
  module: string;
  name: string;
  kind: WasmExternKind;
}

/** One export of a module, as listed by `WebAssembly.Module.exports`. */
export interface WasmExportDescriptor {
  name: string;
  kind: WasmExternKind;
}

type Bytes = ArrayBufferView | ArrayBuffer;

/** The parts of the `WebAssembly` namespace this project uses. */
export interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Global: abstract new (...args: never[]) => WasmGlobal;
  Module: (new (
    bytes: Bytes,
  ) => WasmModule) & {
    imports(module: WasmModule): WasmImportDescriptor[];
    exports(module: WasmModule): WasmExportDescriptor[];
    customSections(module: WasmModule, name: string): ArrayBuffer[];
  };
  Instance: new (module: WasmModule, imports?: WasmImports) => WasmInstance;
  compile(bytes: Bytes): Promise<WasmModule>;
  instantiate(module: WasmModule, imports?: WasmImports): Promise<WasmInstance>;
  validate(bytes: Bytes): boolean;
  RuntimeError: new (message?: string) => Error;
  CompileError: new (message?: string) => Error;
}

/** The runtime `WebAssembly` object, typed by the interfaces above. */
export const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
