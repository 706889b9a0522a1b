/**
 * The slice read (src/transform/slice.ts): binaryen reads only the bodies the steps look into.
 * The output must be the very bytes (and report) of a transform that reads the whole module; a
 * step that looks into a left-out body must make the transform read everything (never take the
 * placeholder for the code). Checked on every fixture and on real packages, and on the pieces: the
 * slice's bytes, the guard, the raw body shapes the prediction rests on.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { loadBinaryen } from '../src/binaryen/module.js';
import { isHostAllocError } from '../src/errors.js';
import { transform } from '../src/index.js';
import { summarize } from '../src/transform/analyse.js';
import { binaryenInput, readInput } from '../src/transform/read.js';
import { guardBodies, planSlice, SliceMiss, sliceBytes } from '../src/transform/slice.js';
import { readModule } from '../src/wasm/reader.js';
import { bodyShapes, DROPS_CONSTANT_LOAD, LOADS_BELOW_POINTER } from '../src/wasm/shapes.js';
import { fixtureModules, PACKAGE_MODULES, packageModulePath } from './harness/fixtures.js';
import { watToWasm } from './passes/wat.js';

/** When set, the prediction names no body: every step that looks into one misses. */
const sabotage = vi.hoisted(() => ({ predictNothing: false }));

vi.mock('../src/transform/slice-prediction.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/transform/slice-prediction.js')>();
  return {
    ...actual,
    predictedBodies: (...args: Parameters<typeof actual.predictedBodies>) =>
      sabotage.predictNothing ? [] : actual.predictedBodies(...args),
  };
});

/** Output bytes and report (without timings), or the refusal's code. */
async function outcome(input: Uint8Array, options: Parameters<typeof transform>[1]): Promise<string> {
  try {
    const { bytes, report } = await transform(input, options);
    return `${Buffer.from(bytes).toString('base64')} ${JSON.stringify(report)}`;
  } catch (e) {
    if (isHostAllocError(e)) return `refused ${e.code}`;
    throw e;
  }
}

const LARGE = [...PACKAGE_MODULES, 'sql.js/dist/sql-wasm-debug.wasm'];

describe('slice: the same output as reading the whole module', () => {
  const cases = [
    ...fixtureModules().map((p) => [p.split('/fixtures/')[1]!, p]),
    ...LARGE.map((p) => [p, packageModulePath(p)]),
  ];
  it.each(cases)('%s', { timeout: 180_000 }, async (_, path) => {
    const input = new Uint8Array(readFileSync(path!));
    for (const force of [false, true]) {
      const whole = await outcome(input, { force, read: 'whole' });
      expect(await outcome(input, { force, read: 'slice-strict' })).toBe(whole);
    }
  });
});

describe('slice: what binaryen is given', () => {
  it('large modules: most bodies left out, the rest byte for byte, placeholders keep their locals', async () => {
    const input = new Uint8Array(readFileSync(packageModulePath('sql.js/dist/sql-wasm-debug.wasm')));
    const given = readInput(input, {});
    const forBinaryen = binaryenInput(given);
    const plan = planSlice(given, forBinaryen, summarize(given));
    expect(plan).not.toBeNull();
    const { info } = given;
    expect(plan!.kept.filter((k) => k === 0).length).toBeGreaterThan(info.codeRanges.length / 2);
    const sliced = readModule(plan!.bytes);
    expect(sliced.codeRanges.length).toBe(info.codeRanges.length);
    for (let k = 0; k < info.codeRanges.length; k++) {
      const r = info.codeRanges[k]!;
      const s = sliced.codeRanges[k]!;
      const got = plan!.bytes.subarray(s.start, s.end);
      if (plan!.kept[k])
        expect(Buffer.from(got).equals(Buffer.from(input.subarray(r.start, r.end)))).toBe(true);
      else {
        const locals = input.subarray(r.start, plan!.index.codeStart[k]);
        expect([...got]).toEqual([...locals, 0x00, 0x0b]);
      }
    }
    // Everything outside the code section is binaryen's input as it was.
    const code = sliced.sections.find((x) => x.id === 10)!;
    expect(
      Buffer.from(plan!.bytes.subarray(0, code.start)).equals(
        Buffer.from(forBinaryen.bytes.subarray(0, code.start)),
      ),
    ).toBe(true);
  });

  it('emit: binaryen, or nothing to leave out: the whole module', async () => {
    const input = new Uint8Array(readFileSync(packageModulePath('sql.js/dist/sql-wasm-debug.wasm')));
    const given = readInput(input, { emit: 'binaryen' });
    expect(planSlice(given, binaryenInput(given), summarize(given))).toBeNull();
    const tiny = watToWasm(
      '(module (memory 1) (global (export "__heap_base") i32 (i32.const 1024)) (func (export "f") (result i32) (i32.const 1)))',
    );
    const small = readInput(tiny, {});
    expect(planSlice(small, binaryenInput(small), summarize(small))).toBeNull();
  });

  it('sliceBytes of nothing left out is the module itself', () => {
    const bytes = watToWasm(
      '(module (func $a (param i32) (result i32) (local i64) (local.get 0)) (func $b (drop (i32.const 7))))',
    );
    const info = readModule(bytes);
    const code = info.sections.find((s) => s.id === 10)!;
    const codeStart = new Uint32Array(info.codeRanges.map((r) => r.start + 1));
    const all = sliceBytes(bytes, code, info.codeRanges, codeStart, 0, new Uint8Array([1, 1]));
    expect(Buffer.from(all).equals(Buffer.from(bytes))).toBe(true);
  });
});

describe('slice: the guard', () => {
  it('a left-out body is a SliceMiss until a step gives the function a body or removes it', async () => {
    const b = await loadBinaryen();
    const mod = b.parseText(`(module
      (func $kept (result i32) (i32.const 1))
      (func $left (param i32) (result i32) (local i64) (unreachable))
      (func $gone (unreachable)))`);
    try {
      const left = mod.getFunction('left');
      const gone = mod.getFunction('gone');
      const guarded = guardBodies(
        b,
        mod,
        new Map([
          [left, 'left'],
          [gone, 'gone'],
        ]),
      );
      const g = guarded.b;
      // Name, signature and locals are the input's: only the body is not.
      const info = g.getFunctionInfo(left);
      expect(info.name).toBe('left');
      expect(info.vars).toEqual([b.i64]);
      expect(() => info.body).toThrow(SliceMiss);
      expect(() => g.Function.getBody(left)).toThrow(SliceMiss);
      expect(g.getFunctionInfo(mod.getFunction('kept')).body).not.toBe(0);
      g.Function.setBody(left, mod.i32.const(5));
      expect(b.getExpressionId(g.getFunctionInfo(left).body)).toBe(b.ConstId);
      // Removed and added again (a step's swap): binaryen may reuse the reference.
      guarded.mod.removeFunction('gone');
      mod.addFunction('gone', b.none, b.none, [], mod.nop());
      expect(g.Function.getBody(mod.getFunction('gone'))).not.toBe(0);
    } finally {
      mod.dispose();
    }
  });

  it('a prediction that falls short: the same output (the whole module read), or HA040 when strict', async () => {
    // Stripped: identification hashes bodies the empty prediction left out.
    const input = new Uint8Array(
      readFileSync(packageModulePath('@jsquash/png/codec/pkg/squoosh_png_bg.wasm')),
    );
    const stripped = new Uint8Array(
      readFileSync(fixtureModules().find((p) => p.endsWith('wasm/clang-wasi-c-stripped.wasm'))!),
    );
    const expected = [await outcome(input, { read: 'whole' }), await outcome(stripped, { read: 'whole' })];
    sabotage.predictNothing = true;
    try {
      expect([await outcome(input, {}), await outcome(stripped, {})]).toEqual(expected);
      const strict = await transform(stripped, { read: 'slice-strict' }).catch((e: unknown) => e);
      expect(isHostAllocError(strict) && strict.code).toBe('HA040');
    } finally {
      sabotage.predictNothing = false;
    }
  });
});

describe('raw body shapes', () => {
  const shapes = (body: string): [number, number] => {
    const bytes = watToWasm(`(module (memory 1) (func (param $p i32) (result i32) ${body}))`);
    const info = readModule(bytes);
    const shape = bodyShapes(bytes, info)[0]!;
    return [shape & DROPS_CONSTANT_LOAD ? 1 : 0, shape & LOADS_BELOW_POINTER ? 1 : 0];
  };

  it('a dropped load from a constant address', () => {
    expect(shapes('(drop (i32.load8_u (i32.const 1024))) (i32.const 0)')).toEqual([1, 0]);
    expect(shapes('(drop (i32.load (local.get $p))) (i32.const 0)')).toEqual([0, 0]);
    expect(shapes('(i32.load (i32.const 1024))')).toEqual([0, 0]);
  });

  it('a load below a pointer: X - k or X + -k, k up to 16', () => {
    expect(shapes('(i32.load (i32.sub (local.get $p) (i32.const 4)))')).toEqual([0, 1]);
    expect(shapes('(i32.load (i32.add (local.get $p) (i32.const -8)))')).toEqual([0, 1]);
    expect(shapes('(i32.load (i32.sub (local.get $p) (i32.const 64)))')).toEqual([0, 0]);
    expect(shapes('(i32.load (i32.add (local.get $p) (i32.const 8)))')).toEqual([0, 0]);
  });

  it('both in one body', () => {
    expect(
      shapes('(drop (i32.load (i32.const 64))) (i32.load (i32.sub (local.get $p) (i32.const 8)))'),
    ).toEqual([1, 1]);
  });
});
