/**
 * The pipeline registry (src/transform/pipeline.ts) and the code agree: transform() runs only
 * registered steps, in the registry's order; every step's source file exists; refusals follow the
 * mode (throw, force, collect), and HA012 is never forced.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHostAllocError, transform } from '../src/index.js';
import { Checks, PIPELINE, type Refusal } from '../src/transform/pipeline.js';
import { readFixture } from './harness/fixtures.js';

const ROOT = join(import.meta.dirname, '..');
const order = PIPELINE.map((p) => p.name);

function isSubsequence(run: readonly string[], of: readonly string[]): boolean {
  let i = 0;
  for (const name of run) {
    i = of.indexOf(name, i);
    if (i < 0) return false;
    i++;
  }
  return true;
}

describe('PIPELINE', () => {
  it('names are unique and every source file exists', () => {
    expect(new Set(order).size).toBe(order.length);
    for (const p of PIPELINE) expect(existsSync(join(ROOT, p.source)), p.source).toBe(true);
  });

  it('transform runs registered steps in registry order (named emcc fixture, timings on)', async () => {
    const { report } = await transform(readFixture('emcc-dlmalloc-O2-names'), { timings: true });
    const run = report.timings!.map((t) => t.step);
    expect(isSubsequence(run, order)).toBe(true);
    // The steps every conversion goes through.
    for (const step of [
      'read',
      'safe-names',
      'summarize',
      'identify',
      'check-signatures',
      'old-state',
      'metadata-reads',
      'replace-allocator',
      'export-layout',
      'strip',
      'check-hazards',
      'emit',
      'output-gate',
    ]) {
      expect(run).toContain(step);
    }
  });

  it('no timings unless asked', async () => {
    const { report } = await transform(readFixture('emcc-dlmalloc-O2-names'));
    expect(report.timings).toBeUndefined();
  });

  it('an already compliant module stops after already-compliant', async () => {
    const { bytes } = await transform(readFixture('clang-wasi-c'));
    const again = await transform(bytes, { timings: true });
    expect(again.report.status).toBe('already-compliant');
    expect(again.report.timings!.map((t) => t.step)).toEqual(['read', 'already-compliant']);
  });
});

describe('Checks', () => {
  const refusal = (fatal: boolean): Refusal => ({
    code: 'HA011',
    message: 'refusing: it touches the old state',
    reason: 'it touches the old state',
    step: 'check-hazards',
    ...(fatal ? { fatal: true as const } : {}),
  });

  it('throw: the refusal is a typed HostAllocError with its code and message', () => {
    const checks = new Checks('throw');
    let caught: unknown;
    try {
      checks.refuse(refusal(false));
    } catch (e) {
      caught = e;
    }
    expect(isHostAllocError(caught)).toBe(true);
    expect((caught as { code: string }).code).toBe('HA011');
    expect((caught as Error).message).toBe('refusing: it touches the old state');
  });

  it('force: kept as a reason, but a fatal refusal still throws', () => {
    const checks = new Checks('force');
    checks.refuse(refusal(false));
    expect(checks.forced).toEqual(['it touches the old state']);
    expect(() => checks.refuse(refusal(true))).toThrow(/touches/);
  });

  it('collect: everything is kept, nothing is forced', () => {
    const checks = new Checks('collect');
    checks.refuse(refusal(false));
    checks.refuse(refusal(true));
    expect(checks.refusals).toHaveLength(2);
    expect(checks.forced).toEqual([]);
  });
});
