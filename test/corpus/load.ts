/**
 * @fileoverview Loading a real-world Emscripten package through its own JS glue, with the wasm bytes
 * substituted: the glue's `instantiateWasm(imports, receiveInstance)` hook instantiates the bytes we
 * give it. A transformed binary goes through `emscripten()` of wasm-hostalloc/host, which adds the
 * host allocator's `env.host_*` to the glue's (minified) import object and grows memory through the
 * glue's own resize import (the transform reports which one), so that the glue's views stay valid.
 */

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WASI } from 'node:wasi';
import {
  createHostAllocator,
  type EmscriptenHook,
  emscripten,
  type GlueHostOptions,
  type HostAllocator,
} from '../../src/host/index.js';
import type { Imports, WasmInstance, WasmModule } from '../harness/wasm.js';

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

/** How to instantiate: the original bytes as they are, or a transformed binary on a host heap. */
export interface Substitution {
  bytes: Uint8Array;
  /**
   * Present for a transformed binary: run it through the `emscripten()` hook of wasm-hostalloc/host,
   * with the options given here (the transform report's growImport).
   */
  host?: GlueHostOptions;
}

/** What a load produced besides the glue's own module object. */
export interface LoadState {
  instance: WasmInstance | null;
  /** The hook of a transformed binary (its heap and growth counts). */
  hook: EmscriptenHook | null;
  /** The host heap of a transformed binary loaded without Emscripten glue (WASI commands). */
  heap?: HostAllocator | null;
  /** Set when instantiation failed (the glue may swallow it). */
  instanceError?: unknown;
}

/**
 * Module options for an Emscripten glue: `wasmBinary` plus an `instantiateWasm` hook: for the
 * original, a plain instantiation of `sub.bytes`; for a transformed binary, the library's own
 * `emscripten()` helper, exactly as a user would set it.
 */
export function glueOptions(sub: Substitution, state: LoadState): Record<string, unknown> {
  const base = { wasmBinary: sub.bytes, print: () => {}, printErr: () => {} };
  if (sub.host) {
    const hook = emscripten(sub.bytes, sub.host);
    state.hook = hook;
    hook.ready.then(
      (instance) => {
        state.instance = instance;
      },
      (e: unknown) => {
        state.instanceError = e;
      },
    );
    return { ...base, instantiateWasm: hook };
  }
  return {
    ...base,
    instantiateWasm(imports: ImportObject, receive: ReceiveInstance): Record<string, never> {
      W.instantiate(sub.bytes, imports).then(
        ({ instance, module }) => {
          state.instance = instance;
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
  return { instance: null, hook: null, heap: null };
}

/**
 * `options` with `instantiateWasm` kept whatever the glue assigns to it. SQLite's pre-js
 * (@sqlite.org/sqlite-wasm) overwrites `Module.instantiateWasm` with its own, which fetches
 * `sqlite3.wasm` next to the script (Node's fetch cannot read file: URLs); an embedder that supplies
 * the binary keeps its hook the same way. Everything else in the glue runs as shipped.
 */
export function keepInstantiateWasm(options: Record<string, unknown>): Record<string, unknown> {
  const { instantiateWasm, ...rest } = options;
  return Object.defineProperty(rest, 'instantiateWasm', {
    get: () => instantiateWasm,
    set: () => {},
    enumerable: true,
  });
}

/** An imported ES module evaluated afresh (a query makes a new module record), for glues with state. */
let freshEsmCount = 0;
export async function importEsmFresh<T>(file: string): Promise<T> {
  freshEsmCount += 1;
  return (await import(`${pathToFileURL(file).href}?corpus-run=${freshEsmCount}`)) as T;
}

/** What a WASI command run produced: its exit code and the files it wrote under /out. */
export interface WasiRun {
  exitCode: number;
  files: Record<string, Uint8Array>;
}

/**
 * Runs a WASI (preview1) command with Node's own WASI, the loader a wasi-sdk program uses in Node:
 * `args` (argv[0] included), a fresh directory preopened as /out, and `outputs` read back from it. A
 * transformed binary gets the host allocator's imports (`env.host_*`) and its heap, attached to the
 * exported memory, is recorded in `state.heap`.
 */
export async function runWasiCommand(
  sub: Substitution,
  state: LoadState,
  args: string[],
  outputs: string[],
): Promise<WasiRun> {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-hostalloc-corpus-'));
  try {
    const wasi = new WASI({
      version: 'preview1',
      args,
      env: {},
      preopens: { '/out': dir },
      returnOnExit: true,
    });
    const imports: Imports = { wasi_snapshot_preview1: wasi.wasiImport as Imports[string] };
    if (sub.host) {
      const heap = createHostAllocator();
      state.heap = heap;
      imports.env = heap.imports as unknown as Imports[string];
    }
    const { instance } = await W.instantiate(sub.bytes, imports);
    state.instance = instance;
    state.heap?.attach(instance);
    const exitCode = wasi.start(instance as unknown as object);
    const files: Record<string, Uint8Array> = {};
    for (const name of outputs) files[name] = new Uint8Array(readFileSync(join(dir, name)));
    return { exitCode, files };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
