// Converts an Emscripten build that ships JS glue, then runs it through that glue on the JS host
// allocator of `wasm-hostalloc/host`. The fixture is the hardest case: closure-minified glue that
// creates the memory (1 MiB) and takes its views before instantiation. Run from the repository
// root after `npm install` (or `npm run build`):
//
//   node examples/node/emscripten-glue.mjs
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { transform } from 'wasm-hostalloc';
import { emscripten } from 'wasm-hostalloc/host';

const base = fileURLToPath(new URL('../../fixtures/glue/emcc-O3-closure-imported-memory', import.meta.url));
const wasm = await readFile(`${base}.wasm`);
const glue = await readFile(`${base}.cjs`, 'utf8');

// 1. Convert with the default options and the glue: malloc/free stay exported (the glue calls them),
//    and the report names the import the glue grows memory through, whatever its minified name.
const { bytes, report } = await transform(wasm, { glue });
const grow = report.growImport;
console.log(`converted: ${report.inputSize} -> ${report.outputSize} bytes, memory imported: ${report.layout.memory.imported !== null}`);
console.log(`grows through: ${grow.module}.${grow.name} (${grow.kind}: the glue's emscripten_resize_heap)`);

// 2. Run it through its own glue: one option on the Module object.
const createPlugin = createRequire(import.meta.url)(`${base}.cjs`);
const hook = emscripten(bytes, { growImport: grow });
const Module = await createPlugin({ instantiateWasm: hook });
console.log(`wl_mixed(1) = ${Module._wl_mixed(1) >>> 0}`);

// 3. Allocate 40 MiB from JS through the glue's _malloc: the host heap grows the glue's memory
//    through its resize function, so the glue's HEAPU8 always covers the blocks.
const blocks = [];
for (let i = 0; i < 10; i++) {
  const p = Module._malloc(4 << 20);
  Module.HEAPU8.fill(i + 1, p, p + (4 << 20));
  blocks.push(p);
}
const intact = blocks.every((p, i) => Module.HEAPU8[p] === i + 1 && Module.HEAPU8[p + (4 << 20) - 1] === i + 1);
for (const p of blocks) Module._free(p);
const s = hook.heap.stats();
console.log(`memory: 1 MiB -> ${Module.HEAPU8.length >> 20} MiB, ${hook.glueGrowths} growths through the glue, blocks intact: ${intact}`);
console.log(`heap: ${s.blocks} live blocks, ${s.mallocs} mallocs, ${s.frees} frees`);
