/**
 * The differential test: every fixture runs its workloads twice, the original on its own allocator
 * and the transformed twin on the JS host allocator, and the results must be identical. A fixture
 * the transform refuses must be refused with the code listed in REFUSED, for the reason given there.
 */

import { describe, expect, it } from 'vitest';
import { createHostAllocator } from '../src/host/index.js';
import { transform, verify } from '../src/index.js';
import { expectRefusal } from './errors.js';
import { type FixtureEntry, loadManifest, readFixture } from './harness/fixtures.js';
import { instantiateOriginal, instantiateWith, moduleAllocator, runWorkloads } from './harness/run.js';
import { WA } from './harness/wasm.js';

/**
 * Fixtures that cannot be made safe, with the code they must be refused with and why. Anything not
 * listed must transform and behave identically.
 */
const REFUSED: Record<string, { code: string; why: RegExp }> = {
  // freelist.c's strdup has malloc inlined. Named, it is rebuilt from its specification
  // (rebuild-libc-helpers); stripped, nothing says the function is strdup, and it still reads and
  // writes the free list directly.
  'clang-nostdlib-freelist-stripped': { code: 'HA011', why: /\$\d+ \(0x[0-9a-f]+\.\.0x[0-9a-f]+\)/ },
  // Its exports are minified: without the glue nothing names malloc (the glue test is below).
  'emcc-O3-glue': { code: 'HA010', why: /--glue/ },
};

/** A stripped twin must behave exactly like its named twin: transform identically, or be refused alike. */
function expectedRefusal(entry: FixtureEntry): { code: string; why: RegExp } | undefined {
  const listed = REFUSED[entry.name];
  if (listed) return listed;
  const twin = entry.strippedOf ? REFUSED[entry.strippedOf] : undefined;
  // Stripped, the functions are named by index: keep the code, match any function label.
  return twin ? { code: twin.code, why: /./ } : undefined;
}

const manifest = loadManifest();
const runnable = manifest.fixtures.filter((f) => !f.reference);

describe('differential: original vs transformed on the JS host allocator', () => {
  for (const entry of runnable) {
    const refusal = expectedRefusal(entry);
    if (refusal) {
      it(`${entry.name} is refused (${refusal.code})`, async () => {
        await expectRefusal(transform(readFixture(entry.name)), refusal.code, refusal.why);
      });
      continue;
    }
    it(`${entry.name} transforms and runs identically`, async () => {
      const bytes = readFixture(entry.name);
      const original = instantiateOriginal(bytes, entry);
      const expected = runWorkloads(original, moduleAllocator(original, entry), entry);

      // The output gate's incremental check must agree with the whole-output check (HA040 if not).
      const { bytes: out, report } = await transform(bytes, { gate: 'both' });
      expect(report.status).toBe('transformed');
      expect(WA.validate(out)).toBe(true);
      expect(report.imports).toEqual(expect.arrayContaining(['host_malloc', 'host_free']));
      expect(report.outputSize).toBeLessThan(report.inputSize + 1024);
      if (entry.exportsHeapBase && entry.heapBase !== null) {
        expect(report.layout.heapBase.value).toBe(entry.heapBase);
      }
      const verdict = await verify(out);
      expect(verdict.problems).toEqual([]);

      const heap = createHostAllocator();
      const plugin = instantiateWith(out, { [report.importModule]: { ...heap.imports } });
      heap.attach(plugin.instance!);
      const actual = runWorkloads(
        plugin,
        { malloc: (n) => heap.malloc(n), free: (p) => heap.free(p) },
        entry,
      );
      expect(actual).toEqual(expected);
      const stats = heap.stats();
      expect(stats.inBandOverhead).toBe(0);
      expect(stats.mallocs).toBeGreaterThan(0);
      // The heap the host manages starts where the module says it does, above all static data.
      expect(stats.heapBase).toBe(report.layout.heapBase.value);
      expect(stats.heapBase).toBeGreaterThanOrEqual(report.layout.dataEnd);
    });
  }

  it('the transform is idempotent: a transformed module comes back unchanged as already compliant', async () => {
    const { bytes } = await transform(readFixture('clang-wasi-c'));
    const again = await transform(bytes);
    expect(again.report.status).toBe('already-compliant');
    expect(Buffer.from(again.bytes).equals(Buffer.from(bytes))).toBe(true);
  });

  it('never modifies the input buffer', async () => {
    const bytes = readFixture('emcc-dlmalloc-O2-names');
    const copy = bytes.slice();
    await transform(bytes);
    expect(Buffer.from(bytes).equals(Buffer.from(copy))).toBe(true);
  });

  it('the emcc transform lands within 1% or 128 bytes of the same plugin built with -sMALLOC=none', async () => {
    // Like for like: the reference also gets the layout exports and host import names, so it goes
    // through the transform too (which only renames its env.malloc… imports and adds the exports).
    const reference = manifest.fixtures.find((f) => f.reference)!;
    const named = manifest.fixtures.find(
      (f) =>
        f.toolchain === 'emcc' &&
        f.allocator === 'dlmalloc' &&
        f.flags.includes('-O2') &&
        f.names &&
        !f.growth,
    )!;
    const ours = (await transform(readFixture(named.name))).report;
    const fromSource = (await transform(readFixture(reference.name))).report;
    // The reference has no allocator code to remove (its posix_memalign import becomes an adapter).
    expect(fromSource.functionsRemoved).toBeLessThanOrEqual(0);
    expect(Math.abs(ours.outputSize - fromSource.outputSize)).toBeLessThanOrEqual(
      Math.max(128, fromSource.outputSize * 0.01),
    );
  });
});
