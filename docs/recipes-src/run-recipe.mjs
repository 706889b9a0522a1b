// Runs a recipe plugin of docs/faq.md (built from docs/recipes-src/, then `wasm-hostalloc transform`)
// on the JS host allocator of `wasm-hostalloc/host`:
//
//   node docs/recipes-src/run-recipe.mjs plugin.wasm
//
// The host allocates a string for the plugin; the plugin's greet() allocates its answer (through its
// malloc, i.e. host_malloc), which the host reads and frees; consume() frees the host's string with the
// plugin's free (host_free). Freeing that string a second time is a double free: the host refuses it
// (HA103) instead of corrupting its heap.
import { readFile } from 'node:fs/promises';
import { verify } from 'wasm-hostalloc';
import { HostAllocatorError, instantiate } from 'wasm-hostalloc/host';

const file = process.argv[2];
if (!file) throw new Error('usage: run-recipe.mjs plugin.wasm');
const bytes = await readFile(file);
const check = await verify(bytes);
if (!check.compliant) throw new Error(`not compliant: ${check.problems.map((p) => p.message).join('; ')}`);

const { instance, heap } = await instantiate(bytes);
const ex = instance.exports;
if (typeof ex._initialize === 'function') ex._initialize();

const name = new TextEncoder().encode('plugin host');
const p = heap.malloc(name.length + 1);
new Uint8Array(heap.memory.buffer).set([...name, 0], p);
// C: greet(const char *name); Rust: greet(const u8 *name, usize len).
const q = ex.greet.length === 1 ? ex.greet(p) : ex.greet(p, name.length);
const bytesOut = new Uint8Array(heap.memory.buffer, q, 7 + name.length);
console.log(`greet: "${new TextDecoder().decode(bytesOut)}" at ${q >= check.heapBase ? 'a heap' : 'a static'} address`);
heap.free(q);
ex.consume(p, name.length); // the plugin frees p
console.log(`live blocks after consume: ${heap.stats().blocks}`);
try {
  heap.free(p);
} catch (e) {
  if (!(e instanceof HostAllocatorError)) throw e;
  console.log(`second free of the same block: ${e.code}`);
}
