/**
 * @fileoverview The WebAssembly JS API for the harness and the tests: the project's one typed
 * declaration (src/wasm-api.ts), under the names the tests use.
 */

export type {
  WasmGlobal,
  WasmImportDescriptor as WasmDescriptor,
  WasmImports as Imports,
  WasmInstance,
  WasmMemory,
  WasmModule,
} from '../../src/wasm-api.js';
export { WA } from '../../src/wasm-api.js';
