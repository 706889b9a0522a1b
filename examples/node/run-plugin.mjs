// Transforms a bundled fixture plugin with the wasm-hostalloc library, then runs it with the JS host
// allocator of `wasm-hostalloc/host`. Run from the repository root after `npm install` (or
// `npm run build`):
//
//   node examples/node/run-plugin.mjs [plugin.wasm]
//
// The imports go through the package's exports map ("wasm-hostalloc", "wasm-hostalloc/host"), as
// they would in a project that depends on wasm-hostalloc.
import { readFile } from 'node:fs/promises';
import { transform, verify } from 'wasm-hostalloc';
import { HostAllocatorError, instantiate } from 'wasm-hostalloc/host';

const input = process.argv[2] ?? new URL('../../fixtures/wasm/emcc-dlmalloc-O2-names.wasm', import.meta.url);
const original = await readFile(input);

// 1. Convert: the module's dlmalloc becomes env.host_malloc/host_free/... imports.
const { bytes, report } = await transform(original);
console.log(`transformed: ${report.inputSize} -> ${report.outputSize} bytes, imports ${report.imports.join(', ')}`);
const check = await verify(bytes);
console.log(`verify: ${check.compliant ? 'compliant' : 'NOT compliant'}, heap base ${check.heapBase}`);

// 2. Instantiate with the JS host allocator: it serves env.host_* and manages [__heap_base, end of memory).
const { instance, heap } = await instantiate(bytes);
const ex = instance.exports;
if (typeof ex._initialize === 'function') ex._initialize(); // reactors (wasi-libc, emcc standalone)

// 3. Run the plugin's own workload: ~400 malloc/calloc/realloc/free calls, all served by the host.
console.log(`wl_mixed(1) = ${ex.wl_mixed(1) >>> 0}`);

// 4. Pass a buffer in: the host allocates it, the plugin frees it (ownership crosses the boundary).
const text = new TextEncoder().encode('hello from the host');
const p = heap.malloc(text.length);
new Uint8Array(heap.memory.buffer, p, text.length).set(text);
console.log(`wl_input(...) = ${ex.wl_input(p, text.length) >>> 0}`);

// 5. Get a buffer out: the plugin allocates it, the host reads it and frees it.
const q = ex.wl_output(16);
console.log(`wl_output(16) = [${[...new Uint8Array(heap.memory.buffer, q, 16)].join(' ')}]`);
heap.free(q);

// 6. The host checks every free: a double free throws HostAllocatorError (HA103) instead of
//    corrupting the heap. From inside wasm the same throw traps the call.
try {
  heap.free(q);
} catch (e) {
  if (!(e instanceof HostAllocatorError)) throw e;
  console.log(`double free refused: ${e.code}`);
}

const s = heap.stats();
console.log(`heap: ${s.blocks} live blocks, peak ${s.peak} bytes, ${s.mallocs} mallocs, ${s.frees} frees, ${s.inBandOverhead} bytes of metadata in linear memory`);
