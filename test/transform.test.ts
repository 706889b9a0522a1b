/**
 * transform()'s typed errors: one minimal input per code, asserting the code and that the message
 * tells the user what to do; and that binaryen stays healthy after many failing transforms.
 * The golden .wat tests of successful transforms are in test/passes.
 */

import { describe, expect, it } from 'vitest';
import { type ErrorCode, ErrorCodes, isHostAllocError, transform } from '../src/index.js';
import type { TransformOptions } from '../src/types.js';
import { customSection } from './harness/encode.js';
import { readFixture } from './harness/fixtures.js';
import { WA } from './harness/wasm.js';
import { type WatFeatures, watToWasm } from './passes/wat.js';

/** The refusal `transform` raises, or a failure when it succeeds or throws something untyped. */
async function refusal(
  bytes: Uint8Array,
  options?: TransformOptions,
): Promise<{ code: ErrorCode; message: string }> {
  const error = await transform(bytes, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isHostAllocError(error)) throw new Error(`expected a HostAllocError, got ${String(error)}`);
  return { code: error.code, message: error.message };
}

/** The bump allocator the test modules share: state (bump pointer, last freed) at 1024. */
const ALLOCATOR = `
  (data (i32.const 1024) "\\00\\08\\00\\00\\00\\00\\00\\00")
  (func $malloc (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (i32.load (i32.const 1024)))
    (i32.store (i32.const 1024)
      (i32.add (local.get $p) (i32.and (i32.add (local.get $n) (i32.const 15)) (i32.const -16))))
    (local.get $p))
  (func $free (param $p i32)
    (i32.store (i32.const 1028) (local.get $p)))
`;

const RUN = `
  (func $run (export "run") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (call $malloc (local.get $n)))
    (call $free (local.get $p))
    (local.get $p))
`;

function wasm(body: string, features: WatFeatures = {}, validate = true): Uint8Array {
  return watToWasm(`(module ${body})`, features, validate);
}

const VALID = wasm(`(memory (export "memory") 2) ${ALLOCATOR} ${RUN}`);

describe('transform: typed errors', () => {
  it('HA001: not a WebAssembly module', async () => {
    const e = await refusal(new TextEncoder().encode('hello, world'));
    expect(e.code).toBe(ErrorCodes.NOT_WASM);
    expect(e.message).toMatch(/wasm|WebAssembly/i);
  });

  it('HA002: truncated module', async () => {
    const e = await refusal(VALID.subarray(0, Math.floor(VALID.length / 2)));
    expect(e.code).toBe(ErrorCodes.MALFORMED);
    expect(e.message.length).toBeGreaterThan(10);
  });

  it('HA003: a component, not a core module', async () => {
    const e = await refusal(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]));
    expect(e.code).toBe(ErrorCodes.COMPONENT);
    expect(e.message).toMatch(/component/i);
  });

  it('HA004: no memory', async () => {
    const e = await refusal(wasm(`(func (export "f") (result i32) (i32.const 1))`));
    expect(e.code).toBe(ErrorCodes.NO_MEMORY);
    expect(e.message).toMatch(/memory/i);
  });

  it('HA005: two memories', async () => {
    const e = await refusal(
      wasm(`(memory $a 1) (memory $b 1) (export "memory" (memory $a)) ${ALLOCATOR} ${RUN}`, {
        extra: ['MultiMemory'],
      }),
    );
    expect(e.code).toBe(ErrorCodes.MULTI_MEMORY);
    expect(e.message).toMatch(/memor/i);
  });

  it('HA006: shared memory, unless allowShared', async () => {
    const shared = wasm(`(memory (export "memory") 2 16 shared) ${ALLOCATOR} ${RUN}`, { atomics: true });
    const e = await refusal(shared);
    expect(e.code).toBe(ErrorCodes.SHARED_MEMORY);
    expect(e.message).toMatch(/allowShared|--allow-shared/);

    const { bytes, report } = await transform(shared, { allowShared: true });
    expect(report.status).toBe('transformed');
    expect(report.layout.memory.shared).toBe(true);
    expect(report.imports).toEqual(expect.arrayContaining(['host_malloc', 'host_free']));
    expect(WA.validate(bytes)).toBe(true);
    const imports = WA.Module.imports(new WA.Module(bytes)).map((i) => `${i.module}.${i.name}`);
    expect(imports).toEqual(expect.arrayContaining(['env.host_malloc', 'env.host_free']));
  });

  it('HA010: no malloc/free, unless force (then a warning)', async () => {
    const none = wasm(`(memory (export "memory") 1) (data (i32.const 1024) "state")
      (func $run (export "run") (param i32) (result i32) (i32.load (local.get 0)))`);
    const e = await refusal(none);
    expect(e.code).toBe(ErrorCodes.ALLOCATOR_NOT_FOUND);
    expect(e.message).toMatch(/--alloc/);

    const { bytes, report } = await transform(none, { force: true });
    expect(report.status).toBe('transformed');
    expect(report.warnings.some((w) => /forced/.test(w) && /malloc/.test(w))).toBe(true);
    expect(WA.validate(bytes)).toBe(true);
  });

  it('HA011: a helper (not an entry point) reads the allocator state: an unnamed family member', async () => {
    const e = await refusal(
      wasm(`(memory (export "memory") 2) ${ALLOCATOR}
        (func $grab (param $n i32) (result i32)
          (local $p i32)
          (local.set $p (i32.load (i32.const 1024)))
          (i32.store (i32.const 1024) (i32.add (local.get $p) (local.get $n)))
          (local.get $p))
        (func $run (export "run") (param $n i32) (result i32)
          (call $free (call $malloc (local.get $n)))
          (call $grab (local.get $n)))`),
    );
    expect(e.code).toBe(ErrorCodes.FAMILY_INCOMPLETE);
    expect(e.message).toMatch(/grab/);
    expect(e.message).toMatch(/--alloc/);
  });

  it('HA020: an exported user function reads the allocator state directly', async () => {
    const e = await refusal(
      wasm(`(memory (export "memory") 2) ${ALLOCATOR} ${RUN}
        (func $peek (export "peek") (result i32) (i32.load (i32.const 1024)))`),
    );
    expect(e.code).toBe(ErrorCodes.UNSAFE_RESIDUE);
    expect(e.message).toMatch(/peek/);
    expect(e.message).toMatch(/0x400/);
    expect(e.message).toMatch(/rebuild|--alloc/);
  });

  it('HA024: a user function tests the in-use bits at p-4 after malloc, and zeroes nothing', async () => {
    const e = await refusal(
      wasm(`(memory (export "memory") 2) ${ALLOCATOR}
        (func $header (export "header") (param $n i32) (result i32)
          (local $p i32)
          (local.set $p (call $malloc (local.get $n)))
          (i32.and (i32.load (i32.sub (local.get $p) (i32.const 4))) (i32.const 3)))
        (func $release (export "release") (param $p i32) (call $free (local.get $p)))`),
    );
    expect(e.code).toBe(ErrorCodes.METADATA_READ);
    expect(e.message).toMatch(/header/);
    expect(e.message).toMatch(/header reads p-4/);
  });

  // A malloc export with (i32, i32) -> i32 is NOT refused today (reported bug: checkSignatures
  // treats any one extra leading pointer parameter as allocator state to drop, so it becomes an
  // adapter calling host_malloc(param 1)). These shapes are refused:
  it('HA012: a malloc export with a signature the host ABI cannot serve', async () => {
    const e = await refusal(
      wasm(`(memory (export "memory") 2) (data (i32.const 1024) "state")
        (func $m (export "malloc") (param i32 i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
        (func $f (export "free") (param i32))`),
    );
    expect(e.code).toBe(ErrorCodes.BAD_SIGNATURE);
    expect(e.message).toMatch(/malloc/);
    expect(e.message).toMatch(/--alloc malloc=NAME/);

    const noResult = await refusal(
      wasm(`(memory (export "memory") 2) (data (i32.const 1024) "state")
        (func $m (export "malloc") (param i32))
        (func $f (export "free") (param i32))`),
    );
    expect(noResult.code).toBe(ErrorCodes.BAD_SIGNATURE);
  });

  it('HA021: memory.grow left in user code', async () => {
    const e = await refusal(
      wasm(`(memory (export "memory") 2) ${ALLOCATOR} ${RUN}
        (func $more (export "more") (result i32) (memory.grow (i32.const 1)))`),
    );
    expect(e.code).toBe(ErrorCodes.STRAY_MEMORY_GROW);
    expect(e.message).toMatch(/more/);
    expect(e.message).toMatch(/host/);
  });

  it("HA022: AssemblyScript's incremental GC runtime", async () => {
    const e = await refusal(
      wasm(`(memory (export "memory") 1) ${ALLOCATOR}
        (global $rtti i32 (i32.const 1040))
        (export "__rtti_base" (global $rtti))
        (func $__new (export "__new") (param i32 i32) (result i32) (call $malloc (local.get 0)))
        (func $__pin (export "__pin") (param i32) (result i32) (local.get 0))
        (func $__unpin (export "__unpin") (param i32) (call $free (local.get 0)))
        (func $__collect (export "__collect"))`),
    );
    expect(e.code).toBe(ErrorCodes.GC_RUNTIME);
    expect(e.message).toMatch(/AssemblyScript/);
    expect(e.message).toMatch(/garbage/);
  });

  it('HA022: a WasmGC module (struct type)', async () => {
    const e = await refusal(
      wasm(
        `(type $point (struct (field $x (mut i32)) (field $y (mut i32))))
        (memory (export "memory") 1) ${ALLOCATOR} ${RUN}
        (func $make (export "make") (result i32)
          (struct.get $point $x (struct.new $point (i32.const 1) (i32.const 2))))`,
        { extra: ['GC', 'ReferenceTypes'] },
      ),
    );
    expect(e.code).toBe(ErrorCodes.GC_RUNTIME);
    expect(e.message).toMatch(/WasmGC|garbage/);
  });

  it('HA023: no heap base (no __heap_base, no stack pointer, no static data)', async () => {
    const e = await refusal(
      wasm(`(memory (export "memory") 1)
        (func $malloc (export "malloc") (param i32) (result i32) (local.get 0))
        (func $free (export "free") (param i32))`),
    );
    expect(e.code).toBe(ErrorCodes.NO_HEAP_BASE);
    expect(e.message).toMatch(/--export=__heap_base/);
  });

  it('HA030: --alloc names an unknown export', async () => {
    const e = await refusal(VALID, { alloc: { malloc: 'no_such_export' } });
    expect(e.code).toBe(ErrorCodes.BAD_OPTION);
    expect(e.message).toMatch(/no_such_export/);
  });

  it('stays healthy after 50 failing transforms in a row (modules disposed)', async () => {
    const failing = [
      wasm(`(memory (export "memory") 2) ${ALLOCATOR} ${RUN}
        (func $peek (export "peek") (result i32) (i32.load (i32.const 1024)))`), // HA020, inside binaryen
      wasm(`(memory (export "memory") 2) ${ALLOCATOR} ${RUN}
        (func $more (export "more") (result i32) (memory.grow (i32.const 1)))`), // HA021
    ];
    for (let i = 0; i < 50; i++) {
      const e = await refusal(failing[i % 2]!, i % 5 === 0 ? { alloc: { free: 'nope' } } : undefined);
      expect([ErrorCodes.UNSAFE_RESIDUE, ErrorCodes.STRAY_MEMORY_GROW, ErrorCodes.BAD_OPTION]).toContain(
        e.code,
      );
    }
    const { bytes, report } = await transform(VALID);
    expect(report.status).toBe('transformed');
    expect(WA.validate(bytes)).toBe(true);
  });
});

describe('the hostalloc section', () => {
  it('is written once, afresh, when the input already carries one (a forced output given again)', async () => {
    const stale = customSection('hostalloc', [...new TextEncoder().encode('{"abi":1,"align":16}')]);
    const input = new Uint8Array([...readFixture('clang-wasi-c'), ...stale]);
    const { bytes } = await transform(input);
    const sections = WA.Module.customSections(new WA.Module(bytes), 'hostalloc');
    expect(sections).toHaveLength(1);
    expect(JSON.parse(new TextDecoder().decode(sections[0]!))).toMatchObject({ abi: 2 });
  });
});
