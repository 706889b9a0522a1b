/**
 * "Never wrong": modules whose surviving code reads the old allocator's in-band metadata, and modules
 * whose user code merely looks like allocator code (fixtures/hazards/, built by its build.sh).
 * Each export runs on the original and on the transformed module (JS host allocator) and must
 * return the same; a module that cannot be made safe must be refused with the listed code. The
 * converted outputs must pass verify, and verify must flag a converted module that still reads a
 * header (what transform would have refused).
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createHostAllocator } from '../src/host/index.js';
import { transform, verify } from '../src/index.js';
import { expectRefusal } from './errors.js';
import { readFixture } from './harness/fixtures.js';
import { instantiateWith } from './harness/run.js';
import { WA } from './harness/wasm.js';
import { wasmToText, watToWasm } from './passes/wat.js';

const dir = new URL('../fixtures/hazards/', import.meta.url);
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, dir)));

/** Exports called with these arguments on both modules. */
const USABLE = [
  ['usable_local', 1],
  ['usable_local', 100],
  ['usable_local', 5000],
  ['usable_param', 24],
  ['usable_param', 100],
  ['usable_loaded', 100],
  ['usable_loaded', 3000],
  ['usable_grow', 3],
] as const;
const LOOKALIKE = [
  ['lookalikes', 1],
  ['lookalikes', 7],
  ['prefixes', 10],
  ['prefixes', 100],
] as const;
const RUST = [
  ['usable_local', 100],
  ['usable_local', 7000],
  ['usable_vec', 1000],
] as const;

interface Case {
  file: string;
  calls: readonly (readonly [string, number])[];
  /** A warning the transform must give (a rewrite it made). */
  rewritten?: RegExp;
  /** Cannot be made safe: refused with this code, for this reason. */
  refused?: { code: string; why: RegExp };
}

const CASES: Case[] = [
  // malloc_usable_size identified by name: replaced by host_usable_size.
  { file: 'emcc-usable-O2-names.wasm', calls: USABLE },
  // Release builds: dlmalloc_usable_size is an unnamed helper (or inlined) reading p-4 of what its
  // callers pass: the header read is rewritten into host_usable_size.
  { file: 'emcc-usable-O2.wasm', calls: USABLE, rewritten: /host_usable_size/ },
  { file: 'emcc-usable-Oz.wasm', calls: USABLE, rewritten: /host_usable_size/ },
  { file: 'clang-wasi-usable.wasm', calls: USABLE },
  // wasm-opt -O2 over a wasi-libc build inlines dlrealloc into usable_grow, and user code calls the
  // internal dlmalloc behind the exported wrapper: the header reads go through a tee'd pointer of
  // a call nobody identified. Refused, naming the reads (the allocator's own code is left too).
  {
    file: 'clang-wasi-usable-O2-stripped.wasm',
    calls: USABLE,
    refused: { code: 'HA024', why: /reads p-4 \(4 bytes, masked & -8/ },
  },
  { file: 'rustc-wasi-usable.wasm', calls: RUST },
  // Look-alikes: buffer growers, a pool over malloc, wrappers storing their own prefix, a
  // reference-counted box read 8 bytes below the value. Nothing may be identified or refused.
  { file: 'emcc-lookalike-O2-names.wasm', calls: LOOKALIKE },
  { file: 'emcc-lookalike-O2.wasm', calls: LOOKALIKE },
  { file: 'emcc-lookalike-Oz.wasm', calls: LOOKALIKE },
  { file: 'clang-wasi-lookalike.wasm', calls: LOOKALIKE },
  {
    file: 'clang-wasi-lookalike-O2-stripped.wasm',
    calls: LOOKALIKE,
    refused: { code: 'HA024', why: /masked like an allocator header/ },
  },
];

function run(bytes: Uint8Array, calls: readonly (readonly [string, number])[], extra = {}): number[] {
  const plugin = instantiateWith(bytes, extra);
  return calls.map(([f, arg]) => plugin.call(f, arg) >>> 0);
}

describe('never wrong: metadata reads and allocator look-alikes', () => {
  for (const c of CASES) {
    if (c.refused) {
      const { code, why } = c.refused;
      it(`${c.file} is refused (${code})`, async () => {
        await expectRefusal(transform(read(c.file)), code, why);
      });
      continue;
    }
    it(`${c.file}: every export returns what it returned before the transform`, async () => {
      const bytes = read(c.file);
      const expected = run(bytes, c.calls);
      const { bytes: out, report } = await transform(bytes, { gate: 'both' });
      expect(report.status).toBe('transformed');
      expect(report.compliant).toBe(true);
      expect(WA.validate(out)).toBe(true);
      expect((await verify(out)).problems).toEqual([]);
      if (c.rewritten) expect(report.warnings.join('\n')).toMatch(c.rewritten);
      // None of the look-alikes' own functions is taken for a family member (by name where the
      // module has names; without names, replacing one would change the checksums below: each
      // look-alike counts its calls or writes its own prefix).
      for (const r of report.replaced)
        expect(r.name ?? '').not.toMatch(/^(vec_|grow_|pool_|sized_|rc_|usable_|capacity)/);
      const heap = createHostAllocator();
      const plugin = instantiateWith(out, { [report.importModule]: { ...heap.imports } });
      heap.attach(plugin.instance!);
      expect(c.calls.map(([f, arg]) => plugin.call(f, arg) >>> 0)).toEqual(expected);
      expect(heap.stats().mallocs).toBeGreaterThan(0);
    });
  }
});

describe('verify catches what transform refuses', () => {
  // A converted module (imports host_*, exports the marker) whose code still reads p-4 of a block
  // host_malloc returned, masked like dlmalloc's usable size.
  const residue = (body: string): string => `(module
    (import "env" "host_malloc" (func $host_malloc (param i32) (result i32)))
    (import "env" "host_free" (func $host_free (param i32)))
    (memory (export "memory") 2)
    (global (export "__heap_base") i32 (i32.const 65536))
    (global (export "__hostalloc_abi") i32 (i32.const 1))
    ${body})`;

  it('a header read of a host_malloc result in the same function', async () => {
    const bytes = await watToWasm(
      residue(`(func (export "usable") (param $n i32) (result i32) (local $p i32)
        (local.set $p (call $host_malloc (local.get $n)))
        (i32.and (i32.load (i32.sub (local.get $p) (i32.const 4))) (i32.const -8)))`),
    );
    const v = await verify(bytes);
    expect(v.compliant).toBe(false);
    expect(v.problems.map((p) => p.code)).toContain('metadata-read');
  });

  it('a header read of a parameter that callers pass host_malloc results to', async () => {
    const bytes = await watToWasm(
      residue(`(func $size (param $p i32) (result i32)
          (i32.and (i32.load (i32.sub (local.get $p) (i32.const 4))) (i32.const -8)))
        (func (export "usable") (param $n i32) (result i32)
          (call $size (call $host_malloc (local.get $n))))`),
    );
    expect((await verify(bytes)).problems.map((p) => p.code)).toContain('metadata-read');
  });

  it('a masked header read of a pointer loaded from memory (unknown origin)', async () => {
    const bytes = await watToWasm(
      residue(`(func (export "cap") (param $holder i32) (result i32)
          (i32.and (i32.load (i32.sub (i32.load (local.get $holder)) (i32.const 4))) (i32.const 3)))`),
    );
    expect((await verify(bytes)).problems.map((p) => p.code)).toContain('metadata-read');
  });

  it('not a false alarm: a wrapper reading its own prefix inside the block', async () => {
    const bytes = await watToWasm(
      residue(`(func $alloc (param $n i32) (result i32) (local $p i32)
          (local.set $p (call $host_malloc (i32.add (local.get $n) (i32.const 8))))
          (i32.store (local.get $p) (local.get $n))
          (i32.add (local.get $p) (i32.const 8)))
        (func (export "len") (param $n i32) (result i32)
          (i32.load (i32.sub (call $alloc (local.get $n)) (i32.const 8))))`),
    );
    // (A hand-made ABI 1 module: verify also reports the missing ABI 2 exports, not this read.)
    expect((await verify(bytes)).problems.map((p) => p.code)).not.toContain('metadata-read');
  });
});

describe('--force never claims compliance', () => {
  // Without its glue nothing names this build's malloc (HA010): forced, its dlmalloc survives.
  const forced = async () => transform(readFixture('emcc-O3-glue'), { force: true });

  it('a forced module carries no ABI marker, says why, and verify rejects it', async () => {
    const { bytes, report } = await forced();
    expect(report.compliant).toBe(false);
    expect(report.warnings.join('\n')).toMatch(/could not find malloc/);
    expect(report.warnings.join('\n')).toMatch(/no __hostalloc_abi marker/);
    const info = new WA.Module(bytes);
    expect(WA.Module.exports(info).map((e) => e.name)).not.toContain('__hostalloc_abi');
    const v = await verify(bytes);
    expect(v.compliant).toBe(false);
    expect(v.problems.map((p) => p.code)).toContain('missing-abi-marker');
  });

  it('verify finds the surviving allocator by its code even when the marker is there', async () => {
    const { bytes } = await forced();
    // Add the marker back by hand: the module now claims the ABI while its own sbrk still runs.
    const text = wasmToText(bytes).replace(
      /\)\s*$/,
      '(global (export "__hostalloc_abi") i32 (i32.const 1)))',
    );
    const v = await verify(watToWasm(text));
    expect(v.problems.find((p) => p.code === 'allocator-residue')?.message).toMatch(
      /static word at \d+, which holds the heap base/,
    );
  });

  it('the same module transformed normally (with its glue) passes verify', async () => {
    const { bytes, report } = await transform(readFixture('emcc-O3-glue'), {
      glue: readFileSync(new URL('../fixtures/wasm/emcc-O3-glue.cjs', import.meta.url), 'utf8'),
    });
    expect(report.compliant).toBe(true);
    expect((await verify(bytes)).problems).toEqual([]);
  });
});
