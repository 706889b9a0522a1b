/**
 * wasm-bindgen and napi-rs style loaders (issue #16): glue that builds its import object itself.
 *
 * - `withHostAllocator(load)` of wasm-hostalloc/host, exercised the way such glue instantiates:
 *   `new WebAssembly.Instance(new WebAssembly.Module(bytes), imports)` (wasm-bindgen --target
 *   nodejs, napi-rs's loader) and `WebAssembly.instantiate(bytes, imports)` (--target web), and
 *   `hostImports()` for a hand-written loader (--target bundler). Converted fixtures run
 *   identically to their originals, growth included.
 * - Real wasm-bindgen packages (pinned devDependencies), listed in BINDGEN: the original runs through
 *   its own glue; a package the transform converts runs through the same glue with the converted
 *   `.wasm` in place (in a copy of the package) inside withHostAllocator, with identical results on
 *   the host heap; a refused one is listed with its code and reason. @jsquash/png (--target web,
 *   initSync) runs through its glue on the host heap in test/recall.test.ts.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostImports, withHostAllocator } from '../src/host/index.js';
import { transform, verify } from '../src/index.js';
import { NODE_MODULES } from './corpus/load.js';
import { expectRefusal } from './errors.js';
import { getFixture, readFixture } from './harness/fixtures.js';
import { copyPackage } from './harness/package-copy.js';
import { BIG_GROW_SEED, instantiateWith } from './harness/run.js';
import { WA, type WasmInstance } from './harness/wasm.js';

const require = createRequire(import.meta.url);
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** What a fixture computes through its exports (the workloads the fixture plugins export). */
function workloads(instance: WasmInstance): number[] {
  const ex = instance.exports as Record<string, (...a: number[]) => number>;
  (ex['_initialize'] as (() => void) | undefined)?.();
  return [ex['wl_mixed']!(1) >>> 0, ex['wl_mixed']!(2) >>> 0, ex['wl_big']!(BIG_GROW_SEED) >>> 0];
}

function original(name: string): number[] {
  const p = instantiateWith(readFixture(name));
  return [p.call('wl_mixed', 1) >>> 0, p.call('wl_mixed', 2) >>> 0, p.call('wl_big', BIG_GROW_SEED) >>> 0];
}

describe('withHostAllocator: converted modules instantiated by glue that builds its own imports', () => {
  it('new WebAssembly.Instance (wasm-bindgen --target nodejs, napi-rs): Rust fixture, grows', async () => {
    const name = 'rustc-unknown';
    expect(getFixture(name).growth).toBe(true);
    const { bytes } = await transform(readFixture(name));
    const { result, heaps } = withHostAllocator(() => {
      const module = new WA.Module(bytes);
      return new WA.Instance(module, {});
    });
    expect(workloads(result)).toEqual(original(name));
    expect(heaps).toHaveLength(1);
    expect(heaps[0]!.stats().mallocs).toBeGreaterThan(0);
    expect(heaps[0]!.stats().grows).toBeGreaterThan(0);
    // Restored afterwards: a later instantiation is untouched (no host_* provided: a LinkError).
    expect(() => new WA.Instance(new WA.Module(bytes), {})).toThrow();
  });

  it('WebAssembly.instantiate (wasm-bindgen --target web): emcc fixture with other imports', async () => {
    const name = 'emcc-dlmalloc-O2-growth-names';
    const { bytes } = await transform(readFixture(name));
    const notified: number[] = [];
    const { result, heaps } = await withHostAllocator(() =>
      (
        globalThis as unknown as {
          WebAssembly: { instantiate(b: Uint8Array, i: object): Promise<{ instance: WasmInstance }> };
        }
      ).WebAssembly.instantiate(bytes, {
        env: { emscripten_notify_memory_growth: (i: number) => notified.push(i) },
      }),
    );
    expect(workloads(result.instance)).toEqual(original(name));
    expect(heaps).toHaveLength(1);
    expect(heaps[0]!.stats().grows).toBeGreaterThan(0);
    // The glue's emscripten_notify_memory_growth (found by name) is called after each growth.
    expect(notified.length).toBe(heaps[0]!.stats().grows);
  });

  it('modules that import no host_* are instantiated untouched', () => {
    const { result, heaps } = withHostAllocator(() => instantiateWith(readFixture('emcc-dlmalloc-O2-names')));
    expect(heaps).toHaveLength(0);
    expect(result.call('wl_mixed', 1) >>> 0).toBe(original('emcc-dlmalloc-O2-names')[0]);
  });

  it('hostImports() for a hand-written loader (wasm-bindgen --target bundler)', async () => {
    const name = 'rustc-unknown';
    const { bytes } = await transform(readFixture(name));
    const module = new WA.Module(bytes);
    const { imports, heap, attach } = hostImports(module, { './x_bg.js': {} });
    const instance = new WA.Instance(module, imports);
    attach(instance);
    expect(workloads(instance)).toEqual(original(name));
    expect(heap.stats().grows).toBeGreaterThan(0);
  });
});

interface BindgenPackage {
  id: string;
  /** Path of the .wasm inside the package. */
  wasm: string;
  /** The glue file `require` loads (the package's main). */
  main: string;
  /** A workload through the package's glue, returning what it computed (hashes, not pointers). */
  run(lib: never): unknown;
  /** The refusal expected, or null: converted and run through the glue. */
  code: string | null;
  why: RegExp;
}

type Photon = {
  PhotonImage: new (px: Uint8Array, w: number, h: number) => PhotonImage;
  grayscale(img: PhotonImage): void;
  gaussian_blur(img: PhotonImage, radius: number): void;
  resize(img: PhotonImage, w: number, h: number, filter: number): PhotonImage;
};
type PhotonImage = { get_raw_pixels(): Uint8Array; free(): void };

const BINDGEN: BindgenPackage[] = [
  {
    // wasm-bindgen 0.2.80, rustc 1.68, --target nodejs (also web and bundler, same code). Stripped:
    // Rust's dlmalloc of a newer rustc, no fingerprint; __wbindgen_malloc(size, align) calls it inlined.
    id: 'brotli-wasm',
    wasm: 'pkg.node/brotli_wasm_bg.wasm',
    main: 'pkg.node/brotli_wasm.js',
    run(brotli: {
      compress(b: Uint8Array, o?: { quality: number }): Uint8Array;
      decompress(b: Uint8Array): Uint8Array;
    }) {
      const input = new TextEncoder().encode('wasm-hostalloc '.repeat(5000));
      const c = brotli.compress(input, { quality: 9 });
      return { c: sha(c), same: sha(brotli.decompress(c)) === sha(input) };
    },
    // The allocator is found now (behind __wbindgen_malloc); user code reads chunk headers.
    code: 'HA024',
    why: /reads p-4/,
  },
  {
    // wasm-bindgen 0.2.95, rustc 1.86 nightly, --target nodejs, with names: Rust's
    // dlmalloc::Dlmalloc<A>::malloc/free take the allocator state first and no shim survives.
    id: '@silvia-odwyer/photon-node',
    wasm: 'photon_rs_bg.wasm',
    main: 'photon_rs.js',
    run(photon: Photon) {
      // 640x480 RGBA images (1.2 MB) outgrow the module's initial memory: the heap grows it.
      const out: string[] = [];
      for (const [w, h] of [
        [64, 48],
        [640, 480],
      ] as const) {
        const px = Uint8Array.from({ length: w * h * 4 }, (_, i) => (i * 37 + (i >> 11)) & 0xff);
        const img = new photon.PhotonImage(px, w, h);
        photon.grayscale(img);
        photon.gaussian_blur(img, 3);
        const half = photon.resize(img, w >> 1, h >> 1, 1);
        out.push(sha(img.get_raw_pixels()), sha(half.get_raw_pixels()));
        half.free();
        img.free();
      }
      return out;
    },
    // Converts since demangled Rust dlmalloc names are recognised.
    code: null,
    why: /./,
  },
];

describe('wasm-bindgen packages through their own glue', () => {
  for (const p of BINDGEN) {
    const title = p.code
      ? `${p.id}: the original runs; the transform refuses it (${p.code})`
      : `${p.id}: converted, it runs through its own glue (withHostAllocator) identically`;
    it(title, async () => {
      const original = p.run(require(join(NODE_MODULES, p.id, p.main)) as never);
      expect(original).toBeTruthy();
      const wasm = new Uint8Array(readFileSync(join(NODE_MODULES, p.id, p.wasm)));
      if (p.code) await expectRefusal(transform(wasm), p.code, p.why);
      else expect(await convertedRun(p, wasm)).toEqual(original);
    });
  }
});

/** Converts `p`'s wasm and runs `p.run` through the glue on it and the host heap (asserting its use). */
async function convertedRun(p: BindgenPackage, wasm: Uint8Array): Promise<unknown> {
  const { bytes, report } = await transform(wasm);
  expect(report.status).toBe('transformed');
  expect((await verify(bytes)).problems).toEqual([]);
  // The documented way: the .wasm converted in place (here in a copy), the glue required
  // inside withHostAllocator.
  const copy = copyPackage(p.id, { [p.wasm]: bytes });
  try {
    const { result, heaps } = withHostAllocator(() => require(join(copy.dir, p.main)) as unknown);
    expect(heaps).toHaveLength(1);
    const out = p.run(result as never);
    const s = heaps[0]!.stats();
    expect(s.mallocs).toBeGreaterThan(0);
    expect(s.grows).toBeGreaterThan(0);
    expect(s.errors).toBe(0);
    return out;
  } finally {
    copy.dispose();
  }
}
