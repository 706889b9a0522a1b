/**
 * @fileoverview Access to the committed fixture modules: fixtures/manifest.json and fixtures/wasm.
 * The fixtures are rebuilt from fixtures/src by `npm run fixtures`; tests only read them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the top-level fixtures/ directory. */
export const FIXTURES_DIR = fileURLToPath(new URL('../../fixtures/', import.meta.url));

/** Toolchain that built a fixture. */
export type Toolchain = 'emcc' | 'clang-wasi' | 'clang-nostdlib' | 'rustc';

/** Allocator linked into a fixture; `none` for the -sMALLOC=none reference that imports it. */
export type AllocatorKind =
  | 'dlmalloc'
  | 'emmalloc'
  | 'wasi-dlmalloc'
  | 'rust-dlmalloc'
  | 'custom-freelist'
  | 'none';

/** One module of fixtures/manifest.json. */
export interface FixtureEntry {
  /** Kebab-case name, also the file's base name. */
  name: string;
  /** The .wasm, relative to fixtures/. */
  file: string;
  /** Emscripten JS glue (CommonJS, relative to fixtures/) when the module must run through it. */
  glue?: string;
  toolchain: Toolchain;
  toolchainVersion: string;
  /** Compile and link flags, without file names. */
  flags: string[];
  /** Source language: `c` (plugin.c), `cxx` (plugin.cpp) or `rust` (plugin.rs). */
  language: 'c' | 'cxx' | 'rust';
  allocator: AllocatorKind;
  layout: 'data-stack-heap' | 'stack-data-heap';
  /** Whether linear memory can grow (false: emcc's fixed 16 MiB). */
  growth: boolean;
  /** Whether the module has a `name` custom section. */
  names: boolean;
  /** Whether this is a `wasm-opt --strip-debug --strip-producers` copy of `strippedOf`. */
  stripped: boolean;
  /** The -sMALLOC=none reference build: imports env.malloc/free/…; cannot run without a host allocator. */
  reference: boolean;
  strippedOf: string | null;
  /** Whether a `__heap_base` global is exported. */
  exportsHeapBase: boolean;
  /** Value of the exported `__heap_base` global, or null when it is not exported. */
  heapBase: number | null;
  /** The wl_* workload functions the module exports, sorted. */
  workloads: string[];
  /** Size of the .wasm in bytes. */
  size: number;
}

/** Shape of fixtures/manifest.json. */
export interface Manifest {
  fixtures: FixtureEntry[];
}

let cached: Manifest | undefined;

/** Reads fixtures/manifest.json (once per process). */
export function loadManifest(): Manifest {
  cached ??= JSON.parse(readFileSync(join(FIXTURES_DIR, 'manifest.json'), 'utf8')) as Manifest;
  return cached;
}

/** The manifest entry called `name`; throws when there is none. */
export function getFixture(name: string): FixtureEntry {
  const entry = loadManifest().fixtures.find((f) => f.name === name);
  if (!entry) throw new Error(`no fixture named ${name} in fixtures/manifest.json`);
  return entry;
}

/** Absolute path of a fixture's .wasm. */
export function fixturePath(entry: FixtureEntry): string {
  return join(FIXTURES_DIR, entry.file);
}

/** Absolute path of a fixture's JS glue, or undefined for standalone modules. */
export function gluePath(entry: FixtureEntry): string | undefined {
  return entry.glue === undefined ? undefined : join(FIXTURES_DIR, entry.glue);
}

/** The bytes of the fixture called `name`. */
export function readFixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fixturePath(getFixture(name))));
}

/** Every committed fixture module, absolute paths (the GC ones, refused at once, left out). */
export function fixtureModules(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.wasm') && !path.includes('/gc/')) out.push(path);
    }
  };
  walk(FIXTURES_DIR);
  return out.sort();
}

/**
 * Real published modules (pinned devDependencies) for structural checks of the output: several
 * toolchains, with and without names, one to two thousand functions each.
 */
export const PACKAGE_MODULES = [
  'sql.js/dist/sql-wasm.wasm',
  '@jitl/quickjs-wasmfile-release-sync/dist/emscripten-module.wasm',
  '@silvia-odwyer/photon-node/photon_rs_bg.wasm', // Rust: two tables, wasm-bindgen's externref table
  '@jsquash/png/codec/pkg/squoosh_png_bg.wasm',
  '@bokuweb/zstd-wasm/dist/common/zstd.wasm',
  'harfbuzzjs/dist/harfbuzz.wasm',
];

/** The absolute path of a module in node_modules. */
export const packageModulePath = (p: string): string =>
  fileURLToPath(new URL(`../../node_modules/${p}`, import.meta.url));
