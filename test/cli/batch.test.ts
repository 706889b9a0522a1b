/**
 * @fileoverview Batch behaviour of the compiled CLI: a directory of >= 100 modules with a corrupt
 * file, a non-wasm file, a refused and an already-compliant module; workers and in-process runs;
 * --json; --in-place; --dry-run; configuration files; SIGKILL in the middle of a batch; EPIPE.
 */

import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BYTES_PER_LANE, FILES_PER_LANE, laneCount } from '../../src/cli/batch.js';
import { hostileModule } from '../reliability/build.js';
import {
  assemble,
  CLI,
  cliEnv,
  ensureBuilt,
  listFiles,
  moduleWat,
  removeTempDirs,
  runCli,
  tempDir,
  validWasm,
} from './helpers.js';

afterAll(removeTempDirs);

/** A module with static data and a stack pointer but no allocator: transform must refuse it. */
const NO_ALLOCATOR = `(module
  (global $__stack_pointer (mut i32) (i32.const 1048576))
  (memory $0 17)
  (data (i32.const 1024) "no allocator here\\00")
  (export "memory" (memory $0))
  (export "answer" (func $answer))
  (func $answer (result i32) (i32.load (i32.const 1024)))
)`;

interface JsonFile {
  input: string;
  output: string | null;
  status: 'transformed' | 'already-compliant' | 'refused' | 'failed';
  report?: { status: string; inputSize: number; outputSize: number; importModule: string };
  error?: { code: string | null; message: string };
}
interface JsonReport {
  schema: number;
  files: JsonFile[];
  summary: {
    files: number;
    transformed: number;
    alreadyCompliant: number;
    refused: number;
    failed: number;
    bytesSaved: number;
  };
}

const GOOD = 100;
let good: Uint8Array;
let compliant: Uint8Array;
let refused: Uint8Array;
let corrupt: Uint8Array;
const NOT_WASM = 'not wasm at all\n';

/** in/ with GOOD good modules (in nested directories) plus one file of each other kind. */
function makeBatch(root: string): string {
  const input = path.join(root, 'in');
  for (let i = 0; i < GOOD; i++) {
    const sub = path.join(input, `group${i % 4}`, i % 3 === 0 ? 'deep' : '');
    mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, `m${String(i).padStart(3, '0')}.wasm`), good);
  }
  writeFileSync(path.join(input, 'compliant.wasm'), compliant);
  writeFileSync(path.join(input, 'no-allocator.wasm'), refused);
  writeFileSync(path.join(input, 'corrupt.wasm'), corrupt);
  writeFileSync(path.join(input, 'not-wasm.wasm'), NOT_WASM);
  writeFileSync(path.join(input, 'README.txt'), 'not an input: only *.wasm is picked up from directories');
  return input;
}

function snapshot(dir: string): Map<string, Buffer> {
  return new Map(listFiles(dir).map((f) => [f, readFileSync(path.join(dir, f))]));
}

function expectUnchanged(dir: string, before: Map<string, Buffer>): void {
  const after = snapshot(dir);
  expect([...after.keys()]).toEqual([...before.keys()]);
  for (const [f, bytes] of before) expect(after.get(f)?.equals(bytes), f).toBe(true);
}

const SUCCESSFUL = (f: string) =>
  !['corrupt.wasm', 'not-wasm.wasm', 'no-allocator.wasm', 'README.txt'].includes(f);

beforeAll(async () => {
  ensureBuilt();
  good = await assemble(moduleWat(42));
  refused = await assemble(NO_ALLOCATOR);
  corrupt = good.slice(0, good.length - 7);
  // The already-compliant module is the CLI's own output for a good one.
  const dir = tempDir();
  writeFileSync(path.join(dir, 'good.wasm'), good);
  const r = await runCli(['transform', 'good.wasm', '-o', 'compliant.wasm'], { cwd: dir });
  expect(r.stderr).toContain('1 file: 1 transformed');
  expect(r.code).toBe(0);
  compliant = readFileSync(path.join(dir, 'compliant.wasm'));
});

describe('batch', () => {
  it('transforms a directory of 104 files with workers: outputs exactly for the successful ones', async () => {
    const root = tempDir();
    const input = makeBatch(root);
    const before = snapshot(input);
    const r = await runCli(['transform', 'in', '--out-dir', 'out', '--jobs', '2', '--recycle-after', '20'], {
      cwd: root,
      env: { WASM_HOSTALLOC_TRACE_LOAD: '1' },
    });
    expect(r.code).toBe(1);
    // The main thread compiles binaryen's wasm; every worker (2 lanes, recycled every 20 files)
    // instantiates that module and imports the light copy of binaryen.js (src/binaryen/load.ts).
    expect(r.stderr).not.toMatch(/^binaryen loaded(?! \(light copy, compiled module given\)$)/m);
    expect(
      r.stderr.match(/^binaryen loaded \(light copy, compiled module given\)$/gm)?.length,
    ).toBeGreaterThanOrEqual(4);
    expect(r.stderr).toMatch(
      new RegExp(`^${GOOD + 4} files: ${GOOD} transformed, 1 already compliant, 1 refused, 2 failed; `, 'm'),
    );
    expect(r.stderr).toMatch(/^error\[HA001\]: in\/not-wasm\.wasm: /m);
    expect(r.stderr).toMatch(/^error\[HA002\]: in\/corrupt\.wasm: /m);
    expect(r.stderr).toMatch(/^error\[HA0(1\d|2[0-3])\]: in\/no-allocator\.wasm: /m);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('transformed  '))).toHaveLength(GOOD);

    expectUnchanged(input, before);
    const outputs = listFiles(path.join(root, 'out'));
    expect(outputs).toEqual([...before.keys()].filter(SUCCESSFUL));
    for (const f of outputs) {
      const bytes = readFileSync(path.join(root, 'out', f));
      expect(validWasm(bytes), f).toBe(true);
      if (f === 'compliant.wasm') expect(bytes.equals(compliant)).toBe(true);
    }
  });

  it('--json with --jobs 1 (in-process) gives the same outputs and a summary matching the files', async () => {
    const root = tempDir();
    const input = makeBatch(root);
    const r1 = await runCli(['transform', 'in', '--out-dir', 'out-workers', '-j', '2'], { cwd: root });
    expect(r1.code).toBe(1);
    const r = await runCli(
      [
        'transform',
        'in',
        '--out-dir',
        'out',
        '--json',
        '--jobs',
        '1',
        '--time-limit',
        '0',
        '--memory-limit',
        '0',
      ],
      { cwd: root },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const json = JSON.parse(r.stdout) as JsonReport;
    expect(json.schema).toBe(1);
    expect(json.files).toHaveLength(GOOD + 4);
    const count = (s: JsonFile['status']) => json.files.filter((f) => f.status === s).length;
    expect(json.summary).toEqual({
      files: GOOD + 4,
      transformed: count('transformed'),
      alreadyCompliant: count('already-compliant'),
      refused: count('refused'),
      failed: count('failed'),
      bytesSaved: json.files
        .filter((f) => f.status === 'transformed')
        .reduce((n, f) => n + f.report!.inputSize - f.report!.outputSize, 0),
    });
    expect(json.summary).toMatchObject({ transformed: GOOD, alreadyCompliant: 1, refused: 1, failed: 2 });
    const byInput = new Map(json.files.map((f) => [f.input, f]));
    expect(byInput.get('in/not-wasm.wasm')?.error?.code).toBe('HA001');
    expect(byInput.get('in/corrupt.wasm')?.error?.code).toBe('HA002');
    expect(byInput.get('in/compliant.wasm')).toMatchObject({
      status: 'already-compliant',
      output: 'out/compliant.wasm',
    });
    for (const f of json.files) {
      if (f.status === 'refused' || f.status === 'failed') {
        expect(f.output).toBeNull();
        expect(f.report).toBeUndefined();
      } else {
        expect(f.output).toBe(f.input.replace(/^in\//, 'out/'));
        // Worker and in-process runs produce the same bytes.
        const rel = path.relative('out', f.output!);
        expect(
          readFileSync(path.join(root, 'out', rel)).equals(readFileSync(path.join(root, 'out-workers', rel))),
        ).toBe(true);
      }
    }
    expect(listFiles(path.join(root, 'out'))).toEqual(listFiles(path.join(input, '..', 'out-workers')));
  });

  // A whole batch in a child process: at load 10+ on two cores it passed the default 60 s.
  it('--dry-run writes nothing and reports the same statuses', { timeout: 180_000 }, async () => {
    const root = tempDir();
    makeBatch(root);
    const before = snapshot(root);
    const r = await runCli(['transform', 'in/**/*.wasm', 'in', '--dry-run', '--json'], { cwd: root });
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as JsonReport;
    expect(json.summary).toMatchObject({ files: GOOD + 4, transformed: GOOD, alreadyCompliant: 1 });
    expect(json.files.every((f) => f.output === null)).toBe(true);
    expectUnchanged(root, before);
  });

  it('--in-place rewrites inputs atomically, keeps failed ones untouched, and a second run is a no-op', async () => {
    const root = tempDir();
    const dir = path.join(root, 'p');
    mkdirSync(dir);
    for (let i = 0; i < 5; i++) writeFileSync(path.join(dir, `m${i}.wasm`), good);
    writeFileSync(path.join(dir, 'not-wasm.wasm'), NOT_WASM);
    const r = await runCli(['transform', 'p', '--in-place', '-j', '2'], { cwd: root });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^6 files: 5 transformed, 0 already compliant, 0 refused, 1 failed; /m);
    expect(listFiles(dir)).toEqual(['m0.wasm', 'm1.wasm', 'm2.wasm', 'm3.wasm', 'm4.wasm', 'not-wasm.wasm']);
    expect(readFileSync(path.join(dir, 'not-wasm.wasm'), 'utf8')).toBe(NOT_WASM);
    const transformed = readFileSync(path.join(dir, 'm0.wasm'));
    expect(transformed.equals(Buffer.from(good))).toBe(false);
    for (let i = 0; i < 5; i++) expect(validWasm(readFileSync(path.join(dir, `m${i}.wasm`)))).toBe(true);

    const before = snapshot(dir);
    const again = await runCli(['transform', 'p/*.wasm', '--in-place', '--json'], { cwd: root });
    const json = JSON.parse(again.stdout) as JsonReport;
    expect(json.summary).toMatchObject({ files: 6, transformed: 0, alreadyCompliant: 5, failed: 1 });
    expectUnchanged(dir, before);

    const verify = await runCli(['verify', 'p/m0.wasm', 'p/m1.wasm'], { cwd: root });
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^p\/m0\.wasm: ok/m);
  });

  it('a single input without a destination writes <name>.hostalloc.wasm next to it', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'app.wasm'), good);
    const r = await runCli(['app.wasm'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^transformed {2}app\.wasm -> app\.hostalloc\.wasm /);
    expect(listFiles(dir)).toEqual(['app.hostalloc.wasm', 'app.wasm']);
    expect(readFileSync(path.join(dir, 'app.wasm')).equals(Buffer.from(good))).toBe(true);
  });

  it('reads options from wasm-hostalloc.config.json and package.json; flags win', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'app.wasm'), good);
    const importModule = async (args: string[] = []) => {
      const r = await runCli(['app.wasm', '--dry-run', '--json', ...args], { cwd: dir });
      expect(r.stderr).toBe('');
      return (JSON.parse(r.stdout) as JsonReport).files[0]?.report?.importModule;
    };
    expect(await importModule()).toBe('env');

    writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'x', 'wasm-hostalloc': { importModule: 'pkg' } }),
    );
    expect(await importModule()).toBe('pkg');

    writeFileSync(
      path.join(dir, 'wasm-hostalloc.config.json'),
      JSON.stringify({ importModule: 'cfg', jobs: 1 }),
    );
    expect(await importModule()).toBe('cfg');
    expect(await importModule(['--import-module', 'flag'])).toBe('flag');

    mkdirSync(path.join(dir, 'conf'));
    writeFileSync(path.join(dir, 'conf', 'other.json'), JSON.stringify({ importModule: 'other' }));
    expect(await importModule(['--config', 'conf/other.json'])).toBe('other');

    writeFileSync(
      path.join(dir, 'wasm-hostalloc.config.json'),
      JSON.stringify({ importModule: 'cfg', jobz: 2 }),
    );
    const bad = await runCli(['app.wasm', '--dry-run'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /^error\[HA030\]: wasm-hostalloc\.config\.json: unknown configuration key 'jobz'/,
    );

    writeFileSync(path.join(dir, 'wasm-hostalloc.config.json'), JSON.stringify({ alloc: { mallocc: 'x' } }));
    const badRole = await runCli(['app.wasm', '--dry-run'], { cwd: dir });
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toMatch(/^error\[HA030\]: unknown allocator role 'mallocc'/);
  });

  it('verify: ok for compliant files, problems for the others, exit 1 unless all compliant', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'compliant.wasm'), compliant);
    writeFileSync(path.join(dir, 'original.wasm'), good);
    const ok = await runCli(['verify', 'compliant.wasm'], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^compliant\.wasm: ok/);
    const both = await runCli(['verify', '.', '--json'], { cwd: dir });
    expect(both.code).toBe(1);
    const json = JSON.parse(both.stdout) as {
      files: { input: string; status: string; report: { compliant: boolean; problems: unknown[] } }[];
      summary: unknown;
    };
    expect(json.files.map((f) => [f.input, f.status])).toEqual([
      ['compliant.wasm', 'compliant'],
      ['original.wasm', 'not-compliant'],
    ]);
    expect(json.files[1]?.report.problems.length).toBeGreaterThan(0);
    expect(json.summary).toEqual({ files: 2, compliant: 1, notCompliant: 1, failed: 0 });
  });

  it('inspect --json prints the InspectReport (schema 1)', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'app.wasm'), good);
    const r = await runCli(['inspect', 'app.wasm', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      schema: number;
      size: number;
      family: { role: string }[];
      compliant: boolean;
    };
    expect(report.schema).toBe(1);
    expect(report.size).toBe(good.length);
    expect(report.family.map((m) => m.role).sort()).toEqual(['free', 'malloc']);
    expect(report.compliant).toBe(false);
    const text = await runCli(['inspect', 'app.wasm'], { cwd: dir });
    expect(text.code).toBe(0);
    for (const label of [
      'memory',
      'data segments',
      '__data_end',
      'stack pointer',
      'layout',
      'heap base',
      'allocator',
      'memory.grow',
      'hazards',
    ]) {
      expect(text.stdout).toMatch(new RegExp(`^${label.replace('.', '\\.')} +\\S`, 'm'));
    }
  });

  it('SIGKILL mid-batch: inputs intact, every final output complete', async () => {
    const root = tempDir();
    const input = path.join(root, 'in');
    mkdirSync(input);
    const big = await assemble(moduleWat(9, 300_000));
    for (let i = 0; i < 150; i++) writeFileSync(path.join(input, `b${String(i).padStart(3, '0')}.wasm`), big);
    const before = snapshot(input);
    const out = path.join(root, 'out');
    const child = spawn(process.execPath, [CLI, 'transform', 'in', '--out-dir', 'out', '-j', '2'], {
      cwd: root,
      env: cliEnv(),
      stdio: 'ignore',
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const finals = () =>
      existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('.wasm') && !f.startsWith('.')) : [];
    const deadline = Date.now() + 30_000;
    while (finals().length < 3 && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    const { signal } = await exited;
    expect(signal).toBe('SIGKILL');

    expectUnchanged(input, before);
    const written = finals();
    expect(written.length).toBeGreaterThanOrEqual(3);
    expect(written.length).toBeLessThan(150);
    for (const f of written) expect(validWasm(readFileSync(path.join(out, f))), f).toBe(true);
    // At most one temp file per job can be left by SIGKILL; none of them is a final output name.
    const temps = readdirSync(out).filter((f) => f.includes('.tmp-'));
    expect(temps.length).toBeLessThanOrEqual(2);
    for (const t of temps) expect(t).toMatch(/^\.b\d{3}\.wasm\.tmp-\d+-[0-9a-f]{8}$/);
  });

  it('SIGTERM mid-batch removes temp files', async () => {
    const root = tempDir();
    const input = path.join(root, 'in');
    mkdirSync(input);
    const big = await assemble(moduleWat(9, 300_000));
    for (let i = 0; i < 150; i++) writeFileSync(path.join(input, `b${String(i).padStart(3, '0')}.wasm`), big);
    const out = path.join(root, 'out');
    const child = spawn(process.execPath, [CLI, 'transform', 'in', '--out-dir', 'out', '-j', '1'], {
      cwd: root,
      env: cliEnv(),
      stdio: 'ignore',
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const deadline = Date.now() + 30_000;
    while ((!existsSync(out) || readdirSync(out).length < 3) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGTERM');
    const { code } = await exited;
    expect(code).toBe(143);
    const left = readdirSync(out);
    expect(left.filter((f) => f.includes('.tmp-'))).toEqual([]);
    for (const f of left) expect(validWasm(readFileSync(path.join(out, f))), f).toBe(true);
  });

  it('a file stopped by --time-limit mid-batch: the file posted behind it runs on the next worker, each is reported once', async () => {
    // Each lane keeps two files posted to its worker; when the first one hits the time limit the
    // worker is terminated, and the second, never run there, goes to the lane's next worker.
    const root = tempDir();
    const input = path.join(root, 'in');
    mkdirSync(input);
    const names: string[] = [];
    for (let i = 0; i < 12; i++) {
      const name = `m${String(i).padStart(2, '0')}.wasm`;
      names.push(name);
      writeFileSync(path.join(input, name), good);
    }
    // 600,002 functions, 5.4 MB: far beyond a 4 s limit (and big enough for two lanes).
    writeFileSync(path.join(input, 'm05-big.wasm'), hostileModule({ extraFunctions: 600_000 }));
    const r = await runCli(['transform', 'in', '--out-dir', 'out', '-j', '2', '--time-limit', '4'], {
      cwd: root,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^13 files: 12 transformed, 0 already compliant, 0 refused, 1 failed; /m);
    expect(r.stderr).toMatch(/^error\[HA033\]: in\/m05-big\.wasm: processing this file takes longer/m);
    const reported = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('transformed  '))
      .map((l) => /in\/(\S+)/.exec(l)?.[1]);
    expect(reported.sort()).toEqual(names);
    expect(listFiles(path.join(root, 'out'))).toEqual(names);
  }, 120_000);

  it('a closed stdout (EPIPE) ends the program quietly with status 0', async () => {
    const root = tempDir();
    makeBatch(root);
    cpSync(path.join(root, 'in'), path.join(root, 'in2'), { recursive: true });
    const child = spawn(process.execPath, [CLI, 'transform', 'in', 'in2', '--dry-run', '--json', '-j', '1'], {
      cwd: root,
      env: cliEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

describe('lanes', () => {
  it('a second lane starts only for a batch big enough to repay its binaryen.js load', () => {
    const MiB = 1024 * 1024;
    expect(laneCount(2, 1, 10 * MiB)).toBe(1);
    expect(laneCount(2, FILES_PER_LANE - 1, 100_000)).toBe(1);
    expect(laneCount(2, 2 * FILES_PER_LANE, 0)).toBe(2);
    expect(laneCount(2, 5, 2 * BYTES_PER_LANE)).toBe(2);
    expect(laneCount(4, 500, 15 * MiB)).toBe(4);
    expect(laneCount(8, 3, 100 * MiB)).toBe(3);
    expect(laneCount(1, 500, 100 * MiB)).toBe(1);
  });
});
