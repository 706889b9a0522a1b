/**
 * @fileoverview Differential test harness: instantiates fixture modules with automatically
 * provided imports and runs the workload ABI of fixtures/src/workload.h on them.
 *
 * Original modules run on their own allocator:
 *   const plugin = instantiateOriginal(bytes, entry);
 *   const results = runWorkloads(plugin, moduleAllocator(plugin, entry), entry);
 *
 * A transformed module (allocator replaced by env.host_malloc …) runs the same way with the host
 * allocator's imports merged over the automatic ones, and the host heap as the allocator the
 * harness uses for its own buffers:
 *   const plugin = instantiateWith(transformed, { env: { host_malloc: …, host_free: … } });
 *   const results = runWorkloads(plugin, { malloc: heap.malloc, free: heap.free }, entry);
 *   expect(results).toEqual(originalResults);
 *
 * The emcc JS glue build runs through its glue: `await instantiateGlue(entry)`; see there for
 * running a modified binary through the same glue.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { WASI } from 'node:wasi';
import { type FixtureEntry, fixturePath, gluePath } from './fixtures.js';
import { type Imports, WA, type WasmInstance, type WasmMemory, type WasmModule } from './wasm.js';

export type { Imports } from './wasm.js';

/** Allocator the harness uses for buffers it passes in (wl_input) and frees (wl_output). */
export interface HarnessAllocator {
  malloc(size: number): number;
  /** `size` is the block's size: Rust's `wl_dealloc` needs it; other allocators ignore it. */
  free(ptr: number, size?: number): void;
}

/** A running plugin, however it was instantiated. */
export interface Plugin {
  /** Calls an export by its source name (`wl_mixed`, `malloc`…); returns its i32 result (0 for void). */
  call(name: string, ...args: number[]): number;
  /** Whether the plugin has the export `name`. */
  has(name: string): boolean;
  /** A view of linear memory as it is now (take a new one after any call: memory may grow). */
  bytes(): Uint8Array;
  /** The wasm instance (for the glue build: the instance the glue created, when known). */
  instance: WasmInstance | undefined;
}

/** Workload results: one unsigned checksum or a list of them per workload. */
export type WorkloadResults = Record<string, number | number[]>;

/** Seeds and sizes runWorkloads uses. */
export const MIXED_SEEDS = [1, 2, 3, 4, 5] as const;
export const CXX_SEEDS = [1, 2, 3] as const;
export const INPUT_LENGTHS = [1, 100, 5000, 70000] as const;
export const OUTPUT_LENGTHS = [1, 64, 4096, 100000] as const;
/** wl_big seed 1 keeps under 9 MiB live (fits fixed 16 MiB emcc builds); seed 3 (bit 1 set) scales by 4 and needs memory growth. */
export const BIG_SEED = 1;
export const BIG_GROW_SEED = 3;

/** FNV-1a over bytes, the same hash the plugins use. */
export function fnv1a(bytes: Uint8Array, h = 2166136261): number {
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h >>> 0;
}

/** Byte i of the deterministic wl_input buffer of length n. */
export function inputByte(n: number, i: number): number {
  return (i * 13 + n + (i >> 5)) & 0xff;
}

/** Byte i of wl_output(n), as the plugins fill it (workload.h wl_out_byte). */
export function outputByte(n: number, i: number): number {
  return (i * 7 + n + (i >> 8)) & 0xff;
}

function throwingStub(module: string, name: string): () => never {
  return () => {
    throw new Error(`unexpected import ${module}.${name}`);
  };
}

/**
 * Imports for everything `module` imports: WASI preview1 through node:wasi, Emscripten standalone
 * helpers, and for any other function a stub that throws `unexpected import module.name`.
 * `memory` must return the instance's memory once it exists. Imports present in `provided` are
 * skipped (the caller supplies them, possibly non-function ones such as an imported memory).
 */
export function automaticImports(
  module: WasmModule,
  memory: () => WasmMemory,
  provided: Imports = {},
): { imports: Imports; wasi: WASI | undefined } {
  const imports: Imports = {};
  let wasi: WASI | undefined;
  for (const imp of WA.Module.imports(module)) {
    if (provided[imp.module] !== undefined && imp.name in provided[imp.module]!) continue;
    imports[imp.module] ??= {};
    const slot = imports[imp.module]!;
    if (imp.module === 'wasi_snapshot_preview1' || imp.module === 'wasi_unstable') {
      wasi ??= new WASI({ version: 'preview1', returnOnExit: true, args: [], env: {} });
      slot[imp.name] =
        (wasi.wasiImport as Record<string, unknown>)[imp.name] ?? throwingStub(imp.module, imp.name);
      continue;
    }
    if (imp.kind !== 'function') {
      throw new Error(`unsupported ${imp.kind} import ${imp.module}.${imp.name}: pass it in extraImports`);
    }
    slot[imp.name] = emscriptenImport(imp.module, imp.name, memory) ?? throwingStub(imp.module, imp.name);
  }
  return { imports, wasi };
}

/** The few functions an Emscripten STANDALONE_WASM module may import from env. */
function emscriptenImport(module: string, name: string, memory: () => WasmMemory): unknown {
  if (module !== 'env') return undefined;
  switch (name) {
    case 'emscripten_notify_memory_growth':
      return () => {};
    case 'emscripten_memcpy_big':
      return (dest: number, src: number, num: number) => {
        const view = new Uint8Array(memory().buffer);
        view.copyWithin(dest, src, src + num);
        return dest;
      };
    default:
      return undefined;
  }
}

/** Wraps a plain instance (memory exported as `memory`). */
export function pluginOf(instance: WasmInstance): Plugin {
  const exports = instance.exports as Record<string, unknown>;
  const memory = exports['memory'];
  if (!(memory instanceof WA.Memory)) throw new Error('module does not export its memory as "memory"');
  return {
    instance,
    has: (name) => typeof exports[name] === 'function',
    call(name, ...args) {
      const fn = exports[name];
      if (typeof fn !== 'function') throw new Error(`missing export ${name}`);
      const r = fn(...args) as number | undefined;
      return typeof r === 'number' ? r : 0;
    },
    bytes: () => new Uint8Array(memory.buffer),
  };
}

/**
 * Instantiates `bytes` with the automatic imports, `extraImports` merged over them field by field
 * (so `{ env: { host_malloc } }` adds to or replaces single env functions), then runs the reactor
 * initializer (`wasi.initialize` when WASI is imported, else `_initialize` when exported).
 */
export function instantiateWith(bytes: Uint8Array, extraImports: Imports = {}): Plugin {
  const module = new WA.Module(bytes);
  let instance: WasmInstance | undefined;
  const memory = () => (instance!.exports as Record<string, unknown>)['memory'] as WasmMemory;
  const { imports, wasi } = automaticImports(module, memory, extraImports);
  for (const [mod, fields] of Object.entries(extraImports)) imports[mod] = { ...imports[mod], ...fields };
  instance = new WA.Instance(module, imports as Imports);
  if (wasi) {
    // Throws if the module is a command (`_start`); calls `_initialize` when there is one.
    wasi.initialize(instance);
  } else if (typeof instance.exports['_initialize'] === 'function') {
    (instance.exports['_initialize'] as () => void)();
  }
  return pluginOf(instance);
}

/** Instantiates an original (untransformed, standalone) fixture on its own allocator. */
export function instantiateOriginal(bytes: Uint8Array, entry: FixtureEntry): Plugin {
  if (entry.reference) {
    throw new Error(
      `${entry.name} is the -sMALLOC=none reference: it imports its allocator, run it with one`,
    );
  }
  if (entry.glue !== undefined)
    throw new Error(`${entry.name} runs through its JS glue: use instantiateGlue`);
  return instantiateWith(bytes);
}

/** The module's own allocator: malloc/free exports, or Rust's wl_alloc/wl_dealloc(ptr, len). */
export function moduleAllocator(plugin: Plugin, entry: FixtureEntry): HarnessAllocator {
  if (entry.language === 'rust') {
    return {
      malloc: (size) => plugin.call('wl_alloc', size) >>> 0,
      free(ptr, size) {
        if (size === undefined) throw new Error('wl_dealloc needs the block size');
        plugin.call('wl_dealloc', ptr, size);
      },
    };
  }
  return {
    malloc: (size) => plugin.call('malloc', size) >>> 0,
    free: (ptr) => void plugin.call('free', ptr),
  };
}

/**
 * Runs every workload `entry` exports and returns unsigned checksums:
 *   wl_mixed: number[5] (seeds 1..5), wl_big: number (seed 1, < 8 MiB live),
 *   wl_big_grow: number (seed 3, ~28 MiB live; only when entry.growth),
 *   wl_input: number[4] (lengths 1, 100, 5000, 70000), wl_output: number[4] (host-side FNV-1a of the
 *   bytes of lengths 1, 64, 4096, 100000), wl_cxx: number[3] (seeds 1..3; C++ only).
 * Buffers for wl_input come from `alloc.malloc` (the plugin frees them with its free());
 * wl_output's blocks are freed with `alloc.free(ptr, len)` after hashing.
 */
export function runWorkloads(plugin: Plugin, alloc: HarnessAllocator, entry: FixtureEntry): WorkloadResults {
  const results: WorkloadResults = {};
  const has = (w: string) => entry.workloads.includes(w);
  if (has('wl_mixed')) results['wl_mixed'] = MIXED_SEEDS.map((s) => plugin.call('wl_mixed', s) >>> 0);
  if (has('wl_big')) {
    results['wl_big'] = plugin.call('wl_big', BIG_SEED) >>> 0;
    if (entry.growth) results['wl_big_grow'] = plugin.call('wl_big', BIG_GROW_SEED) >>> 0;
  }
  if (has('wl_input')) {
    results['wl_input'] = INPUT_LENGTHS.map((len) => {
      const ptr = alloc.malloc(len) >>> 0;
      if (ptr === 0) throw new Error(`harness malloc(${len}) returned NULL`);
      const view = plugin.bytes();
      for (let i = 0; i < len; i++) view[ptr + i] = inputByte(len, i);
      return plugin.call('wl_input', ptr, len) >>> 0;
    });
  }
  if (has('wl_output')) {
    results['wl_output'] = OUTPUT_LENGTHS.map((len) => {
      const ptr = plugin.call('wl_output', len) >>> 0;
      if (ptr === 0) throw new Error(`wl_output(${len}) returned NULL`);
      const h = fnv1a(plugin.bytes().subarray(ptr, ptr + len));
      alloc.free(ptr, len);
      return h;
    });
  }
  if (has('wl_cxx')) results['wl_cxx'] = CXX_SEEDS.map((s) => plugin.call('wl_cxx', s) >>> 0);
  return results;
}

/** Expected host-side hash of wl_output(len), computed without the plugin. */
export function expectedOutputHash(len: number): number {
  const bytes = new Uint8Array(len);
  for (let i = 0; i < len; i++) bytes[i] = outputByte(len, i);
  return fnv1a(bytes);
}

/** Options for instantiateGlue. */
export interface GlueOptions {
  /** The .wasm to run instead of the fixture's own (e.g. a transformed copy of it). */
  wasmBinary?: Uint8Array;
  /** Imports merged over the glue's own (which live in minified module `a` at -O3). */
  extraImports?: Imports;
}

/** Emscripten's Module object, as far as the harness uses it. */
interface EmscriptenModule {
  HEAPU8: Uint8Array;
  [key: string]: unknown;
}

const require = createRequire(import.meta.url);

/**
 * Runs a JS+wasm emcc fixture through its own glue (built with -sMODULARIZE
 * -sEXPORT_NAME=createPlugin, so each call makes a fresh instance) and calls its workloads as
 * `Module._wl_mixed` etc.
 *
 * To run a modified binary through the same glue, pass it as `wasmBinary`: the glue then compiles
 * those bytes instead of reading emcc-O3-glue.wasm. When the modified binary needs imports the glue
 * does not know about (env.host_malloc …), also pass `extraImports`: the harness then uses
 * Emscripten's `instantiateWasm(imports, receiveInstance)` hook, merges `extraImports` over the
 * glue's import object and instantiates the module itself. The glue reaches exports by their
 * (minified) export names, so a transform must keep the original export names.
 */
export async function instantiateGlue(entry: FixtureEntry, options: GlueOptions = {}): Promise<Plugin> {
  const path = gluePath(entry);
  if (path === undefined) throw new Error(`${entry.name} has no JS glue`);
  const createPlugin = require(path) as (moduleArg: Record<string, unknown>) => Promise<EmscriptenModule>;
  const wasmBinary = options.wasmBinary ?? new Uint8Array(readFileSync(fixturePath(entry)));
  let instance: WasmInstance | undefined;
  const moduleArg: Record<string, unknown> = {
    wasmBinary,
    print: () => {},
    printErr: () => {},
    instantiateWasm(imports: Imports, receiveInstance: (instance: WasmInstance, module: WasmModule) => void) {
      const merged: Imports = { ...imports };
      for (const [mod, fields] of Object.entries(options.extraImports ?? {})) {
        merged[mod] = { ...merged[mod], ...fields };
      }
      const module = new WA.Module(wasmBinary);
      instance = new WA.Instance(module, merged as Imports);
      receiveInstance(instance, module);
      return instance.exports;
    },
  };
  const mod = await createPlugin(moduleArg);
  return {
    get instance() {
      return instance;
    },
    has: (name) => typeof mod[`_${name}`] === 'function',
    call(name, ...args) {
      const fn = mod[`_${name}`];
      if (typeof fn !== 'function') throw new Error(`missing export _${name} on the glue's Module`);
      const r = fn(...args) as number | undefined;
      return typeof r === 'number' ? r : 0;
    },
    bytes: () => mod.HEAPU8,
  };
}

/** Instantiates an original fixture (through its glue when it has one) and runs its workloads on its own allocator. */
export async function runOriginal(entry: FixtureEntry): Promise<WorkloadResults> {
  const plugin =
    entry.glue !== undefined
      ? await instantiateGlue(entry)
      : instantiateOriginal(new Uint8Array(readFileSync(fixturePath(entry))), entry);
  return runWorkloads(plugin, moduleAllocator(plugin, entry), entry);
}
