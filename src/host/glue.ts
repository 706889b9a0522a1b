/**
 * @fileoverview What the glue helpers (./emscripten.ts, ./bindgen.ts) share: reading what a converted
 * module says about itself (its `hostalloc` custom section, its imports), merging a heap's
 * `host_*` functions into a glue's import object, routing growth through the glue, and attaching
 * lazily, on the first host call, once the memory and the heap base are known.
 */

import { HOST_IMPORTS } from '../conventions.js';
import type { WasmImports, WasmInstance, WasmMemory, WasmModule } from '../wasm-api.js';
import { WA } from '../wasm-api.js';
import { createHostAllocator, type HostAllocator, type HostAllocatorOptions } from './index.js';

/** The import the old allocator grew memory through (TransformReport.growImport). */
export interface GlueGrowImport {
  module: string;
  name: string;
  /**
   * 'resize' (emscripten_resize_heap) or 'notify' (emscripten_notify_memory_growth). When absent:
   * 'notify' for an import named emscripten_notify_memory_growth, else 'resize'.
   */
  kind?: 'resize' | 'notify';
}

/** The JSON of a converted module's `hostalloc` custom section (fields this file reads). */
export interface HostallocSection {
  /** The heap base's address (`heapBase` in the section is its confidence). */
  heapBaseValue?: number;
  growImport?: GlueGrowImport;
}

/** Options every glue helper takes. */
export interface GlueHostOptions {
  /**
   * The import to grow memory through. Default: the module's `hostalloc` custom section, else the
   * glue's function named `emscripten_resize_heap` (by key or by function name), else none.
   */
  growImport?: GlueGrowImport;
  /** The heap base, when the module neither exports `__heap_base` nor records it. */
  heapBase?: number | bigint;
  /** Called after every growth made by the heap. */
  onGrow?: HostAllocatorOptions['onGrow'];
}

const PAGE = 65536;
const DECODER = new TextDecoder();

/** The module's `hostalloc` custom section, parsed; undefined when absent or unreadable. */
export function readHostallocSection(module: WasmModule): HostallocSection | undefined {
  const sections = WA.Module.customSections(module, 'hostalloc');
  if (sections.length !== 1) return undefined;
  try {
    const json = JSON.parse(DECODER.decode(sections[0])) as unknown;
    return typeof json === 'object' && json !== null ? (json as HostallocSection) : undefined;
  } catch {
    return undefined;
  }
}

/** The import namespaces the module takes `host_*` functions from. */
export function hostImportModules(module: WasmModule): string[] {
  const names = new Set<string>(HOST_IMPORTS);
  const out = new Set<string>();
  for (const imp of WA.Module.imports(module)) {
    if (imp.kind === 'function' && names.has(imp.name)) out.add(imp.module);
  }
  return [...out];
}

function isFunction(v: unknown): v is (...args: unknown[]) => unknown {
  return typeof v === 'function';
}

/** The glue's resize function when it is recognisable by name (unminified glue). */
function resizeByName(imports: WasmImports): GlueGrowImport | undefined {
  for (const [module, ns] of Object.entries(imports)) {
    for (const [name, v] of Object.entries(ns ?? {})) {
      if (!isFunction(v)) continue;
      if (name === 'emscripten_resize_heap' || v.name === '_emscripten_resize_heap')
        return { module, name, kind: 'resize' };
      if (name === 'emscripten_notify_memory_growth') return { module, name, kind: 'notify' };
    }
  }
  return undefined;
}

function growDirectly(memory: WasmMemory, delta: number): boolean {
  try {
    memory.grow(delta);
    return true;
  } catch (e) {
    if (e instanceof RangeError) return false;
    throw e;
  }
}

/** A heap bound to one instantiation of `module` with the glue's `imports`. */
export interface GlueHeap {
  heap: HostAllocator;
  /** `imports` with the heap's functions merged in (new objects; `imports` is not mutated). */
  imports: WasmImports;
  /** Where growth goes; undefined when the heap cannot grow the memory. */
  growImport: GlueGrowImport | undefined;
  /** Times the heap grew the memory through the glue's import. */
  readonly glueGrowths: number;
  /** Gives the heap its instance once instantiation returned (attaches unless a call did already). */
  setInstance(instance: WasmInstance): void;
}

/**
 * Prepares a heap for `module` instantiated with the glue's `imports`: merges `env.host_*` (or the
 * namespace the module imports them from), finds an imported memory, and routes growth through the
 * glue's grow import so that the glue refreshes its views. Without a grow import the heap does not
 * grow the memory (growing behind the glue's back would leave its views stale): allocation then
 * fails with NULL when the memory is full (`fallback` 'none'), or grows the memory directly
 * ('memory.grow', for glue that re-creates its views when they are detached, as wasm-bindgen's does).
 */
export function prepareGlueHeap(
  module: WasmModule,
  imports: WasmImports,
  options: GlueHostOptions = {},
  /** Without a grow import: 'none' refuses to grow (Emscripten), 'memory.grow' grows directly. */
  fallback: 'none' | 'memory.grow' = 'none',
): GlueHeap {
  const section = readHostallocSection(module);
  const found = options.growImport ?? section?.growImport ?? resizeByName(imports);
  // A record without `kind`: STANDALONE builds keep the notify import's name, resize is the rest.
  const growImport: GlueGrowImport | undefined = found && {
    ...found,
    kind: found.kind ?? (found.name === 'emscripten_notify_memory_growth' ? 'notify' : 'resize'),
  };
  const growFn = growImport ? imports[growImport.module]?.[growImport.name] : undefined;
  let memory: WasmMemory | undefined;
  for (const imp of WA.Module.imports(module)) {
    const v = imports[imp.module]?.[imp.name];
    if (imp.kind === 'memory' && v instanceof WA.Memory) memory = v as WasmMemory;
  }
  const heapBase =
    options.heapBase ?? (typeof section?.heapBaseValue === 'number' ? section.heapBaseValue : undefined);
  let glueGrowths = 0;
  const grow = (mem: WasmMemory, delta: number): boolean => {
    if (!growImport || !isFunction(growFn)) return fallback === 'memory.grow' && growDirectly(mem, delta);
    glueGrowths++;
    if (growImport.kind === 'notify') {
      if (!growDirectly(mem, delta)) return false;
      growFn(0);
      return true;
    }
    const before = mem.buffer.byteLength;
    return Boolean(growFn(before + delta * PAGE)) && mem.buffer.byteLength > before;
  };
  const heap = createHostAllocator({
    grow,
    ...(options.onGrow ? { onGrow: options.onGrow } : {}),
    // Both known up front (imported memory, recorded heap base): the heap attaches itself on use.
    ...(memory !== undefined ? { memory } : {}),
    ...(heapBase !== undefined ? { heapBase } : {}),
  });

  let instance: WasmInstance | undefined;
  const attach = (): void => {
    if (heap.attached || instance === undefined) return;
    const ex = instance.exports;
    let mem = memory;
    if (mem === undefined) {
      const exported = [...new Set(Object.values(ex).filter((v) => v instanceof WA.Memory))];
      if (exported.length === 1) mem = exported[0] as WasmMemory;
    }
    heap.attach({
      exports: {
        ...(mem ? { memory: mem } : {}),
        ...(ex['__heap_base'] !== undefined ? { __heap_base: ex['__heap_base'] } : {}),
        ...(ex['__hostalloc_abi'] !== undefined ? { __hostalloc_abi: ex['__hostalloc_abi'] } : {}),
      },
    });
  };
  // Attach on the first call: an initialiser may allocate before the glue sees the instance.
  const lazy: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(heap.imports as unknown as Record<string, unknown>)) {
    const f = fn as (...a: unknown[]) => unknown;
    lazy[name] = (...a: unknown[]) => {
      if (!heap.attached) attach();
      return f(...a);
    };
  }
  const merged: WasmImports = { ...imports };
  const namespaces = hostImportModules(module);
  for (const ns of namespaces.length > 0 ? namespaces : ['env']) {
    merged[ns] = { ...(imports[ns] ?? {}), ...lazy };
  }
  return {
    heap,
    imports: merged,
    growImport: growImport && isFunction(growFn) ? growImport : undefined,
    get glueGrowths() {
      return glueGrowths;
    },
    setInstance(i: WasmInstance): void {
      instance = i;
      attach();
    },
  };
}
