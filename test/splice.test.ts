/**
 * The splice (src/transform/splice.ts, src/wasm/splice.ts): binaryen writes only the bodies the
 * transform changed and the input's other bodies are copied back with their indices moved. The
 * output must be the module binaryen alone writes (`emit: 'binaryen'`): read back by binaryen and
 * written again it is byte for byte that module (or both, written again, are the same bytes: binaryen
 * adds scratch locals when it writes some bodies, which a second round keeps). Checked on every
 * fixture and on real packages; `splice-strict` makes a splice that cannot be carried out an error
 * instead of a quiet fallback, so these tests also show the splice happened.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadBinaryen, withModule } from '../src/binaryen/module.js';
import { isHostAllocError } from '../src/errors.js';
import { transform } from '../src/index.js';
import { dropCustomSections } from '../src/wasm/edit.js';
import { readModule } from '../src/wasm/reader.js';
import { indexBodies, SITE_CALL, SITE_GLOBAL, SITE_TABLE_OP } from '../src/wasm/splice.js';
import { FIXTURES_DIR, fixtureModules, PACKAGE_MODULES, packageModulePath } from './harness/fixtures.js';

/**
 * When `failSplice` is set, spliceBodies "cannot" splice (the fallback must then give binaryen's
 * output); `spliced` counts the bodies the last splice copied from the input.
 */
const sabotage = vi.hoisted(() => ({ failSplice: false, spliced: 0 }));

vi.mock('../src/wasm/splice.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/wasm/splice.js')>();
  return {
    ...actual,
    spliceBodies: (...args: Parameters<typeof actual.spliceBodies>) => {
      sabotage.spliced = args[1].source.filter((k) => k >= 0).length;
      return sabotage.failSplice ? null : actual.spliceBodies(...args);
    },
  };
});

/** binaryen's reading of `bytes` written again, without the features section (it follows the flags set). */
async function rewritten(bytes: Uint8Array, names: boolean): Promise<Buffer> {
  const b = await loadBinaryen();
  const prev = b.getDebugInfo();
  const out = await withModule(bytes, {}, (mod) => {
    b.setDebugInfo(names);
    try {
      return mod.emitBinary().slice();
    } finally {
      b.setDebugInfo(prev);
    }
  });
  return Buffer.from(dropCustomSections(out, 'target_features'));
}

/** Checks the spliced output against binaryen's; returns how many bodies were spliced, of how many. */
async function expectSameAsBinaryen(
  path: string,
): Promise<{ spliced: number; functions: number; status: string }> {
  const input = new Uint8Array(readFileSync(path));
  const names = readModule(input).customSections.some((s) => s.name === 'name');
  const whole = await transform(input, { force: true, emit: 'binaryen' });
  sabotage.spliced = 0;
  const spliced = await transform(input, {
    force: true,
    emit: 'splice-strict',
    read: 'slice-strict',
    gate: 'both',
  });
  const count = sabotage.spliced;
  // Everything but the size (binaryen's encoding of a body and the input's may differ).
  expect({ ...spliced.report, outputSize: 0 }).toEqual({ ...whole.report, outputSize: 0 });
  const a = Buffer.from(dropCustomSections(whole.bytes, 'target_features'));
  const b = await rewritten(spliced.bytes, names);
  if (!a.equals(b)) expect(b.equals(await rewritten(whole.bytes, names))).toBe(true);
  return { spliced: count, functions: spliced.report.functionsAfter, status: spliced.report.status };
}

describe('splice: the output is the one binaryen writes alone', () => {
  it.each(fixtureModules().map((p) => [p.slice(FIXTURES_DIR.length)]))('%s', async (rel) => {
    const { spliced, status } = await expectSameAsBinaryen(join(FIXTURES_DIR, rel));
    // Modules built against the ABI are adopted: no rewrite, nothing to splice into.
    if (status === 'transformed') expect(spliced).toBeGreaterThan(0);
    else expect(status).toBe('adopted');
  });

  it.each(PACKAGE_MODULES.map((p) => [p]))('%s', { timeout: 120_000 }, async (p) => {
    const { spliced, functions } = await expectSameAsBinaryen(packageModulePath(p));
    expect(spliced).toBeGreaterThan(functions / 2);
  });
});

describe('splice: when it cannot be carried out', () => {
  it('falls back to binaryen writing every body, with the same output', async () => {
    const input = new Uint8Array(readFileSync(join(FIXTURES_DIR, 'wasm/clang-wasi-c.wasm')));
    const whole = await transform(input, { emit: 'binaryen' });
    sabotage.failSplice = true;
    try {
      const fallen = await transform(input);
      expect(Buffer.from(fallen.bytes).equals(Buffer.from(whole.bytes))).toBe(true);
      const strict = await transform(input, { emit: 'splice-strict' }).catch((e: unknown) => e);
      expect(isHostAllocError(strict) && strict.code).toBe('HA040');
    } finally {
      sabotage.failSplice = false;
    }
  });
});

describe('indexBodies', () => {
  it('records call, global and table sites, and keeps bodies it cannot carry with binaryen', async () => {
    const b = await loadBinaryen();
    const mod = b.parseText(`(module
      (table $t 1 funcref)
      (global $g (mut i32) (i32.const 0))
      (elem declare func $a)
      (func $a (call $b) (global.set $g (i32.const 1)))
      (func $b (drop (ref.func $a)))
      (func $c (drop (table.grow $t (ref.null func) (i32.const 1))))
      (export "a" (func $a)) (export "b" (func $b)) (export "c" (func $c)))`);
    let bytes: Uint8Array;
    try {
      mod.setFeatures(b.Features['All']! & ~b.Features['CompactImports']!);
      bytes = mod.emitBinary().slice();
    } finally {
      mod.dispose();
    }
    const info = readModule(bytes);
    const index = indexBodies(bytes, info);
    const sites = (k: number) =>
      Array.from({ length: index.siteStart[k + 1]! - index.siteStart[k]! }, (_, i) => {
        const s = index.siteStart[k]! + i;
        return [index.kind[s], index.value[s]];
      });
    expect(Array.from(index.spliceable)).toEqual([1, 0, 0]);
    expect(sites(0)).toEqual([
      [SITE_CALL, 1],
      [SITE_GLOBAL, 0],
    ]);
    expect(sites(2)).toEqual([[SITE_TABLE_OP, 0]]);
  });
});
