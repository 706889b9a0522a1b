import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import binaryen from 'binaryen';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../src/errors.js';
import {
  computeLayout,
  deriveDataEnd,
  findDataEndExport,
  findHeapBaseExport,
  findStackPointer,
  readHostallocMeta,
  refineHeapBase,
} from '../src/layout.js';
import { readModule } from '../src/wasm/reader.js';
import { errorOf } from './errors.js';
import { customSection, moduleBytes, name, section, sleb, vec } from './harness/encode.js';

/** Reads WAT text (assembled by binaryen, name section kept). */
function info(text: string, names = true) {
  const m = binaryen.parseText(text);
  try {
    m.setFeatures(
      binaryen.Features.MutableGlobals |
        binaryen.Features.BulkMemory |
        binaryen.Features.SignExt |
        binaryen.Features.Memory64 |
        binaryen.Features.ReferenceTypes |
        binaryen.Features.Atomics |
        binaryen.Features.MultiMemory,
    );
    binaryen.setDebugInfo(names);
    return readModule(m.emitBinary());
  } finally {
    binaryen.setDebugInfo(true);
    m.dispose();
  }
}

describe('computeLayout', () => {
  it('data-stack-heap (emcc / wasm-ld default): heap base = stack top, computed', () => {
    const layout = computeLayout(
      info(`(module
        (memory (export "memory") 2)
        (global $__stack_pointer (mut i32) (i32.const 66576))
        (global $other (mut i32) (i32.const 0))
        (data (i32.const 1024) "0123456789")
        (data (i32.const 1040) "abc"))`),
    );
    expect(layout.kind).toBe('data-stack-heap');
    expect(layout.dataStart).toBe(1024);
    expect(layout.dataEnd).toBe(1043);
    expect(layout.stackPointer).toEqual({ global: 0, name: '__stack_pointer', initial: 66576 });
    expect(layout.stack).toEqual({ low: 1056, high: 66576 });
    expect(layout.heapBase).toEqual({
      value: 66576,
      source: 'stack pointer initial value (stack above data)',
      confidence: 'computed',
    });
    expect(layout.memory).toEqual({
      initialPages: 2,
      maximumPages: null,
      shared: false,
      is64: false,
      imported: null,
      exportedAs: ['memory'],
    });
    expect(layout.existing).toEqual({ heapBase: null, dataEnd: null });
  });

  it('stack-data-heap (--stack-first, Rust): estimated above the data', () => {
    const layout = computeLayout(
      info(`(module
        (import "env" "memory" (memory 17))
        (global $__stack_pointer (mut i32) (i32.const 1048576))
        (data (i32.const 1048576) "some static data")
        (data (i32.const 1048600) "more"))`),
    );
    expect(layout.kind).toBe('stack-data-heap');
    expect(layout.stack).toEqual({ low: 0, high: 1048576 });
    expect(layout.memory.imported).toEqual({ module: 'env', name: 'memory' });
    expect(layout.memory.exportedAs).toEqual([]);
    expect(layout.heapBase.value).toBe(1048608);
    expect(layout.heapBase.confidence).toBe('estimated');
    expect(layout.heapBase.source).toContain('bss');
  });

  it('exported __heap_base is exact; __data_end is recorded and extends the data', () => {
    const layout = computeLayout(
      info(`(module
        (memory (export "memory") 17)
        (global $__stack_pointer (mut i32) (i32.const 1048576))
        (global $hb i32 (i32.const 1049000))
        (global $de i32 (i32.const 1048990))
        (data (i32.const 1048576) "xy")
        (export "__heap_base" (global $hb))
        (export "__data_end" (global $de)))`),
    );
    expect(layout.heapBase).toEqual({ value: 1049000, source: 'export __heap_base', confidence: 'exact' });
    expect(layout.existing).toEqual({ heapBase: 1049000, dataEnd: 1048990 });
    expect(layout.dataEnd).toBe(1048990);
    expect(layout.kind).toBe('stack-data-heap');
  });

  it('a global named __heap_base in the name section counts too', () => {
    const i = info(`(module (memory 1)
      (global $__heap_base i32 (i32.const 4096))
      (data (i32.const 1024) "x"))`);
    expect(findHeapBaseExport(i)).toEqual({
      global: 0,
      value: 4096,
      source: 'global __heap_base (name section)',
    });
    expect(computeLayout(i).heapBase.confidence).toBe('exact');
  });

  it('no stack pointer: data-heap, estimated from the data end', () => {
    const layout = computeLayout(info(`(module (memory 1) (data (i32.const 1024) "hello, world!"))`));
    expect(layout.kind).toBe('data-heap');
    expect(layout.stackPointer).toBeNull();
    expect(layout.stack).toBeNull();
    expect(layout.heapBase.value).toBe(1040);
    expect(layout.heapBase.confidence).toBe('estimated');
  });

  it('passive segments do not count as static data', () => {
    const layout = computeLayout(
      info(`(module (memory 1) (data (i32.const 1024) "ab") (data "passive, very long, not placed"))`),
    );
    expect(layout.dataSegments).toEqual([
      { index: 0, offset: 1024, size: 2, passive: false },
      { index: 1, offset: null, size: 30, passive: true },
    ]);
    expect(layout.dataEnd).toBe(1026);
  });

  it('an SP inside the data is unknown, with a safe estimate above both', () => {
    const layout = computeLayout(
      info(`(module (memory 1)
        (global $__stack_pointer (mut i32) (i32.const 2048))
        (data (i32.const 1024) "a") (data (i32.const 4000) "b"))`),
    );
    expect(layout.kind).toBe('unknown');
    expect(layout.heapBase.value).toBe(4016);
    expect(layout.heapBase.confidence).toBe('estimated');
  });

  it('memory64 with an i64 stack pointer', () => {
    const layout = computeLayout(
      info(
        `(module (memory i64 2)
        (global $sp (mut i64) (i64.const 70000))
        (data (i64.const 1024) "abc"))`,
        false,
      ),
    );
    expect(layout.memory.is64).toBe(true);
    expect(layout.stackPointer).toEqual({ global: 0, name: null, initial: 70000 });
    expect(layout.kind).toBe('data-stack-heap');
    expect(layout.heapBase.value).toBe(70000);
  });

  it('HA004 without a memory, HA005 with several', () => {
    expect(errorOf(() => computeLayout(info('(module (func))'))).code).toBe(ErrorCodes.NO_MEMORY);
    const multi = errorOf(() => computeLayout(info('(module (memory $a 1) (memory $b 1))')));
    expect(multi.code).toBe(ErrorCodes.MULTI_MEMORY);
    expect(multi.message).toContain('2 memories');
  });

  it('HA023 when nothing gives a heap base', () => {
    expect(errorOf(() => computeLayout(info('(module (memory 1))'))).code).toBe(ErrorCodes.NO_HEAP_BASE);
  });

  it('HA023 for position-independent data, unless __heap_base is exported', () => {
    const pic = `(import "env" "__memory_base" (global $mb i32))
      (import "env" "memory" (memory 1))
      (data (global.get $mb) "pic data")`;
    expect(errorOf(() => computeLayout(info(`(module ${pic})`))).code).toBe(ErrorCodes.NO_HEAP_BASE);
    const withExport = computeLayout(
      info(`(module ${pic} (global $hb i32 (i32.const 8192)) (export "__heap_base" (global $hb)))`),
    );
    expect(withExport.heapBase.value).toBe(8192);
    expect(withExport.dataStart).toBeNull();
  });
});

describe('findStackPointer', () => {
  it('finds the first plausible mutable i32 global when unnamed', () => {
    const i = info(
      `(module (memory 2)
        (global $exported (mut i32) (i32.const 65536))
        (global $zero (mut i32) (i32.const 0))
        (global $unaligned (mut i32) (i32.const 65530))
        (global $toobig (mut i32) (i32.const 262144))
        (global $immutable i32 (i32.const 65536))
        (global $sp (mut i32) (i32.const 66560))
        (global $later (mut i32) (i32.const 4096))
        (export "g" (global $exported)))`,
      false,
    );
    expect(i.names.globals.size).toBe(0);
    expect(findStackPointer(i)).toEqual({ global: 5, name: null, initial: 66560 });
  });

  it('an imported __stack_pointer (PIC) gives undefined, with no fallback guess', () => {
    const i = info(`(module
      (import "env" "__stack_pointer" (global $sp (mut i32)))
      (memory 1)
      (global $other (mut i32) (i32.const 4096)))`);
    expect(findStackPointer(i)).toBeUndefined();
    const layout = computeLayout(
      info(`(module
        (import "env" "__stack_pointer" (global $sp (mut i32)))
        (memory 1)
        (global $other (mut i32) (i32.const 4096))
        (data (i32.const 1024) "x"))`),
    );
    expect(layout.stackPointer).toBeNull();
    expect(layout.kind).toBe('data-heap');
  });

  it('prefers the global named __stack_pointer over position', () => {
    const i = info(`(module (memory 2)
      (global $first (mut i32) (i32.const 4096))
      (global $__stack_pointer (mut i32) (i32.const 65536)))`);
    expect(findStackPointer(i)).toEqual({ global: 1, name: '__stack_pointer', initial: 65536 });
  });
});

describe('findHeapBaseExport / findDataEndExport', () => {
  it('return undefined when absent or non-constant', () => {
    const i = info(`(module
      (import "env" "hb" (global $hb i32))
      (memory 1)
      (export "__heap_base" (global $hb)))`);
    expect(findHeapBaseExport(i)).toBeUndefined();
    expect(findDataEndExport(i)).toBeUndefined();
  });

  it('hand-assembled exports without a name section', () => {
    const bytes = moduleBytes(
      section(5, vec([[0, 1]])),
      section(6, vec([[0x7f, 0, 0x41, ...sleb(5000), 0x0b]])),
      section(7, vec([[...name('__data_end'), 3, 0]])),
    );
    expect(findDataEndExport(readModule(bytes))).toEqual({
      global: 0,
      value: 5000,
      source: 'export __data_end',
    });
  });
});

describe('refineHeapBase', () => {
  const layout = computeLayout(info(`(module (memory 1) (data (i32.const 1024) "hello"))`));
  it('raises to an aligned higher address and records why', () => {
    const refined = refineHeapBase(layout, 2001, 'bss store at 2000 in $init');
    expect(refined.heapBase.value).toBe(2016);
    expect(refined.heapBase.source).toContain('bss store at 2000 in $init');
    expect(refined.heapBase.confidence).toBe('estimated');
    expect(layout.heapBase.value).toBe(1040); // input untouched
  });
  it('keeps a higher base', () => {
    expect(refineHeapBase(layout, 16, 'x')).toBe(layout);
  });
});

/** Assembles WAT with binaryen (names kept) and returns the bytes. */
function bytesOf(text: string): Uint8Array {
  const m = binaryen.parseText(text);
  try {
    m.setFeatures(binaryen.Features.MutableGlobals | binaryen.Features.BulkMemory);
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

describe('deriveDataEnd (the end of data + bss, exported only when proven)', () => {
  // wasm-ld --stack-first: stack [0, 65536), data at 65536, __heap_base = align16(__data_end).
  const stackFirst = (heapBase: number) =>
    computeLayout(
      info(`(module (memory 2)
        (global $__stack_pointer (mut i32) (i32.const 65536))
        (global $hb i32 (i32.const ${heapBase})) (export "__heap_base" (global $hb))
        (data (i32.const 65536) "0123456789abcdef"))`),
    );

  it('a symbol is exact, and wins', () => {
    const layout = computeLayout(
      info(`(module (memory 1) (data (i32.const 1024) "hello")
        (global $de i32 (i32.const 2000)) (export "__data_end" (global $de)))`),
    );
    expect(layout.dataEndExport).toMatchObject({ value: 2000, confidence: 'exact' });
    expect(deriveDataEnd(layout, [5000])).toBe(layout.dataEndExport);
  });

  it('a __data_end below the data segments is not trusted', () => {
    const layout = computeLayout(
      info(`(module (memory 1) (data (i32.const 1024) "hello")
        (global $de i32 (i32.const 1000)) (export "__data_end" (global $de)))`),
    );
    expect(layout.dataEndExport).toMatchObject({ value: null, confidence: 'unknown' });
  });

  it('stack-first, exact heap base: computed when the highest access reaches it', () => {
    const layout = stackFirst(65600);
    expect(layout.dataEndExport.confidence).toBe('unknown');
    const d = deriveDataEnd(layout, [65560, 65600, 64 /* in the stack: ignored */, 70000 /* heap */]);
    expect(d).toMatchObject({ value: 65600, confidence: 'computed' });
  });

  it('stack-first, the highest access short of the heap base: unknown, with the range', () => {
    const d = deriveDataEnd(stackFirst(65600), [65596]);
    expect(d.value).toBeNull();
    expect(d.confidence).toBe('unknown');
    expect(d.source).toContain('between 65596');
  });

  it('data-stack-heap: nothing bounds bss from above, unknown', () => {
    const layout = computeLayout(
      info(`(module (memory 2)
        (global $__stack_pointer (mut i32) (i32.const 67088))
        (data (i32.const 1024) "0123456789abcdef"))`),
    );
    expect(layout.kind).toBe('data-stack-heap');
    const d = deriveDataEnd(layout, [1540]);
    expect(d).toMatchObject({ value: null, confidence: 'unknown' });
    expect(d.source).toContain('at least 1540');
  });
});

describe('the hostalloc section (ABI 2)', () => {
  const base = `(module (memory 1) (global $hb i32 (i32.const 2048)) (export "__heap_base" (global $hb))
    (global $de i32 (i32.const 1100)) (export "__data_end" (global $de)) (data (i32.const 1024) "x"))`;
  const withMeta = (json: string): Uint8Array => {
    const bytes = bytesOf(base);
    return Uint8Array.from([...bytes, ...customSection('hostalloc', [...new TextEncoder().encode(json)])]);
  };

  it('qualifies the exports: estimated heap base, computed data end', () => {
    const bytes = withMeta('{"abi":2,"align":8,"heapBase":"estimated","dataEnd":"computed","later":1}');
    const info2 = readModule(bytes);
    expect(readHostallocMeta(bytes, info2)).toMatchObject({ abi: 2, align: 8, heapBase: 'estimated' });
    const layout = computeLayout(info2, bytes);
    expect(layout.heapBase).toMatchObject({ value: 2048, confidence: 'estimated' });
    expect(layout.dataEndExport).toMatchObject({ value: 1100, confidence: 'computed' });
    // Without the bytes (or the section) the exports read as exact.
    expect(computeLayout(info2).heapBase.confidence).toBe('exact');
  });

  it('refuses a malformed section (HA002) and reads none as null', () => {
    for (const bad of ['nope', '[]', '{"abi":2,"align":4,"heapBase":"exact","dataEnd":"exact"}']) {
      const bytes = withMeta(bad);
      expect(errorOf(() => readHostallocMeta(bytes, readModule(bytes))).code).toBe(ErrorCodes.MALFORMED);
      expect(computeLayout(readModule(bytes), bytes).heapBase.confidence).toBe('exact');
    }
    const plain = bytesOf(base);
    expect(readHostallocMeta(plain, readModule(plain))).toBeNull();
  });
});

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'wasm');
const fixtureFiles = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((f) => f.endsWith('.wasm')) : [];

describe('fixtures', () => {
  it('the committed fixtures are there', () => {
    expect(fixtureFiles.length).toBeGreaterThanOrEqual(15);
  });
  for (const file of fixtureFiles) {
    it(`reads ${file}; heap base matches an exported __heap_base`, () => {
      const bytes = new Uint8Array(readFileSync(join(FIXTURES, file)));
      const mod = readModule(bytes);
      const exported = mod.exports.find((e) => e.kind === 'global' && e.name === '__heap_base');
      expect(mod.memories.length).toBe(1);
      const layout = computeLayout(mod);
      if (exported !== undefined) {
        expect(layout.heapBase.value).toBe(mod.globals[exported.index]!.init);
        expect(layout.heapBase.confidence).toBe('exact');
      }
      expect(layout.heapBase.value % 16).toBe(0);
    });
  }
});
