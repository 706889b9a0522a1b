// Converts a napi-rs wasm32-wasi package and runs it through its own loader (`*.wasi.cjs`, which
// instantiates the module when required) on the JS host allocator of `wasm-hostalloc/host`:
// @napi-rs/snappy-wasm32-wasi, a devDependency of this repository. Run from the repository root
// after `npm install` (or `npm run build`):
//
//   node examples/node/napi-glue.mjs
//
// In your project you would convert the package's .wasm in place (`wasm-hostalloc transform
// <file> --allow-shared --in-place`); this example converts a copy so that node_modules stays as is.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { HostAllocError, transform } from 'wasm-hostalloc';
import { withHostAllocator } from 'wasm-hostalloc/host';

const require = createRequire(import.meta.url);
const pkg = dirname(require.resolve('@napi-rs/snappy-wasm32-wasi'));
const wasmFile = 'snappy.wasm32-wasi.wasm';
const wasm = readFileSync(join(pkg, wasmFile));

// 1. napi-rs builds are wasm32-wasip1-threads: the memory is shared, and the default refuses that.
try {
  await transform(wasm);
} catch (e) {
  if (!(e instanceof HostAllocError)) throw e;
  console.log(`default: ${e.code}, ${e.message}`);
}

// 2. allowShared converts it, for a host that makes every allocation from one thread.
const { bytes } = await transform(wasm, { allowShared: true });
console.log(`allowShared: ${wasm.length} -> ${bytes.length} bytes`);

// 3. The converted .wasm in place of the original (here in a copy whose node_modules is ours),
//    then the loader required inside withHostAllocator: it gets env.host_* and a heap.
const root = mkdtempSync(join(tmpdir(), 'napi-glue-'));
symlinkSync(join(pkg, '..', '..'), join(root, 'node_modules'), 'dir'); // the loader's runtime packages
cpSync(pkg, join(root, 'snappy'), { recursive: true });
writeFileSync(join(root, 'snappy', wasmFile), bytes);
const original = require(pkg);
const { result: snappy, heaps } = withHostAllocator(() => require(join(root, 'snappy')));

// 4. The synchronous API runs on the main thread, on the host heap. (The async API, compress() and
//    uncompress(), runs in the loader's worker threads, which instantiate the module without
//    host_*: the worker fails to link and the process ends.)
const input = Buffer.from('wasm-hostalloc converts napi-rs packages\n'.repeat(20000));
const c = snappy.compressSync(input);
const same = Buffer.compare(c, original.compressSync(input)) === 0;
const roundTrip = Buffer.compare(snappy.uncompressSync(c), input) === 0;
console.log(`compressSync: ${input.length} -> ${c.length} bytes, same as the original: ${same}, round trip: ${roundTrip}`);
const s = heaps[0].stats();
console.log(`heap: base ${s.heapBase}, ${s.mallocs} mallocs, ${s.errors} errors`);
rmSync(root, { recursive: true, force: true });
