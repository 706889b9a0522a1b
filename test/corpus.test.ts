/**
 * The real-world corpus (issues #6, #15, #16): npm packages that ship Emscripten-built wasm, and a
 * wasi-sdk one. Each runs a real workload through its own JS glue (a WASI command through node:wasi),
 * first on the original binary, then on the binary transformed with the DEFAULT options plus the
 * package's glue (`transform(bytes, { glue })`), run through the `emscripten()` hook of
 * wasm-hostalloc/host exactly as a user would set it (a WASI command: `createHostAllocator()`); the
 * results must be identical. No import name is written here: growth goes through the import the
 * transform reports (`report.growImport`). A package the transform refuses must be refused with the
 * code and reason listed in EXPECTED, and its original workload must still run.
 *
 * Packages are pinned devDependencies; helpers, EXPECTED and the suite are in ./corpus/.
 */

import { describe, expect, it } from 'vitest';
import { CORPUS } from './corpus/packages.js';
import { corpusSuite, EXPECTED, OWN_PROCESS } from './corpus/suite.js';

describe('the corpus', () => {
  it('lists every corpus package in EXPECTED', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(CORPUS.map((p) => p.id).sort());
  });
});

corpusSuite('real-world corpus: packages through their own glue', (p) => !OWN_PROCESS.has(p.id));
