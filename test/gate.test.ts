/**
 * The output gate (src/transform/gate.ts) reuses the input's pointer flow for functions the rewrite
 * did not touch. Its incremental answer must be the whole-output answer, on clean outputs (the
 * differential and corpus suites run every transform with `gate: 'both'`) and on forced outputs
 * that still read allocator headers (here); and the cross-check must catch a reuse that is wrong.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { isHostAllocError } from '../src/errors.js';
import { transform, verify } from '../src/index.js';

/** When set, the rewrite "forgets" the functions it changed (a bug the self-check must catch). */
const sabotage = vi.hoisted(() => ({ forgetChanged: false }));

vi.mock('../src/transform/rewrite.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/transform/rewrite.js')>();
  return {
    ...actual,
    rewrite: (...args: Parameters<typeof actual.rewrite>) => {
      const done = actual.rewrite(...args);
      return sabotage.forgetChanged ? { ...done, changed: new Set<string>() } : done;
    },
  };
});

const fixture = (path: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../fixtures/${path}.wasm`, import.meta.url)));

/** Forced outputs that still read a chunk header: the gate's findings are not empty there. */
const FORCED_WITH_READS = [
  'hazards/clang-wasi-lookalike-O2-stripped',
  'hazards/clang-wasi-usable-O2-stripped',
  'inlined/emxx-aligned-new-O2-names-stripped',
];

describe('output gate', () => {
  for (const name of FORCED_WITH_READS) {
    it(`${name}: forced, the incremental and whole-output gates find the same reads`, async () => {
      const { bytes, report } = await transform(fixture(name), { force: true, gate: 'both' });
      expect(report.compliant).toBe(false);
      // verify interprets the whole output: the reads the gate compared are really there.
      const v = await verify(bytes);
      expect(v.problems.some((p) => p.code === 'metadata-read')).toBe(true);
    });
  }

  it('the incremental gate interprets again what the rewrite changed (usable-size-from-host)', async () => {
    // dlmalloc_usable_size, an unnamed helper, read the header; the rewrite made it ask the host.
    // Reusing its input flow would report the read it no longer has.
    const input = fixture('hazards/emcc-usable-O2');
    const ok = await transform(input, { gate: 'incremental' });
    expect(ok.report.warnings.join('\n')).toMatch(/host_usable_size/);
    sabotage.forgetChanged = true;
    try {
      const err = await transform(input, { gate: 'both' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isHostAllocError(err) && err.code).toBe('HA040');
      // Alone, the sabotaged incremental gate refuses the clean output: stale flows are not trusted silently.
      const alone = await transform(input, { gate: 'incremental' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isHostAllocError(alone) && alone.code).toBe('HA024');
    } finally {
      sabotage.forgetChanged = false;
    }
  });

  it('full and incremental gates pass the same clean output', async () => {
    const input = fixture('hazards/emcc-usable-O2-names');
    const full = await transform(input, { gate: 'full' });
    const incremental = await transform(input, { gate: 'incremental' });
    expect(incremental.bytes).toEqual(full.bytes);
  });
});
