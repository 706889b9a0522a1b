/**
 * @fileoverview Glue that builds its import object where no option reaches it: wasm-bindgen's
 * `--target web` (`init()`), `--target nodejs` (instantiates when required) and napi-rs's
 * wasm32-wasi loaders (`*.wasi.cjs`). `withHostAllocator(load)` runs `load` with the WebAssembly
 * instantiation functions wrapped: every module instantiated meanwhile that imports `host_*` gets a
 * fresh host heap merged into its import object, attached on its first call or when instantiation
 * returns. Modules that import no `host_*` are instantiated untouched.
 *
 * ```js
 * import { withHostAllocator } from 'wasm-hostalloc/host';
 * const { result: lib, heaps } = withHostAllocator(() => require('./pkg/my_lib.js')); // nodejs target
 * const { heaps } = await withHostAllocator(() => init({ module_or_path: bytes }));    // web target
 * ```
 *
 * `--target bundler` output needs no wrapping when instantiated by hand: instantiate the `_bg.wasm`
 * with `{ './x_bg.js': bg, ...heap-merged env }` (see `hostImports`) and pass the exports to
 * `__wbg_set_wasm`. Growth: wasm-bindgen re-creates its memory views when they are detached, so the
 * heap grows the memory directly (unless the module records a grow import).
 *
 * Threads: the heap is a JS object of the thread that ran `load`. napi-rs's wasm32-wasip1-threads
 * builds (converted with `allowShared`) run their synchronous functions there, on the heap; their
 * async work runs in the loader's worker threads, which instantiate the module with import objects
 * of their own, without `host_*`: the worker fails to link (a LinkError the loader rethrows in the
 * main thread). Only the synchronous API of such a package works on this host.
 */

import type { WasmImports, WasmInstance, WasmModule } from '../wasm-api.js';
import { WA } from '../wasm-api.js';
import { type GlueHeap, type GlueHostOptions, hostImportModules, prepareGlueHeap } from './glue.js';
import type { HostAllocator } from './index.js';

type Api = {
  instantiate: (source: unknown, imports?: WasmImports) => Promise<unknown>;
  instantiateStreaming?: (source: unknown, imports?: WasmImports) => Promise<unknown>;
  compileStreaming?: (source: unknown) => Promise<WasmModule>;
  Instance: new (module: WasmModule, imports?: WasmImports) => WasmInstance;
};

/** What `withHostAllocator` gives back: `load`'s result and the heaps it made, in order. */
export interface WithHostAllocatorResult<T> {
  result: T;
  heaps: HostAllocator[];
}

/**
 * Merges a fresh heap into `imports` for `module` (a compiled converted module): returns the import
 * object to instantiate with, and `attach(instance)` to call once instantiated. For hand-written
 * loaders (wasm-bindgen's bundler output, napi-rs's `overwriteImports`).
 */
export function hostImports(
  module: WasmModule,
  imports: WasmImports = {},
  options: GlueHostOptions = {},
): { imports: WasmImports; heap: HostAllocator; attach(instance: WasmInstance): void } {
  const g = prepareGlueHeap(module, imports, options, 'memory.grow');
  return { imports: g.imports, heap: g.heap, attach: (i) => g.setInstance(i) };
}

/**
 * Runs `load` with WebAssembly.instantiate, instantiateStreaming and Instance wrapped so that
 * converted modules get `env.host_*` (see the file overview). Synchronous `load` (wasm-bindgen's
 * nodejs target, napi-rs's loader) gets a synchronous result; a promise is awaited before the
 * functions are restored. Do not run two at once.
 */
export function withHostAllocator<T>(
  load: () => T,
  options: GlueHostOptions = {},
): T extends Promise<infer U> ? Promise<WithHostAllocatorResult<U>> : WithHostAllocatorResult<T> {
  const api = WA as unknown as Api;
  const saved = {
    instantiate: api.instantiate,
    instantiateStreaming: api.instantiateStreaming,
    Instance: api.Instance,
  };
  const heaps: HostAllocator[] = [];
  const prepare = (module: WasmModule, imports: WasmImports | undefined): GlueHeap | undefined => {
    if (hostImportModules(module).length === 0) return undefined;
    const g = prepareGlueHeap(module, imports ?? {}, options, 'memory.grow');
    heaps.push(g.heap);
    return g;
  };
  const instantiateModule = async (module: WasmModule, imports?: WasmImports): Promise<WasmInstance> => {
    const g = prepare(module, imports);
    const instance = (await saved.instantiate.call(WA, module, g?.imports ?? imports)) as WasmInstance;
    g?.setInstance(instance);
    return instance;
  };
  api.instantiate = async (source: unknown, imports?: WasmImports) => {
    if (source instanceof saved.Instance) return source;
    if (source instanceof WA.Module) return instantiateModule(source, imports);
    const module = await WA.compile(source as ArrayBufferView);
    return { module, instance: await instantiateModule(module, imports) };
  };
  if (saved.instantiateStreaming && api.compileStreaming) {
    const compileStreaming = api.compileStreaming.bind(WA);
    api.instantiateStreaming = async (source: unknown, imports?: WasmImports) => {
      const module = await compileStreaming(source);
      return { module, instance: await instantiateModule(module, imports) };
    };
  }
  api.Instance = new Proxy(saved.Instance, {
    construct(target, args: [WasmModule, WasmImports?]) {
      const g = prepare(args[0], args[1]);
      const instance = Reflect.construct(target, [args[0], g?.imports ?? args[1]]) as WasmInstance;
      g?.setInstance(instance);
      return instance;
    },
  });
  const restore = (): void => {
    api.instantiate = saved.instantiate;
    if (saved.instantiateStreaming) api.instantiateStreaming = saved.instantiateStreaming;
    api.Instance = saved.Instance;
  };
  let out: T;
  try {
    out = load();
  } catch (e) {
    restore();
    throw e;
  }
  if (out instanceof Promise) {
    return out.then(
      (result) => {
        restore();
        return { result, heaps };
      },
      (e: unknown) => {
        restore();
        throw e;
      },
    ) as never;
  }
  restore();
  return { result: out, heaps } as never;
}
