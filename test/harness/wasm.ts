/**
 * @fileoverview Types for the parts of the WebAssembly JS API the harness and fixture tests use.
 * The project compiles against `lib: ES2023` + `@types/node` 20, neither of which declares the
 * `WebAssembly` namespace, so the runtime object is reached through `WA`, typed structurally
 * (compatible with lib.dom's types, like src/host/wasm-api.ts).
 */

/** A linear memory (`WebAssembly.Memory`). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

/** A global (`WebAssembly.Global`). */
export interface WasmGlobal {
  value: unknown;
}

/** A compiled module (`WebAssembly.Module`). */
export type WasmModule = object;

/** An instance (`WebAssembly.Instance`). */
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

/** An import object: module name → field name → value. */
export type Imports = Record<string, Record<string, unknown>>;

/** One import or export, as `WebAssembly.Module.imports/exports` list them. */
export interface WasmDescriptor {
  module: string;
  name: string;
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
}

interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Global: abstract new (...args: never[]) => WasmGlobal;
  Module: (new (
    bytes: ArrayBufferView | ArrayBuffer,
  ) => WasmModule) & {
    imports(module: WasmModule): WasmDescriptor[];
    exports(module: WasmModule): Omit<WasmDescriptor, 'module'>[];
    customSections(module: WasmModule, name: string): ArrayBuffer[];
  };
  Instance: new (module: WasmModule, imports?: Imports) => WasmInstance;
  validate(bytes: ArrayBufferView | ArrayBuffer): boolean;
}

/** The runtime `WebAssembly` object, typed by the interfaces above. */
export const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
