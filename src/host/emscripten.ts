/**
 * @fileoverview The Emscripten glue helper: an `instantiateWasm` hook that instantiates a converted
 * module through the glue's own import object, with the host allocator's `env.host_*` merged in.
 *
 * ```js
 * import { emscripten } from 'wasm-hostalloc/host';
 * const Module = await createModule({ instantiateWasm: emscripten(convertedBytes) });
 * ```
 *
 * - Exported and imported memories: closure-minified glue creates the memory (and takes its views)
 *   before instantiation and passes it in its import object; the hook finds it there.
 * - Growth goes through the glue's `emscripten_resize_heap` (whatever its minified name: recorded
 *   by the transform in the module's `hostalloc` custom section, or given as `growImport`), which
 *   refreshes the glue's HEAP views.
 * - The heap attaches on the first `host_*` call or when instantiation returns, whichever comes first.
 */

import type { WasmImports, WasmInstance, WasmModule } from '../wasm-api.js';
import { WA } from '../wasm-api.js';
import { type GlueHeap, type GlueHostOptions, prepareGlueHeap } from './glue.js';
import type { HostAllocator } from './index.js';

/** What the hook accepts as the converted module: bytes, a compiled module, or a promise of either. */
export type ModuleSource =
  | ArrayBufferView
  | ArrayBuffer
  | WasmModule
  | Promise<ArrayBufferView | ArrayBuffer | WasmModule>;

/** `Module.instantiateWasm`, with the heap it made once called. */
export interface EmscriptenHook {
  (imports: WasmImports, receiveInstance: (instance: WasmInstance, module?: WasmModule) => unknown): object;
  /** The heap of the instance, once the glue called the hook (null before). */
  readonly heap: HostAllocator | null;
  /** Times the heap grew memory through the glue's resize import. */
  readonly glueGrowths: number;
  /** Settles when the instance was handed to the glue; rejects when instantiation failed. */
  readonly ready: Promise<WasmInstance>;
}

export async function compileSource(source: ModuleSource): Promise<WasmModule> {
  const s = await source;
  if (s instanceof WA.Module) return s;
  return WA.compile(s as ArrayBufferView | ArrayBuffer);
}

/**
 * Makes a `Module.instantiateWasm` hook for Emscripten glue (3.x and 4.x, minified or not) that runs
 * the converted module `source` on a host heap. One hook per instance.
 */
export function emscripten(source: ModuleSource, options: GlueHostOptions = {}): EmscriptenHook {
  let glue: GlueHeap | null = null;
  let settle: { resolve: (i: WasmInstance) => void; reject: (e: unknown) => void } | undefined;
  const ready = new Promise<WasmInstance>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const hook = (
    imports: WasmImports,
    receiveInstance: (instance: WasmInstance, module?: WasmModule) => unknown,
  ): object => {
    compileSource(source)
      .then(async (module) => {
        glue = prepareGlueHeap(module, imports, options);
        const instance = await WA.instantiate(module, glue.imports);
        glue.setInstance(instance);
        receiveInstance(instance, module);
        settle!.resolve(instance);
      })
      .catch((e: unknown) => settle!.reject(e));
    // Emscripten: an empty object means "instantiation is asynchronous, receiveInstance follows".
    return {};
  };
  Object.defineProperties(hook, {
    heap: { get: () => glue?.heap ?? null },
    glueGrowths: { get: () => glue?.glueGrowths ?? 0 },
    ready: { value: ready },
  });
  return hook as EmscriptenHook;
}
