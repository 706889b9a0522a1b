// Checks the committed fixture modules (fixtures/manifest.json, built by `npm run fixtures`) and the
// differential harness itself: every runnable fixture instantiates, runs every workload
// deterministically, and agrees with every other build of the same workload source.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type FixtureEntry, fixturePath, loadManifest, readFixture } from './harness/fixtures.js';
import {
  expectedOutputHash,
  instantiateGlue,
  instantiateOriginal,
  moduleAllocator,
  OUTPUT_LENGTHS,
  runOriginal,
  runWorkloads,
  type WorkloadResults,
} from './harness/run.js';
import { WA, type WasmGlobal } from './harness/wasm.js';

const fixtures = loadManifest().fixtures;
const runnable = fixtures.filter((f) => !f.reference);

// Results pinned from the current sources: they change only when fixtures/src changes, and every
// allocator (including a host allocator substituted by wasm-hostalloc) must reproduce them.
const C_MIXED = [416211102, 3060206001, 1027276889, 4242758971, 2833959356];
const RUST_MIXED = [300542905, 1424992591, 337393777, 2634490004, 1931633156];
const SHARED = {
  wl_big: 3903114834,
  wl_big_grow: 1129959653,
  wl_input: [913609589, 4147418913, 1367927829, 1466103557],
  wl_output: [67918732, 2664264645, 3338032581, 4101733861],
};
const CXX = [2345622965, 3572127202, 2452830436];

const memo = new Map<string, Promise<WorkloadResults>>();
function resultsOf(entry: FixtureEntry): Promise<WorkloadResults> {
  let r = memo.get(entry.name);
  if (!r) {
    r = runOriginal(entry);
    memo.set(entry.name, r);
  }
  return r;
}

function byName(name: string): FixtureEntry {
  const e = fixtures.find((f) => f.name === name);
  if (!e) throw new Error(`no fixture ${name}`);
  return e;
}

describe('manifest', () => {
  it('lists at least 15 modules from 4 toolchains', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(15);
    expect(new Set(fixtures.map((f) => f.toolchain))).toEqual(
      new Set(['emcc', 'clang-wasi', 'clang-nostdlib', 'rustc']),
    );
  });

  it('has unique names and exactly one reference build', () => {
    expect(new Set(fixtures.map((f) => f.name)).size).toBe(fixtures.length);
    expect(fixtures.filter((f) => f.reference).map((f) => f.allocator)).toEqual(['none']);
  });

  it('keeps the committed binaries small', () => {
    const total = fixtures.reduce((n, f) => n + f.size, 0);
    expect(total).toBeLessThan(3_000_000);
  });

  describe.each(fixtures.map((f) => [f.name, f] as const))('%s', (_name, entry) => {
    const bytes = existsSync(fixturePath(entry)) ? readFileSync(fixturePath(entry)) : undefined;
    const module = bytes ? new WA.Module(bytes) : undefined;

    it('file exists with the recorded size', () => {
      expect(bytes).toBeDefined();
      expect(statSync(fixturePath(entry)).size).toBe(entry.size);
    });

    it('names flag matches the name section', () => {
      expect(WA.Module.customSections(module!, 'name').length > 0).toBe(entry.names);
    });

    it('exportsHeapBase and workloads match the exports', () => {
      const exports = WA.Module.exports(module!);
      const heapBase = exports.find((e) => e.name === '__heap_base');
      expect(heapBase !== undefined).toBe(entry.exportsHeapBase);
      if (heapBase) expect(heapBase.kind).toBe('global');
      expect(entry.exportsHeapBase).toBe(entry.heapBase !== null);
      if (entry.glue === undefined) {
        const wl = exports
          .filter(
            (e) =>
              e.kind === 'function' && /^wl_/.test(e.name) && !['wl_alloc', 'wl_dealloc'].includes(e.name),
          )
          .map((e) => e.name)
          .sort();
        expect(wl).toEqual(entry.workloads);
        expect(exports.map((e) => e.name)).toContain('memory');
      }
    });

    it('stripped twins point at a named twin', () => {
      if (!entry.stripped) {
        expect(entry.strippedOf).toBeNull();
        return;
      }
      const twin = byName(entry.strippedOf!);
      expect(twin.names).toBe(true);
      expect(entry.names).toBe(false);
      expect({
        ...entry,
        name: '',
        file: '',
        names: true,
        stripped: false,
        strippedOf: null,
        size: 0,
      }).toEqual({
        ...twin,
        name: '',
        file: '',
        size: 0,
      });
    });

    // Glue build: minified export names, checked through the glue. Reference: allocator imported.
    if (entry.glue === undefined && !entry.reference)
      it('exports the allocator the harness uses', () => {
        const names = WA.Module.exports(module!).map((e) => e.name);
        if (entry.language === 'rust')
          expect(names).toEqual(expect.arrayContaining(['wl_alloc', 'wl_dealloc']));
        else expect(names).toEqual(expect.arrayContaining(['malloc', 'free', 'calloc', 'realloc']));
      });
  });

  it('the reference build imports its allocator from env', () => {
    const ref = fixtures.find((f) => f.reference)!;
    const imports = WA.Module.imports(new WA.Module(readFixture(ref.name)));
    const env = imports.filter((i) => i.module === 'env').map((i) => i.name);
    expect(env).toEqual(expect.arrayContaining(['malloc', 'free', 'calloc', 'realloc']));
  });
});

describe.each(runnable.map((f) => [f.name, f] as const))('fixture %s', (_name, entry) => {
  it('runs every workload', async () => {
    const r = await resultsOf(entry);
    const expected = Object.fromEntries(entry.workloads.map((w) => [w, expect.anything()]));
    expect(r).toMatchObject(expected);
    expect(r['wl_big_grow'] !== undefined).toBe(entry.growth);
  });

  it('is deterministic across fresh instances', async () => {
    const first = await resultsOf(entry);
    const second = await runOriginal(entry);
    expect(second).toEqual(first);
  });

  it('gives the pinned results', async () => {
    const r = await resultsOf(entry);
    expect(r['wl_mixed']).toEqual(entry.language === 'rust' ? RUST_MIXED : C_MIXED);
    expect(r['wl_big']).toBe(SHARED.wl_big);
    if (entry.growth) expect(r['wl_big_grow']).toBe(SHARED.wl_big_grow);
    expect(r['wl_input']).toEqual(SHARED.wl_input);
    expect(r['wl_output']).toEqual(SHARED.wl_output);
    if (entry.language === 'cxx') expect(r['wl_cxx']).toEqual(CXX);
  });

  if (entry.heapBase !== null) {
    it('__heap_base has the recorded value', () => {
      const plugin = instantiateOriginal(readFixture(entry.name), entry);
      const g = plugin.instance!.exports['__heap_base'] as WasmGlobal;
      expect(g.value).toBe(entry.heapBase);
    });
  }
});

describe('cross-build agreement', () => {
  it('wl_output bytes are the documented pattern', () => {
    expect(SHARED.wl_output).toEqual(OUTPUT_LENGTHS.map(expectedOutputHash));
  });

  it('named and stripped twins give identical results', async () => {
    const twins = runnable.filter((f) => f.stripped);
    expect(twins.length).toBeGreaterThan(0);
    for (const t of twins) expect(await resultsOf(t)).toEqual(await resultsOf(byName(t.strippedOf!)));
  });

  it('every build of the same workload source agrees', async () => {
    const groups = new Map<string, WorkloadResults>();
    for (const entry of runnable) {
      const r = await resultsOf(entry);
      for (const [key, value] of Object.entries(r)) {
        // C and C++ share workload.h; wl_big/wl_input/wl_output are the same in Rust too.
        const family = key === 'wl_mixed' ? (entry.language === 'rust' ? 'rust' : 'c') : 'all';
        const prev = groups.get(family)?.[key];
        if (prev === undefined) groups.set(family, { ...groups.get(family), [key]: value });
        else expect({ fixture: entry.name, [key]: value }).toEqual({ fixture: entry.name, [key]: prev });
      }
    }
  });
});

describe('emcc JS glue build', () => {
  const glue = runnable.find((f) => f.glue !== undefined)!;

  it('exists and runs through its glue', async () => {
    expect(glue).toBeDefined();
    expect(existsSync(fixturePath(glue))).toBe(true);
    const plugin = await instantiateGlue(glue);
    expect(plugin.has('wl_mixed')).toBe(true);
    expect(plugin.has('malloc')).toBe(true);
  });

  it('accepts a binary and extra imports from the caller', async () => {
    const extraCalls: string[] = [];
    const plugin = await instantiateGlue(glue, {
      wasmBinary: readFixture(glue.name),
      extraImports: { env: { host_unused: () => extraCalls.push('x') } },
    });
    const r = runWorkloads(plugin, moduleAllocator(plugin, glue), glue);
    expect(r).toEqual(await resultsOf(glue));
    expect(extraCalls).toEqual([]);
  });

  it('agrees with the standalone emcc builds', async () => {
    expect(await resultsOf(glue)).toEqual(await resultsOf(byName('emcc-dlmalloc-O2-growth-names')));
  });
});
