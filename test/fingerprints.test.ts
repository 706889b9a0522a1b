/**
 * src/fingerprints.ts is generated (npm run fingerprints): it must be what the named fixtures and
 * today's identification give. A database left behind (as on 2026-12-02, when six Rust entries
 * still said `internal` for shims find-allocator had since named rust_alloc…) makes stripped
 * modules identified differently from their named twins.
 */

import { describe, expect, it } from 'vitest';
import { FINGERPRINTS } from '../src/fingerprints.js';
import { fingerprintEntries } from './harness/fingerprint-db.js';

describe('fingerprint database', () => {
  it('is what npm run fingerprints writes from the fixtures', { timeout: 120_000 }, async () => {
    const generated = await fingerprintEntries();
    expect(generated.length).toBeGreaterThan(50);
    expect(FINGERPRINTS.entries).toEqual(generated);
  });
});
