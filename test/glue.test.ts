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
import { glueKind, isEmscriptenGlue, MAX_GLUE_LENGTH } from '../src/glue.js';
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
    // tesseract.js-core 7.0.0: closure keeps a second alias of each export (`Ih`) in the chain.
    name: 'emscripten 4.x closure, chained alias _malloc=Ih=c.xf',
    source: `function Ub(c){_malloc=Ih=c.xf;_free=Jh=c.yf;Kh=c.zf}`,
    malloc: 'xf',
    free: 'yf',
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

/**
 * Reads `small` and then `big` (4 times longer) with readGlue in a child process (30 s deadline),
 * after a warm-up, and requires linear time; returns what `probe` (a JS expression over the
 * GlueInfo `g`) gave for each.
 */
function readTwiceInLinearTime(small: string, big: string, probe: string): unknown[] {
  const glueModule = fileURLToPath(new URL('../src/glue.ts', import.meta.url));
  const script = `import { readGlue } from ${JSON.stringify(glueModule)};
import { readFileSync } from 'node:fs';
const [small, big] = JSON.parse(readFileSync(0, 'utf8'));
const time = (source) => { const t0 = performance.now(); const g = readGlue(source); return [performance.now() - t0, ${probe}]; };
time(small); // warm up the JIT
const [ms1, a1] = time(small);
const [ms4, a4] = time(big);
process.stdout.write(JSON.stringify({ ms1, ms4, a: [a1, a4] }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    input: JSON.stringify([small, big]),
    encoding: 'utf8',
    timeout: 30_000,
    maxBuffer: 1 << 20,
  });
  expect(r.error, 'the child was killed at the 30 s deadline').toBeUndefined();
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout) as { ms1: number; ms4: number; a: unknown[] };
  expect(out.ms4, `n: ${out.ms1.toFixed(0)} ms, 4n: ${out.ms4.toFixed(0)} ms`).toBeLessThan(
    10 * out.ms1 + 250,
  );
  return out.a;
}

describe('readGlue on hostile input', () => {
  const N = 100_000;
  for (const [name, make] of Object.entries(HOSTILE)) {
    it(`${name} (${make(4 * N).length.toLocaleString('en-US')} characters) is read in linear time`, () => {
      expect(readTwiceInLinearTime(make(N), make(4 * N), "g.symbols.get('a')")).toEqual(['b', 'b']);
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

/**
 * wasm-bindgen glue (issue #15): a build without names exports its allocation functions as
 * `__wbindgen_export_N`, and only the glue, by how it calls them, says which is malloc(size, align),
 * realloc(ptr, old, new, align) and free(ptr, size, align).
 */
const NODE_MODULES = fileURLToPath(new URL('../node_modules/', import.meta.url));

/** The glue of wasm-bindgen 0.2.87+ (shapes as its cli-support emits them), exports numbered. */
const BINDGEN_GLUE = `let wasm;
export function __wbg_set_wasm(val) { wasm = val; }
function passStringToWasm0(arg, malloc, realloc) {
  if (realloc === undefined) {
    const buf = cachedTextEncoder.encode(arg);
    const ptr = malloc(buf.length, 1) >>> 0;
    return ptr;
  }
  let len = arg.length;
  let ptr = malloc(len, 1) >>> 0;
  if (offset !== len) {
    ptr = realloc(ptr, len, len = offset + arg.length * 3, 1) >>> 0;
    ptr = realloc(ptr, len, offset, 1) >>> 0;
  }
  return ptr;
}
function passArray32ToWasm0(arg, malloc) {
  const ptr = malloc(arg.length * 4, 4) >>> 0;
  getUint32ArrayMemory0().set(arg, ptr / 4);
  return ptr;
}
function handleError(f, args) {
  try { return f.apply(this, args); } catch (e) { wasm.__wbindgen_export_0(addHeapObject(e)); }
}
function takeFromExternrefTable0(idx) {
  const value = wasm.__wbindgen_export_4.get(idx);
  return value;
}
export class Thing {
  free() { const ptr = this.__destroy_into_raw(); wasm.__wbg_thing_free(ptr, 0); }
  name() {
    let deferred1_0; let deferred1_1;
    try {
      const ret = wasm.thing_name(this.__wbg_ptr);
      deferred1_0 = ret[0]; deferred1_1 = ret[1];
      return getStringFromWasm0(ret[0], ret[1]);
    } finally { wasm.__wbindgen_export_3(deferred1_0, deferred1_1, 1); }
  }
  run(text, tokens) {
    const ptr0 = passStringToWasm0(text, wasm.__wbindgen_export_1, wasm.__wbindgen_export_2);
    const len0 = WASM_VECTOR_LEN;
    const ptr1 = isLikeNone(tokens) ? 0 : passArray32ToWasm0(tokens, wasm.__wbindgen_export_1);
    const ret = wasm.thing_run(this.__wbg_ptr, ptr0, len0, ptr1, WASM_VECTOR_LEN);
    var v2 = getArrayU32FromWasm0(ret[0], ret[1]).slice();
    wasm.__wbindgen_export_3(ret[0], ret[1] * 4, 4);
    return v2;
  }
}
export function __wbindgen_throw(arg0, arg1) { throw new Error(getStringFromWasm0(arg0, arg1)); }`;

/** `source` with its named allocation exports renamed to numbered ones, as a stripped build has them. */
const numbered = (source: string): string =>
  source
    .replaceAll('__wbindgen_malloc', '__wbindgen_export_91')
    .replaceAll('__wbindgen_realloc', '__wbindgen_export_92')
    .replaceAll('__wbindgen_free', '__wbindgen_export_93');

describe('readGlue on wasm-bindgen glue', () => {
  it('numbered exports take the role of how the glue calls them; a table and the exception store get none', () => {
    const glue = readGlue(BINDGEN_GLUE);
    expect(glue.kind).toBe('wasm-bindgen');
    expect(Object.fromEntries(glue.bindgen)).toEqual({
      __wbindgen_export_1: '__wbindgen_malloc',
      __wbindgen_export_2: '__wbindgen_realloc',
      __wbindgen_export_3: '__wbindgen_free',
    });
    // Every export the glue references is kept by --drop-exports: symbols maps each to itself.
    expect(glue.symbols.get('__wbindgen_export_4')).toBe('__wbindgen_export_4');
    expect(glue.symbols.get('thing_run')).toBe('thing_run');
    expect(glue.exports.size).toBe(0);
    expect(glue.importModules).toEqual([]);
  });

  it('the named forms map to themselves, whatever their calls look like', () => {
    const named = BINDGEN_GLUE.replaceAll('__wbindgen_export_1', '__wbindgen_malloc')
      .replaceAll('__wbindgen_export_2', '__wbindgen_realloc')
      .replaceAll('__wbindgen_export_3', '__wbindgen_free');
    expect(Object.fromEntries(readGlue(named).bindgen)).toEqual({
      __wbindgen_malloc: '__wbindgen_malloc',
      __wbindgen_realloc: '__wbindgen_realloc',
      __wbindgen_free: '__wbindgen_free',
    });
    // Old glue (before the align argument): free(ptr, len) like any call; the name still says it.
    const old = `let wasm; function f(r0, r1) { wasm.__wbindgen_free(r0, r1); }`;
    expect(Object.fromEntries(readGlue(old).bindgen)).toEqual({ __wbindgen_free: '__wbindgen_free' });
  });

  it('callbacks without the align (wasm-bindgen before 0.2.87): malloc(size), realloc(ptr, old, new)', () => {
    const glue = readGlue(`let wasm;
      function passStringToWasm0(arg, malloc, realloc) {
        let ptr = malloc(len); ptr = realloc(ptr, len, len = offset + arg.length * 3); return ptr; }
      export function f(s) { return passStringToWasm0(s, wasm.__wbindgen_export_5, wasm.__wbindgen_export_6); }`);
    expect(Object.fromEntries(glue.bindgen)).toEqual({
      __wbindgen_export_5: '__wbindgen_malloc',
      __wbindgen_export_6: '__wbindgen_realloc',
    });
  });

  it('mixed or ambiguous evidence gives no role', () => {
    const cases: [string, string][] = [
      // Called like a free once and like something else once.
      ['free and other', `wasm.__wbindgen_export_3(r0, r1 * 4, 4); wasm.__wbindgen_export_3(r0);`],
      // Passed as malloc and also read as a table.
      [
        'malloc and table',
        `function p(a, malloc) { return malloc(a.length, 1); } p(x, wasm.__wbindgen_export_1); wasm.__wbindgen_export_1.get(0);`,
      ],
      // Two exports would both be free.
      ['two frees', `wasm.__wbindgen_export_3(a, b * 1, 1); wasm.__wbindgen_export_4(c, d * 1, 1);`],
      // A helper parameter called with two shapes.
      [
        'helper param with two shapes',
        `function p(a, cb) { cb(a, 1); cb(a, 1, 2, 3, 4); } p(x, wasm.__wbindgen_export_1);`,
      ],
      // Two helpers of one name: which one a call reaches is unknown.
      [
        'duplicate helper',
        `function p(a, cb) { cb(a, 1); } function p(a, cb) { cb(a, 1, 2, 3); } p(x, wasm.__wbindgen_export_1);`,
      ],
      // Not free shapes: (ptr, 0) of a class's free, (a, b) two operands, an align that is not a literal.
      [
        'not free shapes',
        `wasm.__wbindgen_export_7(ptr, 0); wasm.__wbindgen_export_8(r0, r1); wasm.__wbindgen_export_9(r0, r1 * 4, n);`,
      ],
    ];
    for (const [what, body] of cases) {
      const glue = readGlue(`let wasm;\n${body}\nwasm.__wbindgen_start();`);
      expect(glue.kind, what).toBe('wasm-bindgen');
      expect(Object.fromEntries(glue.bindgen), what).toEqual({});
    }
  });

  const PUBLISHED: { file: string; numbered: Record<string, string> }[] = [
    // wasm-bindgen names the exports __wbindgen_export_N itself in this stripped build.
    {
      file: '@dqbd/tiktoken/tiktoken_bg.js',
      numbered: {
        __wbindgen_export_1: '__wbindgen_malloc',
        __wbindgen_export_2: '__wbindgen_realloc',
        __wbindgen_export_3: '__wbindgen_free',
      },
    },
    // wasm-bindgen 0.2.95 (--target nodejs), names renamed: all three come back; its
    // __wbindgen_export_2 is the externref table (.get/.set) and gets no role.
    {
      file: '@silvia-odwyer/photon-node/photon_rs.js',
      numbered: {
        __wbindgen_export_91: '__wbindgen_malloc',
        __wbindgen_export_92: '__wbindgen_realloc',
        __wbindgen_export_93: '__wbindgen_free',
      },
    },
    // --target web glue (no realloc: the module passes no strings in).
    {
      file: '@jsquash/png/codec/pkg/squoosh_png.js',
      numbered: { __wbindgen_export_91: '__wbindgen_malloc', __wbindgen_export_93: '__wbindgen_free' },
    },
    // wasm-bindgen 0.2.80, before the align argument: its frees (ptr, len) are like any other call.
    {
      file: 'brotli-wasm/pkg.bundler/brotli_wasm_bg.js',
      numbered: { __wbindgen_export_91: '__wbindgen_malloc', __wbindgen_export_92: '__wbindgen_realloc' },
    },
  ];
  for (const p of PUBLISHED) {
    it(`published glue ${p.file}: the allocation exports, numbered`, () => {
      const source = readFileSync(`${NODE_MODULES}${p.file}`, 'utf8');
      expect(Object.fromEntries(readGlue(numbered(source)).bindgen)).toEqual(p.numbered);
      // As published: tiktoken's numbered exports, the named forms of the others (all three).
      const published = readGlue(source).bindgen;
      if (p.file.includes('tiktoken')) expect(Object.fromEntries(published)).toEqual(p.numbered);
      else for (const [name, w] of published) expect(name).toBe(w);
      expect(published.size).toBe(p.file.includes('squoosh_png') ? 2 : 3);
    });
  }
});

describe('glueKind', () => {
  it('emscripten, wasm-bindgen, or undefined for other JavaScript', () => {
    expect(glueKind(readFileSync(gluePath(getFixture('emcc-O3-glue'))!, 'utf8'))).toBe('emscripten');
    expect(glueKind(BINDGEN_GLUE)).toBe('wasm-bindgen');
    expect(isEmscriptenGlue(BINDGEN_GLUE)).toBe(false);
    // No wasm.__wbindgen_*/__wbg_* reference: not wasm-bindgen glue (--glue auto ignores it).
    expect(glueKind('let wasm; export function greet(a) { return wasm.greet(a); }')).toBeUndefined();
    expect(glueKind('console.log("hello");')).toBeUndefined();
  });
});

/**
 * Hostile wasm-bindgen glue: deep nesting, long argument lists, many calls and unclosed brackets,
 * read at n and 4n repetitions in a child process with a deadline (as for Emscripten glue above).
 * Each is prefixed with a small glue whose export_1 is malloc, which must still be found.
 */
const BINDGEN_HOSTILE: Record<string, (n: number) => string> = {
  nestedFunctions: (n) => `${'function f(a, b) {'.repeat(n / 20)}${'}'.repeat(n / 20)}`,
  nestedCalls: (n) => `${'p('.repeat(n / 2)}${')'.repeat(n / 2)}`,
  longArguments: (n) => `wasm.__wbindgen_export_9(${'a, '.repeat(n / 3)}1);`,
  manyCalls: (n) => 'wasm.__wbindgen_export_9(r0, r1 * 4, 4);'.repeat(n / 40),
  helperCalls: (n) => 'q(x, wasm.__wbindgen_export_8);'.repeat(n / 30),
  unclosed: (n) => `function g(a, cb) { cb(a, 1); ${'( [ {'.repeat(n / 5)}`,
  paramsInCalls: (n) => `function g(a, cb) { ${'cb(cb(a, 1), 1);'.repeat(n / 16)} }`,
};

describe('readGlue on hostile wasm-bindgen glue', () => {
  const prefix = `let wasm; function p(a, malloc) { return malloc(a.length, 1); } p(x, wasm.__wbindgen_export_1);\n`;
  const N = 100_000;
  for (const [name, make] of Object.entries(BINDGEN_HOSTILE)) {
    it(`${name} (${(prefix + make(4 * N)).length.toLocaleString('en-US')} characters) is read in linear time`, () => {
      expect(
        readTwiceInLinearTime(prefix + make(N), prefix + make(4 * N), "g.bindgen.get('__wbindgen_export_1')"),
      ).toEqual(['__wbindgen_malloc', '__wbindgen_malloc']);
    }, 40_000);
  }
});
