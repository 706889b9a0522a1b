/**
 * @fileoverview --help and --version: goldens, and proof that they do not load binaryen (nor the
 * library): a module-resolution hook reports every binaryen/library resolution on stderr, and the
 * library's own WASM_HOSTALLOC_TRACE_LOAD=1 trace must stay silent.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE } from '../../src/transform/pipeline.js';
import {
  assemble,
  ensureBuilt,
  expectGolden,
  moduleWat,
  ROOT,
  removeTempDirs,
  runCli,
  tempDir,
} from './helpers.js';

afterAll(removeTempDirs);

let hookArgs: string[];
let dir: string;

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir();
  const hooks = path.join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (/node_modules\\/binaryen\\//.test(r.url)) writeSync(2, 'hook: binaryen resolved\\n');
  if (/\\/dist\\/src\\/index\\.js$/.test(r.url)) writeSync(2, 'hook: library resolved\\n');
  return r;
}
`,
  );
  const register = path.join(dir, 'register.mjs');
  writeFileSync(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`,
  );
  hookArgs = ['--import', register];
  writeFileSync(path.join(dir, 'm.wasm'), await assemble(moduleWat(1)));
});

const TRACE = { WASM_HOSTALLOC_TRACE_LOAD: '1' };

describe('help', () => {
  for (const [name, args] of [
    ['help', ['--help']],
    ['help-transform', ['transform', '--help']],
    ['help-inspect', ['inspect', '--help']],
    ['help-verify', ['verify', '--help']],
    ['help-passes', ['passes', '--help']],
  ] as const) {
    it(`${args.join(' ')} matches its golden and loads neither binaryen nor the library`, async () => {
      const r = await runCli(args, { env: TRACE, nodeArgs: hookArgs });
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expectGolden(name, r.stdout);
      expect(r.stdout).toContain('Examples:');
      expect(r.stdout).toContain('Exit status:');
    });
  }

  it('passes lists every step of the pipeline, in order, without loading binaryen', async () => {
    const r = await runCli(['passes'], { env: TRACE, nodeArgs: hookArgs });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expectGolden('passes', r.stdout);
    const listed = [...r.stdout.matchAll(/^ *\d+\. (\S+)/gm)].map((m) => m[1]);
    expect(listed).toEqual(PIPELINE.map((p) => p.name));
    const json = await runCli(['passes', '--json'], { env: TRACE, nodeArgs: hookArgs });
    expect(JSON.parse(json.stdout)).toEqual(PIPELINE);
  });

  it('no arguments prints the help on stderr and exits 2', async () => {
    const r = await runCli([], { env: TRACE, nodeArgs: hookArgs });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Commands:');
    expect(r.stderr).not.toContain('binaryen');
  });

  it('--version prints the package version without loading binaryen', async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag], { env: TRACE, nodeArgs: hookArgs });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${pkg.version}\n`);
      expect(r.stderr).toBe('');
    }
  });

  it('the load checks work: inspect does load binaryen (positive control)', async () => {
    const r = await runCli(['inspect', 'm.wasm'], { cwd: dir, env: TRACE, nodeArgs: hookArgs });
    expect(r.stderr).toContain('hook: binaryen resolved');
    expect(r.stderr).toContain('hook: library resolved');
    expect(r.stderr).toContain('binaryen loaded');
  });
});
