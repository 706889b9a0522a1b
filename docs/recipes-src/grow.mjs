// Shows what happens to a converted plugin's memory when the heap grows (docs/faq.md, question 4):
//
//   node docs/recipes-src/grow.mjs plugin.wasm
//
// plugin.wasm is a converted fixture plugin (its wl_big(2) allocates about 30 MiB). The static data and
// the stack stay where the linker put them (__data_end and __heap_base do not change); the host
// appends pages at the end of memory, and a block allocated before the growth keeps its address and
// its contents.
import { readFile } from 'node:fs/promises';
import { instantiate } from 'wasm-hostalloc/host';

const { instance, heap } = await instantiate(await readFile(process.argv[2]));
const ex = instance.exports;
if (typeof ex._initialize === 'function') ex._initialize();
const pages = () => heap.memory.buffer.byteLength / 65536;
const layout = () => `__data_end ${Number(ex.__data_end.value)}, __heap_base ${Number(ex.__heap_base.value)}`;

const before = pages();
const block = heap.malloc(64);
new Uint8Array(heap.memory.buffer, block, 64).fill(0xab);
console.log(`before: ${before} pages, ${layout()}, a 64-byte block at ${block}`);

console.log(`wl_big(2) = ${ex.wl_big(2) >>> 0}`); // ~30 MiB of malloc/realloc/calloc through the host

const intact = new Uint8Array(heap.memory.buffer, block, 64).every((b) => b === 0xab);
console.log(`after:  ${pages()} pages, ${layout()}, grown ${heap.stats().grows} times`);
console.log(`the block is still at ${block}, contents ${intact ? 'intact' : 'CHANGED'}`);
heap.free(block);
