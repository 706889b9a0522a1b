/**
 * Child process of the memory64 host run in test/host/wasm.test.ts: Node 20 accepts memory64 modules
 * only with --experimental-wasm-memory64, so the test starts this script with it and asserts the
 * JSON this prints. Usage: node [--experimental-wasm-memory64] --import tsx memory64-child.ts
 */
import { instantiate, isHostAllocatorError } from '../../src/host/index.js';
import { plugin } from './wasm-builder.js';

interface Wide {
  alloc_write(size: bigint): bigint;
  release(p: bigint): void;
  load(p: number): number;
  churn(n: number): void;
  memory: { buffer: ArrayBuffer };
}

const { instance, heap } = await instantiate(
  plugin({ memory64: true, heapBase: 5000, memory: { min: 1, max: 64 } }),
);
const ex = instance.exports as unknown as Wide;
const p = ex.alloc_write(50n);
const loaded = ex.load(Number(p));
ex.churn(1000);
const big = ex.alloc_write(300_000n); // beyond the first page: the heap grows the memory64 memory
const bigLoaded = ex.load(Number(big));
const small = ex.alloc_write(24n);
ex.release(p);
let code = 'no error';
try {
  ex.release(p);
} catch (e) {
  code = isHostAllocatorError(e) ? e.code : `other: ${String(e)}`;
}
heap.allocator!.check();
const s = heap.stats();
process.stdout.write(
  `${JSON.stringify({
    p: String(p),
    loaded,
    big: String(big),
    bigLoaded,
    small: String(small),
    smallType: typeof small,
    code,
    blocks: s.blocks,
    grows: s.grows,
    mallocs: s.mallocs,
    frees: s.frees,
    errors: s.errors,
    pages: ex.memory.buffer.byteLength / 65536,
  })}\n`,
);
