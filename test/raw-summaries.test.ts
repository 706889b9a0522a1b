/**
 * The raw summaries (src/wasm/summaries.ts) are binaryen's (summarizeAll, src/binaryen/walk.ts) on
 * every field, in order: on every fixture and on real packages, binaryen reading what the
 * transform gives it (the safe-names input), and on hand-made modules for the shapes where
 * binaryen's IR differs from the stack code (dead code, hoisted values, implicit and wrapping
 * blocks, branch values). A function the raw model leaves out is listed in `needsBinaryen`.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withModule } from '../src/binaryen/module.js';
import { functionRefs } from '../src/binaryen/queries.js';
import { type FunctionSummary, summarizeAll } from '../src/binaryen/walk.js';
import { binaryenInput, readInput } from '../src/transform/read.js';
import { readModule } from '../src/wasm/reader.js';
import { rawSummaries } from '../src/wasm/summaries.js';
import { moduleBytes, name, section, sleb, uleb, vec } from './harness/encode.js';
import { FIXTURES_DIR, fixtureModules, PACKAGE_MODULES, packageModulePath } from './harness/fixtures.js';
import { WA } from './harness/wasm.js';

/** The real packages of the other structural tests, and sql.js's debug build (the transform target). */
const PACKAGES = [...PACKAGE_MODULES, 'sql.js/dist/sql-wasm-debug.wasm'];

/** Comparable form: Sets and Maps as ordered entry lists. */
const plain = (s: FunctionSummary) => ({
  ...s,
  calls: [...s.calls],
  callArgs: [...s.callArgs],
  refFuncs: [...s.refFuncs],
});

/**
 * Compares the raw summaries of `bytes` with binaryen's, read as transform() reads it; returns the
 * functions left to binaryen and the number of functions.
 */
async function compare(bytes: Uint8Array): Promise<{ needs: string[]; n: number }> {
  const input = readInput(bytes, { force: true, allowShared: true });
  const forBinaryen = binaryenInput(input);
  return withModule(forBinaryen.bytes, forBinaryen.features, (mod, b) => {
    const names = functionRefs(mod).map((f) => b.Function.getName(f));
    const raw = rawSummaries(input.bytes, input.info, names);
    const want = summarizeAll(b, mod);
    const skip = new Set(raw.needsBinaryen);
    expect([...raw.summaries.keys()]).toEqual([...want.keys()]);
    for (const [name, w] of want) {
      if (skip.has(name)) continue;
      expect(plain(raw.summaries.get(name)!), name).toEqual(plain(w));
    }
    return { needs: raw.needsBinaryen, n: want.size };
  });
}

describe('raw summaries equal binaryen', () => {
  it.each(fixtureModules().map((p) => [p.slice(FIXTURES_DIR.length)]))('%s', async (rel) => {
    const { needs } = await compare(new Uint8Array(readFileSync(join(FIXTURES_DIR, rel))));
    expect(needs).toEqual([]);
  });
  it.each(PACKAGES.map((p) => [p]))('%s', { timeout: 120_000 }, async (p) => {
    const { needs, n } = await compare(new Uint8Array(readFileSync(packageModulePath(p))));
    // Only wasm-bindgen's multi-value shims (photon) are left to binaryen.
    expect(needs.every((f) => f.endsWith('multivalue shim'))).toBe(true);
    expect(needs.length).toBeLessThan(n / 100);
  });
});

// Hand-made modules: one function per shape, in a module with two imports (env.ext (i32) -> (),
// env.get () -> i32), a funcref table, one memory, a mutable i32 global and a declarative element
// segment (for ref.func).
const I32 = 0x7f;
const I64 = 0x7e;
const T_VOID = 0; // () -> ()
const T_I32 = 1; // (i32) -> ()
const T_GET = 2; // () -> i32
const T_I32_I32 = 3; // (i32) -> i32
const T_I64 = 4; // (i64) -> ()
const T_PAIR = 5; // () -> (i32, i32)
const TYPES = [
  [0x60, 0, 0],
  [0x60, 1, I32, 0],
  [0x60, 0, 1, I32],
  [0x60, 1, I32, 1, I32],
  [0x60, 1, I64, 0],
  [0x60, 0, 2, I32, I32],
];
const c32 = (n: number): number[] => [0x41, ...sleb(n)];
const c64 = (n: number | bigint): number[] => [0x42, ...sleb(n)];
/** A memarg: alignment exponent, then offset. */
const mem = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)];

interface Shape {
  type: number;
  /** Declared locals, as [count, ...type]. */
  locals?: [number, ...number[]][];
  code: number[];
  /** The raw model leaves it to binaryen (needsBinaryen). */
  binaryen?: boolean;
  memory64?: boolean;
  /** Node's engine cannot check it (memory64, typed function references). */
  unchecked?: boolean;
}

function shapeModule(s: Shape): Uint8Array {
  const locals = vec((s.locals ?? []).map(([n, ...t]) => [...uleb(n), ...t]));
  const body = [...locals, ...s.code, 0x0b];
  return moduleBytes(
    section(1, vec(TYPES)),
    section(
      2,
      vec([
        [...name('env'), ...name('ext'), 0, T_I32],
        [...name('env'), ...name('get'), 0, T_GET],
      ]),
    ),
    section(3, vec([uleb(s.type)])),
    section(4, vec([[0x70, 0x00, 1]])),
    section(5, vec([s.memory64 ? [0x04, 1] : [0x00, 1]])),
    section(6, vec([[I32, 0x01, ...c32(0), 0x0b]])),
    section(9, vec([[0x03, 0x00, ...vec([uleb(0)])]])),
    section(10, vec([[...uleb(body.length), ...body]])),
  );
}

const SHAPES: Record<string, Shape> = {
  'empty body': { type: T_VOID, code: [] },
  'a nop': { type: T_VOID, code: [0x01] },
  'dead code after unreachable': { type: T_VOID, code: [0x00, ...c32(1), ...c32(2), 0x6a, 0x1a] },
  'operands past an unreachable': { type: T_VOID, code: [0x00, 0x6a, 0x1a] },
  'one operand past an unreachable': { type: T_VOID, code: [0x00, ...c32(1), 0x6a, 0x1a] },
  'dead code after br': { type: T_VOID, code: [0x02, 0x40, 0x0c, 0, ...c32(5), 0x10, 0, 0x0b] },
  'dead code after return': { type: T_GET, code: [...c32(1), 0x0f, ...c32(2)] },
  'dead arithmetic after return': { type: T_GET, code: [...c32(1), 0x0f, ...c32(2), ...c32(3), 0x6a] },
  'a value left before unreachable': { type: T_VOID, code: [...c32(7), 0x00] },
  'operands past a br in a typed block': {
    type: T_GET,
    code: [0x02, I32, ...c32(1), 0x0c, 0, 0x6a, 0x0b],
  },
  'an unreachable block then code': { type: T_VOID, code: [0x02, 0x40, 0x00, 0x0b, ...c32(1), 0x10, 0] },
  'a branched block around an unreachable': {
    type: T_I32,
    code: [0x02, 0x40, 0x20, 0, 0x0d, 0, 0x00, 0x0b, 0x20, 0, 0x10, 0],
  },
  // The operand's type decides binaryen's IR here (i32 matches, i64 does not): not modelled.
  'a value below an unreachable taken by an operand': {
    type: T_GET,
    code: [...c32(1), 0x00, 0x6a],
    binaryen: true,
  },
  'a mistyped value below an unreachable': {
    type: T_GET,
    code: [...c64(1), 0x00, 0x6a],
    binaryen: true,
  },
  // Tuples and scratch locals in binaryen's IR: not modelled.
  'a multi-value block': {
    type: T_VOID,
    code: [0x02, T_PAIR, ...c32(1), ...c32(2), 0x0b, 0x1a, 0x1a],
    binaryen: true,
  },
  // binaryen's reader changes such locals only where they do not validate.
  'a non-nullable reference local': {
    type: T_VOID,
    locals: [[1, 0x64, 0x70]],
    code: [0xd2, 0, 0x21, 0, 0x20, 0, 0x1a],
    unchecked: true,
  },
  'local.tee as a call operand': { type: T_I32, locals: [[1, I32]], code: [...c32(1), 0x22, 1, 0x10, 0] },
  'call operands': {
    type: T_I32,
    locals: [[1, I32]],
    code: [0x20, 0, 0x10, 0, ...c32(3), 0x10, 0, 0x20, 1, ...c32(1), 0x6a, 0x10, 0, 0x10, 1, 0x10, 0],
  },
  'nested blocks, br_if with a value': {
    type: T_I32_I32,
    code: [0x02, I32, 0x02, I32, ...c32(1), 0x20, 0, 0x0d, 1, 0x1a, ...c32(2), 0x0b, 0x0b],
  },
  'br_if value as a block result': { type: T_I32_I32, code: [0x02, I32, ...c32(9), 0x20, 0, 0x0d, 0, 0x0b] },
  'br_if walks its condition before its value': {
    type: T_GET,
    code: [...[0x02, I32, ...c32(16), 0x28, ...mem(2, 0), ...c32(32), 0x28, ...mem(2, 0), 0x0d, 0, 0x0b]],
  },
  'br_table walks its condition before its value': {
    type: T_GET,
    code: [0x02, I32, ...c32(16), 0x28, ...mem(2, 0), ...c32(32), 0x28, ...mem(2, 0), 0x0e, 0, 0, 0x0b],
  },
  'if/else with a result': { type: T_I32_I32, code: [0x20, 0, 0x04, I32, ...c32(1), 0x05, ...c32(2), 0x0b] },
  'if without else': { type: T_I32, code: [0x20, 0, 0x04, 0x40, 0x20, 0, 0x10, 0, 0x0b] },
  'a branch to an if label': {
    type: T_I32,
    code: [0x20, 0, 0x04, 0x40, 0x20, 0, 0x0d, 0, 0x20, 0, 0x10, 0, 0x0b],
  },
  'a branch to an else label': {
    type: T_I32_I32,
    code: [0x20, 0, 0x04, I32, ...c32(1), 0x05, ...c32(2), 0x20, 0, 0x0d, 0, 0x0b],
  },
  'an if with two unreachable arms, then dead code': {
    type: T_I32,
    code: [0x20, 0, 0x04, 0x40, 0x00, 0x05, 0x00, 0x0b, ...c32(1), 0x10, 0],
  },
  'an unreachable else arm of a typed if': {
    type: T_I32_I32,
    code: [0x20, 0, 0x04, I32, ...c32(1), 0x05, 0x00, 0x0b],
  },
  'an if with an unreachable condition': { type: T_VOID, code: [0x00, 0x04, 0x40, 0x01, 0x0b] },
  'a loop with br_if': {
    type: T_I32,
    code: [0x03, 0x40, 0x20, 0, ...c32(1), 0x6b, 0x22, 0, 0x0d, 0, 0x0b],
  },
  'a loop with a result': { type: T_I32_I32, code: [0x03, I32, 0x20, 0, 0x0b] },
  'a loop branching to itself': { type: T_VOID, code: [0x03, 0x40, 0x0c, 0, 0x0b] },
  'a multi-expression loop body': { type: T_I32, code: [0x03, 0x40, 0x20, 0, 0x10, 0, 0x01, 0x0b] },
  'branches to the function label': { type: T_I32, code: [0x20, 0, 0x0d, 0, 0x20, 0, 0x10, 0] },
  'a function-label branch from a sole block': {
    type: T_I32,
    code: [0x02, 0x40, 0x20, 0, 0x0d, 1, 0x20, 0, 0x10, 0, 0x0b],
  },
  'a function-label branch with a value': {
    type: T_I32_I32,
    code: [...c32(5), 0x20, 0, 0x0d, 0, 0x1a, ...c32(6)],
  },
  'a value hoisted over a nop': { type: T_VOID, code: [...c32(1), 0x01, 0x1a] },
  'a greedy operand': { type: T_I32, code: [0x20, 0, 0x01, ...c32(2), 0x36, ...mem(2, 0)] },
  'an operand hoisted over a call': { type: T_I32, code: [0x20, 0, 0x20, 0, 0x10, 0, 0x10, 0] },
  'a call operand hoisted over a store': {
    type: T_I32,
    code: [0x20, 0, ...c32(8), ...c32(1), 0x36, ...mem(2, 0), 0x10, 0],
  },
  'a result hoisted at the end': { type: T_GET, code: [...c32(1), 0x01] },
  select: { type: T_I32_I32, code: [...c32(1), ...c32(2), 0x20, 0, 0x1b] },
  'typed select': { type: T_I32_I32, code: [...c32(1), ...c32(2), 0x20, 0, 0x1c, 1, I32] },
  globals: { type: T_VOID, code: [0x23, 0, ...c32(1), 0x6a, 0x24, 0] },
  'br_table with a value': {
    type: T_I32_I32,
    code: [0x02, I32, 0x02, I32, ...c32(3), 0x20, 0, 0x0e, 1, 0, 1, 0x0b, 0x0b],
  },
  br_table: { type: T_I32, code: [0x02, 0x40, 0x02, 0x40, 0x20, 0, 0x0e, 2, 0, 1, 0, 0x0b, 0x0b] },
  call_indirect: {
    type: T_I32,
    code: [
      ...[0x20, 0, ...c32(0), 0x11, T_I32, 0, ...c32(0), 0x11, T_GET, 0, 0x1a],
      // The target (the table index) is walked before the operands.
      ...[...c32(16), 0x28, ...mem(2, 0), ...c32(32), 0x28, ...mem(2, 0), 0x11, T_I32, 0],
    ],
  },
  return_call: { type: T_I32, code: [0x20, 0, 0x12, 0] },
  return_call_indirect: { type: T_I32, code: [0x20, 0, ...c32(0), 0x13, T_I32, 0] },
  'memory.fill, copy, grow and size': {
    type: T_VOID,
    code: [
      ...[...c32(16), ...c32(0), ...c32(8), 0xfc, 11, 0],
      ...[...c32(32), ...c32(16), ...c32(8), 0xfc, 10, 0, 0],
      ...[...c32(1), 0x40, 0, 0x1a, 0x3f, 0, 0x1a],
    ],
  },
  'atomics at constant addresses': {
    type: T_VOID,
    code: [
      ...[...c32(64), ...c32(1), 0xfe, 0x1e, ...mem(2, 4), 0x1a],
      ...[...c32(128), ...c32(0), ...c32(1), 0xfe, 0x48, ...mem(2, 0), 0x1a],
      ...[...c32(96), 0xfe, 0x12, ...mem(0, 8), 0x1a],
      ...[...c32(200), ...c32(7), 0xfe, 0x17, ...mem(2, 0)],
      ...[...c32(300), ...c64(7), ...c64(8), 0xfe, 0x4c, ...mem(0, 2), 0x1a],
      ...[0xfe, 0x03, 0x00],
    ],
  },
  'constant-address loads and stores with offsets': {
    type: T_VOID,
    code: [
      ...[...c32(1024), 0x28, ...mem(2, 8), 0x1a],
      ...[...c32(2048), ...c32(5), 0x3a, ...mem(0, 3)],
      ...[...c32(-4), 0x2d, ...mem(0, 1), 0x1a],
      ...[...c32(16), ...c32(32), 0x29, ...mem(3, 0), 0x37, ...mem(3, 0)],
      ...[...c32(16), 0x28, ...mem(2, 0x80000000), 0x1a],
      ...[...c32(8), 0x2a, ...mem(2, 0), 0x1a, ...c32(8), 0x33, ...mem(1, 4), 0x1a],
    ],
  },
  'indexed bases': {
    type: T_I32,
    code: [
      ...[...c32(100), 0x20, 0, 0x6a, 0x28, ...mem(2, 4), 0x1a],
      ...[0x20, 0, ...c32(200), 0x6a, ...c32(1), 0x36, ...mem(2, 0)],
      ...[...c32(1), ...c32(2), 0x6a, 0x28, ...mem(2, 0), 0x1a],
      ...[0x20, 0, ...c32(300), 0x6b, 0x28, ...mem(2, 0), 0x1a],
    ],
  },
  'SIMD loads and stores': {
    type: T_VOID,
    code: [
      ...[...c32(32), 0xfd, ...uleb(92), ...mem(2, 0), 0x1a],
      ...[...c32(48), 0xfd, 0, ...mem(4, 16), 0x1a],
      ...[...c32(64), ...c32(1), 0xfd, 17, 0xfd, 11, ...mem(4, 0)],
      ...[...c32(80), ...c32(1), 0xfd, 17, 0xfd, ...uleb(84), ...mem(0, 0), 3, 0x1a],
      ...[...c32(1), 0xfd, 17, 0xfd, 27, 2, 0x1a],
    ],
  },
  'ref.func and table.size/grow': {
    type: T_VOID,
    code: [0xd2, 0, 0x1a, 0xfc, 16, 0, 0x1a, 0xd0, 0x70, ...c32(1), 0xfc, 15, 0, 0x1a, 0xd2, 0, 0x1a],
  },
  'table.fill (opaque)': {
    type: T_I32,
    code: [...c32(0), 0xd0, 0x70, 0x20, 0, 0x10, 1, 0x6a, 0xfc, 17, 0, 0x20, 0, 0x10, 0],
  },
  'i64 constant addresses': {
    type: T_I64,
    memory64: true,
    unchecked: true,
    code: [
      ...[...c64(4096), 0x29, ...mem(3, 8), 0x1a],
      ...[...c64(2n ** 53n), 0x28, ...mem(2, 0), 0x1a],
      ...[...c64(2n ** 53n - 1n), 0x28, ...mem(2, 0), 0x1a],
      ...[...c64(-8), 0x28, ...mem(2, 0), 0x1a],
      ...[...c64(1000), 0x20, 0, 0x7c, 0x28, ...mem(2, 2), 0x1a],
      ...[0x20, 0, ...c64(2n ** 60n), 0x7c, 0x28, ...mem(2, 0), 0x1a],
    ],
  },
};

describe('raw summaries on hand-made shapes', () => {
  it.each(Object.keys(SHAPES).map((k) => [k]))('%s', async (key) => {
    const shape = SHAPES[key]!;
    const bytes = shapeModule(shape);
    // Real WebAssembly.
    if (!shape.memory64 && !shape.unchecked) expect(WA.validate(bytes)).toBe(true);
    const info = readModule(bytes);
    await withModule(bytes, { atomics: true, memory64: shape.memory64 }, (mod, b) => {
      const names = functionRefs(mod).map((f) => b.Function.getName(f));
      const raw = rawSummaries(bytes, info, names);
      const want = summarizeAll(b, mod);
      expect(raw.needsBinaryen).toEqual(shape.binaryen ? [names[2]] : []);
      for (const [n, w] of want) {
        if (raw.needsBinaryen.includes(n)) continue;
        expect(plain(raw.summaries.get(n)!), n).toEqual(plain(w));
      }
    });
  });
});
