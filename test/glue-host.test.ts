/**
 * Glue builds on the host heap (issue #16): what the transform keeps and records for JS glue, and
 * the `emscripten()` hook of wasm-hostalloc/host.
 *
 * The backbone is a closure-minified Emscripten build whose glue creates the memory (1 MiB) and
 * takes its views before instantiation (fixtures/glue/emcc-O3-closure-imported-memory, built by
 * fixtures/build.sh): converted with the default options, run through its own glue with the hook,
 * it grows the memory far past its initial size through the host heap, the glue's views follow,
 * and every result equals the original's. No import name appears in this file.
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import binaryen from 'binaryen';
import { describe, expect, it } from 'vitest';
import { emscripten, readHostallocSection } from '../src/host/index.js';
import { readGlue, transform, verify } from '../src/index.js';
import { readModule } from '../src/wasm/reader.js';
import { FIXTURES_DIR, getFixture, gluePath, loadManifest, readFixture } from './harness/fixtures.js';
import {
  automaticImports,
  BIG_GROW_SEED,
  fnv1a,
  inputByte,
  instantiateWith,
  outputByte,
} from './harness/run.js';
import { type Imports, WA, type WasmInstance, type WasmMemory, type WasmModule } from './harness/wasm.js';

const W = (
  globalThis as unknown as {
    WebAssembly: {
      instantiate(b: Uint8Array, i: Imports): Promise<{ instance: WasmInstance; module: WasmModule }>;
    };
  }
).WebAssembly;

const CLOSURE = join(FIXTURES_DIR, 'glue', 'emcc-O3-closure-imported-memory');
const closureWasm = (): Uint8Array => new Uint8Array(readFileSync(`${CLOSURE}.wasm`));
const closureGlue = (): string => readFileSync(`${CLOSURE}.cjs`, 'utf8');

/** `bytes` with a custom section `name` holding `payload` appended (custom sections may go anywhere). */
function withCustomSection(bytes: Uint8Array, name: string, payload: string): Uint8Array {
  const leb = (n: number): number[] => {
    const out: number[] = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n !== 0) b |= 0x80;
      out.push(b);
    } while (n !== 0);
    return out;
  };
  const nameBytes = new TextEncoder().encode(name);
  const body = [...leb(nameBytes.length), ...nameBytes, ...new TextEncoder().encode(payload)];
  return new Uint8Array([...bytes, 0, ...leb(body.length), ...body]);
}

interface PluginModule {
  HEAPU8: Uint8Array;
  _malloc(n: number): number;
  _free(p: number): void;
  _wl_mixed(seed: number): number;
  _wl_big(seed: number): number;
  _wl_input(p: number, n: number): number;
  _wl_output(n: number): number;
}

/** Evaluates the CommonJS glue afresh and returns its factory. */
function createPlugin(): (o: Record<string, unknown>) => Promise<PluginModule> {
  const file = `${CLOSURE}.cjs`;
  const module = { exports: {} as unknown };
  const fn = new Function('exports', 'require', 'module', '__filename', '__dirname', closureGlue());
  fn(module.exports, createRequire(file), module, file, join(FIXTURES_DIR, 'glue'));
  return module.exports as (o: Record<string, unknown>) => Promise<PluginModule>;
}

/** The original, instantiated as the glue would (its own allocator). */
function plainHook(bytes: Uint8Array) {
  return (imports: Imports, receive: (i: WasmInstance, m: WasmModule) => void) => {
    W.instantiate(bytes, imports).then(({ instance, module }) => receive(instance, module));
    return {};
  };
}

/**
 * The workload, all through the glue's own objects: wasm workloads, then 48 MiB allocated from JS in
 * 4 MiB blocks (far past the 1 MiB initial memory), each written through the CURRENT `HEAPU8` and
 * checked both from JS (an earlier block re-read after later growth) and from wasm (wl_input hashes
 * and frees it).
 */
function workload(M: PluginModule): Record<string, unknown> {
  const mixed = M._wl_mixed(1) >>> 0;
  const big = M._wl_big(3) >>> 0;
  const blocks: { p: number; n: number }[] = [];
  const hashes: number[] = [];
  const template = Uint8Array.from({ length: 4 * 1024 * 1024 + 12 * 4099 }, (_, i) => inputByte(7, i));
  for (let k = 0; k < 12; k++) {
    const n = 4 * 1024 * 1024 + k * 4099;
    const p = M._malloc(n);
    if (p === 0) throw new Error(`malloc(${n}) failed`);
    const heap = M.HEAPU8;
    if (heap.length === 0 || p + n > heap.length) throw new Error('the glue view does not cover the block');
    heap.set(template.subarray(k, k + n), p);
    blocks.push({ p, n });
  }
  // Re-read every block through the view as it is now (after all the growth).
  for (const { p, n } of blocks) hashes.push(fnv1a(M.HEAPU8.subarray(p, p + n)));
  const input = blocks.map(({ p, n }) => M._wl_input(p, n) >>> 0); // wasm hashes and frees them
  const q = M._wl_output(3000);
  const out = fnv1a(M.HEAPU8.subarray(q, q + 3000));
  const outOk = M.HEAPU8.subarray(q, q + 3000).every((v, i) => v === outputByte(3000, i));
  M._free(q);
  return { mixed, big, hashes, input, out, outOk, viewBytes: M.HEAPU8.length >= 48 * 1024 * 1024 };
}

describe('closure-minified glue, imported memory, grown through the host heap', () => {
  it('the glue reads: malloc/free map to minified exports; the module imports its memory', () => {
    const g = readGlue(closureGlue());
    expect(g.symbols.get('malloc')).toMatch(/^[a-z]{1,2}$/);
    const mem = new WA.Module(closureWasm());
    expect(WA.Module.imports(mem).some((i) => i.kind === 'memory')).toBe(true);
    expect(WA.Module.exports(mem).some((e) => e.kind === 'memory')).toBe(false);
  });

  it('runs identically and grows the memory 48x through the glue (default transform + emscripten())', async () => {
    const original = workload(await createPlugin()({ instantiateWasm: plainHook(closureWasm()) }));
    expect(original['outOk']).toBe(true);

    const { bytes, report } = await transform(closureWasm(), { glue: closureGlue() });
    expect(report.layout.memory.imported).not.toBeNull();
    expect(report.growImport?.kind).toBe('resize');
    expect((await verify(bytes)).problems).toEqual([]);

    const hook = emscripten(bytes, { growImport: report.growImport! });
    const M = await createPlugin()({ instantiateWasm: hook });
    const converted = workload(M);
    expect(converted).toEqual(original);

    const heap = hook.heap!;
    const stats = heap.stats();
    expect(stats.grows).toBeGreaterThan(0);
    expect(hook.glueGrowths).toBe(stats.grows);
    expect(stats.mallocs).toBeGreaterThan(12);
    expect(stats.heapBase).toBe(report.layout.heapBase.value);
    // The glue's memory (imported) is the heap's, and its views were refreshed on every growth.
    expect(heap.memory!.buffer.byteLength).toBeGreaterThanOrEqual(48 * 1024 * 1024);
    expect(M.HEAPU8.buffer).toBe(heap.memory!.buffer);
    expect(M.HEAPU8.length).toBe(heap.memory!.buffer.byteLength);
  }, 60_000);

  it('finds the grow import in the hostalloc custom section the transform wrote (no option)', async () => {
    const { bytes, report } = await transform(closureWasm(), { glue: closureGlue() });
    expect(readHostallocSection(new WA.Module(bytes))).toMatchObject({
      heapBaseValue: report.layout.heapBase.value,
      growImport: report.growImport,
    });
    const hook = emscripten(bytes);
    const M = await createPlugin()({ instantiateWasm: hook });
    expect(M._wl_big(3) >>> 0).toBeGreaterThan(0);
    expect(hook.glueGrowths).toBeGreaterThan(0);
    expect(M.HEAPU8.length).toBe(hook.heap!.memory!.buffer.byteLength);
  }, 60_000);

  it('without a known grow import the heap refuses to grow behind the glue (NULL, views intact)', async () => {
    const { bytes: converted } = await transform(closureWasm(), { glue: closureGlue() });
    // The section without its growImport: nothing tells the hook how the glue grows memory.
    const meta = readHostallocSection(new WA.Module(converted))!;
    const bytes = withCustomSection(
      withoutCustomSection(converted, 'hostalloc'),
      'hostalloc',
      JSON.stringify({ ...meta, growImport: undefined }),
    );
    const hook = emscripten(bytes);
    const M = await createPlugin()({ instantiateWasm: hook });
    const before = M.HEAPU8.length;
    expect(M._malloc(8 * 1024 * 1024)).toBe(0);
    expect(hook.heap!.stats().grows).toBe(0);
    expect(M.HEAPU8.length).toBe(before);
    const p = M._malloc(1000);
    expect(p).toBeGreaterThan(0);
    M.HEAPU8[p] = 7;
    expect(M.HEAPU8[p]).toBe(7);
  });
});

describe('lazy attach: an initialiser that allocates during instantiation', () => {
  it('a start function calling host_malloc gets a block (imported memory, heap base from the section)', async () => {
    const heapBase = 70_000;
    const text = `(module
      (import "env" "memory" (memory 2))
      (import "env" "host_malloc" (func $m (param i32) (result i32)))
      (import "env" "host_free" (func $f (param i32)))
      (global $p (mut i32) (i32.const 0))
      (global (export "__heap_base") i32 (i32.const ${heapBase}))
      (global (export "__hostalloc_abi") i32 (i32.const 1))
      (func $init (global.set $p (call $m (i32.const 100))))
      (func (export "got") (result i32) (global.get $p))
      (start $init))`;
    const mod = binaryen.parseText(text);
    const raw = mod.emitBinary();
    mod.dispose();
    const bytes = withCustomSection(raw, 'hostalloc', JSON.stringify({ heapBaseValue: heapBase }));
    const memory = new WA.Memory({ initial: 2 });
    const hook = emscripten(bytes);
    let received: WasmInstance | undefined;
    hook({ env: { memory } }, (instance) => {
      received = instance;
    });
    const instance = await hook.ready;
    expect(received).toBe(instance);
    const got = (instance.exports['got'] as () => number)();
    expect(got).toBeGreaterThanOrEqual(heapBase);
    expect(hook.heap!.usableSize(got)).toBeGreaterThanOrEqual(100);
    expect(hook.heap!.memory).toBe(memory);
  });
});

describe('exports kept for callers, dropExports', () => {
  const entry = getFixture('emcc-O3-glue');
  const glue = readFileSync(gluePath(entry)!, 'utf8');
  const exportNames = (b: Uint8Array) => WA.Module.exports(new WA.Module(b)).map((e) => e.name);

  it('keeps the family exports by default; keepExports is a no-op alias', async () => {
    const input = readFixture(entry.name);
    const family = [...readGlue(glue).exports.keys()];
    const plain = await transform(input, { glue });
    expect(exportNames(plain.bytes)).toEqual(expect.arrayContaining(family));
    const alias = await transform(input, { glue, keepExports: true });
    expect(alias.bytes).toEqual(plain.bytes);
  });

  it('dropExports removes them, except those the glue references', async () => {
    const input = readFixture(entry.name);
    const family = [...readGlue(glue).exports.keys()];
    const withGlue = await transform(input, { glue, dropExports: true });
    expect(exportNames(withGlue.bytes)).toEqual(expect.arrayContaining(family));
    const named = readFixture('emcc-dlmalloc-O2-names');
    const dropped = await transform(named, { dropExports: true });
    const names = exportNames(dropped.bytes);
    for (const f of ['malloc', 'free', 'calloc', 'realloc']) expect(names).not.toContain(f);
    const kept = await transform(named);
    expect(exportNames(kept.bytes)).toEqual(expect.arrayContaining(['malloc', 'free', 'calloc', 'realloc']));
    expect((await verify(kept.bytes)).problems).toEqual([]);
  });
});

describe('find-grow-import', () => {
  it('STANDALONE growth builds: emscripten_notify_memory_growth; fixed memories: none', async () => {
    let growing = 0;
    let fixed = 0;
    for (const e of loadManifest().fixtures) {
      if (e.toolchain !== 'emcc' || e.glue || e.reference || e.allocator !== 'dlmalloc') continue;
      if (e.growth) growing++;
      else fixed++;
      const { report } = await transform(readFixture(e.name));
      if (e.growth) {
        expect(report.growImport, e.name).toEqual({
          module: 'env',
          name: 'emscripten_notify_memory_growth',
          kind: 'notify',
        });
      } else {
        expect(report.growImport, e.name).toBeUndefined();
      }
    }
    expect(growing).toBeGreaterThanOrEqual(4);
    expect(fixed).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('a notify grow import: the hook grows the memory itself, then calls it with memory index 0', async () => {
    const entry = getFixture('emcc-dlmalloc-O2-growth-names');
    const original = instantiateWith(readFixture(entry.name));
    const want = original.call('wl_big', BIG_GROW_SEED) >>> 0;

    const { bytes, report } = await transform(readFixture(entry.name));
    expect(report.growImport?.kind).toBe('notify');
    const module = new WA.Module(bytes);
    let instance: WasmInstance | undefined;
    const { imports } = automaticImports(module, () => instance!.exports['memory'] as WasmMemory);
    const notified: number[] = [];
    const gi = report.growImport!;
    imports[gi.module] = { ...imports[gi.module], [gi.name]: (i: number) => notified.push(i) };
    const hook = emscripten(module, { growImport: gi });
    hook(imports, () => {});
    instance = await hook.ready;
    (instance.exports['_initialize'] as (() => void) | undefined)?.();
    expect((instance.exports['wl_big'] as (s: number) => number)(BIG_GROW_SEED) >>> 0).toBe(want);
    expect(hook.heap!.stats().grows).toBeGreaterThan(0);
    expect(notified.length).toBe(hook.heap!.stats().grows);
    expect(new Set(notified)).toEqual(new Set([0]));
  });

  it("glue builds: the import the glue's import object fills with _emscripten_resize_heap", async () => {
    const entry = getFixture('emcc-O3-glue');
    const glue = readFileSync(gluePath(entry)!, 'utf8');
    const { report } = await transform(readFixture(entry.name), { glue });
    expect(report.growImport?.kind).toBe('resize');
    // The 3.1.6 -O3 glue spells its import object out: {"<name>":_emscripten_resize_heap}.
    expect(glue).toContain(`"${report.growImport!.name}":_emscripten_resize_heap`);
    expect(glue).toContain(`"${report.growImport!.module}":asmLibraryArg`);
  });
});

/** `bytes` without its custom sections called `name`. */
function withoutCustomSection(bytes: Uint8Array, name: string): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const c of readModule(bytes).customSections.filter((x) => x.name === name)) {
    parts.push(bytes.subarray(at, c.start));
    at = c.end;
  }
  parts.push(bytes.subarray(at));
  return new Uint8Array(Buffer.concat(parts));
}
