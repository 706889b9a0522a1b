/**
 * Identification recall (issue #15): what real optimized builds look like. The differential test
 * runs every fixture; this file checks HOW the members were found (names kept despite duplicates,
 * wrappers followed, wasm-bindgen's exports used, `$N` absolute), and the GC-runtime refusals of
 * real AssemblyScript and Go builds (fixtures/gc, outside the manifest).
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gcRuntimeMarker, internalRoleOfName, roleOfName } from '../src/conventions.js';
import { createHostAllocator } from '../src/host/index.js';
import { transform, verify } from '../src/index.js';
import { safeNames } from '../src/wasm/names.js';
import { readModule, usesAtomics } from '../src/wasm/reader.js';
import { forwardedCallee } from '../src/wasm/shapes.js';
import { expectRefusal } from './errors.js';
import { customSection, moduleBytes, name, section, uleb, vec } from './harness/encode.js';
import { getFixture, readFixture } from './harness/fixtures.js';
import { instantiateOriginal, instantiateWith, moduleAllocator, runWorkloads } from './harness/run.js';
import { WA, type WasmInstance } from './harness/wasm.js';
import { watToWasm } from './passes/wat.js';

const sha256 = (b: Uint8Array | Uint8ClampedArray): string => createHash('sha256').update(b).digest('hex');

const GC_DIR = join(import.meta.dirname, '..', 'fixtures', 'gc');

function nameSectionFunctions(bytes: Uint8Array): Map<number, string> {
  return readModule(bytes).names.functions;
}

describe('name sections with duplicates are kept, not dropped', () => {
  it('clang-19 + wasi-libc with musl statics of one name: members found by name, names kept', async () => {
    const bytes = readFixture('clang19-wasi-c-stdio');
    const names = [...nameSectionFunctions(bytes).values()];
    // The fixture does have the duplicates this is about.
    expect(names.filter((n) => n === 'pop_arg').length).toBe(2);
    const { bytes: out, report } = await transform(bytes);
    const by = Object.fromEntries(report.replaced.map((r) => [r.name, r.identifiedBy]));
    expect(by).toMatchObject({ dlmalloc: 'name', dlfree: 'name', malloc: 'export', free: 'export' });
    const after = [...nameSectionFunctions(out).values()];
    expect(after).toContain('pop_arg');
    expect(after).toContain('pop_arg.1');
    expect(new Set(after).size).toBe(after.length);
  });

  it('safeNames: duplicates get .N, empty names $index, NULs _, ambiguous allocator names lose the name', () => {
    // Four functions of type () -> (), named: "a", "a", "", "x\0y"; then two named "malloc".
    const type = section(1, vec([[0x60, 0, 0]]));
    const funcs = section(3, vec(Array.from({ length: 6 }, () => [0])));
    const code = section(10, vec(Array.from({ length: 6 }, () => [2, 0, 0x0b])));
    const entries: [number, string][] = [
      [0, 'a'],
      [1, 'a'],
      [2, ''],
      [3, 'x\0y'],
      [4, 'malloc'],
      [5, 'malloc'],
    ];
    const map = [...uleb(entries.length), ...entries.flatMap(([i, s]) => [...uleb(i), ...name(s)])];
    const names = customSection('name', [1, ...uleb(map.length), ...map]);
    const bytes = moduleBytes(type, funcs, code, names);
    const info = readModule(bytes);
    const safe = safeNames(bytes, info, (n) => n === 'malloc')!;
    expect([...safe.functions.entries()]).toEqual([
      [0, 'a'],
      [1, 'a.1'],
      [2, '$2'],
      [3, 'x_y'],
      [4, 'malloc.1'],
      [5, 'malloc.2'],
    ]);
    expect(WA.validate(safe.bytes)).toBe(true);
    expect([...readModule(safe.bytes).names.functions.values()]).toEqual([...safe.functions.values()]);
  });
});

describe('wrappers are followed to the real allocator', () => {
  it('wasm-opt -O2 release link: exported malloc/free wrap dlmalloc/dlfree, which user code calls', async () => {
    const bytes = readFixture('clang19-wasi-c-O2');
    const info = readModule(bytes);
    const exported = (n: string) => info.exports.find((e) => e.name === n && e.kind === 'function')?.index;
    const { report } = await transform(bytes);
    const roles = report.replaced.map((r) => [r.role, r.identifiedBy, r.index === exported(r.role)]);
    // Both the exported wrapper and the function it forwards to are replaced.
    expect(roles).toEqual(
      expect.arrayContaining([
        ['malloc', 'export', true],
        ['malloc', 'analysis', false],
        ['free', 'export', true],
        ['free', 'analysis', false],
      ]),
    );
  });
});

describe('an allocator initialiser inlined into the constructor is removed', () => {
  it('emmalloc at -O2: the bucket set-up and claim_more_memory leave __wasm_call_ctors', async () => {
    const bytes = readFixture('emcc-emmalloc-O2-names');
    const before = [...nameSectionFunctions(bytes).values()];
    expect(before).toContain('claim_more_memory');
    expect(before).not.toContain('initialize_emmalloc_heap'); // inlined, not a function of its own
    const { bytes: out, report } = await transform(bytes);
    expect(report.warnings).toContain(
      "removed the old allocator's initialisation inlined into __wasm_call_ctors: it would set up a heap nobody uses",
    );
    expect([...nameSectionFunctions(out).values()]).not.toContain('claim_more_memory');
  });
});

describe('features come from what the module uses', () => {
  it('atomics on a memory that is not shared: transformed, runs identically (differential)', async () => {
    const bytes = new Uint8Array(
      readFileSync(join(import.meta.dirname, '..', 'fixtures', 'features', 'clang19-wasi-c-atomics.wasm')),
    );
    const info = readModule(bytes);
    expect(info.memories[0]!.limits.shared).toBe(false);
    expect(usesAtomics(bytes, info)).toBe(true);
    const stdio = readFixture('clang19-wasi-c-stdio');
    expect(usesAtomics(stdio, readModule(stdio))).toBe(false);
    // Same workload source and build as the clang-19 fixtures in the manifest (wl_* and growth).
    const entry = { ...getFixture('clang19-wasi-c-stdio'), name: 'clang19-wasi-c-atomics' };
    const original = instantiateOriginal(bytes, entry);
    const expected = runWorkloads(original, moduleAllocator(original, entry), entry);
    const { bytes: out, report } = await transform(bytes);
    expect(report.status).toBe('transformed');
    const heap = createHostAllocator();
    const plugin = instantiateWith(out, { [report.importModule]: { ...heap.imports } });
    heap.attach(plugin.instance!);
    const actual = runWorkloads(plugin, { malloc: (n) => heap.malloc(n), free: (p) => heap.free(p) }, entry);
    expect(actual).toEqual(expected);
    expect(heap.stats().mallocs).toBeGreaterThan(0);
    expect((plugin.instance!.exports['ticket'] as () => number)()).toBe(0);
    expect((plugin.instance!.exports['ticket'] as () => number)()).toBe(1);
  });
});

describe('--alloc $N is the absolute function index, as inspect prints it', () => {
  it('selects the function at that index in a module with imports', async () => {
    const bytes = readFixture('clang19-wasi-c-stdio-stripped');
    const info = readModule(bytes);
    expect(info.numImportedFunctions).toBeGreaterThan(0);
    const malloc = info.exports.find((e) => e.name === 'malloc')!.index;
    const free = info.exports.find((e) => e.name === 'free')!.index;
    const { report } = await transform(bytes, { alloc: { malloc: `$${malloc}`, free: `$${free}` } });
    const byOption = report.replaced.filter((r) => r.identifiedBy === 'option');
    expect(byOption.map((r) => [r.role, r.index])).toEqual([
      ['malloc', malloc],
      ['free', free],
    ]);
  });
});

describe('Rust allocator names, mangled and demangled', () => {
  it.each([
    ['__rust_alloc', 'rust_alloc'],
    ['__rdl_alloc', 'rust_alloc'],
    ['__rg_dealloc', 'rust_dealloc'],
    ['__rustc::__rust_realloc', 'rust_realloc'],
    ['__rustc::__rdl_alloc_zeroed', 'rust_alloc_zeroed'],
    ['_RNvCs5VqP8u3ZzSC_7___rustc12___rust_alloc', 'rust_alloc'],
  ])('%s is %s', (n, role) => {
    expect(roleOfName(n)).toBe(role);
  });

  it.each([
    ['dlmalloc::dlmalloc::Dlmalloc<A>::malloc::h0123456789abcdef', 'malloc'],
    ['dlmalloc::dlmalloc::Dlmalloc<A>::free', 'free'],
    ['_ZN8dlmalloc8dlmalloc17Dlmalloc$LT$A$GT$8memalign17h0123456789abcdefE', 'memalign'],
  ])('%s is the internal %s', (n, role) => {
    expect(internalRoleOfName(n)).toBe(role);
  });

  it('does not take look-alikes', () => {
    expect(roleOfName('__rust_alloc_error_handler')).toBeUndefined();
    expect(internalRoleOfName('dlmalloc::Dlmalloc<A>::malloc')).toBeUndefined();
  });
});

describe('garbage-collected runtimes are refused as such on real builds (HA022)', () => {
  for (const rt of ['stub', 'minimal', 'incremental']) {
    it(`AssemblyScript, --runtime ${rt}, stripped`, async () => {
      const bytes = new Uint8Array(readFileSync(join(GC_DIR, `asc-${rt}.wasm`)));
      expect(readModule(bytes).customSections.some((s) => s.name === 'name')).toBe(false);
      await expectRefusal(transform(bytes), 'HA022', /AssemblyScript/);
    });
  }

  it('Go (GOOS=js GOARCH=wasm), stripped: refused as Go, not TinyGo', async () => {
    const bytes = new Uint8Array(gunzipSync(readFileSync(join(GC_DIR, 'go-js.wasm.gz'))));
    await expectRefusal(transform(bytes), 'HA022', /^refusing a garbage-collected runtime: Go runtime/);
  });

  it('names decide between Go and TinyGo', () => {
    expect(gcRuntimeMarker([], ['runtime.mallocgc', 'runtime.GC'], ['gojs'])).toMatch(/^Go runtime/);
    expect(gcRuntimeMarker([], ['runtime.alloc'], ['gojs'])).toMatch(/^TinyGo runtime/);
    expect(gcRuntimeMarker([], [], ['gojs'])).toMatch(/^Go or TinyGo/);
  });
});

describe('wasm-bindgen: @jsquash/png (Rust, stripped) through its own glue', () => {
  const dir = join(import.meta.dirname, '..', 'node_modules', '@jsquash', 'png', 'codec', 'pkg');
  const wasm = () => new Uint8Array(readFileSync(join(dir, 'squoosh_png_bg.wasm')));
  let fresh = 0;

  /** Loads the glue afresh (initSync), optionally adding the host heap's imports; encodes and decodes. */
  async function run(bytes: Uint8Array, heap?: ReturnType<typeof createHostAllocator>): Promise<unknown> {
    const g = globalThis as unknown as { ImageData?: unknown; WebAssembly: Record<string, unknown> };
    g.ImageData ??= class {
      constructor(
        readonly data: Uint8ClampedArray,
        readonly width: number,
        readonly height: number,
      ) {}
    };
    const glue = (await import(`${pathToFileURL(join(dir, 'squoosh_png.js')).href}?v=${fresh++}`)) as {
      initSync(m: unknown): void;
      encode(d: Uint8Array, w: number, h: number, depth: number): Uint8Array;
      decode(d: Uint8Array): { data: Uint8ClampedArray; width: number; height: number };
    };
    const Instance = g.WebAssembly['Instance'] as new (
      m: unknown,
      i: Record<string, unknown>,
    ) => WasmInstance;
    // The glue instantiates with `new WebAssembly.Instance(module, imports)`: add env.host_*.
    g.WebAssembly['Instance'] = class {
      constructor(m: unknown, imports: Record<string, unknown>) {
        const instance = new Instance(m, heap ? { ...imports, env: heap.imports } : imports);
        if (heap) heap.attach(instance);
        // biome-ignore lint/correctness/noConstructorReturn: stands in for WebAssembly.Instance
        return instance;
      }
    };
    try {
      glue.initSync(new WA.Module(bytes));
    } finally {
      g.WebAssembly['Instance'] = Instance;
    }
    const out = [];
    for (const [w, h] of [
      [64, 48],
      [300, 200],
    ] as const) {
      const px = new Uint8Array(w * h * 4).map((_, i) => (i * 7 + (i >> 9)) & 255);
      const png = glue.encode(px, w, h, 8);
      const img = glue.decode(png);
      out.push({ length: png.length, png: sha256(png), w: img.width, pixels: sha256(img.data) });
    }
    return out;
  }

  it('members are found behind __wbindgen_malloc/free, realloc by data flow; it runs identically', async () => {
    // Rust's panic handler bumps the panic counters, statics next to the
    // __rust_no_alloc_shim_is_unstable byte. Once the dropped reads of that byte are removed before
    // the allocator state is computed, the state regions no longer reach the counters, and the
    // module converts (it used to be refused, HA011, on that false positive).
    const original = await run(wasm());
    const { bytes, report } = await transform(wasm());
    expect(report.status).toBe('transformed');
    expect(report.compliant).toBe(true);
    const how = report.replaced.map((r) => `${r.role}/${r.identifiedBy}`);
    expect(how).toEqual(
      expect.arrayContaining([
        'malloc/analysis',
        'memalign/analysis',
        'free/analysis',
        'rust_realloc/analysis',
      ]),
    );
    expect(report.hazards).toEqual([]);
    expect((await verify(bytes)).problems).toEqual([]);
    const heap = createHostAllocator();
    expect(await run(bytes, heap)).toEqual(original);
    expect(heap.stats().mallocs).toBeGreaterThan(0);
  });
});

describe('neutralise-initializer removes only what sets up old allocator state', () => {
  // A bump allocator whose state is the word at 1024; the constructor sets it up (one statement),
  // calls the allocator's internal `refill` (another), and stores user data at 2048 (a third).
  const module = (userStatement: string) => `
    (module
      (memory (export "memory") 1)
      (global $sp (mut i32) (i32.const 65536))
      (func $refill (result i32)
        (i32.store (i32.const 1024) (i32.add (i32.load (i32.const 1024)) (i32.const 16)))
        (i32.load (i32.const 1024)))
      (func $malloc (export "malloc") (param $n i32) (result i32)
        (local $p i32)
        (local.set $p (i32.load (i32.const 1024)))
        (i32.store (i32.const 1024) (i32.add (local.get $p) (i32.and (i32.add (local.get $n) (i32.const 15)) (i32.const -16))))
        (local.get $p))
      (func $free (export "free") (param i32))
      (func $__wasm_call_ctors (export "_initialize")
        (i32.store (i32.const 1024) (i32.const 4096))
        (drop (call $refill))
        ${userStatement})
      (func (export "user") (result i32) (i32.load (i32.const 2048)))
      (func (export "use") (param i32) (result i32) (call $malloc (local.get 0))))`;

  it('a separate user statement stays and runs', async () => {
    const bytes = watToWasm(module('(i32.store (i32.const 2048) (i32.const 7))'));
    const { bytes: out, report } = await transform(bytes);
    expect(report.warnings.filter((w) => w.startsWith('removed the old'))).toEqual([
      "removed the old allocator's initialisation inlined into __wasm_call_ctors: it would set up a heap nobody uses",
    ]);
    const heap = createHostAllocator();
    const instance = new WA.Instance(new WA.Module(out), { [report.importModule]: { ...heap.imports } });
    heap.attach(instance);
    const exports = instance.exports as Record<string, (...a: number[]) => number>;
    exports['_initialize']!();
    expect(exports['user']!()).toBe(7);
    expect(exports['use']!(24)).toBeGreaterThanOrEqual(report.layout.heapBase.value);
  });

  it('a statement that also writes user data is kept, and the module refused', async () => {
    const bytes = watToWasm(
      module(
        '(if (i32.load (i32.const 2052)) (then (i32.store (i32.const 2048) (i32.const 7)) (i32.store (i32.const 1024) (i32.const 0))))',
      ),
    );
    await expectRefusal(transform(bytes), 'HA020', /__wasm_call_ctors/);
  });
});

describe('follow-wrappers takes only exact forwarding', () => {
  const module = (mallocBody: string) => `
    (module
      (memory (export "memory") 1)
      (global $sp (mut i32) (i32.const 65536))
      (func $impl (param $n i32) (result i32)
        (local $p i32)
        (local.set $p (i32.load (i32.const 1024)))
        (i32.store (i32.const 1024) (i32.add (local.get $p) (local.get $n)))
        (local.get $p))
      (func $malloc (export "malloc") (param $n i32) (result i32) ${mallocBody})
      (func $free (export "free") (param i32))
      (func (export "direct") (param i32) (result i32) (call $impl (local.get 0))))`;

  /** The function malloc (defined function 1) forwards to, by its raw body: its index, or null. */
  const callee = (body: string): number | null => {
    const bytes = watToWasm(module(body));
    return forwardedCallee(bytes, readModule(bytes), 1);
  };

  it('forwarding its parameter makes a wrapper; a changed, reordered or extra argument does not', () => {
    expect(callee('(call $impl (local.get $n))')).toBe(0);
    expect(callee('(return (call $impl (local.get $n)))')).toBe(0);
    expect(callee('(return_call $impl (local.get $n))')).toBe(0);
    expect(callee('(block (result i32) (call $impl (local.get $n)))')).toBe(0);
    expect(callee('(call $impl (i32.add (local.get $n) (i32.const 8)))')).toBeNull();
    expect(callee('(drop (call $impl (local.get $n))) (call $impl (local.get $n))')).toBeNull();
    expect(callee('(call $malloc (local.get $n))')).toBeNull(); // itself
  });

  it('a wrapper that forwards its parameter: the callee is replaced as malloc too', async () => {
    const { report } = await transform(watToWasm(module('(call $impl (local.get $n))')));
    expect(report.replaced.map((r) => [r.role, r.name, r.identifiedBy])).toEqual(
      expect.arrayContaining([
        ['malloc', 'impl', 'analysis'],
        ['malloc', 'malloc', 'export'],
      ]),
    );
  });
});

describe('signatures the optimizer changed: emmalloc_memalign without its alignment', () => {
  // fixtures/recall/dae.c allocates without alignment, so every call of emmalloc_memalign passes 8
  // and binaryen's dead-argument elimination (emcc -O2/-Oz) removes the parameter. Named, it used
  // to be refused (HA012, memalign with one parameter); it is malloc at malloc's alignment.
  const recall = (f: string): Uint8Array =>
    new Uint8Array(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'recall', f)));
  const SEEDS = [1, 7, 12345, 99991];
  for (const file of [
    'emcc-emmalloc-dae-O2-names.wasm',
    'emcc-emmalloc-dae-Oz-names.wasm',
    'emcc-emmalloc-dae-O2.wasm',
  ]) {
    it(`${file}: converts, and run(seed) returns what the original returns`, async () => {
      const bytes = recall(file);
      const original = instantiateWith(bytes);
      const expected = SEEDS.map((s) => original.call('run', s) >>> 0);
      const { bytes: out, report } = await transform(bytes);
      expect(report.compliant).toBe(true);
      if (file.includes('names')) {
        const memalign = report.replaced.find((r) => r.name === 'emmalloc_memalign');
        expect(memalign?.role).toBe('malloc');
        expect(memalign?.evidence).toMatch(/dead-argument elimination/);
      }
      expect((await verify(out)).problems).toEqual([]);
      const heap = createHostAllocator();
      const plugin = instantiateWith(out, { [report.importModule]: { ...heap.imports } });
      heap.attach(plugin.instance!);
      expect(SEEDS.map((s) => plugin.call('run', s) >>> 0)).toEqual(expected);
      expect(heap.stats().mallocs).toBeGreaterThan(100);
    });
  }

  it('emcc-dlmalloc-grow-O2.wasm (release, no names): realloc found by its header read, runs identically', async () => {
    // dlrealloc is not exported and its copy is an inlined loop: it calls malloc and free(param 0),
    // touches the allocator state and reads the chunk header below its pointer.
    const bytes = recall('emcc-dlmalloc-grow-O2.wasm');
    const original = instantiateWith(bytes);
    const expected = SEEDS.map((s) => original.call('run', s) >>> 0);
    const { bytes: out, report } = await transform(bytes);
    const realloc = report.replaced.find((r) => r.role === 'realloc');
    expect(realloc?.identifiedBy).toBe('analysis');
    expect(realloc?.evidence).toMatch(/chunk header/);
    expect((await verify(out)).problems).toEqual([]);
    const heap = createHostAllocator();
    let reallocs = 0;
    const hostRealloc = heap.imports.host_realloc as (p: number, n: number) => number;
    const imports = {
      ...heap.imports,
      host_realloc: (p: number, n: number) => {
        reallocs++;
        return hostRealloc(p, n);
      },
    };
    const plugin = instantiateWith(out, { [report.importModule]: imports });
    heap.attach(plugin.instance!);
    expect(SEEDS.map((s) => plugin.call('run', s) >>> 0)).toEqual(expected);
    expect(reallocs).toBeGreaterThan(1000);
  });

  it('a one-parameter memalign that malloc does not forward to stays refused (HA012)', async () => {
    const bytes = watToWasm(`(module
      (memory (export "memory") 1)
      (global $sp (mut i32) (i32.const 65536))
      (func $emmalloc_memalign (param i32) (result i32) (i32.const 1024))
      (func $malloc (export "malloc") (param i32) (result i32) (call $emmalloc_memalign (i32.const 64)))
      (func $free (export "free") (param i32))
      (func (export "use") (param i32) (result i32) (call $emmalloc_memalign (local.get 0))))`);
    await expectRefusal(transform(bytes), 'HA012', /emmalloc_memalign/);
  });
});

describe('analysis takes a function for a member only when it does nothing else', () => {
  // A bump allocator (state at 1024) and an unexported `grow` shaped like realloc: it calls malloc,
  // copies, frees its pointer and touches the allocator state. With `count` it also adds n to a
  // static of its own (2048): replacing it whole by host_realloc would lose that count.
  const module = (count: boolean) => `
    (module
      (memory (export "memory") 1)
      (global $sp (mut i32) (i32.const 65536))
      (func $malloc (export "malloc") (param $n i32) (result i32)
        (local $p i32)
        (local.set $p (i32.load (i32.const 1024)))
        (if (i32.eqz (local.get $p)) (then (local.set $p (i32.const 4096))))
        (i32.store (i32.const 1024) (i32.add (local.get $p) (i32.and (i32.add (local.get $n) (i32.const 15)) (i32.const -16))))
        (local.get $p))
      (func $free (export "free") (param i32))
      (func $grow (param $p i32) (param $n i32) (result i32)
        (local $q i32)
        ${count ? '(i32.store (i32.const 2048) (i32.add (i32.load (i32.const 2048)) (local.get $n)))' : ''}
        (drop (i32.load (i32.const 1024)))
        (local.set $q (call $malloc (local.get $n)))
        (memory.copy (local.get $q) (local.get $p) (local.get $n))
        (call $free (local.get $p))
        (local.get $q))
      (func (export "use") (param $n i32) (result i32)
        (local $p i32)
        (local.set $p (call $grow (call $grow (call $malloc (i32.const 8)) (i32.const 16)) (local.get $n)))
        (i32.store8 (local.get $p) (i32.const 7))
        (i32.add (i32.load8_u (local.get $p)) (i32.load (i32.const 2048)))))`;

  it('a realloc-shaped function that only reallocates is realloc', async () => {
    const { report } = await transform(watToWasm(module(false)));
    expect(report.replaced.find((r) => r.role === 'realloc')?.identifiedBy).toBe('analysis');
  });

  it('one that also writes a static of its own is not: it stays user code, and the count survives', async () => {
    const bytes = watToWasm(module(true));
    const original = new WA.Instance(new WA.Module(bytes), {});
    const use = (i: WasmInstance) => (i.exports as Record<string, (n: number) => number>)['use']!;
    const expected = [use(original)(5), use(original)(9)];
    const { bytes: out, report } = await transform(bytes);
    expect(report.replaced.map((r) => r.role).sort()).toEqual(['free', 'malloc']);
    const heap = createHostAllocator();
    const converted = new WA.Instance(new WA.Module(out), { [report.importModule]: { ...heap.imports } });
    heap.attach(converted);
    // 7 + the running count of grown bytes: 7 + (16 + 5), then 7 + (16 + 5 + 16 + 9).
    expect([use(converted)(5), use(converted)(9)]).toEqual(expected);
    expect(expected).toEqual([28, 53]);
  });
});
