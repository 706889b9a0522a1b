/**
 * @fileoverview Minimal structural types for the parts of the WebAssembly JS API the host allocator
 * uses. The project compiles against `lib: ES2023` + `@types/node` 20, neither of which declares the
 * `WebAssembly` namespace; these interfaces are structurally compatible with lib.dom's
 * `WebAssembly.Memory`, `Instance`, `Module` and `Global`, so callers with DOM types can pass theirs.
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

/** One import of a module, as listed by `WebAssembly.Module.imports`. */
export interface WasmImportDescriptor {
  module: string;
  name: string;
  kind: string;
}

interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Global: abstract new (...args: never[]) => WasmGlobal;
  Module: (abstract new (
    ...args: never[]
  ) => WasmModule) & {
    imports(module: WasmModule): WasmImportDescriptor[];
  };
  compile(bytes: ArrayBufferView | ArrayBuffer): Promise<WasmModule>;
  instantiate(module: WasmModule, imports?: WasmImports): Promise<WasmInstance>;
}

/** The runtime `WebAssembly` object, typed by the interfaces above. */
export const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
