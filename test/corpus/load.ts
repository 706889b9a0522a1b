/**
 * @fileoverview Loading a real-world Emscripten package through its own JS glue, with the wasm bytes
 * substituted: the glue's `instantiateWasm(imports, receiveInstance)` hook instantiates the bytes we
 * give it, and for a transformed binary adds the JS host allocator's `env.host_*` imports to the
 * glue's (minified) import object.
 *
 * Memory growth: the glue keeps typed-array views (HEAPU8…) of the memory and refreshes them only
 * when it grows the memory itself. The host allocator therefore grows through the glue's own
 * `emscripten_resize_heap` import (found in the import object under its minified name), which
 * refreshes the views; a glue without a resize function gets a heap that does not grow.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createHostAllocator, type HostAllocator } from '../../src/host/index.js';
import { type Imports, WA, type WasmInstance, type WasmMemory, type WasmModule } from '../harness/wasm.js';

/** `WebAssembly.instantiate` and `validate`, which ../harness/wasm.ts does not type. */
const W = (
  globalThis as unknown as {
    WebAssembly: {
      instantiate(
        bytes: Uint8Array,
        imports: Imports,
      ): Promise<{ instance: WasmInstance; module: WasmModule }>;
      validate(bytes: Uint8Array): boolean;
    };
  }
).WebAssembly;

export function validate(bytes: Uint8Array): boolean {
  return W.validate(bytes);
}

const here = dirname(fileURLToPath(import.meta.url));
/** The repository's node_modules, where the corpus packages are devDependencies. */
export const NODE_MODULES = join(here, '..', '..', 'node_modules');

export function packageFile(pkg: string, file: string): string {
  return join(NODE_MODULES, pkg, file);
}

export function installedVersion(pkg: string): string {
  return (JSON.parse(readFileSync(packageFile(pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

type ImportObject = Imports;
type ReceiveInstance = (instance: WasmInstance, module?: WasmModule) => unknown;

/** Where the glue's `emscripten_resize_heap` sits in its import object (minified names). */
export interface ResizeImport {
  module: string;
  name: string;
}

/** How to instantiate: the original bytes as they are, or a transformed binary on a host heap. */
export interface Substitution {
  bytes: Uint8Array;
  /** Present for a transformed binary: the module its host imports come from (report.importModule). */
  host?: { importModule: string; resize: ResizeImport | null };
}

/** What a load produced besides the glue's own module object. */
export interface LoadState {
  instance: WasmInstance | null;
  heap: HostAllocator | null;
  /** Calls of the glue's resize made on behalf of the host heap. */
  hostResizes: number;
  /** Set when instantiation failed (the glue may swallow it). */
  instanceError?: unknown;
}

function findMemory(instance: WasmInstance, imports: ImportObject): WasmMemory {
  // One memory may be exported under two names (a minified `f` plus the transform's `memory` alias).
  const exported = [...new Set(Object.values(instance.exports).filter((v) => v instanceof WA.Memory))];
  if (exported.length === 1) return exported[0] as WasmMemory;
  const imported = Object.values(imports)
    .flatMap((m) => Object.values(m))
    .filter((v) => v instanceof WA.Memory);
  if (imported.length === 1) return imported[0] as WasmMemory;
  throw new Error(
    `cannot find the instance's memory (${exported.length} exported, ${imported.length} imported)`,
  );
}

/**
 * Module options for an Emscripten glue: `wasmBinary` plus an `instantiateWasm` hook that instantiates
 * `sub.bytes`, with the host allocator's imports merged in for a transformed binary.
 */
export function glueOptions(sub: Substitution, state: LoadState): Record<string, unknown> {
  return {
    wasmBinary: sub.bytes,
    print: () => {},
    printErr: () => {},
    instantiateWasm(imports: ImportObject, receive: ReceiveInstance): Record<string, never> {
      let heap: HostAllocator | null = null;
      let all = imports;
      if (sub.host) {
        const { importModule, resize } = sub.host;
        const resizeFn = resize
          ? (imports[resize.module]?.[resize.name] as ((bytes: number) => unknown) | undefined)
          : undefined;
        if (resize && typeof resizeFn !== 'function') {
          throw new Error(
            `the glue's import object has no function ${resize.module}.${resize.name} (resize)`,
          );
        }
        heap = createHostAllocator({
          grow: (memory, deltaPages) => {
            if (!resizeFn) return false;
            state.hostResizes++;
            return Boolean(resizeFn(memory.buffer.byteLength + deltaPages * 65536));
          },
        });
        all = { ...imports, [importModule]: { ...(imports[importModule] ?? {}), ...heap.imports } };
      }
      W.instantiate(sub.bytes, all).then(
        ({ instance, module }) => {
          state.instance = instance;
          if (heap) {
            // The memory may be the glue's (imported) one: give it explicitly; __heap_base is exported.
            const memory = findMemory(instance, imports);
            const hb = instance.exports['__heap_base'];
            if (!(hb instanceof WA.Global)) throw new Error('transformed module exports no __heap_base');
            heap.attach({ exports: { memory, __heap_base: hb } });
            state.heap = heap;
          }
          receive(instance, module);
        },
        (e: unknown) => {
          state.instanceError = e;
        },
      );
      return {};
    },
  };
}

export function newState(): LoadState {
  return { instance: null, heap: null, hostResizes: 0 };
}

/**
 * Evaluates a CommonJS glue file afresh (its own module scope: sql.js and @bokuweb/zstd-wasm keep
 * their Module object in module-level state, so `require` would share one instance).
 */
export function freshCommonJs(file: string): unknown {
  const source = readFileSync(file, 'utf8');
  const module = { exports: {} as unknown };
  const req = createRequire(file);
  const fn = new Function('exports', 'require', 'module', '__filename', '__dirname', source) as (
    ...args: unknown[]
  ) => void;
  fn.call(module.exports, module.exports, req, module, file, dirname(file));
  return module.exports;
}

/** Imports an ES module glue (factories: every call makes a new instance). */
export async function importEsm<T>(file: string): Promise<T> {
  return (await import(pathToFileURL(file).href)) as T;
}
