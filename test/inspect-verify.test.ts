/**
 * inspect() and verify() on every fixture of fixtures/manifest.json: inspect reports the heap base
 * transform uses and how each family member was identified; verify rejects the original (with a
 * reason) and accepts the transformed module.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inspect, isHostAllocError, transform, verify } from '../src/index.js';
import type { TransformOptions } from '../src/types.js';
import { gluePath, loadManifest, readFixture } from './harness/fixtures.js';

const IDENTIFICATIONS = ['export', 'name', 'option', 'glue', 'analysis', 'fingerprint'];

describe('inspect and verify on every fixture', () => {
  for (const entry of loadManifest().fixtures) {
    it(entry.name, async () => {
      const bytes = readFixture(entry.name);
      const glue = entry.glue === undefined ? undefined : readFileSync(gluePath(entry)!, 'utf8');
      const options: TransformOptions = glue === undefined ? {} : { glue, keepExports: true };

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
        // Refused (see test/differential.test.ts REFUSED): inspect reports the hazard instead.
        expect(
          info.hazards.length,
          `${entry.name} refused ${result.code} but inspect shows no hazard`,
        ).toBeGreaterThan(0);
        return;
      }
      expect(info.layout.heapBase.value).toBe(result.report.layout.heapBase.value);
      expect(info.family.map((m) => [m.role, m.identifiedBy])).toEqual(
        result.report.replaced.map((m) => [m.role, m.identifiedBy]),
      );
      const transformed = await verify(result.bytes);
      expect(transformed.problems).toEqual([]);
      expect(transformed.compliant).toBe(true);
      expect(transformed.heapBase).toBe(result.report.layout.heapBase.value);

      const again = await inspect(result.bytes);
      expect(again.compliant).toBe(true);
      expect(again.abiVersion).toBe(1);
    });
  }
});
