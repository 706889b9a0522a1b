/**
 * inspect() and verify() on every fixture of fixtures/manifest.json: inspect reports the heap base
 * transform uses and how each family member was identified; verify rejects the original (with a
 * reason) and accepts the transformed module. Also ABI 2 (docs/abi.md): the growth signal and
 * metadata every converted fixture carries, the heap base's confidence surviving the transform,
 * `__data_end` never exported wrong, and what verify says about modules that lack or fake them.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inspect, isHostAllocError, transform, verify } from '../src/index.js';
import type { TransformOptions } from '../src/types.js';
import { type ExportEntry, readModule } from '../src/wasm/reader.js';
import { ensureBuilt, runCli, tempDir } from './cli/helpers.js';
import { name, section, uleb } from './harness/encode.js';
import { fixturePath, gluePath, loadManifest, readFixture } from './harness/fixtures.js';
import { WA } from './harness/wasm.js';
import { watToWasm } from './passes/wat.js';

const IDENTIFICATIONS = ['export', 'name', 'option', 'glue', 'analysis', 'fingerprint'];
const EXTERN_KIND: Record<ExportEntry['kind'], number> = {
  function: 0,
  table: 1,
  memory: 2,
  global: 3,
  tag: 4,
};

/** `bytes` with the export called `exportName` removed (the export section re-encoded). */
function withoutExport(bytes: Uint8Array, exportName: string): Uint8Array {
  const info = readModule(bytes);
  const sec = info.sections.find((s) => s.id === 7)!;
  const kept = info.exports.filter((e) => e.name !== exportName);
  const payload = [
    ...uleb(kept.length),
    ...kept.flatMap((e) => [...name(e.name), EXTERN_KIND[e.kind], ...uleb(e.index)]),
  ];
  return Buffer.concat([
    bytes.subarray(0, sec.start),
    Uint8Array.from(section(7, payload)),
    bytes.subarray(sec.end),
  ]);
}

/** The value of an exported constant global, or undefined. */
function exportedGlobal(bytes: Uint8Array, exportName: string): number | undefined {
  const info = readModule(bytes);
  const e = info.exports.find((x) => x.name === exportName && x.kind === 'global');
  return e === undefined ? undefined : (info.globals[e.index]?.init ?? undefined);
}

function optionsOf(glue: string | undefined): TransformOptions {
  return glue === undefined ? {} : { glue, keepExports: true };
}

const fixtures = loadManifest().fixtures;

describe('inspect and verify on every fixture', () => {
  for (const entry of fixtures) {
    it(entry.name, async () => {
      const bytes = readFixture(entry.name);
      const glue = entry.glue === undefined ? undefined : readFileSync(gluePath(entry)!, 'utf8');
      const options = optionsOf(glue);

      const info = await inspect(bytes, glue === undefined ? {} : { glue });
      expect(info.compliant).toBe(false);
      expect(info.family.length).toBeGreaterThan(0);
      for (const m of info.family) {
        expect(IDENTIFICATIONS, `${m.role} of ${entry.name}`).toContain(m.identifiedBy);
      }
      const roles = info.family.map((m) => m.role);
      expect(roles.some((r) => r === 'malloc' || r === 'rust_alloc')).toBe(true);

      const original = await verify(bytes);
      expect(original.compliant).toBe(false);
      expect(original.problems.length).toBeGreaterThan(0);
      for (const p of original.problems) expect(p.message.length).toBeGreaterThan(0);

      const result = await transform(bytes, options).then(
        (r) => r,
        (e: unknown) => {
          if (isHostAllocError(e)) return e;
          throw e;
        },
      );
      if (isHostAllocError(result)) {
        // Refused (see test/differential.test.ts REFUSED): inspect reports the same refusal, with
        // transform's own code and reason.
        expect(
          info.hazards.map((h) => h.code),
          `${entry.name} refused ${result.code} but inspect does not say so`,
        ).toContain(result.code);
        const same = info.hazards.find((h) => h.code === result.code)!;
        expect(result.message).toContain(same.message.slice(`${result.code}: `.length));
        return;
      }
      const { report } = result;
      expect(info.layout.heapBase.value).toBe(report.layout.heapBase.value);
      expect(info.family.map((m) => [m.role, m.identifiedBy])).toEqual(
        report.replaced.map((m) => [m.role, m.identifiedBy]),
      );
      const transformed = await verify(result.bytes);
      expect(transformed.problems).toEqual([]);
      expect(transformed.compliant).toBe(true);
      expect(transformed.heapBase).toBe(report.layout.heapBase.value);

      // ABI 2: the growth signal, the alignment, the section; the confidence survives the transform.
      const align = entry.toolchain === 'emcc' ? 8 : 16;
      expect(transformed.meta).toEqual({
        abi: 2,
        align,
        heapBase: report.layout.heapBase.confidence,
        heapBaseValue: report.layout.heapBase.value,
        dataEnd: report.layout.dataEndExport.confidence,
        ...(report.growImport ? { growImport: report.growImport } : {}),
      });
      expect(exportedGlobal(result.bytes, '__hostalloc_align')).toBe(align);
      expect(transformed.heapBaseConfidence).toBe(report.layout.heapBase.confidence);
      const exports = WA.Module.exports(new WA.Module(result.bytes));
      expect(exports).toContainEqual({ name: '__hostalloc_grow', kind: 'function' });

      const again = await inspect(result.bytes);
      expect(again.compliant).toBe(true);
      expect(again.abiVersion).toBe(2);
      expect(again.layout.heapBase.confidence).toBe(report.layout.heapBase.confidence);
      expect(again.layout.dataEndExport.confidence).toBe(report.layout.dataEndExport.confidence);
      // __data_end is the linker's when the module had it, else absent ("unknown") or proven.
      const linker = exportedGlobal(bytes, '__data_end');
      const out = exportedGlobal(result.bytes, '__data_end');
      if (linker !== undefined) {
        expect(out).toBe(linker);
        expect(report.layout.dataEndExport.confidence).toBe('exact');
      } else {
        expect(out === undefined).toBe(report.layout.dataEndExport.confidence === 'unknown');
      }
    });
  }
});

describe('__data_end with the linker export stripped', () => {
  const exporting = fixtures.filter(
    (f) => !f.stripped && exportedGlobal(readFixture(f.name), '__data_end') !== undefined,
  );

  it('covers the fixtures linked with --export=__data_end', () => {
    expect(exporting.map((f) => f.name).sort()).toEqual([
      'clang-nostdlib-freelist',
      'clang-wasi-c-heapbase',
      'clang-wasi-c-stackfirst-heapbase',
      'clang-wasi-cxx-heapbase',
      'clang19-wasi-c-heapbase',
      'clang19-wasi-c-stackfirst-heapbase',
      'rustc-unknown',
      'rustc-unknown-lto',
      'rustc-wasi',
    ]);
  });

  for (const entry of exporting) {
    it(`${entry.name}: the linker's value, or none and "unknown"`, async () => {
      const bytes = readFixture(entry.name);
      const linker = exportedGlobal(bytes, '__data_end')!;
      const stripped = withoutExport(bytes, '__data_end');
      expect(exportedGlobal(stripped, '__data_end')).toBeUndefined();
      // force: the layout exports are written even where a check would refuse (none of these is
      // refused since strdup is rebuilt from its specification; the stripped twins are not listed).
      const { bytes: out, report } = await transform(stripped, { force: true });
      const value = exportedGlobal(out, '__data_end');
      const { confidence } = report.layout.dataEndExport;
      if (value === undefined) {
        expect(confidence).toBe('unknown');
        expect(report.layout.dataEndExport.value).toBeNull();
        expect((await verify(out)).meta?.dataEnd).toBe('unknown');
      } else {
        expect(value).toBe(linker);
        expect(confidence).toBe('computed');
      }
    });
  }

  it('rustc-unknown: proven from the code and the exact heap base (stack-first)', async () => {
    const stripped = withoutExport(readFixture('rustc-unknown'), '__data_end');
    const { bytes: out, report } = await transform(stripped);
    expect(report.layout.dataEndExport).toMatchObject({ value: 1050544, confidence: 'computed' });
    expect(exportedGlobal(out, '__data_end')).toBe(1050544);
  });
});

describe('verify: ABI 2 growth signal and metadata', () => {
  const module = (body: string): Uint8Array =>
    watToWasm(`(module
      (import "env" "host_malloc" (func $host_malloc (param i32) (result i32)))
      (import "env" "host_free" (func $host_free (param i32)))
      (memory $mem 2)
      (export "memory" (memory $mem))
      (global $heap_base i32 (i32.const 2048))
      (export "__heap_base" (global $heap_base))
      ${body})`);
  const ABI2 = `(global $abi i32 (i32.const 2)) (export "__hostalloc_abi" (global $abi))
      (global $align i32 (i32.const 16)) (export "__hostalloc_align" (global $align))`;
  const GROW = `(func (export "__hostalloc_grow") (param i32) (result i32) (memory.grow (local.get 0)))`;
  const codes = async (bytes: Uint8Array): Promise<string[]> =>
    (await verify(bytes)).problems.map((p) => p.code);

  it('accepts the generated shape', async () => {
    expect(await codes(module(`${ABI2} ${GROW}`))).toEqual([]);
  });

  it('flags an ABI 1 module (no grow export) and says to re-run the transform', async () => {
    const abi1 = module('(global $abi i32 (i32.const 1)) (export "__hostalloc_abi" (global $abi))');
    const report = await verify(abi1);
    expect(report.compliant).toBe(false);
    expect(report.abiVersion).toBe(1);
    const p = report.problems.find((x) => x.code === 'old-abi-version');
    expect(p?.message).toMatch(/re-run wasm-hostalloc transform/);
  });

  it('flags an ABI 2 module without __hostalloc_grow or __hostalloc_align', async () => {
    expect(await codes(module(ABI2))).toEqual(['missing-grow-export']);
    const noAlign = module(
      `(global $abi i32 (i32.const 2)) (export "__hostalloc_abi" (global $abi)) ${GROW}`,
    );
    expect(await codes(noAlign)).toEqual(['missing-align-export']);
    const badAlign = module(`(global $abi i32 (i32.const 2)) (export "__hostalloc_abi" (global $abi))
      (global $align i32 (i32.const 4)) (export "__hostalloc_align" (global $align)) ${GROW}`);
    expect(await codes(badAlign)).toEqual(['bad-align-export']);
  });

  it('allows memory.grow only inside the exact generated __hostalloc_grow', async () => {
    const other = module(`${ABI2} ${GROW}
      (func (export "more") (result i32) (memory.grow (i32.const 1)))`);
    expect(await codes(other)).toEqual(['memory-grow']);
    const doubled = module(`${ABI2}
      (func (export "__hostalloc_grow") (param i32) (result i32)
        (memory.grow (i32.add (local.get 0) (local.get 0))))`);
    expect(await codes(doubled)).toEqual(['bad-grow-export', 'memory-grow']);
    const wrongType = module(`${ABI2}
      (func (export "__hostalloc_grow") (param i64) (result i32) (memory.grow (i32.wrap_i64 (local.get 0))))`);
    expect(await codes(wrongType)).toEqual(['bad-grow-export', 'memory-grow']);
  });

  it('reads the hostalloc section: confidence, and disagreement or garbage flagged', async () => {
    const withSection = (json: string): Uint8Array => {
      const bytes = module(`${ABI2} ${GROW}`);
      const payload = [...name('hostalloc'), ...new TextEncoder().encode(json)];
      return Buffer.concat([bytes, Uint8Array.from([0, ...uleb(payload.length), ...payload])]);
    };
    const ok = await verify(withSection('{"abi":2,"align":16,"heapBase":"estimated","dataEnd":"unknown"}'));
    expect(ok.problems).toEqual([]);
    expect(ok.heapBaseConfidence).toBe('estimated');
    expect(
      (await inspect(withSection('{"abi":2,"align":16,"heapBase":"estimated","dataEnd":"unknown"}'))).layout
        .heapBase.confidence,
    ).toBe('estimated');
    expect(await codes(withSection('{"abi":2,"align":8,"heapBase":"exact","dataEnd":"unknown"}'))).toEqual([
      'bad-metadata',
    ]);
    expect(await codes(withSection('not json'))).toEqual(['bad-metadata']);
    const plain = await verify(module(`${ABI2} ${GROW}`));
    expect(plain.meta).toBeNull();
    expect(plain.heapBaseConfidence).toBe('exact');
  });
});

describe('an estimated heap base says so everywhere', () => {
  const entry = loadManifest().fixtures.find((f) => f.name === 'clang-wasi-c-stackfirst')!;

  it('report, verify and inspect of the output (library)', async () => {
    const { bytes, report } = await transform(readFixture(entry.name));
    expect(report.layout.heapBase.confidence).toBe('estimated');
    expect(report.warnings.some((w) => /is estimated/.test(w))).toBe(true);
    expect((await verify(bytes)).heapBaseConfidence).toBe('estimated');
    const again = await inspect(bytes);
    expect(again.layout.heapBase).toMatchObject({
      value: report.layout.heapBase.value,
      confidence: 'estimated',
    });
    // Transforming the output again: already compliant, and still warned about.
    const twice = await transform(bytes);
    expect(twice.report.status).toBe('already-compliant');
    expect(twice.report.warnings).toEqual([expect.stringMatching(/^heap base \d+ is estimated/)]);
  });

  it('CLI human output: the warning on stderr, "estimated" in verify and inspect', async () => {
    ensureBuilt();
    const out = `${tempDir()}/out.wasm`;
    const t = await runCli(['transform', fixturePath(entry), '-o', out]);
    expect(t.code).toBe(0);
    expect(t.stderr).toMatch(/^warning: .*clang-wasi-c-stackfirst\.wasm: heap base \d+ is estimated/m);
    const v = await runCli(['verify', out]);
    expect(v.stdout).toMatch(/: ok \(ABI 2, heap base \d+, estimated\)/);
    const i = await runCli(['inspect', out]);
    expect(i.stdout).toMatch(/^heap base +\d+ \(0x[0-9a-f]+\), estimated: /m);
    expect(i.stdout).toMatch(/^__data_end +unknown /m);
    // --json keeps stderr free of warnings (they are in the report).
    const j = await runCli(['transform', fixturePath(entry), '-o', out, '--json']);
    expect(j.stderr).toBe('');
    expect(JSON.parse(j.stdout).files[0].report.warnings.length).toBeGreaterThan(0);
  });
});
