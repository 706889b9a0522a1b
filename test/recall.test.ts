/**
 * Identification recall (issue #15): what real optimized builds look like. The differential test
 * runs every fixture; this file checks HOW the members were found (names kept despite duplicates,
 * wrappers followed, wasm-bindgen's exports used, `$N` absolute), and the GC-runtime refusals of
 * real AssemblyScript and Go builds (fixtures/gc, outside the manifest).
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gcRuntimeMarker, internalRoleOfName, roleOfName } from '../src/conventions.js';
import { transform } from '../src/index.js';
import { customSection, moduleBytes, name, section, uleb, vec } from '../src/wasm/encode.js';
import { safeNames } from '../src/wasm/names.js';
import { readModule, usesAtomics } from '../src/wasm/reader.js';
import { expectRefusal } from './errors.js';
import { readFixture } from './harness/fixtures.js';
import { WA } from './harness/wasm.js';

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
  it('atomics on a memory that is not shared', async () => {
    const bytes = readFixture('clang19-wasi-c-atomics');
    const info = readModule(bytes);
    expect(info.memories[0]!.limits.shared).toBe(false);
    expect(usesAtomics(bytes, info)).toBe(true);
    expect(
      usesAtomics(readFixture('clang19-wasi-c-stdio'), readModule(readFixture('clang19-wasi-c-stdio'))),
    ).toBe(false);
    const { report } = await transform(bytes);
    expect(report.status).toBe('transformed');
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
