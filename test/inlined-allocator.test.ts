/**
 * Allocator code the optimizer inlined into a user function that does more than allocate (issue
 * #15): the transform must refuse, because forced it breaks; and the build flag the refusal names
 * keeps the allocator a function, which then converts.
 *
 * Emscripten at -O2 and above runs binaryen's inliner, which copies a function with one call site
 * that is neither exported nor in the table into that caller whatever its size, and deletes it. A
 * libc realloc called only from SQLite's sqlite3MemRealloc is such a function: its code ends up
 * merged with SQLite's (the 8-byte size prefix it keeps in front of each block), and no
 * out-of-line copy is left to match it against, so no function can be swapped for host_realloc.
 * Forced, the inlined dlrealloc reads dlmalloc chunk headers in front of host blocks.
 *
 * - fixtures/inlined/emcc-sizehdr-O2-names.wasm (fixtures/src/sizehdr.c, SQLite's memory methods
 *   reduced): dlrealloc inlined into mem_realloc; emcc-sizehdr-O2-export-realloc.wasm, the same
 *   source linked with -sEXPORTED_FUNCTIONS=_malloc,_free,_realloc: dlrealloc stays a function.
 * - sql.js 1.16's release build: dlrealloc inlined into sqlite3MemRealloc ($1827).
 *
 * C++'s aligned operator new with memalign inlined (fixtures/src/aligned-new.cpp) is the converse:
 * its contract is the standard's, so when it is named it is rebuilt on host_aligned_alloc
 * (rebuild-aligned-new) and converts; stripped, nothing names it and it stays refused.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createHostAllocator } from '../src/host/index.js';
import { transform, verify } from '../src/index.js';
import type { TransformReport } from '../src/types.js';
import { newState } from './corpus/load.js';
import { CORPUS, glueSource, wasmBytes } from './corpus/packages.js';
import { expectRefusal } from './errors.js';
import { getFixture, readFixture } from './harness/fixtures.js';
import { instantiateWith } from './harness/run.js';
import { WA } from './harness/wasm.js';

const DIR = new URL('../fixtures/inlined/', import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`${name}.wasm`, DIR)));
const INLINED = 'emcc-sizehdr-O2-names';
const EXPORTED = 'emcc-sizehdr-O2-export-realloc';
const SEEDS = [1, 2, 3, 4];

type Outcome = { results: number[] } | { error: string };

/** `run(seed)` for each seed: on the module's own allocator, or on the JS host when a report is given. */
function runSeeds(bytes: Uint8Array, report?: TransformReport): Outcome {
  try {
    const heap = report ? createHostAllocator() : undefined;
    const imports = report && heap ? { [report.importModule]: { ...heap.imports } } : {};
    const instance = new WA.Instance(new WA.Module(bytes), imports);
    heap?.attach(instance);
    const run = instance.exports['run'] as (seed: number) => number;
    return { results: SEEDS.map((s) => run(s) >>> 0) };
  } catch (e) {
    return { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

describe('allocator inlined into a user function (fixtures built from fixtures/src/sizehdr.c)', () => {
  it(`${INLINED}: refused (HA020) naming mem_realloc and the flag that keeps realloc out of line`, async () => {
    await expectRefusal(
      transform(fixture(INLINED)),
      'HA020',
      /mem_realloc \(0x[\s\S]*-sEXPORTED_FUNCTIONS=\.\.\.,_realloc/,
    );
  });

  it(`${INLINED}: forced, run() no longer behaves as the original (the inlined dlrealloc traps)`, async () => {
    const original = runSeeds(fixture(INLINED));
    expect(original).toHaveProperty('results');
    const { bytes, report } = await transform(fixture(INLINED), { force: true });
    expect(report.compliant).toBe(false);
    const forced = runSeeds(bytes, report);
    expect(forced).not.toEqual(original);
    expect(forced).toEqual({ error: expect.stringMatching(/^RuntimeError: /) });
  });

  it(`${EXPORTED}: with realloc exported the same source converts and runs identically`, async () => {
    const original = runSeeds(fixture(EXPORTED));
    // Same source, same results, whichever way realloc was linked.
    expect(original).toEqual(runSeeds(fixture(INLINED)));
    const { bytes, report } = await transform(fixture(EXPORTED));
    expect(report.status).toBe('transformed');
    expect(report.replaced.find((r) => r.role === 'realloc')?.name).toBe('dlrealloc');
    expect((await verify(bytes)).problems).toEqual([]);
    expect(runSeeds(bytes, report)).toEqual(original);
  });
});

describe('aligned operator new with memalign inlined (fixtures/src/aligned-new.cpp, em++ -O2)', () => {
  const NAMED = 'emxx-aligned-new-O2-names';

  it(`${NAMED}: the operator is rebuilt on host_aligned_alloc and runs identically`, async () => {
    const original = runSeeds(fixture(NAMED));
    expect(original).toHaveProperty('results');
    const { bytes, report } = await transform(fixture(NAMED));
    expect(report.status).toBe('transformed');
    expect(report.warnings).toContain(
      'rebuilt operator new(unsigned long, std::align_val_t) from its specification on host_aligned_alloc: the old allocator was inlined into it',
    );
    expect(report.imports).toContain('host_aligned_alloc');
    expect((await verify(bytes)).problems).toEqual([]);
    // run() folds "is the block aligned as asked" into its hash: the host's blocks must be too.
    expect(runSeeds(bytes, report)).toEqual(original);
  });

  it(`${NAMED}-stripped: nothing names the operator, refused (HA024), and forced it breaks`, async () => {
    const stripped = fixture(`${NAMED}-stripped`);
    await expectRefusal(transform(stripped), 'HA024', /reads p-4/);
    // Forced, the inlined memalign carves an aligned block out of a host block: the host's free then
    // sees a pointer into the middle of a block.
    const { bytes, report } = await transform(stripped, { force: true });
    const forced = runSeeds(bytes, report);
    expect(forced).not.toEqual(runSeeds(stripped));
    expect(forced).toEqual({ error: expect.stringMatching(/not the start of an allocation/) });
  });

  it('emxx-aligned-new-O2-export-memalign: without names, exporting memalign keeps it a function: converts', async () => {
    const bytes = fixture('emxx-aligned-new-O2-export-memalign');
    const original = runSeeds(bytes);
    expect(original).toEqual(runSeeds(fixture(NAMED)));
    const { bytes: out, report } = await transform(bytes);
    expect(report.status).toBe('transformed');
    expect(report.warnings.some((w) => w.startsWith('rebuilt '))).toBe(false);
    expect((await verify(out)).problems).toEqual([]);
    expect(runSeeds(out, report)).toEqual(original);
  });
});

const sqlJs = CORPUS.find((p) => p.id === 'sql.js')!;

describe('sql.js release: dlrealloc inlined into sqlite3MemRealloc', () => {
  it('is refused (HA020) naming $1827 and the flag', async () => {
    const refused = transform(wasmBytes(sqlJs), { glue: glueSource(sqlJs) });
    await expectRefusal(refused, 'HA020', /\$1827 \(0x[\s\S]*-sEXPORTED_FUNCTIONS=\.\.\.,_realloc/);
  });

  it('forced, its workload traps through its own glue', async () => {
    const original = await sqlJs.run({ bytes: wasmBytes(sqlJs) }, newState());
    expect(original).toBeTruthy();
    const { bytes, report } = await transform(wasmBytes(sqlJs), { glue: glueSource(sqlJs), force: true });
    expect(report.compliant).toBe(false);
    expect(report.warnings.join('\n')).toMatch(/\$1827/);
    let outcome: { result: unknown } | { error: string };
    try {
      const host = report.growImport ? { growImport: report.growImport } : {};
      outcome = { result: await sqlJs.run({ bytes, host }, newState()) };
    } catch (e) {
      outcome = { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    }
    expect(outcome).not.toEqual({ result: original });
    expect(outcome).toEqual({ error: expect.stringMatching(/^RuntimeError: memory access out of bounds/) });
  });
});

describe('allocator inlined into a libc helper, stripped (fixtures/src/freelist.c, clang -nostdlib)', () => {
  // Named, strdup is rebuilt from its specification (test/differential.test.ts). Stripped, nothing
  // says the function is strdup: it is refused, and forcing it proves the refusal necessary: the
  // inlined free-list malloc carves blocks out of host memory, which the host then cannot free.
  // Keeping the name section (no --strip-debug / wasm-opt --strip-debug) converts it.
  const entry = getFixture('clang-nostdlib-freelist-stripped');

  it('is refused (HA011), and forced, the host heap sees a pointer it never returned', async () => {
    await expectRefusal(
      transform(readFixture(entry.name)),
      'HA011',
      /still touch the old allocator's static state/,
    );
    const { bytes, report } = await transform(readFixture(entry.name), { force: true });
    const heap = createHostAllocator();
    const plugin = instantiateWith(bytes, { [report.importModule]: { ...heap.imports } });
    heap.attach(plugin.instance!);
    expect(() => plugin.call('wl_mixed', 1)).toThrow(/not the start of an allocation/);
  });
});
