/**
 * A short fuzz campaign for `npm test` (the full one is `npm run fuzz`, see docs/reliability.md):
 * 300 inputs of seed 20251123, mutated fixtures and generated modules, each in a killable child
 * process. Every input must give a typed HostAllocError or a valid, compliant output that runs the
 * fixture workloads identically; never another exception, a binaryen abort or a hang.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCampaign, summaryLine } from '../fuzz/campaign.js';

describe('fuzz: short campaign', () => {
  it('300 inputs, fixed seed: no crash, no hang', async () => {
    const crashDir = mkdtempSync(path.join(os.tmpdir(), 'fuzz-test-'));
    try {
      const s = await runCampaign({ seed: 20251123, count: 300, jobs: 2, timeoutMs: 15_000, crashDir });
      const report = s.crashers
        .map(
          (c) =>
            `${c.name} x${c.count} (input ${c.index}, ${c.origin}: ${c.desc}; options ${JSON.stringify(c.options)}): ${c.message.slice(0, 300)}`,
        )
        .join('\n');
      expect(s.tried).toBe(300);
      expect(s.generatorInvalid, 'the generator must only make valid modules').toBe(0);
      expect(s.valid + s.typed + s.crashes + s.hangs + s.inputHangs).toBe(300);
      expect(s.valid, 'some inputs must get through the transform').toBeGreaterThan(30);
      expect(s.crashes + s.hangs, `${summaryLine(s)}\n${report}`).toBe(0);
    } finally {
      rmSync(crashDir, { recursive: true, force: true });
    }
  }, 120_000);
});
