import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  createHostAllocator,
  HostAllocatorError,
  instantiate,
  type WasmInstance,
  type WasmModule,
} from '../../src/host/index.js';
import { plugin, W } from './wasm-builder.js';

interface PluginExports {
  alloc_write(size: number): number;
  release(p: number): void;
  load(p: number): number;
  churn(n: number): void;
}
interface WidePluginExports {
  alloc_write(size: bigint): bigint;
  release(p: bigint): void;
  load(p: number): number;
  churn(n: number): void;
}

const exportsOf = <T>(i: WasmInstance): T => i.exports as unknown as T;

function caught(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('host allocator with real wasm modules', () => {
  it('serves host_malloc/host_free from wasm; attach finds memory and __heap_base', async () => {
    const heap = createHostAllocator();
    const module = new W.Module(plugin({ abi: 1, heapBase: 5000 }));
    const instance = await W.instantiate(module, { env: { ...heap.imports } });
    expect(heap.attach(instance)).toBe(heap);
    expect(heap.attach(instance)).toBe(heap); // idempotent
    expect(heap.memory).toBe(instance.exports['memory']);
    const ex = exportsOf<PluginExports>(instance);
    const p = ex.alloc_write(100);
    expect(p).toBe(5008); // __heap_base aligned up to 16
    expect(ex.load(p)).toBe(0x12345678);
    expect(heap.usableSize(p)).toBe(112);
    const q = ex.alloc_write(0);
    expect(q).not.toBe(0);
    expect(q).not.toBe(p);
    expect(heap.stats()).toMatchObject({ blocks: 2, mallocs: 2, heapBase: 5008, inBandOverhead: 0 });
    ex.release(p);
    ex.release(q);
    ex.release(0); // free(NULL) is a no-op
    ex.churn(1000);
    expect(heap.stats()).toMatchObject({ blocks: 0, inUse: 0, freeBlocks: 1, mallocs: 1002, frees: 1002 });
  });

  it('a throw inside host_free propagates out of the wasm call as the HostAllocatorError itself', async () => {
    const { instance, heap } = await instantiate(plugin());
    const ex = exportsOf<PluginExports>(instance);
    const p = ex.alloc_write(64);
    ex.release(p);
    // V8 propagates a JS exception thrown by an import through the wasm frames unchanged: it is not
    // wrapped in a WebAssembly.RuntimeError.
    const e = caught(() => ex.release(p));
    expect(e).toBeInstanceOf(HostAllocatorError);
    expect(e).not.toBeInstanceOf(W.RuntimeError);
    expect((e as HostAllocatorError).code).toBe('HA103');
    const e2 = caught(() => ex.release(p + 16));
    expect((e2 as HostAllocatorError).code).toBe('HA103');
    const e3 = caught(() => ex.release(100)); // below __heap_base (1024)
    expect((e3 as HostAllocatorError).code).toBe('HA104');
    const e4 = caught(() => ex.release(-16)); // 0xfffffff0: beyond the end of memory
    expect((e4 as HostAllocatorError).code).toBe('HA105');
    // The heap is unchanged and still works.
    expect(heap.stats()).toMatchObject({ blocks: 0, freeBlocks: 1 });
    const r = ex.alloc_write(64);
    expect(r).toBe(p);
  });

  it('calls before attach throw HA101 (from JS and from wasm)', async () => {
    const heap = createHostAllocator();
    const instance = await W.instantiate(new W.Module(plugin()), { env: { ...heap.imports } });
    const ex = exportsOf<PluginExports>(instance);
    const e = caught(() => ex.alloc_write(8));
    expect(e).toBeInstanceOf(HostAllocatorError);
    expect((e as HostAllocatorError).code).toBe('HA101');
    expect((e as Error).message).toContain('call heap.attach(instance) after instantiation');
    expect((caught(() => heap.malloc(8)) as HostAllocatorError).code).toBe('HA101');
    heap.attach(instance);
    expect(ex.load(ex.alloc_write(8))).toBe(0x12345678);
  });

  it('imported memory: options.memory + options.heapBase, no attach needed', async () => {
    const memory = new W.Memory({ initial: 1, maximum: 16 });
    const heap = createHostAllocator({ memory, heapBase: 2048 });
    const module = new W.Module(plugin({ importMemory: true, noHeapBase: true }));
    const instance = await W.instantiate(module, { env: { ...heap.imports, memory } });
    const ex = exportsOf<PluginExports>(instance);
    const p = ex.alloc_write(70_000); // grows the imported memory
    expect(p).toBe(2048);
    expect(new DataView(memory.buffer).getUint32(p, true)).toBe(0x12345678);
    expect(heap.stats().grows).toBe(1);
    expect(heap.memory).toBe(memory);
  });

  it('instantiate(): supplies an imported memory, merges imports into the right namespace, takes a Module', async () => {
    const memory = new W.Memory({ initial: 1, maximum: 4 });
    const grown: number[] = [];
    const { instance, heap } = await instantiate(
      new W.Module(plugin({ importMemory: true, noHeapBase: true, importModule: 'hostalloc' })) as WasmModule,
      { env: {} },
      { memory, heapBase: 4096, onGrow: (m) => grown.push(m.buffer.byteLength) },
    );
    const ex = exportsOf<PluginExports>(instance);
    expect(ex.alloc_write(100)).toBe(4096);
    expect(ex.alloc_write(100_000)).not.toBe(0);
    expect(grown).toEqual([2 * 65536]);
    expect(heap.stats().blocks).toBe(2);
  });

  it('memory growth from wasm respects the maximum and returns 0 when exhausted', async () => {
    const { instance, heap } = await instantiate(plugin({ memory: { min: 1, max: 2 } }));
    const ex = exportsOf<PluginExports>(instance);
    const a = ex.alloc_write(100_000);
    expect(a).not.toBe(0);
    expect((instance.exports['memory'] as { buffer: ArrayBuffer }).buffer.byteLength).toBe(2 * 65536);
    expect(heap.malloc(100_000)).toBe(0);
    expect(heap.stats().grows).toBe(1);
  });

  it('i64 imports: BigInt in, BigInt out (memory64-style ABI, i64 __heap_base)', async () => {
    const { instance, heap } = await instantiate(plugin({ wide: true, heapBase: 3000 }));
    const ex = exportsOf<WidePluginExports>(instance);
    const p = ex.alloc_write(50n);
    expect(typeof p).toBe('bigint');
    expect(p).toBe(3008n);
    expect(ex.load(Number(p))).toBe(0x12345678);
    expect(heap.imports.host_usable_size(p)).toBe(64n);
    expect(heap.imports.host_calloc(2n, 8n)).toBeTypeOf('bigint');
    expect(heap.imports.host_aligned_alloc(4096n, 1n) % 4096n).toBe(0n);
    expect(heap.imports.host_realloc(0n, 10n)).toBeTypeOf('bigint');
    expect(heap.malloc(10n)).toBeTypeOf('bigint');
    ex.release(p);
    ex.churn(100);
    const e = caught(() => ex.release(p));
    expect((e as HostAllocatorError).code).toBe('HA103');
    expect(heap.stats().blocks).toBe(4);
  });

  it('memory64: a real memory64 module runs on the heap (in a child node with the memory64 flag)', () => {
    // Node 20 accepts memory64 only with --experimental-wasm-memory64; later versions without it.
    const engineHasMemory64 = W.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 4, 1]));
    const flag = engineHasMemory64 ? [] : ['--experimental-wasm-memory64'];
    const child = fileURLToPath(new URL('./memory64-child.ts', import.meta.url));
    const out = execFileSync(process.execPath, [...flag, '--import', 'tsx', child], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const r = JSON.parse(out) as Record<string, unknown>;
    expect(r).toEqual({
      p: '5008', // __heap_base 5000 aligned up to 16: the first span starts there
      loaded: 0x12345678,
      big: expect.any(String),
      bigLoaded: 0x12345678,
      small: expect.any(String),
      smallType: 'bigint',
      code: 'HA103',
      blocks: 2,
      grows: 1,
      mallocs: 1003,
      frees: 1001,
      errors: 1,
      pages: 6,
    });
    // The 300,000-byte block ends beyond the first page: the memory64 memory grew (pages: 6).
    expect(Number(r['big']) + 300_000).toBeGreaterThan(65536);
  });

  it('checks __hostalloc_abi: versions 1 and 2 accepted, others rejected with HA106', async () => {
    const heap = createHostAllocator();
    const bad = await W.instantiate(new W.Module(plugin({ abi: 3 })), { env: { ...heap.imports } });
    expect((caught(() => heap.attach(bad)) as HostAllocatorError).code).toBe('HA106');
    expect(heap.attached).toBe(false);
    await expect(instantiate(plugin({ abi: 7 }))).rejects.toMatchObject({ code: 'HA106' });
    await expect(instantiate(plugin({ abi: 1 }))).resolves.toBeDefined();
    await expect(instantiate(plugin({ abi: 2 }))).resolves.toBeDefined();
    await expect(instantiate(plugin({ abi: 0 }))).rejects.toMatchObject({ code: 'HA106' });
  });

  it('attach errors: no memory (HA107), no __heap_base (HA108), another memory (HA110)', async () => {
    const heap = createHostAllocator();
    const noHb = await W.instantiate(new W.Module(plugin({ noHeapBase: true })), {
      env: { ...heap.imports },
    });
    expect((caught(() => heap.attach(noHb)) as HostAllocatorError).code).toBe('HA108');
    const fake = { exports: {} } as WasmInstance;
    expect((caught(() => heap.attach(fake)) as HostAllocatorError).code).toBe('HA107');
    const one = await W.instantiate(new W.Module(plugin()), { env: { ...heap.imports } });
    heap.attach(one);
    const two = await W.instantiate(new W.Module(plugin()), { env: { ...heap.imports } });
    expect((caught(() => heap.attach(two)) as HostAllocatorError).code).toBe('HA110');
  });
});
