// What V8's optimising compiler does while a fresh process transforms a fixed workload: how many
// TurboFan compiles, how many of them compile a function again (after a deopt, or on-stack
// replacement beside a normal compile), the compile time they report, and each deopt's reason and
// source position. In the first runs of a process this compiling is most of the CPU time (the
// batch's second worker pays it again), so fewer compiles are a speed-up the wall clock hides in
// noise. Counts are steadier than times on a shared machine: compare them first.
//
//   node bench/lib/jit.mjs [--sql N] [--small N] [--top K] [--json]
//     --sql N    transforms of sql.js's debug build (770 KB) first (default 3)
//     --small N  then N transforms of the batch fixtures, round robin (default 96)
//     --top K    functions listed by compile time (default 25)
//     --json     one JSON document instead of text
//     --v8=FLAGS extra V8 flags for the child, space-separated (to try a flag's effect on compiling)
//
// It runs the workload in a child `node --trace-opt --trace-deopt-verbose` and parses that trace
// (V8 11's format, Node 20); only functions of the library (dist/src) are listed by name.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DIST, ROOT } from './common.mjs';

/** The batch fixtures of bench/run.ts. */
const SMALL = JSON.parse(readFileSync(join(ROOT, 'bench/lib/batch-fixtures.json'), 'utf8'));

if (process.argv[2] === '--child') {
  const [, , , sqlArg, smallArg] = process.argv;
  const lib = await import(pathToFileURL(join(DIST, 'src/index.js')).href);
  const sql = new Uint8Array(readFileSync(join(ROOT, 'node_modules/sql.js/dist/sql-wasm-debug.wasm')));
  for (let i = 0; i < Number(sqlArg); i++) await lib.transform(sql);
  const small = SMALL.map((f) => new Uint8Array(readFileSync(join(ROOT, 'fixtures/wasm', `${f}.wasm`))));
  for (let i = 0; i < Number(smallArg); i++) await lib.transform(small[i % small.length]);
  process.exit(0);
}

const { values } = parseArgs({
  options: {
    sql: { type: 'string', default: '3' },
    small: { type: 'string', default: '96' },
    top: { type: 'string', default: '25' },
    json: { type: 'boolean', default: false },
    v8: { type: 'string', default: '' },
  },
});

const child = spawnSync(
  process.execPath,
  [
    '--trace-opt',
    '--trace-deopt-verbose',
    ...values.v8.split(' ').filter((f) => f !== ''),
    new URL(import.meta.url).pathname,
    '--child',
    values.sql,
    values.small,
  ],
  { encoding: 'utf8', maxBuffer: 1 << 30 },
);
if (child.status !== 0) {
  process.stderr.write(child.stderr);
  process.exit(1);
}

/** `name (sfi = 0x…)` → one entry per shared function info. */
const fns = new Map();
const entry = (name, sfi) => {
  let e = fns.get(sfi);
  if (!e) {
    e = { name, compiles: 0, osr: 0, ms: 0, deopts: [] };
    fns.set(sfi, e);
  }
  return e;
};
const lines = child.stdout.split('\n');
let compiles = 0;
let totalMs = 0;
let deopts = 0;
for (let i = 0; i < lines.length; i++) {
  const line = lines[i];
  let m =
    /^\[completed compiling \S+ <JSFunction (\S*) \(sfi = (\w+)\)> \(target TURBOFAN\)( OSR)? - took [\d.]+, ([\d.]+), [\d.]+ ms/.exec(
      line,
    );
  if (m) {
    const e = entry(m[1] || '(anonymous)', m[2]);
    e.compiles++;
    if (m[3]) e.osr++;
    e.ms += Number(m[4]);
    compiles++;
    totalMs += Number(m[4]);
    continue;
  }
  m =
    /^\[bailout \(kind: ([\w-]+), reason: ([^)]*)\): begin\. deoptimizing \S+ <JSFunction (\S*) \(sfi = (\w+)\)>/.exec(
      line,
    );
  if (m) {
    deopts++;
    let at = '';
    for (let k = i + 1; k < Math.min(lines.length, i + 30); k++) {
      const d = /;;; deoptimize at <([^>]*)>/.exec(lines[k]);
      if (d) {
        at = d[1].replace(pathToFileURL(DIST).href, 'dist').replace(/^file:\/\/\S*node_modules\//, '');
        break;
      }
      if (lines[k].startsWith('[bailout')) break;
    }
    entry(m[3] || '(anonymous)', m[4]).deopts.push(`${m[2]} @ ${at}`);
  }
}

const all = [...fns.values()];
const repeated = all.reduce((s, e) => s + Math.max(0, e.compiles - 1), 0);
const repeatedMs = all.reduce((s, e) => s + (e.compiles > 1 ? (e.ms * (e.compiles - 1)) / e.compiles : 0), 0);
const top = all.sort((a, b) => b.ms - a.ms).slice(0, Number(values.top));
const summary = {
  workload: `${values.sql} x sql-wasm-debug.wasm, then ${values.small} batch fixtures`,
  functionsCompiled: all.filter((e) => e.compiles > 0).length,
  compiles,
  repeatedCompiles: repeated,
  compileMs: Math.round(totalMs),
  repeatedCompileMs: Math.round(repeatedMs),
  deopts,
};
if (values.json) {
  process.stdout.write(`${JSON.stringify({ ...summary, top })}\n`);
} else {
  for (const [k, v] of Object.entries(summary)) console.log(`${k}: ${v}`);
  console.log('\n  ms  compiles(osr) function / deopts');
  for (const e of top) {
    console.log(`${e.ms.toFixed(0).padStart(5)}  ${String(e.compiles).padStart(3)}(${e.osr})  ${e.name}`);
    for (const d of [...new Set(e.deopts)]) console.log(`             ${d}`);
  }
}
