import binaryen from 'binaryen';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, HostAllocError } from '../src/errors.js';
import {
  functionLabel,
  functionType,
  readModule,
  scanMemoryGrow,
  scanMemoryGrowDetailed,
  scanMemoryGrowPerFunction,
} from '../src/wasm/reader.js';
import { errorOf } from './errors.js';
import { customSection, moduleBytes, name, section, sleb, uleb, vec } from './harness/encode.js';

const FEATURES =
  binaryen.Features.MutableGlobals |
  binaryen.Features.BulkMemory |
  binaryen.Features.SignExt |
  binaryen.Features.Memory64 |
  binaryen.Features.ReferenceTypes |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.SIMD128 |
  binaryen.Features.Atomics |
  binaryen.Features.TailCall |
  binaryen.Features.ExceptionHandling |
  binaryen.Features.Multivalue |
  binaryen.Features.ExtendedConst;

/** Assembles WAT text with binaryen, keeping the name section. */
function wat(text: string): Uint8Array {
  const m = binaryen.parseText(text);
  try {
    m.setFeatures(FEATURES);
    binaryen.setDebugInfo(true);
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

// Hand-assembly shorthands.
const I32 = 0x7f;
const FUNC_VOID = [0x60, 0, 0];
const typeSec = (...types: number[][]) => section(1, vec(types));
const funcSec = (...typeIdx: number[]) => section(3, vec(typeIdx.map((t) => uleb(t))));
const memSec = (...lims: number[][]) => section(5, vec(lims));
/** A code section whose bodies have no locals. */
const codeSec = (...bodies: number[][]) =>
  section(
    10,
    vec(
      bodies.map((b) => {
        const body = [0x00, ...b];
        return [...uleb(body.length), ...body];
      }),
    ),
  );

const RICH = `(module
  (import "env" "log" (func $log (param i32)))
  (import "env" "mem" (memory $m 2 100 shared))
  (import "env" "g" (global $imp i32))
  (global $__stack_pointer (mut i32) (i32.const 65536))
  (global $k i32 (i32.const 7))
  (global $fromImport i32 (global.get $imp))
  (global $f (mut f64) (f64.const 1.5))
  (global $big i64 (i64.const -2))
  (table 4 funcref)
  (elem (i32.const 1) $grow $nogrow)
  (data $hello (i32.const 1024) "hello")
  (data $pass "passive bytes")
  (func $grow (result i32) (memory.grow (i32.const 1)))
  (func $nogrow (result i32) (i32.add (i32.const -64) (memory.size)))
  (func $uses_log (call $log (i32.const 64)) (drop (i32.load offset=64 (i32.const 0))))
  (export "memory" (memory $m))
  (export "grow" (func $grow))
  (export "k" (global $k))
  (start $uses_log)
)`;

describe('readModule: header', () => {
  it('HA001 for non-wasm input, with a hint for well-known formats', () => {
    expect(errorOf(() => readModule(new Uint8Array())).code).toBe(ErrorCodes.NOT_WASM);
    const elf = errorOf(() => readModule(Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])));
    expect(elf.code).toBe(ErrorCodes.NOT_WASM);
    expect(elf.message).toContain('expected \\0asm magic, found 7f 45 4c 46');
    expect(elf.message).toContain('ELF');
    const text = errorOf(() => readModule(new TextEncoder().encode('(module (memory 1))')));
    expect(text.code).toBe(ErrorCodes.NOT_WASM);
    expect(text.message).toContain('wat2wasm');
    expect(errorOf(() => readModule(Uint8Array.from([0, 0x61, 0x73]))).code).toBe(ErrorCodes.NOT_WASM);
  });

  it('HA003 for components, pointing at the core modules inside', () => {
    const e = errorOf(() => readModule(Uint8Array.from([0, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00])));
    expect(e.code).toBe(ErrorCodes.COMPONENT);
    expect(e.message).toContain('core module');
    expect(e.message).toContain('wasm-tools component unbundle');
    // any layer 1 is a component
    expect(
      errorOf(() => readModule(Uint8Array.from([0, 0x61, 0x73, 0x6d, 0x0e, 0x00, 0x01, 0x00]))).code,
    ).toBe(ErrorCodes.COMPONENT);
  });

  it('HA002 for an unknown version or a cut header', () => {
    const v2 = errorOf(() => readModule(Uint8Array.from([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0])));
    expect(v2.code).toBe(ErrorCodes.MALFORMED);
    expect(v2.details).toEqual({ offset: 4 });
    expect(errorOf(() => readModule(Uint8Array.from([0, 0x61, 0x73, 0x6d, 1]))).code).toBe(
      ErrorCodes.MALFORMED,
    );
  });

  it('reads the empty module', () => {
    const info = readModule(moduleBytes());
    expect(info.size).toBe(8);
    expect(info.sections).toEqual([]);
  });
});

describe('readModule: malformed sections (HA002 with the offset)', () => {
  const cases: [string, Uint8Array, number][] = [
    ['unknown section id', moduleBytes([14, 0]), 8],
    ['section size past end', moduleBytes([1, 5, 0]), 8],
    ['out-of-order sections', moduleBytes(memSec([0, 1]), typeSec(FUNC_VOID)), 13],
    ['repeated section', moduleBytes(memSec([0, 1]), memSec([0, 1])), 13],
    ['LEB128 overflow', moduleBytes([5, 7, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x7f]), 12],
    ['count past end', moduleBytes(section(5, [...uleb(1000), 0, 1])), 10],
    ['section shorter than declared content', moduleBytes(section(5, [1, 0, 1, 0, 0])), 13],
    ['code without function section', moduleBytes(typeSec(FUNC_VOID), codeSec([0x0b])), 16],
    ['function without code section', moduleBytes(typeSec(FUNC_VOID), funcSec(0)), 18],
    ['bad limits flags', moduleBytes(memSec([0x10, 1])), 11],
    ['unknown value type', moduleBytes(typeSec([0x60, 1, 0x55, 0])), 13],
    ['invalid UTF-8 in an export name', moduleBytes(section(7, [1, 1, 0xff, 0, 0])), 12],
    ['data count mismatch', moduleBytes(memSec([0, 1]), section(12, [2]), section(11, vec([[1, 0]]))), 18],
  ];
  for (const [what, bytes, offset] of cases) {
    it(what, () => {
      const e = errorOf(() => readModule(bytes));
      expect(e.code).toBe(ErrorCodes.MALFORMED);
      expect(e.details).toEqual({ offset });
      expect(e.message).toContain(`at byte ${offset}`);
    });
  }

  it('truncation at every byte gives HA002 or a valid read, never another exception', () => {
    const full = wat(RICH);
    let valid = 0;
    for (let n = 4; n < full.length; n++) {
      try {
        readModule(full.subarray(0, n));
        valid++;
      } catch (e) {
        expect(e).toBeInstanceOf(HostAllocError);
        expect((e as HostAllocError).code).toBe(ErrorCodes.MALFORMED);
      }
    }
    expect(valid).toBeGreaterThan(0); // section boundaries before the function section
    expect(() => readModule(full)).not.toThrow();
  });

  it('random byte corruption gives a HostAllocError or a valid read', () => {
    const full = wat(RICH);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(full.length - 9), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        (edits) => {
          const bytes = full.slice();
          for (const [at, v] of edits) bytes[8 + at] = v;
          try {
            const info = readModule(bytes);
            scanMemoryGrowDetailed(bytes, info);
          } catch (e) {
            expect(e).toBeInstanceOf(HostAllocError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('readModule: limits (HA032)', () => {
  const bytes = wat(RICH);
  it('maxBytes', () => {
    const e = errorOf(() => readModule(bytes, { maxBytes: 100 }));
    expect(e.code).toBe(ErrorCodes.LIMIT_EXCEEDED);
    expect(e.message).toContain('--max-bytes');
  });
  it('maxFunctions counts imported and defined functions', () => {
    expect(() => readModule(bytes, { maxFunctions: 4 })).not.toThrow();
    const e = errorOf(() => readModule(bytes, { maxFunctions: 3 }));
    expect(e.code).toBe(ErrorCodes.LIMIT_EXCEEDED);
    expect(e.message).toContain('--max-functions');
  });
  it('maxDataSegments', () => {
    const e = errorOf(() => readModule(bytes, { maxDataSegments: 1 }));
    expect(e.code).toBe(ErrorCodes.LIMIT_EXCEEDED);
    expect(e.message).toContain('--max-data-segments');
  });
});

describe('readModule: contents', () => {
  const bytes = wat(RICH);
  const info = readModule(bytes);

  it('imports, with index spaces and counts', () => {
    expect(info.numImportedFunctions).toBe(1);
    expect(info.numImportedMemories).toBe(1);
    expect(info.numImportedGlobals).toBe(1);
    // binaryen orders imports by kind; compare as a set
    expect(info.imports.map((i) => [i.module, i.name, i.kind, i.index]).sort()).toEqual([
      ['env', 'g', 'global', 0],
      ['env', 'log', 'function', 0],
      ['env', 'mem', 'memory', 0],
    ]);
    expect(functionType(info, 0)).toEqual({ kind: 'func', params: ['i32'], results: [] });
    expect(functionType(info, 1)).toEqual({ kind: 'func', params: [], results: ['i32'] });
    expect(info.functionTypes.length).toBe(4);
    expect(info.functions.length).toBe(3);
    expect(info.codeRanges.length).toBe(3);
  });

  it('an imported shared memory with its limits, and its export', () => {
    expect(info.memories).toEqual([
      {
        limits: { min: 2, max: 100, shared: true, is64: false, pageSizeLog2: null },
        imported: { module: 'env', name: 'mem' },
      },
    ]);
    expect(info.exports).toContainEqual({ name: 'memory', kind: 'memory', index: 0 });
  });

  it('globals: constant initialisers evaluated, imported ones not', () => {
    const [imp, sp, k, fromImport, f, big] = info.globals;
    expect(imp).toMatchObject({
      type: 'i32',
      mutable: false,
      imported: { module: 'env', name: 'g' },
      init: null,
    });
    expect(sp).toMatchObject({ type: 'i32', mutable: true, imported: null, init: 65536 });
    expect(k).toMatchObject({ init: 7, mutable: false });
    expect(fromImport).toMatchObject({ init: null, initGlobal: 0 });
    expect(f).toMatchObject({ type: 'f64', init: 1.5 });
    expect(big).toMatchObject({ type: 'i64', init: -2 });
  });

  it('active and passive data segments', () => {
    expect(
      info.dataSegments.map(({ index, memory, passive, offset, size }) => ({
        index,
        memory,
        passive,
        offset,
        size,
      })),
    ).toEqual([
      { index: 0, memory: 0, passive: false, offset: 1024, size: 5 },
      { index: 1, memory: 0, passive: true, offset: null, size: 13 },
    ]);
    const seg = info.dataSegments[0]!;
    expect(new TextDecoder().decode(bytes.subarray(seg.contents.start, seg.contents.end))).toBe('hello');
    expect(info.dataCount).toBe(2);
  });

  it('exports, start, element functions', () => {
    expect(info.exports).toContainEqual({ name: 'grow', kind: 'function', index: 1 });
    expect(info.exports).toContainEqual({ name: 'k', kind: 'global', index: 2 });
    expect(info.start).toBe(3);
    expect([...info.elemFunctions].sort()).toEqual([1, 2]);
    expect(info.elements).toEqual([{ index: 0, mode: 'active', table: 0, offset: 1, count: 2 }]);
  });

  it('the name section: functions, globals, data', () => {
    expect(info.nameSectionMalformed).toBe(false);
    expect(info.names.functions.get(1)).toBe('grow');
    expect(functionLabel(info, 2)).toBe('nogrow');
    expect(functionLabel(info, 99)).toBe('$99');
    expect(info.names.globals.get(1)).toBe('__stack_pointer');
    expect(info.names.data.get(0)).toBe('hello');
    expect(info.customSections.map((c) => c.name)).toContain('name');
  });

  it('memory.grow scan', () => {
    expect(scanMemoryGrow(bytes, info)).toEqual([1]);
    expect(scanMemoryGrowPerFunction(bytes, info)).toEqual([true, false, false]);
  });
});

describe('readModule: hand-assembled encodings', () => {
  it('memory64 limits as u64, and i64 data offsets', () => {
    const big = 2 ** 40;
    const bytes = moduleBytes(
      memSec([0x05, ...uleb(big), ...uleb(big * 2)]),
      section(11, vec([[0, 0x42, ...sleb(2 ** 33), 0x0b, 1, 0xaa]])),
    );
    const info = readModule(bytes);
    expect(info.memories[0]!.limits).toEqual({
      min: big,
      max: big * 2,
      shared: false,
      is64: true,
      pageSizeLog2: null,
    });
    expect(info.dataSegments[0]!.offset).toBe(2 ** 33);
  });

  it('memory64 and shared from WAT', () => {
    const info = readModule(wat('(module (memory $m i64 1 16) (memory $s 1 1 shared))'));
    expect(info.memories.map((m) => m.limits)).toEqual([
      { min: 1, max: 16, shared: false, is64: true, pageSizeLog2: null },
      { min: 1, max: 1, shared: true, is64: false, pageSizeLog2: null },
    ]);
  });

  it('data offsets via global.get of a constant immutable global; imported ones stay null', () => {
    const bytes = moduleBytes(
      section(2, vec([[...name('env'), ...name('base'), 3, I32, 0]])),
      memSec([0, 1]),
      section(6, vec([[I32, 0, 0x41, ...sleb(4096), 0x0b]])),
      section(
        11,
        vec([
          [0, 0x23, 1, 0x0b, 1, 0],
          [0, 0x23, 0, 0x0b, 1, 0],
          [2, 0, 0x23, 1, 0x41, 16, 0x6a, 0x0b, 1, 0], // extended const, explicit memory index
        ]),
      ),
    );
    const info = readModule(bytes);
    expect(info.dataSegments.map((d) => d.offset)).toEqual([4096, null, 4112]);
  });

  it('all element segment forms, incl. ref.func expressions', () => {
    const refFunc = (f: number) => [0xd2, f, 0x0b];
    const bytes = moduleBytes(
      typeSec(FUNC_VOID),
      funcSec(0, 0, 0, 0, 0, 0, 0, 0, 0),
      section(4, vec([[0x70, 0, 10]])),
      section(
        9,
        vec([
          [0, 0x41, 0, 0x0b, ...vec([[0]])], // 0: active table 0, func indices
          [1, 0, ...vec([[1]])], // 1: passive, elemkind
          [2, 0, 0x41, 1, 0x0b, 0, ...vec([[2]])], // 2: active table idx, elemkind
          [3, 0, ...vec([[3]])], // 3: declarative
          [4, 0x41, 2, 0x0b, ...vec([refFunc(4), [0xd0, 0x70, 0x0b]])], // 4: active, exprs
          [5, 0x70, ...vec([refFunc(5)])], // 5: passive, exprs
          [6, 0, 0x41, 3, 0x0b, 0x70, ...vec([refFunc(6)])], // 6: active table idx, exprs
          [7, 0x64, 0x70, ...vec([refFunc(7)])], // 7: declarative, (ref func)
        ]),
      ),
      codeSec(...Array.from({ length: 9 }, () => [0x0b])),
    );
    const info = readModule(bytes);
    expect([...info.elemFunctions].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(info.elements.map((e) => [e.mode, e.table, e.offset, e.count])).toEqual([
      ['active', 0, 0, 1],
      ['passive', null, null, 1],
      ['active', 0, 1, 1],
      ['declarative', null, null, 1],
      ['active', 0, 2, 2],
      ['passive', null, null, 1],
      ['active', 0, 3, 1],
      ['declarative', null, null, 1],
    ]);
  });

  it('GC types: rec groups, sub types, struct and array', () => {
    const bytes = moduleBytes(
      section(
        1,
        vec([
          [
            0x4e,
            ...vec([
              [
                0x5f,
                ...vec([
                  [I32, 1],
                  [0x78, 0],
                ]),
              ],
              [0x50, 0, 0x5e, 0x63, 0x00, 1],
            ]),
          ],
          [0x4f, ...vec([[0]]), 0x5f, 0],
          [0x60, 1, 0x64, 0x6e, 1, 0x63, 0x01],
        ]),
      ),
    );
    const info = readModule(bytes);
    expect(info.usesGC).toBe(true);
    expect(info.types.map((t) => t.kind)).toEqual(['struct', 'array', 'struct', 'func']);
    expect(info.types[3]).toEqual({ kind: 'func', params: ['(ref any)'], results: ['(ref null 1)'] });
  });

  it('a malformed name section is ignored, not fatal', () => {
    const good = customSection('name', [1, ...uleb(7), ...vec([[0, ...name('main')]])]);
    const bad = customSection('name', [1, 40, 1, 0, 4, 0x6d]);
    const base = [typeSec(FUNC_VOID), funcSec(0), codeSec([0x0b])];
    const ok = readModule(moduleBytes(...base, good));
    expect(ok.names.functions.get(0)).toBe('main');
    const info = readModule(moduleBytes(...base, bad));
    expect(info.nameSectionMalformed).toBe(true);
    expect(info.names.functions.size).toBe(0);
    const badUtf8 = customSection('name', [0, 2, 1, 0xff]);
    expect(readModule(moduleBytes(...base, badUtf8)).nameSectionMalformed).toBe(true);
  });

  it('a table with an initialiser expression, and tags', () => {
    const bytes = moduleBytes(
      typeSec([0x60, 1, I32, 0]),
      section(4, vec([[0x40, 0x00, 0x70, 0, 1, 0xd0, 0x70, 0x0b]])),
      section(13, vec([[0, 0]])),
    );
    const info = readModule(bytes);
    expect(info.tables).toEqual([
      {
        elemType: 'funcref',
        limits: { min: 1, max: null, shared: false, is64: false, pageSizeLog2: null },
        imported: null,
      },
    ]);
    expect(info.tags).toEqual([0]);
  });
});

describe('scanMemoryGrow', () => {
  it('decodes immediates: memory.grow-looking bytes inside them do not count', () => {
    const bytes = moduleBytes(
      typeSec(FUNC_VOID),
      funcSec(0, 0, 0, 0, 0),
      memSec([0, 1]),
      codeSec(
        [0x41, 0x01, 0x40, 0x00, 0x1a, 0x0b], // memory.grow 0
        [0x41, 0x40, 0x00, 0x0b], // i32.const -64 ; unreachable: bytes 40 00 inside
        [0xfd, 12, ...Array(16).fill(0x40), 0x1a, 0x0b], // v128.const full of 0x40
        [0xff, 0x0b], // unknown opcode
        [0x41, 0x00, 0x40, 0x01, 0x1a, 0x0b], // memory.grow 1 (multi-memory index)
      ),
    );
    const info = readModule(bytes);
    expect(scanMemoryGrowPerFunction(bytes, info)).toEqual([true, false, false, null, true]);
    expect(scanMemoryGrow(bytes, info)).toEqual([0, 4]);
    expect(scanMemoryGrowDetailed(bytes, info)).toEqual({ grows: [0, 4], unknown: [3] });
  });

  it('decodes every instruction family binaryen emits (SIMD, atomics, bulk memory, tail calls, exceptions)', () => {
    const bytes = wat(`(module
      (memory 1 1 shared)
      (table 2 funcref)
      (type $t (func (param i32) (result i32)))
      (tag $e (param i32))
      (global $g (mut i32) (i32.const 0))
      (data $d "xyz")
      (elem $el func $a)
      (func $a (param i32) (result i32)
        (local $v v128) (local $r funcref)
        (local.set $v (v128.const i32x4 64 64 64 64))
        (local.set $v (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 64 (local.get $v) (local.get $v)))
        (local.set $v (v128.load offset=64 align=4 (i32.const 0)))
        (local.set $v (v128.load8_lane 3 (i32.const 0) (local.get $v)))
        (v128.store64_lane 1 (i32.const 0) (local.get $v))
        (drop (i8x16.extract_lane_u 15 (local.get $v)))
        (drop (i32.atomic.rmw.add offset=64 (i32.const 0) (i32.const 1)))
        (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
        (atomic.fence)
        (memory.fill (i32.const 0) (i32.const 64) (i32.const 0))
        (memory.copy (i32.const 0) (i32.const 64) (i32.const 0))
        (memory.init $d (i32.const 0) (i32.const 0) (i32.const 1))
        (data.drop $d)
        (table.set (i32.const 0) (ref.func $a))
        (drop (table.size))
        (drop (ref.is_null (ref.null func)))
        (drop (i32.extend8_s (i32.trunc_sat_f32_s (f32.const 64))))
        (drop (i64.const -64))
        (drop (f64.const 64))
        (try (do (throw $e (i32.const 64))) (catch $e (drop)) (catch_all))
        (block $out (br_table $out $out (i32.const 64)))
        (drop (select (result i32) (i32.const 1) (i32.const 2) (global.get $g)))
        (if (local.get 0) (then (return_call $a (i32.const 64))))
        (return_call_indirect (type $t) (i32.const 64) (i32.const 0))
      )
    )`);
    const info = readModule(bytes);
    expect(scanMemoryGrowDetailed(bytes, info)).toEqual({ grows: [], unknown: [] });
  });

  it('reads and scans a large module quickly', () => {
    // ~5000 functions of ~140 bytes: about 700 KB.
    const n = 5000;
    const body = [0x01, 0x02, I32]; // locals: 2 x i32
    for (let i = 0; i < 20; i++) body.push(0x41, 0xc0, 0x00, 0x21, 0x00, 0x20, 0x00, 0x1a);
    body.push(0x0b);
    const code = section(10, vec(Array.from({ length: n }, () => [...uleb(body.length), ...body])));
    const names = customSection('name', [
      1,
      ...(() => {
        const p = vec(Array.from({ length: n }, (_, i) => [...uleb(i), ...name(`function_${i}`)]));
        return [...uleb(p.length), ...p];
      })(),
    ]);
    const bytes = moduleBytes(typeSec(FUNC_VOID), funcSec(...Array(n).fill(0)), memSec([0, 1]), code, names);
    expect(bytes.length).toBeGreaterThan(700_000);
    readModule(bytes); // warm up
    const t0 = performance.now();
    const info = readModule(bytes);
    const t1 = performance.now();
    const grows = scanMemoryGrow(bytes, info);
    const t2 = performance.now();
    expect(info.names.functions.size).toBe(n);
    expect(grows).toEqual([]);
    expect(t1 - t0).toBeLessThan(100);
    expect(t2 - t1).toBeLessThan(200);
  });
});
