// Item 1 of the benchmark, in one process: the library's transform() of one module against the
// floor, binaryen.js's own readBinary + validate + emitBinary of the same bytes (same features and
// name-section setting as the transform uses). Runs are interleaved (floor, transform, floor, …)
// after one untimed warm-up of each, so drift hits both sides alike. Each run is timed by the wall
// clock and by the CPU time of the process (user + system, all threads: V8's compiler and GC
// threads included), which other work on a shared machine disturbs far less than the wall clock.
//   node bench/lib/transform-time.mjs <in.wasm> <runs> <mode: transform|force> [warm-ups, default 1]
// mode transform: transform(bytes) (a refusal is timed up to the throw and reported as such);
// mode force: transform(bytes, { force: true }).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuMs, DIST, emit, median, nowMs } from './common.mjs';

const [file, runsArg, mode = 'transform', warmArg = '1'] = process.argv.slice(2);
const RUNS = Number(runsArg ?? 5);
/** Untimed runs of each side first: one by default; more for the steady state of V8's JIT. */
const WARMUPS = Number(warmArg);
const lib = await import(pathToFileURL(join(DIST, 'src/index.js')).href);
const bmod = await import(pathToFileURL(join(DIST, 'src/binaryen/module.js')).href);
const t0 = nowMs();
const b = await bmod.loadBinaryen();
const loadMs = nowMs() - t0;
const bytes = new Uint8Array(readFileSync(file));
const names = WebAssembly.Module.customSections(new WebAssembly.Module(bytes), 'name').length > 0;

function floor() {
  const { result: mod } = bmod.captureOutput(() => b.readBinary(bytes));
  try {
    mod.setFeatures(bmod.baseFeatures(b, {}));
    if (!bmod.captureOutput(() => mod.validate()).result) throw new Error('floor: module does not validate');
    const prev = b.getDebugInfo();
    b.setDebugInfo(names);
    try {
      return mod.emitBinary().length;
    } finally {
      b.setDebugInfo(prev);
    }
  } finally {
    mod.dispose();
  }
}

async function subject() {
  try {
    const r = await lib.transform(bytes, mode === 'force' ? { force: true } : {});
    return { outcome: 'transformed', size: r.bytes.length, warnings: r.report.warnings.length };
  } catch (e) {
    if (!lib.isHostAllocError(e)) throw e;
    return { outcome: `refused ${e.code}`, size: 0 };
  }
}

for (let i = 1; i < WARMUPS; i++) {
  floor();
  await subject();
}
floor();
const first = await subject();
const floorMs = [];
const transformMs = [];
const floorCpuMs = [];
const transformCpuMs = [];
for (let i = 0; i < RUNS; i++) {
  let t = nowMs();
  let c = cpuMs();
  floor();
  floorMs.push(nowMs() - t);
  floorCpuMs.push(cpuMs() - c);
  t = nowMs();
  c = cpuMs();
  const r = await subject();
  transformMs.push(nowMs() - t);
  transformCpuMs.push(cpuMs() - c);
  if (r.outcome !== first.outcome) throw new Error(`outcome changed: ${first.outcome} -> ${r.outcome}`);
}
emit({
  file,
  mode,
  inputBytes: bytes.length,
  names,
  outcome: first.outcome,
  outputBytes: first.size,
  binaryenLoadMs: loadMs,
  floorMs,
  transformMs,
  floorMedianMs: median(floorMs),
  transformMedianMs: median(transformMs),
  floorCpuMs,
  transformCpuMs,
  floorCpuMedianMs: median(floorCpuMs),
  transformCpuMedianMs: median(transformCpuMs),
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
});
