/**
 * @fileoverview The fingerprint database as the named fixtures give it today: what
 * `npm run fingerprints` (scripts/fingerprints.ts) writes into src/fingerprints.ts, and what
 * test/fingerprints.test.ts compares the committed database with.
 */

import { readFileSync } from 'node:fs';
import { withModule } from '../../src/binaryen/module.js';
import { functionNames, roots } from '../../src/binaryen/queries.js';
import { summarizeAll } from '../../src/binaryen/walk.js';
import { ALLOCATOR_INITIALIZERS } from '../../src/conventions.js';
import { computeLayout } from '../../src/layout.js';
import { allocatorState } from '../../src/transform/passes/allocator-state.js';
import { findAllocator } from '../../src/transform/passes/find-allocator.js';
import {
  type FingerprintEntry,
  functionSignature,
  MIN_FINGERPRINT_SIZE,
  shapeHash,
} from '../../src/transform/passes/fingerprint.js';
import { staticRange } from '../../src/transform/read.js';
import { readModule } from '../../src/wasm/reader.js';

interface Fixture {
  name: string;
  file: string;
  toolchain: string;
  allocator: string;
  names: boolean;
  stripped: boolean;
  reference: boolean;
}

/** The entries, sorted by allocator, name and hash. */
export async function fingerprintEntries(): Promise<FingerprintEntry[]> {
  const manifest = JSON.parse(
    readFileSync(new URL('../../fixtures/manifest.json', import.meta.url), 'utf8'),
  ) as {
    fixtures: Fixture[];
  };
  const entries: FingerprintEntry[] = [];
  const seen = new Set<string>();
  for (const f of manifest.fixtures) {
    if (!f.names || f.stripped || f.reference || f.allocator === 'none') continue;
    const bytes = readFileSync(new URL(`../../fixtures/${f.file}`, import.meta.url));
    const layout = computeLayout(readModule(bytes));
    await withModule(bytes, {}, (mod, b) => {
      const members = findAllocator(b, mod, {});
      const family = new Set(members.map((m) => m.func));
      const state = allocatorState({
        summaries: summarizeAll(b, mod),
        family,
        roots: roots(b, mod),
        staticRange: staticRange(layout),
      });
      const roleOf = new Map(members.map((m) => [m.func, m.role]));
      for (const func of functionNames(b, mod)) {
        // Initialisers run from __wasm_call_ctors, a user root, so they are not exclusive: take them by name.
        if (!state.exclusive.has(func) && !ALLOCATOR_INITIALIZERS.includes(func)) continue;
        const s = shapeHash(b, mod, func);
        if (!s || s.size < MIN_FINGERPRINT_SIZE) continue;
        const role = roleOf.get(func) ?? (ALLOCATOR_INITIALIZERS.includes(func) ? 'initializer' : 'internal');
        const key = `${s.hash}/${role}`;
        if (seen.has(key)) continue;
        seen.add(key);
        entries.push({
          hash: s.hash,
          role,
          allocator: `${f.toolchain}-${f.allocator}`,
          name: func,
          size: s.size,
          signature: functionSignature(b, b.getFunctionInfo(mod.getFunction(func))),
        });
      }
    });
  }
  entries.sort(
    (a, b) =>
      a.allocator.localeCompare(b.allocator) || a.name.localeCompare(b.name) || a.hash.localeCompare(b.hash),
  );
  return entries;
}
