/**
 * Emscripten JS glue: readGlue on each shape of export mapping Emscripten has emitted, bad glue
 * (HA031), and the -O3 glue fixture transformed with its glue and run through that glue on the JS
 * host allocator, against the original on its own allocator.
 */

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isEmscriptenGlue, MAX_GLUE_LENGTH } from '../src/glue.js';
import { createHostAllocator, type HostAllocator } from '../src/host/index.js';
import { ErrorCodes, isHostAllocError, readGlue, transform, verify } from '../src/index.js';
import { type FixtureEntry, fixturePath, getFixture, gluePath, readFixture } from './harness/fixtures.js';
import { type Plugin, runOriginal, runWorkloads } from './harness/run.js';
import { type Imports, WA, type WasmInstance, type WasmMemory, type WasmModule } from './harness/wasm.js';

/** One sample per glue shape: malloc and free mapped to (possibly minified) export names. */
const SAMPLES: { name: string; source: string; malloc: string; free: string; importModules?: string[] }[] = [
  {
    name: 'emscripten 4.x, wasmExports["Ia"]',
    source: `var wasmImports = {};
      var imports = { "env": wasmImports, "wasi_snapshot_preview1": wasmImports };
      var _malloc = Module["_malloc"] = wasmExports["Ia"];
      var _free = Module["_free"] = wasmExports["Ja"];
      var _main = Module["_main"] = wasmExports["Ka"];`,
    malloc: 'Ia',
    free: 'Ja',
    importModules: ['env', 'wasi_snapshot_preview1'],
  },
  {
    name: 'emscripten 4.x minified, wasmExports.Ia',
    source: `function assignWasmExports(wasmExports){_malloc=wasmExports.Ia;_free=wasmExports.Ja;_run=wasmExports.Ka}var info={a:wasmImports};`,
    malloc: 'Ia',
    free: 'Ja',
    importModules: ['a'],
  },
  {
    name: 'emscripten 3.x, Module["asm"]["f"] wrappers',
    source: `var info = { "a": asmLibraryArg };
      var _malloc = Module["_malloc"] = function() {
        return (_malloc = Module["_malloc"] = Module["asm"]["f"]).apply(null, arguments);
      };
      var _free = Module["_free"] = function() {
        return (_free = Module["_free"] = Module["asm"]["g"]).apply(null, arguments);
      };`,
    malloc: 'f',
    free: 'g',
    importModules: ['a'],
  },
  {
    name: 'emscripten 3.x, asm["f"]',
    source: `var asm = createWasm();
      var _malloc = Module["_malloc"] = asm["f"];
      var _free = Module["_free"] = asm["g"];`,
    malloc: 'f',
    free: 'g',
  },
  {
    name: 'emscripten 1.38, Module["asm"]["malloc"].apply',
    source: `var _malloc = Module["_malloc"] = function() {
        return Module["asm"]["malloc"].apply(null, arguments)
      };
      var _free = Module["_free"] = function() {
        return Module["asm"]["free"].apply(null, arguments)
      };`,
    malloc: 'malloc',
    free: 'free',
  },
  {
    name: 'debug build, createExportWrapper("malloc")',
    source: `var _malloc = Module["_malloc"] = createExportWrapper("malloc");
      var _free = Module["_free"] = createExportWrapper("free");
      var _wl_mixed = Module["_wl_mixed"] = createExportWrapper("wl_mixed");`,
    malloc: 'malloc',
    free: 'free',
  },
];

describe('readGlue', () => {
  for (const s of SAMPLES) {
    it(s.name, () => {
      const glue = readGlue(s.source);
      expect(glue.exports.get(s.malloc)).toBe('malloc');
      expect(glue.exports.get(s.free)).toBe('free');
      expect(glue.symbols.get('malloc')).toBe(s.malloc);
      expect(glue.symbols.get('free')).toBe(s.free);
      if (s.importModules) expect(glue.importModules).toEqual(expect.arrayContaining(s.importModules));
    });
  }

  it('the fixture glue (emcc 3.1.6 -O3) maps malloc, free, calloc and realloc', () => {
    const glue = readGlue(readFileSync(gluePath(getFixture('emcc-O3-glue'))!, 'utf8'));
    expect([...glue.exports.values()].sort()).toEqual(
      expect.arrayContaining(['calloc', 'free', 'malloc', 'realloc']),
    );
    expect(glue.importModules).toContain('a');
  });

  it('HA031: empty glue', () => {
    expect(() => readGlue('')).toThrow(expect.objectContaining({ code: ErrorCodes.BAD_GLUE }));
  });

  it('HA031: glue that maps no exports (not Emscripten output)', async () => {
    const notGlue = 'console.log("hello"); module.exports = { a: 1 };';
    expect(() => readGlue(notGlue)).toThrow(expect.objectContaining({ code: ErrorCodes.BAD_GLUE }));
    const error = await transform(readFixture('emcc-O3-glue'), { glue: notGlue }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isHostAllocError(error) && error.code).toBe(ErrorCodes.BAD_GLUE);
    expect(String((error as Error).message)).toMatch(/Emscripten JS output/);
  });
});

/**
 * Hostile glue (issue 19): each shape that made the old regular expressions backtrack, read in a
 * child process with a deadline so that a regression fails (times out) instead of hanging the suite.
 * Before the token scanner, `importObject` (under 400 bytes) never finished (22 repetitions took
 * 1.5 s and each one more doubled it); `dollars` grew with the square of its length (40 KB: 2.6 s).
 * Each shape is read at n and 4n repetitions: linear time means the second takes about 4 times the
 * first (the bound, 10 times plus 250 ms, leaves room for a loaded machine; quadratic would be 16).
 */
const HOSTILE: Record<string, (n: number) => string> = {
  importObject: (n) => `_a=wasmExports.b;{${'"a":env '.repeat(n / 2_500)} x`,
  dollars: (n) => `_a=wasmExports.b;${'$_'.repeat(n * 2)}`,
  assignChains: (n) => `_a=wasmExports.b;${'_x=Module["_x"]= '.repeat(n / 4)}`,
  openBraces: (n) => `_a=wasmExports.b;${'{a:env,'.repeat(n / 2)}`,
  unterminatedComment: (n) => `_a=wasmExports.b;/*${' '.repeat(n * 4)}`,
};

describe('readGlue on hostile input', () => {
  const glueModule = fileURLToPath(new URL('../src/glue.ts', import.meta.url));
  const N = 100_000;
  for (const [name, make] of Object.entries(HOSTILE)) {
    it(`${name} (${make(4 * N).length.toLocaleString('en-US')} characters) is read in linear time`, () => {
      const script = `import { readGlue } from ${JSON.stringify(glueModule)};
import { readFileSync } from 'node:fs';
const [small, big] = JSON.parse(readFileSync(0, 'utf8'));
const time = (source) => { const t0 = performance.now(); const g = readGlue(source); return [performance.now() - t0, g.symbols.get('a')]; };
time(small); // warm up the JIT
const [ms1, a1] = time(small);
const [ms4, a4] = time(big);
process.stdout.write(JSON.stringify({ ms1, ms4, a: [a1, a4] }));`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        input: JSON.stringify([make(N), make(4 * N)]),
        encoding: 'utf8',
        timeout: 30_000,
        maxBuffer: 1 << 20,
      });
      expect(r.error, 'the child was killed at the 30 s deadline').toBeUndefined();
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout) as { ms1: number; ms4: number; a: string[] };
      expect(out.a).toEqual(['b', 'b']);
      expect(out.ms4, `n: ${out.ms1.toFixed(0)} ms, 4n: ${out.ms4.toFixed(0)} ms`).toBeLessThan(
        10 * out.ms1 + 250,
      );
    }, 40_000);
  }

  it('HA032: glue longer than MAX_GLUE_LENGTH is refused before it is scanned', () => {
    const big = '_malloc=wasmExports.a;'.padEnd(MAX_GLUE_LENGTH + 1, ' ');
    expect(() => readGlue(big)).toThrow(expect.objectContaining({ code: ErrorCodes.LIMIT_EXCEEDED }));
  });

  it('quotes inside regular-expression literals and comments do not hide later mappings', () => {
    const glue = readGlue(
      `var re=/["']/g;x=a/2/3;// "unterminated\n/* ' */var _malloc=Module["_malloc"]=wasmExports["Ia"];var s='_free=wasmExports.X';var _free=wasmExports.Ja;`,
    );
    expect(glue.symbols.get('malloc')).toBe('Ia');
    expect(glue.symbols.get('free')).toBe('Ja');
  });
});

describe('isEmscriptenGlue', () => {
  it("is true for Emscripten's glue and false for wasm-bindgen's NAME_bg.js", () => {
    expect(isEmscriptenGlue(readFileSync(gluePath(getFixture('emcc-O3-glue'))!, 'utf8'))).toBe(true);
    const bindgen = `let wasm;
export function __wbg_set_wasm(val) { wasm = val; }
export function greet(name) {
  const ptr0 = passStringToWasm0(name, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
  const len0 = WASM_VECTOR_LEN;
  wasm.greet(ptr0, len0);
}
export function __wbindgen_throw(arg0, arg1) { throw new Error(getStringFromWasm0(arg0, arg1)); }`;
    expect(isEmscriptenGlue(bindgen)).toBe(false);
  });
});

/**
 * Runs `wasmBinary` through the fixture's glue with the JS host allocator (like instantiateGlue in
 * test/harness/run.ts, which does not expose the glue's import object). Two things an embedder of a
 * transformed glue build must do, learnt here:
 *  - the memory keeps its minified export name (no `memory` export is added), so the heap gets the
 *    memory and heap base explicitly, created once the module is instantiated (the imports forward
 *    to it lazily);
 *  - the glue refreshes its HEAPU8… views only when it grows memory itself, so the heap grows memory
 *    through the glue's `_emscripten_resize_heap` (found in the import object by function name).
 */
async function runGlue(
  entry: FixtureEntry,
  wasmBinary: Uint8Array,
  importModule: string,
  heapBase: number,
): Promise<{ plugin: Plugin; heap: HostAllocator }> {
  const createPlugin = createRequire(import.meta.url)(gluePath(entry)!) as (
    arg: Record<string, unknown>,
  ) => Promise<Record<string, unknown> & { HEAPU8: Uint8Array }>;
  let heap: HostAllocator | undefined;
  let instance: WasmInstance | undefined;
  const lazy = Object.fromEntries(
    Object.keys(createHostAllocator().imports).map((name) => [
      name,
      (...args: unknown[]) => {
        if (!heap) throw new Error(`${name} called before the module was instantiated`);
        return (heap.imports as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args);
      },
    ]),
  );
  const mod = await createPlugin({
    wasmBinary,
    print: () => {},
    printErr: () => {},
    instantiateWasm(imports: Imports, receive: (i: WasmInstance, m: WasmModule) => void) {
      const glueFns = Object.values(imports).flatMap((ns) => Object.values(ns));
      const resize = glueFns.find(
        (f): f is (bytes: number) => boolean =>
          typeof f === 'function' && f.name === '_emscripten_resize_heap',
      );
      if (!resize) throw new Error('the glue has no _emscripten_resize_heap');
      const module = new WA.Module(wasmBinary);
      instance = new WA.Instance(module, {
        ...imports,
        [importModule]: { ...imports[importModule], ...lazy },
      });
      const memory = Object.values(instance.exports).find((v): v is WasmMemory => v instanceof WA.Memory)!;
      heap = createHostAllocator({
        memory,
        heapBase,
        grow: (m, delta) => !!resize(m.buffer.byteLength + delta * 65536),
      });
      receive(instance, module);
      return instance.exports;
    },
  });
  const plugin: Plugin = {
    instance,
    has: (name) => typeof mod[`_${name}`] === 'function',
    call(name, ...args) {
      const fn = mod[`_${name}`];
      if (typeof fn !== 'function') throw new Error(`missing export _${name}`);
      const r = fn(...args) as number | undefined;
      return typeof r === 'number' ? r : 0;
    },
    bytes: () => mod.HEAPU8,
  };
  return { plugin, heap: heap! };
}

describe('emcc -O3 glue fixture', () => {
  it('transforms with { glue, keepExports } and runs through its glue identically on the JS host allocator', async () => {
    const entry = getFixture('emcc-O3-glue');
    const glue = readFileSync(gluePath(entry)!, 'utf8');
    const expected = await runOriginal(entry);

    const { bytes: out, report } = await transform(new Uint8Array(readFileSync(fixturePath(entry))), {
      glue,
      keepExports: true,
    });
    expect(report.status).toBe('transformed');
    expect(report.replaced.filter((m) => m.identifiedBy === 'glue').map((m) => m.role)).toEqual(
      expect.arrayContaining(['malloc', 'free']),
    );
    expect(WA.validate(out)).toBe(true);
    expect((await verify(out)).problems).toEqual([]);

    // Through the glue (see runGlue): the heap grows memory with the glue's own
    // _emscripten_resize_heap, so the glue's HEAPU8 views follow the growth.
    const { plugin, heap } = await runGlue(entry, out, report.importModule, report.layout.heapBase.value);
    const actual = runWorkloads(plugin, { malloc: (n) => heap.malloc(n), free: (p) => heap.free(p) }, entry);
    expect(actual).toEqual(expected);
    const stats = heap.stats();
    expect(stats.mallocs).toBeGreaterThan(0);
    expect(stats.grows).toBeGreaterThan(0); // wl_big seed 3 needs more than the initial 16 MiB
    expect(stats.heapBase).toBe(report.layout.heapBase.value);
  });
});
