/**
 * @fileoverview Child-process runner for memory64 modules on engines that need a flag for them
 * (Node 20: `--experimental-wasm-memory64`). Instantiates FILE with the JS host allocator under the
 * import module IMPORTS, attaches the heap, calls EXPORT with the bigint arguments and prints one
 * JSON line: the result and the heap's stats. Run as
 *   node --experimental-wasm-memory64 --import tsx test/harness/run-memory64.ts FILE IMPORTS EXPORT [ARG...]
 */

import { readFileSync } from 'node:fs';
import { createHostAllocator } from '../../src/host/index.js';
import { WA } from './wasm.js';

const [file, importModule, name, ...args] = process.argv.slice(2);
const heap = createHostAllocator();
const instance = new WA.Instance(new WA.Module(new Uint8Array(readFileSync(file!))), {
  [importModule!]: { ...heap.imports },
});
heap.attach(instance);
const fn = instance.exports[name!] as (...a: bigint[]) => number | bigint | undefined;
const result = fn(...args.map((a) => BigInt(a)));
process.stdout.write(
  `${JSON.stringify({ result: typeof result === 'bigint' ? result.toString() : (result ?? null), stats: heap.stats() })}\n`,
);
