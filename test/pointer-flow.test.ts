/**
 * Pointer flow (src/wasm/pointer-flow.ts) and the metadata-read resolution on top of it
 * (src/metadata-reads.ts) are tuned for speed; these tests pin what they compute:
 *
 * - joinAtoms merges two canonical atom sets without a sort; it must give what normalizing their
 *   concatenation gives (widening and absorption included).
 * - Atom sets are arrays of numbers (see the header of src/wasm/pointer-flow.ts); the digests are
 *   taken over the flows with their atoms as the objects of the first versions (`{ base: 'p3',
 *   offset: null }`, atomsToObjects), in the same order, so they are the digests of then.
 * - The flows of every fixture and of real modules (two option sets each; sql.js's debug build
 *   pinned with the digests the code gave before the speed work of 2026-12-02) and the metadata reads
 *   resolved from them are pinned by digest in test/goldens/pointer-flow.json, written by
 *   `BLESS=1 npx vitest run test/pointer-flow.test.ts`. A change of the analysis on purpose
 *   re-blesses it; a speed-up must not change a digest.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertedMetadataReads, metadataReads } from '../src/metadata-reads.js';
import {
  type AtomObject,
  type AtomSet,
  atomsFromObjects,
  atomsToObjects,
  type FunctionFlow,
  joinAtoms,
  normalizeAtoms,
  pointerFlow,
} from '../src/wasm/pointer-flow.js';
import { readModule } from '../src/wasm/reader.js';

const ROOT = join(import.meta.dirname, '..');
const GOLDEN = join(ROOT, 'test/goldens/pointer-flow.json');

const atom = fc.record({
  // (c268435456 and up: codes past 2^31, where bit operations no longer apply)
  base: fc.constantFrom(
    'a',
    'u',
    'p0',
    'p1',
    'p2',
    'p10',
    'c10',
    'c200',
    'c31',
    'c4',
    'c5',
    'c66',
    'c268435456',
    'c3000000000',
    'c3',
  ),
  offset: fc.oneof(fc.constant(null), fc.integer({ min: -12, max: 12 })),
});

/** The widened "anything" set: normalizing more than eight bases gives it (by identity). */
const TOP = normalizeAtoms(
  atomsFromObjects(['a', 'u', 'p0', 'p1', 'p2', 'c1', 'c2', 'c3', 'c4'].map((base) => ({ base, offset: 0 }))),
);

/** normalizeAtoms over atoms given as objects. */
function normalized(atoms: AtomObject[]): AtomSet {
  return normalizeAtoms(atomsFromObjects(atoms));
}

describe('joinAtoms', () => {
  it('equals normalizing the concatenation, for canonical sets', () => {
    fc.assert(
      fc.property(fc.array(atom, { maxLength: 14 }), fc.array(atom, { maxLength: 14 }), (xs, ys) => {
        const a = normalized(xs);
        const b = normalized(ys);
        // TOP (what more than eight bases widen to) absorbs whatever it is joined with.
        const expected = a === TOP || b === TOP ? TOP : normalizeAtoms([...a, ...b]);
        expect(joinAtoms(a, b)).toEqual(expected);
        // The canonical order is the string order of base names, then offset, any offset last.
        const objects = atomsToObjects(expected);
        for (let i = 1; i < objects.length; i++) {
          const x = objects[i - 1]!;
          const y = objects[i]!;
          expect(
            x.base < y.base || (x.base === y.base && (y.offset === null || (x.offset ?? 1e18) < y.offset)),
          ).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('widens past eight atoms and absorbs exact offsets into any offset', () => {
    const exact = (base: string, n: number): AtomObject[] =>
      Array.from({ length: n }, (_, i) => ({ base, offset: i }));
    const join = (x: AtomObject[], y: AtomObject[]): AtomObject[] =>
      atomsToObjects(joinAtoms(normalized(x), normalized(y)));
    expect(join(exact('a', 5), exact('u', 4))).toEqual([
      { base: 'a', offset: null },
      { base: 'u', offset: null },
    ]);
    expect(join([{ base: 'a', offset: 3 }], [{ base: 'a', offset: null }])).toEqual([
      { base: 'a', offset: null },
    ]);
    // Counted before absorption, as normalize does: 9 distinct atoms widen every base.
    expect(join([{ base: 'a', offset: null }, ...exact('u', 7)], [{ base: 'a', offset: 5 }])).toEqual([
      { base: 'a', offset: null },
      { base: 'u', offset: null },
    ]);
    // Bases sort as strings: c10 before c9, p10 before p2.
    expect(
      atomsToObjects(
        normalized([
          { base: 'u', offset: 0 },
          { base: 'p2', offset: 0 },
          { base: 'c9', offset: 4 },
          { base: 'p10', offset: null },
          { base: 'c10', offset: 0 },
          { base: 'c9', offset: -4 },
          { base: 'a', offset: 8 },
        ]),
      ).map((x) => `${x.base}${x.offset === null ? '+any' : x.offset}`),
    ).toEqual(['a8', 'c100', 'c9-4', 'c94', 'p10+any', 'p20', 'u0']);
  });
});

/** Fixtures plus real modules from pinned devDependencies (large, many loops and calls). */
function modules(): string[] {
  const fixtures = readdirSync(join(ROOT, 'fixtures/wasm'))
    .filter((f) => f.endsWith('.wasm'))
    .sort()
    .map((f) => `fixtures/wasm/${f}`);
  const real = [
    'node_modules/sql.js/dist/sql-wasm.wasm',
    // The debug build (770 KB, no names): the module the speed work is measured on.
    'node_modules/sql.js/dist/sql-wasm-debug.wasm',
    'node_modules/@jitl/quickjs-wasmfile-release-sync/dist/emscripten-module.wasm',
  ];
  for (const r of real) expect(existsSync(join(ROOT, r)), `${r} (npm ci)`).toBe(true);
  return [...fixtures, ...real];
}

/** The flows with their atoms as objects (the shape the digests were first taken over). */
function asObjects(flows: FunctionFlow[]): unknown[] {
  return flows.map((f) => ({
    ...f,
    loads: f.loads.map((l) => ({ ...l, atoms: atomsToObjects(l.atoms) })),
    calls: f.calls.map((c) => ({ ...c, args: c.args.map(atomsToObjects) })),
    returns: atomsToObjects(f.returns),
  }));
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** Digests of the flows and reads of one module under two option sets. */
function digests(file: string): Record<string, string> {
  const bytes = new Uint8Array(readFileSync(join(ROOT, file)));
  const info = readModule(bytes);
  const imports = info.imports.filter((i) => i.kind === 'function').map((i) => i.index);
  const entryPoints = new Set<number>(info.elemFunctions);
  for (const e of info.exports) if (e.kind === 'function') entryPoints.add(e.index);
  const out: Record<string, string> = {};
  // Before the rewrite: some defined functions allocate, some are skipped (the allocator's code).
  const skip = (i: number): boolean => i % 11 === 5;
  const flowsIn = pointerFlow(bytes, info, {
    allocating: (i) => i >= info.numImportedFunctions && i % 7 === 3,
    stackPointer: 0,
    skip,
  });
  out['flowsIn'] = digest(asObjects(flowsIn));
  out['readsIn'] = digest(metadataReads({ flows: flowsIn, entryPoints, pointerBytes: 4, ignore: skip }));
  // After: imports allocate, as convertedFlows sets it up.
  const flowsOut = pointerFlow(bytes, info, {
    allocating: (i) => imports.includes(i) && i % 2 === 0,
    stackPointer: null,
  });
  out['flowsOut'] = digest(asObjects(flowsOut));
  out['readsOut'] = digest(convertedMetadataReads(info, flowsOut));
  return out;
}

describe('pointer flow and metadata reads are unchanged', () => {
  it('on every fixture and on sql.js (release and debug) and quickjs (digests in test/goldens/pointer-flow.json)', () => {
    const actual: Record<string, Record<string, string>> = {};
    for (const file of modules()) actual[file] = digests(file);
    if (process.env['BLESS']) writeFileSync(GOLDEN, `${JSON.stringify(actual, null, 2)}\n`);
    expect(existsSync(GOLDEN), 'run BLESS=1 npx vitest run test/pointer-flow.test.ts').toBe(true);
    expect(actual).toEqual(JSON.parse(readFileSync(GOLDEN, 'utf8')));
  }, 600_000);
});
