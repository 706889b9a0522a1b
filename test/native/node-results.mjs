// Node side of the native tests (run with `node --import tsx`, it reuses test/harness/*.ts):
//
//   list                                  fixtures as TSV: name, file, growth, glue(0/1), reference(0/1)
//   expected <fixture> [out.json]         runs the ORIGINAL fixture in Node on its own allocator
//                                         (harness runOriginal) and prints its WorkloadResults JSON
//   transform <in.wasm> <out.wasm>        transforms with the built library (dist/src/index.js);
//                                         exit 4 when the library is not built, 5 when it refuses
//                                         the module (message on stderr)
//   prepare <todo.tsv> <dir>              for every fixture name in the first column of todo.tsv, in
//                                         one process (binaryen loads once): <dir>/<name>/transformed.wasm
//                                         (+ .report.json) or <dir>/<name>/transform.status
//                                         ("skip: refused …" / "fail: …"), and <dir>/<name>/expected.json
//                                         or <dir>/<name>/expected.err
//   compare <expected.json> <native.jsonl> <label>
//                                         compares the driver's JSON lines with the expected results;
//                                         exit 1 on any difference, error line or missing workload
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const [mode, ...args] = process.argv.slice(2);

async function harness() {
  const run = await import(pathToFileURL(join(ROOT, 'test/harness/run.ts')).href);
  const fixtures = await import(pathToFileURL(join(ROOT, 'test/harness/fixtures.ts')).href);
  return { run, fixtures };
}

if (mode === 'list') {
  const { fixtures } = await harness();
  for (const f of fixtures.loadManifest().fixtures) {
    const glue = f.glue !== undefined && f.glue !== null ? 1 : 0;
    process.stdout.write(
      `${f.name}\t${fixtures.fixturePath(f)}\t${f.growth ? 1 : 0}\t${glue}\t${f.reference ? 1 : 0}\n`,
    );
  }
} else if (mode === 'expected') {
  const { run, fixtures } = await harness();
  const results = await run.runOriginal(fixtures.getFixture(args[0]));
  const text = `${JSON.stringify(results)}\n`;
  if (args[1]) writeFileSync(args[1], text);
  else process.stdout.write(text);
} else if (mode === 'transform') {
  const lib = join(ROOT, 'dist/src/index.js');
  if (!existsSync(lib)) {
    console.error(`library not built: ${lib} missing (npm run build)`);
    process.exit(4);
  }
  const { transform, isHostAllocError } = await import(pathToFileURL(lib).href);
  const input = new Uint8Array(readFileSync(args[0]));
  let result;
  try {
    result = await transform(input);
  } catch (e) {
    // A documented refusal (HostAllocError with a code) is a skip; anything else is a crash.
    const refused = typeof isHostAllocError === 'function' ? isHostAllocError(e) : e?.code !== undefined;
    console.error(`${e?.code ?? e?.name ?? 'error'}: ${e?.message ?? e}`);
    process.exit(refused ? 5 : 1);
  }
  writeFileSync(args[1], result.bytes);
  writeFileSync(`${args[1]}.report.json`, `${JSON.stringify(result.report, null, 2)}\n`);
} else if (mode === 'prepare') {
  const lib = join(ROOT, 'dist/src/index.js');
  if (!existsSync(lib)) {
    console.error(`library not built: ${lib} missing (npm run build)`);
    process.exit(4);
  }
  const { transform, isHostAllocError } = await import(pathToFileURL(lib).href);
  const { run, fixtures } = await harness();
  const names = readFileSync(args[0], 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t')[0]);
  for (const name of names) {
    const dir = join(args[1], name);
    mkdirSync(dir, { recursive: true });
    const entry = fixtures.getFixture(name);
    try {
      const { bytes, report } = await transform(new Uint8Array(readFileSync(fixtures.fixturePath(entry))));
      writeFileSync(join(dir, 'transformed.wasm'), bytes);
      writeFileSync(join(dir, 'transformed.wasm.report.json'), `${JSON.stringify(report, null, 2)}\n`);
    } catch (e) {
      const refused = typeof isHostAllocError === 'function' ? isHostAllocError(e) : e?.code !== undefined;
      const msg = `${e?.code ?? e?.name ?? 'error'}: ${String(e?.message ?? e).split('\n')[0]}`;
      writeFileSync(
        join(dir, 'transform.status'),
        `${refused ? 'skip: refused by transform' : 'fail: transform crashed'}: ${msg}\n`,
      );
    }
    try {
      const results = await run.runOriginal(entry);
      writeFileSync(join(dir, 'expected.json'), `${JSON.stringify(results)}\n`);
    } catch (e) {
      writeFileSync(join(dir, 'expected.err'), `${e?.stack ?? e}\n`);
    }
  }
} else if (mode === 'compare') {
  const expected = JSON.parse(readFileSync(args[0], 'utf8'));
  const lines = readFileSync(args[1], 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const got = {};
  const problems = [];
  for (const line of lines) {
    let obj;
    try {
      obj = JSON.parse(line);
    } catch {
      problems.push(`unparsable line: ${line}`);
      continue;
    }
    if ('error' in obj) problems.push(`driver: ${obj.error}`);
    if ('workload' in obj) got[obj.workload] = obj.result;
  }
  for (const [k, v] of Object.entries(expected)) {
    if (!(k in got)) problems.push(`${k}: missing natively`);
    else if (JSON.stringify(got[k]) !== JSON.stringify(v))
      problems.push(`${k}: native ${JSON.stringify(got[k])} != node ${JSON.stringify(v)}`);
  }
  if (problems.length > 0) {
    for (const p of problems) console.error(`  ${args[2] ?? ''}: ${p}`);
    process.exit(1);
  }
} else {
  console.error('usage: node --import tsx node-results.mjs list|expected|transform|prepare|compare ...');
  process.exit(2);
}
