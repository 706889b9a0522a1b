/**
 * @fileoverview The CLI on untrusted input (issue 19), against the compiled CLI: each case is a
 * finding of an attack on the CLI and failed before its fix.
 *  - symbolic links out of an input directory (`--in-place` rewrote a file outside; a link to `/`
 *    walked the filesystem), and a symbolic link inside --out-dir redirecting writes;
 *  - a destination that is an input (`transform in/p.wasm --out-dir in`), an out dir that contains
 *    the input directory;
 *  - names and file names printed raw (terminal escape sequences, forged lines);
 *  - stale temp files of a killed run never cleaned;
 *  - per-file time and memory limits of the workers (HA033), the batch going on after them;
 *  - `--glue auto` taking wasm-bindgen's NAME_bg.js for Emscripten glue (HA031);
 *  - `--drop-exports` / `--keep-exports`.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WA } from '../../src/wasm-api.js';
import { concat, name, uleb, vec } from '../fuzz/bytes.js';
import { hostileModule } from '../reliability/build.js';
import { assemble, ensureBuilt, listFiles, moduleWat, removeTempDirs, runCli, tempDir } from './helpers.js';

afterAll(removeTempDirs);

let good: Uint8Array;

beforeAll(async () => {
  ensureBuilt();
  good = await assemble(moduleWat(5));
});

/** `bytes` with a name section naming function `index` `fname`. */
function withFunctionName(bytes: Uint8Array, index: number, fname: string): Uint8Array {
  const sub = vec([[...uleb(index), ...name(fname)]]);
  const payload = [...name('name'), 1, ...uleb(sub.length), ...sub];
  return concat([bytes, [0, ...uleb(payload.length)], payload]);
}

/** The exports of a module. */
function exportNames(bytes: Uint8Array): string[] {
  return WA.Module.exports(new WA.Module(bytes)).map((e) => e.name);
}

interface JsonOut {
  files: { input: string; output: string | null; status: string; error?: { code: string | null } }[];
}

describe('symbolic links', () => {
  it('a link out of an input directory is not followed: --in-place leaves the file outside untouched', async () => {
    const root = tempDir();
    mkdirSync(path.join(root, 'in'));
    mkdirSync(path.join(root, 'victim'));
    writeFileSync(path.join(root, 'in', 'own.wasm'), good);
    writeFileSync(path.join(root, 'victim', 'secret.wasm'), good);
    symlinkSync('../victim', path.join(root, 'in', 'link'));
    symlinkSync('../victim/secret.wasm', path.join(root, 'in', 'file-link.wasm'));
    const r = await runCli(['transform', 'in', '--in-place'], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: skipped in\/link: a symbolic link out of its input directory/m);
    expect(r.stderr).toMatch(/^warning: skipped in\/file-link\.wasm: /m);
    expect(r.stderr).toMatch(/^1 file: 1 transformed/m);
    expect(
      Buffer.from(readFileSync(path.join(root, 'victim', 'secret.wasm'))).equals(Buffer.from(good)),
    ).toBe(true);
    expect(Buffer.from(readFileSync(path.join(root, 'in', 'own.wasm'))).equals(Buffer.from(good))).toBe(
      false,
    );
  });

  it('--follow-symlinks follows them (the user vouches for the tree)', async () => {
    const root = tempDir();
    mkdirSync(path.join(root, 'in'));
    mkdirSync(path.join(root, 'victim'));
    writeFileSync(path.join(root, 'victim', 'secret.wasm'), good);
    symlinkSync('../victim', path.join(root, 'in', 'link'));
    const r = await runCli(['transform', 'in', '--dry-run', '--json', '--follow-symlinks'], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as JsonOut).files.map((f) => f.input)).toEqual(['in/link/secret.wasm']);
  });

  it('a link inside the tree is followed, and a link cycle ends', async () => {
    const root = tempDir();
    mkdirSync(path.join(root, 'in', 'a'), { recursive: true });
    writeFileSync(path.join(root, 'in', 'a', 'x.wasm'), good);
    symlinkSync('../a', path.join(root, 'in', 'a', 'loop'));
    symlinkSync('a', path.join(root, 'in', 'alias'));
    const r = await runCli(['transform', 'in', '--dry-run', '--json', '--follow-symlinks'], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    // One file, reached three ways: processed once.
    expect((JSON.parse(r.stdout) as JsonOut).files).toHaveLength(1);
  });

  it('a link to / inside an input directory is skipped at once instead of walking the filesystem', async () => {
    const root = tempDir();
    mkdirSync(path.join(root, 'in'));
    writeFileSync(path.join(root, 'in', 'own.wasm'), good);
    symlinkSync('/', path.join(root, 'in', 'rootfs'));
    const t0 = Date.now();
    const r = await runCli(['verify', 'in', '--json'], { cwd: root });
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r.code).toBe(1); // own.wasm is not compliant
    const json = JSON.parse(r.stdout) as JsonOut;
    expect(json.files.map((f) => f.input)).toEqual(['in/own.wasm']);
  });

  it('a glob does not follow a link out of its fixed prefix', async () => {
    const root = tempDir();
    mkdirSync(path.join(root, 'in'));
    mkdirSync(path.join(root, 'victim'));
    writeFileSync(path.join(root, 'in', 'own.wasm'), good);
    writeFileSync(path.join(root, 'victim', 'secret.wasm'), good);
    symlinkSync('../victim', path.join(root, 'in', 'link'));
    const r = await runCli(['transform', 'in/**/*.wasm', '--dry-run', '--json'], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as JsonOut).files.map((f) => f.input)).toEqual(['in/own.wasm']);
  });

  it('a symbolic link inside --out-dir does not redirect a write outside it (HA050)', async () => {
    const root = tempDir();
    mkdirSync(path.join(root, 'in', 'sub'), { recursive: true });
    mkdirSync(path.join(root, 'out'));
    mkdirSync(path.join(root, 'elsewhere'));
    writeFileSync(path.join(root, 'in', 'top.wasm'), good);
    writeFileSync(path.join(root, 'in', 'sub', 'deep.wasm'), good);
    symlinkSync('../elsewhere', path.join(root, 'out', 'sub'));
    const r = await runCli(['transform', 'in', '--out-dir', 'out', '--json'], { cwd: root });
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as JsonOut;
    const byInput = new Map(json.files.map((f) => [f.input, f]));
    expect(byInput.get('in/sub/deep.wasm')?.error?.code).toBe('HA050');
    expect(byInput.get('in/top.wasm')?.status).toBe('transformed');
    expect(listFiles(path.join(root, 'elsewhere'))).toEqual([]);
    expect(existsSync(path.join(root, 'out', 'top.wasm'))).toBe(true);
  });
});

describe('destinations', () => {
  it('transform in/p.wasm --out-dir in is refused (HA030): the input is never overwritten', async () => {
    const root = tempDir();
    mkdirSync(path.join(root, 'in'));
    writeFileSync(path.join(root, 'in', 'p.wasm'), good);
    for (const args of [
      ['transform', 'in/p.wasm', '--out-dir', 'in'],
      ['transform', 'in/p.wasm', '-o', 'in/p.wasm'],
      ['transform', 'in/p.wasm', '-o', './in/../in/p.wasm'],
      ['transform', 'in/p.wasm', '-o', 'in'],
    ]) {
      const r = await runCli(args, { cwd: root });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(
        /^error\[HA030\]: the output .* (is|contains) the input in\/p\.wasm: inputs are never overwritten/m,
      );
      expect(Buffer.from(readFileSync(path.join(root, 'in', 'p.wasm'))).equals(Buffer.from(good))).toBe(true);
    }
  });

  it('an -o through a symbolic link to the input is refused too', async () => {
    const root = tempDir();
    writeFileSync(path.join(root, 'p.wasm'), good);
    symlinkSync('.', path.join(root, 'same'));
    const r = await runCli(['transform', 'p.wasm', '-o', 'same/p.wasm'], { cwd: root });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error\[HA030\]: /m);
    expect(Buffer.from(readFileSync(path.join(root, 'p.wasm'))).equals(Buffer.from(good))).toBe(true);
  });

  it('an out dir that contains the input directory: the inputs are found and outputs go under it', async () => {
    const root = tempDir();
    mkdirSync(path.join(root, 'work', 'in'), { recursive: true });
    writeFileSync(path.join(root, 'work', 'in', 'a.wasm'), good);
    const r = await runCli(['transform', 'work/in', '--out-dir', 'work', '--json'], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as JsonOut;
    expect(json.files.map((f) => [f.input, f.output])).toEqual([['work/in/a.wasm', 'work/a.wasm']]);
    expect(listFiles(root)).toEqual(['work/a.wasm', 'work/in/a.wasm']);
  });
});

describe('terminal output', () => {
  it('control characters in function names and file names are escaped in human output', async () => {
    const dir = tempDir();
    const evil = '\u001b]0;pwned\u0007\u001b[32mtransformed  fake.wasm (ok)\u001b[0m\nforged line';
    writeFileSync(path.join(dir, 'named.wasm'), withFunctionName(good, 0, evil));
    const inspect = await runCli(['inspect', 'named.wasm'], { cwd: dir });
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(inspect.stdout).toContain(
      '\\x1b]0;pwned\\x07\\x1b[32mtransformed  fake.wasm (ok)\\x1b[0m\\nforged line',
    );
    expect(inspect.stdout).not.toMatch(/^forged line/m);
    // --json keeps the exact name (JSON escapes it).
    const json = await runCli(['inspect', 'named.wasm', '--json'], { cwd: dir });
    expect(json.stdout).toContain(JSON.stringify(evil).slice(1, -1));

    const fileName = 'x\u001b[2J\rfake\u202e.wasm';
    writeFileSync(path.join(dir, fileName), good);
    writeFileSync(path.join(dir, 'bad\u001b[31m.wasm'), 'not wasm');
    const r = await runCli(['transform', fileName, 'bad\u001b[31m.wasm', '--dry-run'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u202e]/);
    expect(r.stdout).toContain('transformed  x\\x1b[2J\\rfake\\u202e.wasm (dry run)');
    expect(r.stderr).toMatch(/^error\[HA001\]: bad\\x1b\[31m\.wasm: /m);
  });
});

describe('temp files', () => {
  it('temp files of a killed run are removed by the next run writing there; a live writer’s are kept', async () => {
    const root = tempDir();
    mkdirSync(path.join(root, 'in'));
    mkdirSync(path.join(root, 'out'));
    writeFileSync(path.join(root, 'in', 'a.wasm'), good);
    // A pid that is certainly not running any more: a child that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const deadPid = Number(dead.stdout);
    expect(deadPid).toBeGreaterThan(0);
    const stale = `.a.wasm.tmp-${deadPid}-0123abcd`;
    const live = `.a.wasm.tmp-${process.pid}-89abcdef`;
    const unrelated = '.a.wasm.tmp-notours';
    for (const f of [stale, live, unrelated]) writeFileSync(path.join(root, 'out', f), 'partial');
    const r = await runCli(['transform', 'in', '--out-dir', 'out'], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect(listFiles(path.join(root, 'out'))).toEqual([live, unrelated, 'a.wasm'].sort());
  });
});

describe('per-file limits (HA033)', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
    // 600,002 functions, 5.4 MB: far above the limits below (200,000 took 2 to 4 s on an idle core
    // once the pointer flow got faster, too close to a 4 s limit).
    writeFileSync(path.join(dir, 'big.wasm'), hostileModule({ extraFunctions: 600_000 }));
    writeFileSync(path.join(dir, 'small.wasm'), good);
  });

  it('--time-limit: the worker is stopped, the file fails with HA033, the next file is processed', async () => {
    const t0 = Date.now();
    const r = await runCli(
      // 4 s: far below big.wasm's time, far above small.wasm's ~0.3 s even on a loaded machine.
      ['transform', 'big.wasm', 'small.wasm', '--dry-run', '--json', '-j', '1', '--time-limit', '4'],
      {
        cwd: dir,
      },
    );
    const ms = Date.now() - t0;
    const json = JSON.parse(r.stdout) as JsonOut;
    expect(r.code).toBe(1);
    expect(json.files.map((f) => [f.input, f.status, f.error?.code ?? null])).toEqual([
      ['big.wasm', 'failed', 'HA033'],
      ['small.wasm', 'transformed', null],
    ]);
    expect(ms).toBeLessThan(60_000);
  }, 120_000);

  it('--memory-limit: the file fails with HA033 instead of growing the process', async () => {
    const r = await runCli(
      [
        'transform',
        'big.wasm',
        'small.wasm',
        '--dry-run',
        '--json',
        '-j',
        '1',
        '--time-limit',
        '0',
        '--memory-limit',
        '96',
      ],
      { cwd: dir },
    );
    const json = JSON.parse(r.stdout) as JsonOut;
    expect(r.code).toBe(1);
    expect(json.files.map((f) => [f.input, f.status, f.error?.code ?? null])).toEqual([
      ['big.wasm', 'failed', 'HA033'],
      ['small.wasm', 'transformed', null],
    ]);
  }, 180_000);

  it('inspect has the same limits', async () => {
    const r = await runCli(['inspect', 'big.wasm', '--time-limit', '2'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error\[HA033\]: big\.wasm: processing this file takes longer than the per-file time limit/m,
    );
  }, 120_000);

  it('--memory-limit below what binaryen.js needs is a usage error', async () => {
    const r = await runCli(['transform', 'small.wasm', '--dry-run', '--memory-limit', '8'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error\[HA030\]: --memory-limit 8 is below/m);
  });
});

describe('--glue auto', () => {
  it("ignores wasm-bindgen's NAME_bg.js next to NAME_bg.wasm instead of failing with HA031", async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'lib_bg.wasm'), good);
    writeFileSync(
      path.join(dir, 'lib_bg.js'),
      `let wasm;\nexport function __wbg_set_wasm(val) { wasm = val; }\nexport function greet(a) { return wasm.greet(a); }\n`,
    );
    const r = await runCli(['transform', '.', '--glue', 'auto', '--dry-run', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as JsonOut).files[0]?.status).toBe('transformed');
  });
});

describe('--drop-exports', () => {
  it('--drop-exports removes the family exports, --keep-exports keeps them; both together is HA030', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a.wasm'), good);
    const drop = await runCli(['transform', 'a.wasm', '-o', 'drop.wasm', '--drop-exports'], { cwd: dir });
    expect(drop.code, drop.stderr).toBe(0);
    const keep = await runCli(['transform', 'a.wasm', '-o', 'keep.wasm', '--keep-exports'], { cwd: dir });
    expect(keep.code, keep.stderr).toBe(0);
    expect(exportNames(readFileSync(path.join(dir, 'drop.wasm')))).not.toContain('malloc');
    expect(exportNames(readFileSync(path.join(dir, 'keep.wasm')))).toEqual(
      expect.arrayContaining(['malloc', 'free']),
    );
    const both = await runCli(['transform', 'a.wasm', '--dry-run', '--drop-exports', '--keep-exports'], {
      cwd: dir,
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(
      /^error\[HA030\]: --drop-exports and --keep-exports cannot be used together/m,
    );
  });
});
