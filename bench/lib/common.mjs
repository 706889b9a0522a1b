// Helpers shared by the bench child scripts (plain ESM run by `node`, importing the built dist/).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The compiled library to measure: bench/run.ts passes its private build (see there). */
export const DIST = process.env.BENCH_DIST ?? join(ROOT, 'dist');

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** CPU time of this process so far (user + system, all threads), in ms. */
export function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Stubs for every function import of `module` not in `given` (emscripten_notify_memory_growth…). */
export function stubImports(module, given = {}) {
  const imports = {};
  for (const [ns, fields] of Object.entries(given)) imports[ns] = { ...fields };
  for (const imp of WebAssembly.Module.imports(module)) {
    imports[imp.module] ??= {};
    if (imp.kind === 'function' && !(imp.name in imports[imp.module]))
      imports[imp.module][imp.name] = () => 0;
  }
  return imports;
}

/** Prints one JSON document on stdout: the only output the parent reads. */
export function emit(value) {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
