/**
 * Bounded run of the JS host allocator's fuzz campaign (test/host/campaign.ts): a few seconds of
 * valid and hostile calls against the shadow model, for both granules. The full 1,000,000-operation
 * run is `npx tsx test/host/campaign.ts 1000000` (figures in docs/reliability.md).
 */
import { describe, expect, it } from 'vitest';
import { runCampaign } from './campaign.js';

describe('JS host allocator fuzz campaign (bounded)', () => {
  for (const [seed, granule] of [
    [11, 16],
    [12, 8],
  ] as const) {
    it(`seed ${seed}, granule ${granule}: 15,000 operations agree with the shadow model`, () => {
      const r = runCampaign(15_000, seed, granule);
      // The run exercised what it claims to: allocations, frees, reallocs, hostile calls, scribbles.
      expect(r.mallocs).toBeGreaterThan(3000);
      expect(r.frees).toBeGreaterThan(3000);
      expect(r.reallocs).toBeGreaterThan(1000);
      expect(r.callocs).toBeGreaterThan(600);
      expect(r.hostile).toBeGreaterThan(1500);
      expect(r.scribbles).toBeGreaterThan(700);
      expect(r.selfGrows).toBeGreaterThan(0);
      expect(r.metadataPerHeapByte).toBeLessThan(0.1);
    }, 120_000);
  }
});
