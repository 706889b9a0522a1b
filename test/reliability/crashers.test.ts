/**
 * Regression tests for the reproducers the fuzzer saved in test/reliability/crashers/ (one per
 * distinct crash signature: NAME.wasm is the input, NAME.json its options, origin and the original
 * failure). Each is replayed in a fresh child process through the fuzz oracle: it must now give a
 * typed HostAllocError or a valid, compliant output with identical workloads. They fail until the
 * bug they show is fixed in src/ or passes/.
 *
 * Nothing is skipped silently: a .wasm without its .json (or the reverse) fails, and so does a
 * reproducer the campaign returned no outcome for.
 */

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCrashers, runCampaign } from '../fuzz/campaign.js';

const DIR = fileURLToPath(new URL('./crashers/', import.meta.url));
const crashers = loadCrashers(DIR);

describe('fuzz reproducers (test/reliability/crashers)', () => {
  it('the reproducers are there, each .wasm with its .json', () => {
    expect(crashers.length).toBeGreaterThan(0);
    const files = readdirSync(DIR);
    const stems = (ext: string) =>
      files
        .filter((f) => f.endsWith(ext))
        .map((f) => f.slice(0, -ext.length))
        .sort();
    expect(stems('.json'), 'every reproducer has its NAME.json and NAME.wasm').toEqual(stems('.wasm'));
    expect(files.filter((f) => !f.endsWith('.json') && !f.endsWith('.wasm'))).toEqual([]);
  });
  // All replayed in one campaign (two children), then asserted one by one.
  const outcomes = new Map<number, string>();
  const summary = runCampaign({
    onResult: (input, outcome, detail) => {
      outcomes.set(
        input.index,
        outcome === 'valid' || outcome === 'typed' ? 'ok' : `${outcome}: ${detail.slice(0, 600)}`,
      );
    },
    seed: 0,
    count: crashers.length,
    jobs: 2,
    timeoutMs: 20_000,
    inputs: crashers.map((c, i) => ({ ...c.input, index: i })),
  });
  for (const [i, c] of crashers.entries()) {
    it(`${c.name}: ${c.meta.reason ?? ''} (${(c.meta.desc ?? '').slice(0, 80)})`, async () => {
      await summary;
      expect(outcomes.get(i) ?? 'no outcome: the campaign never reported this reproducer').toBe('ok');
    }, 180_000);
  }
});
