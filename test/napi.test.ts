/**
 * napi-rs wasm32-wasi packages through their own loader (issue #16): @napi-rs/snappy-wasm32-wasi
 * 7.4.3, pinned, with the loader's runtime (@napi-rs/wasm-runtime 1.2.3, @emnapi/* 2.0.0-alpha.5)
 * pinned too: the package's own ranges resolve today to a wasm-runtime whose @emnapi is another
 * prerelease than the loader's, and the original then fails to load.
 *
 * The build is wasm32-wasip1-threads: its memory is shared (the loader creates it, 4000 pages) and
 * napi's async work runs in worker threads, each instantiating the module on the same memory.
 * - Default options refuse it, HA006: a host allocator on a shared memory must be thread-safe.
 * - `allowShared` converts it. On the JS host, the synchronous API runs on the main thread through
 *   the loader (`*.wasi.cjs`) wrapped in `withHostAllocator`, identically to the original.
 * - The async API cannot work on the JS host: the worker's loader (`wasi-worker.mjs`) instantiates
 *   the module with its own import object, which has no host allocator (the JS heap lives in the
 *   main thread and cannot be called synchronously from a worker): the worker fails to link and the
 *   loader rethrows that error in the main thread, uncaught, which ends the process. Tested in a
 *   child process.
 */

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withHostAllocator } from '../src/host/index.js';
import { type TransformReport, transform, verify } from '../src/index.js';
import { NODE_MODULES } from './corpus/load.js';
import { expectRefusal } from './errors.js';
import { copyPackage, type PackageCopy } from './harness/package-copy.js';
import { WA } from './harness/wasm.js';

const require = createRequire(import.meta.url);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PKG = '@napi-rs/snappy-wasm32-wasi';
const WASM = 'snappy.wasm32-wasi.wasm';
const LOADER = 'snappy.wasi.cjs';
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Snappy {
  compressSync(input: Uint8Array | string): Uint8Array;
  uncompressSync(input: Uint8Array, options?: { asBuffer?: boolean }): Uint8Array | string;
  compress(input: Uint8Array | string): Promise<Uint8Array>;
}

/** Text of `n` lines, compressible but not trivially. */
function text(n: number): string {
  return Array.from({ length: n }, (_, i) => `line ${i % 97} ${(i * 7919) % 1000}\n`).join('');
}

/** The synchronous API on inputs from 30 bytes to 4 MB: compressed sizes and hashes, round trips. */
function workload(snappy: Snappy): unknown[] {
  const out: unknown[] = [];
  for (const n of [2, 5_000, 300_000]) {
    const input = new TextEncoder().encode(text(n));
    const c = snappy.compressSync(input);
    const d = snappy.uncompressSync(c) as Uint8Array;
    out.push(c.length, sha(c), sha(d) === sha(input));
  }
  out.push(snappy.uncompressSync(snappy.compressSync('wasm-hostalloc '.repeat(100)), { asBuffer: false }));
  return out;
}

/** Function imports of `bytes` (module.name). */
function functionImports(bytes: Uint8Array): string[] {
  return WA.Module.imports(new WA.Module(bytes))
    .filter((i) => i.kind === 'function')
    .map((i) => `${i.module}.${i.name}`);
}

describe(`napi-rs: ${PKG} through its own loader`, () => {
  const wasm = new Uint8Array(readFileSync(join(NODE_MODULES, PKG, WASM)));
  let original: Snappy;
  let bytes: Uint8Array;
  let report: TransformReport;
  let copy: PackageCopy;

  beforeAll(async () => {
    original = require(join(NODE_MODULES, PKG, LOADER)) as Snappy;
    ({ bytes, report } = await transform(wasm, { allowShared: true }));
    copy = copyPackage(PKG, { [WASM]: bytes });
  });
  afterAll(() => copy?.dispose());

  it('the original runs through its loader, synchronous and async API', async () => {
    const out = workload(original);
    expect(out).toContain(true);
    expect(out.at(-1)).toBe('wasm-hostalloc '.repeat(100));
    const input = new TextEncoder().encode(text(1000));
    expect(sha(await original.compress(input))).toBe(sha(original.compressSync(input)));
  });

  it('is refused by default: HA006, shared memory, with the flag to pass', async () => {
    await expectRefusal(transform(wasm), 'HA006', /memory is shared.*pass allowShared \(--allow-shared\)/);
  });

  it('converts with allowShared: allocator replaced, verify passes', async () => {
    expect(report.status).toBe('transformed');
    expect(report.compliant).toBe(true);
    expect(report.replaced.map((r) => r.role)).toEqual(expect.arrayContaining(['malloc', 'free']));
    expect((await verify(bytes)).problems).toEqual([]);
    expect(bytes.length).toBeLessThan(wasm.length);
    // WASI grows memory with memory.grow: no glue import to route growth through.
    expect(report.growImport).toBeUndefined();
  });

  it('runs the synchronous API identically through its loader inside withHostAllocator', () => {
    const { result, heaps } = withHostAllocator(() => require(join(copy.dir, LOADER)) as Snappy);
    expect(heaps).toHaveLength(1);
    const heap = heaps[0]!;
    expect(workload(result)).toEqual(workload(original));
    const s = heap.stats();
    expect(s.mallocs).toBeGreaterThan(0);
    expect(s.errors).toBe(0);
    // The heap starts above the static data the loader's __wasm_init_memory fills.
    expect(s.heapBase).toBe(report.layout.heapBase.value);
  });

  it('the async API fails: the worker instantiates the module without host_* (child process)', () => {
    // The loader rethrows the worker's LinkError in the main thread, uncaught: run it in a child.
    const added = functionImports(bytes).filter((i) => !functionImports(wasm).includes(i));
    expect(added.length).toBeGreaterThan(0);
    const script = join(copy.dir, '..', 'async.mjs');
    writeFileSync(
      script,
      `import { createRequire } from 'node:module';
import { withHostAllocator } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/host/index.ts')).href)};
const require = createRequire(import.meta.url);
const { result } = withHostAllocator(() => require(${JSON.stringify(join(copy.dir, LOADER))}));
console.log('sync', result.compressSync('abc abc abc abc').length);
await result.compress('abc abc abc abc');
console.log('async resolved');
`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    expect(r.stdout).toContain('sync ');
    expect(r.stdout).not.toContain('async resolved');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/LinkError/);
    // The import it names is one the conversion added.
    const named = /module="([^"]+)" function="([^"]+)"/.exec(r.stderr);
    expect(named && `${named[1]}.${named[2]}`).toBeOneOf(added);
  });
});
