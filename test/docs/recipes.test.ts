/**
 * @fileoverview The direct-build recipes of docs/faq.md and docs/toolchains.md, and adopt
 * (src/adopt.ts) which makes them "toolchain + one wasm-hostalloc command".
 *
 * fixtures/recipes/*.wasm are the plugins of docs/recipes-src/ exactly as each toolchain linked them
 * (fixtures/recipes/build.sh: clang-16, clang-19, emcc 3.1.6, rustc 1.63), committed so that this
 * test needs no toolchain. Each must be adopted by `transform` (only the marker and layout exports
 * added, no code changed), pass `verify`, and run on the JS host: the host allocates for the plugin
 * and frees what the plugin returns, and the plugin frees what the host hands it.
 */

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import binaryen from 'binaryen';
import { describe, expect, it } from 'vitest';
import { createHostAllocator } from '../../src/host/index.js';
import { inspect, transform, verify } from '../../src/index.js';
import { readModule } from '../../src/wasm/reader.js';
import { ROOT } from '../cli/helpers.js';
import { WA } from '../harness/wasm.js';

const RECIPES = path.join(ROOT, 'fixtures/recipes');

/** What each recipe module must look like; a new file in fixtures/recipes/ needs a row here. */
const EXPECTED: Record<string, { layout: string; heapBaseSource: RegExp }> = {
  'c-host-alloc-clang-16.wasm': { layout: 'data-stack-heap', heapBaseSource: /export __heap_base/ },
  'c-host-alloc-clang-19.wasm': { layout: 'data-stack-heap', heapBaseSource: /export __heap_base/ },
  'c-host-alloc-emcc.wasm': { layout: 'data-stack-heap', heapBaseSource: /export __heap_base/ },
  'rust-host-alloc.wasm': { layout: 'stack-data-heap', heapBaseSource: /export __heap_base/ },
};

const sorted = (xs: string[]) => [...xs].sort();
const exportNames = (bytes: Uint8Array) => sorted(readModule(bytes).exports.map((e) => e.name));

/** Runs greet and consume on the JS host; every block must be freed at the end. */
function runRecipe(bytes: Uint8Array): string {
  const heap = createHostAllocator();
  const instance = new WA.Instance(new WA.Module(bytes), { env: { ...heap.imports } });
  heap.attach(instance);
  const ex = instance.exports as Record<string, (...a: number[]) => number>;
  ex['_initialize']?.();
  const name = new TextEncoder().encode('docs');
  const p = heap.malloc(name.length + 1);
  new Uint8Array(heap.memory!.buffer).set([...name, 0], p);
  // C: greet(const char *); Rust: greet(ptr, len).
  const q = ex['greet']!.length === 1 ? ex['greet']!(p) : ex['greet']!(p, name.length);
  const greeting = new TextDecoder().decode(new Uint8Array(heap.memory!.buffer, q, 11));
  heap.free(q);
  ex['consume']!(p, name.length); // frees p with the module's free / dealloc
  expect(heap.stats().blocks).toBe(0);
  return greeting;
}

describe('recipes (fixtures/recipes, built from docs/recipes-src): one transform adopts them', () => {
  const files = readdirSync(RECIPES).filter((f) => f.endsWith('.wasm'));

  it('every recipe module is listed, and every listed one exists', () => {
    expect(sorted(files)).toEqual(sorted(Object.keys(EXPECTED)));
  });

  for (const file of files) {
    it(`${file}: adopted, compliant, unchanged code, runs on the JS host`, async () => {
      const raw = new Uint8Array(readFileSync(path.join(RECIPES, file)));
      const before = await verify(raw);
      expect(before.problems.map((p) => p.code)).toContain('missing-abi-marker');

      const { bytes, report } = await transform(raw);
      expect(report.status).toBe('adopted');
      expect(report.replaced).toEqual([]);
      expect(report.functionsRemoved).toBe(0);
      // The code is unchanged; the only function added is ABI 2's one-instruction __hostalloc_grow.
      const out = readModule(bytes);
      expect(out.functions.length).toBe(readModule(raw).functions.length + 1);
      expect(out.exports.map((e) => e.name)).toContain('__hostalloc_grow');
      // Only layout exports are added; whatever the toolchain exported stays.
      const added = exportNames(bytes).filter((e) => !exportNames(raw).includes(e));
      expect(added).toContain('__hostalloc_abi');
      for (const e of added) expect(e).toMatch(/^(__hostalloc_\w+|__heap_base|__data_end|memory)$/);
      expect(exportNames(bytes)).toEqual(expect.arrayContaining(exportNames(raw)));

      expect((await verify(bytes)).problems).toEqual([]);
      const facts = await inspect(bytes);
      expect(facts.layout.kind).toBe(EXPECTED[file]!.layout);
      expect(facts.layout.heapBase.source).toMatch(EXPECTED[file]!.heapBaseSource);
      expect(runRecipe(bytes)).toBe('hello, docs');
      // A second run finds nothing to do.
      expect((await transform(bytes)).report.status).toBe('already-compliant');
    });
  }
});

/** Assembles WAT with binaryen (names kept). */
function wat(text: string): Uint8Array {
  const m = binaryen.parseText(text);
  try {
    binaryen.setDebugInfo(true);
    return m.emitBinary();
  } finally {
    binaryen.setDebugInfo(false);
    m.dispose();
  }
}

/** A plugin over host_* (data-stack-heap, __heap_base exported); `body` adds or replaces functions. */
function plugin(body: string, imports = ['host_malloc', 'host_free'], module = 'env'): Uint8Array {
  const sigs: Record<string, string> = {
    host_malloc: '(param i32) (result i32)',
    host_free: '(param i32)',
  };
  return wat(`(module
    ${imports.map((i) => `(import "${module}" "${i}" (func $${i} ${sigs[i]}))`).join('\n')}
    (memory $mem 2)
    (export "memory" (memory $mem))
    (global $__stack_pointer (mut i32) (i32.const 67072))
    (global $hb i32 (i32.const 67072))
    (export "__heap_base" (global $hb))
    (data (i32.const 1024) "plugin")
    (func $run (export "run") (param $n i32) (result i32)
      (local $p i32)
      (local.set $p (call $host_malloc (local.get $n)))
      (i32.store (local.get $p) (i32.const 7))
      (i32.load (local.get $p)))
    ${body})`);
}

describe('adopt applies only to modules without an allocator of their own', () => {
  it('adopts a module over host_*, and adds host_free when the linker dropped it', async () => {
    const { bytes, report } = await transform(plugin('', ['host_malloc']));
    expect(report.status).toBe('adopted');
    expect(report.imports).toEqual(['host_malloc', 'host_free']);
    expect((await verify(bytes)).problems).toEqual([]);
  });

  it('honours importModule: host_* from another module are adopted only when it is named', async () => {
    const raw = plugin('', ['host_malloc', 'host_free'], 'host');
    expect((await transform(raw, { importModule: 'host' })).report.status).toBe('adopted');
    await expect(transform(raw)).rejects.toMatchObject({ code: 'HA010' }); // no malloc in 'env'
  });

  it('a malloc that grows memory itself is an allocator of its own: transformed, not adopted', async () => {
    const own = `(func $malloc (export "malloc") (param $n i32) (result i32)
        (i32.mul (memory.grow (i32.const 1)) (i32.const 65536)))
      (func $free (export "free") (param $p i32))`;
    const { bytes, report } = await transform(plugin(own));
    expect(report.status).toBe('transformed');
    expect(report.replaced.map((r) => r.role).sort()).toEqual(['free', 'malloc']);
    expect((await verify(bytes)).problems).toEqual([]);
  });

  it('code that reads memory.size is not adopted (it may be an allocator sizing the memory)', async () => {
    const sizes = `(func $top (export "top") (result i32) (i32.mul (memory.size) (i32.const 65536)))`;
    const result = await transform(plugin(sizes)).catch((e: { code: string }) => e.code);
    expect(typeof result === 'string' ? result : result.report.status).not.toBe('adopted');
  });

  it('--alloc means "transform this family": no adoption', async () => {
    const shim = `(func $malloc (export "malloc") (param $n i32) (result i32) (call $host_malloc (local.get $n)))
      (func $free (export "free") (param $p i32) (call $host_free (local.get $p)))`;
    const raw = plugin(shim);
    expect((await transform(raw)).report.status).toBe('adopted');
    const forced = await transform(raw, { alloc: { malloc: 'malloc', free: 'free' } });
    expect(forced.report.status).toBe('transformed');
  });
});
