// Items 4 and 5 of the benchmark: linear-memory footprint of the allocation workloads and
// malloc/free pairs per second, for the plugin on its own dlmalloc / emmalloc and after
// `transform` on the JS host allocator.
//   node bench/lib/alloc.mjs <dlmalloc.wasm> <emmalloc.wasm> <transformed.wasm> [samples]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST, emit, median, nowMs, stubImports } from './common.mjs';

const [dlPath, emPath, hostPath, samplesArg] = process.argv.slice(2);
const SAMPLES = Number(samplesArg ?? 7);
const { createHostAllocator } = await import(pathToFileURL(join(DIST, 'src/host/index.js')).href);

const modules = {
  dlmalloc: new WebAssembly.Module(readFileSync(dlPath)),
  emmalloc: new WebAssembly.Module(readFileSync(emPath)),
  host: new WebAssembly.Module(readFileSync(hostPath)),
};

// The plugin is an Emscripten build: its dlmalloc aligns to 8, so the host heap may use 8-byte small
// classes. A converter that records the alignment exports __hostalloc_align, which the heap reads by
// itself; for outputs without it the bench says granule 8 explicitly (BENCH_GRANULE overrides).
const hostExports = WebAssembly.Module.exports(modules.host).map((e) => e.name);
const GRANULE = process.env.BENCH_GRANULE
  ? Number(process.env.BENCH_GRANULE)
  : hostExports.includes('__hostalloc_align')
    ? undefined
    : 8;
const HOST_OPTIONS = GRANULE === undefined ? {} : { granule: GRANULE };

// Heap base of the originals: emcc puts the heap right after the stack, at the stack pointer's
// initial value; the transformed module exports it as __heap_base. The plugin reports it too.
function instantiate(kind) {
  const module = modules[kind];
  if (kind === 'host') {
    const heap = createHostAllocator(HOST_OPTIONS);
    const instance = new WebAssembly.Instance(module, stubImports(module, { env: heap.imports }));
    heap.attach(instance);
    instance.exports._initialize?.();
    return { instance, heap, heapBase: instance.exports.__heap_base.value };
  }
  const instance = new WebAssembly.Instance(module, stubImports(module));
  instance.exports._initialize?.();
  // emcc: the heap starts at the stack pointer's initial value (stackSave() at the top level)
  return { instance, heap: null, heapBase: instance.exports.stackSave() };
}

const WORKLOADS = [
  {
    name: 'small',
    fn: 'bench_small',
    n: 60000,
    what: '60,000 blocks of 8-64 B (75% <= 32 B), all live, freed shuffled',
  },
  { name: 'mixed', fn: 'bench_mixed', n: 200000, what: '200,000 replace steps over 4,096 slots, 8 B-64 KiB' },
  { name: 'large', fn: 'bench_large', n: 400, what: '400 blocks of 64 KiB-1 MiB, ring of 16 live' },
  {
    name: 'realloc',
    fn: 'bench_realloc',
    n: 200000,
    what: '512 buffers grown by realloc 1-512 B at a time up to 64 KiB',
  },
];

const memory = [];
for (const w of WORKLOADS) {
  const row = { workload: w.name, what: w.what, n: w.n, variants: {} };
  for (const kind of ['dlmalloc', 'emmalloc', 'host']) {
    const { instance, heap, heapBase } = instantiate(kind);
    const ex = instance.exports;
    const initialBytes = ex.memory.buffer.byteLength;
    ex.bench_reset(1);
    const t0 = nowMs();
    const checksum = ex[w.fn](w.n) >>> 0;
    const ms = nowMs() - t0;
    const v = {
      checksum,
      ms,
      initialMemoryBytes: initialBytes,
      peakMemoryBytes: ex.memory.buffer.byteLength,
      peakLiveRequested: ex.bench_peak_live() >>> 0,
    };
    v.heapBase = heapBase;
    if (heap) {
      const s = heap.stats();
      v.hostStats = {
        peak: s.peak,
        inUse: s.inUse,
        heapBase: s.heapBase,
        heapEnd: s.heapEnd,
        grows: s.grows,
        inBandOverhead: s.inBandOverhead,
        granule: s.granule,
        spans: s.spans,
        hostMetadataBytes: s.hostMetadataBytes,
      };
    }
    row.variants[kind] = v;
  }
  memory.push(row);
}

// Item 5: malloc/free pairs per second from wasm, bench_pairs(n, 1) as in test/native/bench.c.
const PAIRS = 100000;
const runners = {};
for (const kind of ['dlmalloc', 'host', 'emmalloc']) {
  const { instance } = instantiate(kind);
  runners[kind] = instance.exports.bench_pairs;
}
const checksums = {};
for (const [kind, f] of Object.entries(runners)) {
  for (let i = 0; i < 5; i++) checksums[kind] = f(PAIRS, 1) >>> 0; // warm-up (tier-up, heap growth)
}
const samples = { dlmalloc: [], host: [], emmalloc: [] };
// The same samples timed by this process's CPU time (process.cpuUsage): on a shared, loaded machine
// wall time also counts the time the process waited for a core; CPU time does not.
const cpuSamples = { dlmalloc: [], host: [], emmalloc: [] };
for (let s = 0; s < SAMPLES; s++) {
  for (const [kind, f] of Object.entries(runners)) {
    // one sample: calls until >= 150 ms
    let pairs = 0;
    const c0 = process.cpuUsage();
    const t0 = nowMs();
    let t = 0;
    do {
      f(PAIRS, 1);
      pairs += PAIRS;
      t = nowMs() - t0;
    } while (t < 150);
    const c = process.cpuUsage(c0);
    samples[kind].push((pairs / t) * 1000);
    cpuSamples[kind].push(pairs / ((c.user + c.system) / 1e6));
  }
}
const pairsPerSec = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, median(xs)]));
const cpuPairsPerSec = Object.fromEntries(Object.entries(cpuSamples).map(([k, xs]) => [k, median(xs)]));
emit({
  memory,
  granule: GRANULE ?? 'from __hostalloc_align',
  pairs: { pairsPerCall: PAIRS, samples, pairsPerSec, cpuSamples, cpuPairsPerSec, checksums },
});
