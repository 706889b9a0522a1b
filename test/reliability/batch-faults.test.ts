/**
 * Batch faults, against the compiled CLI (dist/src/cli/main.js; `npm run build` first):
 *  - SIGKILL at random points of a batch of BATCH_FAULT_FILES files (default 200; the 500-file run
 *    is `BATCH_FAULT_FILES=500 npx vitest run test/reliability/batch-faults.test.ts`, figures in
 *    docs/reliability.md): inputs untouched byte for byte, every output present is complete (equal
 *    to the output of an uninterrupted run) and valid, no partial `.wasm`; a rerun completes.
 *  - a full disk (2 MiB tmpfs): each file that does not fit is reported (HA050), exit status 1, a
 *    summary, no partial outputs, no temp files left.
 *  - a read-only output folder (tmpfs remounted read-only; root ignores chmod): inputs untouched,
 *    no outputs, exit status 1, every file reported (EROFS, also for folders still to be
 *    created), a summary.
 *  - the rerun after the kills removes the temp files they left.
 */

import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../fuzz/bytes.js';
import { WA } from '../harness/wasm.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const FILES = Number(process.env['BATCH_FAULT_FILES'] ?? 200);
/** Small fixtures that transform (plus one the transform refuses). */
const SOURCES = [
  'clang-wasi-c',
  'clang-wasi-c-stripped',
  'clang-wasi-cxx-heapbase',
  'emcc-dlmalloc-O2-names',
  'emcc-dlmalloc-Oz',
  'emcc-dlmalloc-O0-growth-names',
  'rustc-unknown',
  'clang-nostdlib-freelist-stripped', // refused (HA011): the batch reports it and goes on
];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; with `killAfterLines`, SIGKILLs it once it has reported that many files (plus jitter). */
function runCli(args: string[], killAfterLines?: number, jitterMs = 0): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: '1', NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    let armed = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (killAfterLines !== undefined && !armed && stdout.split('\n').length > killAfterLines) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), jitterMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

let work: string;
let inDir: string;
let inputHashes: Map<string, string>;
/** Expected output bytes (hash) per source fixture, from an uninterrupted run. */
const expected = new Map<string, string>();
const mounts: string[] = [];

function sourceOf(file: string): string {
  return file.replace(/^f\d+-/, '').replace(/\.wasm$/, '');
}

function makeInputs(dir: string, n: number, sources = SOURCES): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const src = sources[i % sources.length]!;
    copyFileSync(path.join(ROOT, 'fixtures/wasm', `${src}.wasm`), path.join(dir, `f${i}-${src}.wasm`));
  }
}

function hashDir(dir: string): Map<string, string> {
  return new Map(readdirSync(dir).map((f) => [f, sha(path.join(dir, f))]));
}

/** Every `.wasm` in `out` is valid and equal to the uninterrupted output of its source. */
function checkOutputs(out: string): { outputs: number; temps: string[]; bad: string[] } {
  const names = existsSync(out) ? readdirSync(out) : [];
  const temps = names.filter((f) => f.startsWith('.') && f.includes('.tmp-'));
  const bad: string[] = [];
  let outputs = 0;
  for (const f of names.filter((n) => n.endsWith('.wasm'))) {
    outputs++;
    const bytes = readFileSync(path.join(out, f));
    if (!WA.validate(bytes)) bad.push(`${f}: invalid`);
    const want = expected.get(sourceOf(f));
    if (want !== undefined && createHash('sha256').update(bytes).digest('hex') !== want)
      bad.push(`${f}: differs from the uninterrupted output (partial?)`);
  }
  // Anything else (not a hidden temp, not .wasm) would be a stray file.
  for (const f of names) if (!f.endsWith('.wasm') && !temps.includes(f)) bad.push(`${f}: unexpected file`);
  return { outputs, temps, bad };
}

function mountTmpfs(size: string): string | null {
  const dir = mkdtempSync(path.join(work, 'mnt-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    mounts.push(dir);
    return dir;
  } catch {
    return null;
  }
}

/** Fallback when tmpfs cannot be mounted: the output folder lies under a regular file (ENOTDIR). */
async function expectUnwritable(inputs: string, before: Map<string, string>, n: number): Promise<void> {
  const blocker = path.join(work, `blocker-${n}`);
  copyFileSync(path.join(ROOT, 'package.json'), blocker);
  const r = await runCli(['transform', inputs, '--out-dir', path.join(blocker, 'out'), '-j', '2']);
  expect(r.code).toBe(1);
  expect((r.stderr.match(/HA050/g) ?? []).length).toBe(n);
  expect(hashDir(inputs)).toEqual(before);
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  work = mkdtempSync(path.join(os.tmpdir(), 'batch-faults-'));
  inDir = path.join(work, 'in');
  makeInputs(inDir, FILES);
  inputHashes = hashDir(inDir);
  // One uninterrupted run over one copy of each source gives the expected outputs.
  const refIn = path.join(work, 'ref-in');
  const refOut = path.join(work, 'ref-out');
  makeInputs(refIn, SOURCES.length);
  const r = await runCli(['transform', refIn, '--out-dir', refOut, '-j', '2']);
  expect(r.code, r.stderr).toBe(1); // one source is refused on purpose
  for (const f of readdirSync(refOut)) expected.set(sourceOf(f), sha(path.join(refOut, f)));
  expect(expected.size).toBe(SOURCES.length - 1);
}, 120_000);

afterAll(() => {
  for (const m of mounts.reverse()) {
    try {
      execFileSync('umount', [m], { stdio: 'pipe' });
    } catch {
      // already unmounted
    }
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

describe(`batch faults (${FILES} files, compiled CLI)`, () => {
  it('SIGKILL at random points: inputs untouched, outputs complete and valid, a rerun completes', async () => {
    const out = path.join(work, 'out-kill');
    const rng = new Rng(0xba7c4);
    const figures: string[] = [];
    for (let round = 0; round < 3; round++) {
      // Kill after a random number of reported files (a random point mid-batch), plus 0-150 ms.
      const target = rng.range(1, Math.floor(FILES * (round === 2 ? 0.9 : 0.5)));
      const jitter = rng.int(150);
      const r = await runCli(['transform', inDir, '--out-dir', out, '-j', '2'], target, jitter);
      const c = checkOutputs(out);
      const reported = r.stdout.split('\n').filter((l) => l.startsWith('transformed')).length;
      figures.push(
        `killed after ${target} reported files + ${jitter} ms (${r.signal ?? `exit ${r.code}`}, ${reported} reported): ${c.outputs} outputs present, ${c.temps.length} temp files`,
      );
      expect(c.bad, figures.join('\n')).toEqual([]);
      expect(hashDir(inDir)).toEqual(inputHashes);
    }
    const done = await runCli(['transform', inDir, '--out-dir', out, '-j', '2']);
    const c = checkOutputs(out);
    figures.push(
      `rerun: exit ${done.code}, ${c.outputs} outputs, ${c.temps.length} temp files left by the killed runs`,
    );
    console.log(`batch-faults SIGKILL:\n  ${figures.join('\n  ')}`);
    expect(done.code, done.stderr.slice(-2000)).toBe(1); // the refused source
    expect(done.stderr).toMatch(/files?: \d+ transformed/);
    expect(c.bad).toEqual([]);
    // The rerun removed the temp files the killed runs left (their pid is gone).
    expect(c.temps).toEqual([]);
    const refused = Math.floor((FILES + 1) / SOURCES.length); // files 7, 15, … are the refused source
    expect(c.outputs).toBe(FILES - refused);
    expect(hashDir(inDir)).toEqual(inputHashes);
    // Temp files a SIGKILL leaves are hidden (.name.wasm.tmp-PID-RAND) and never end in .wasm.
    for (const t of c.temps) expect(t).toMatch(/^\..*\.wasm\.tmp-\d+-[0-9a-f]+$/);
  }, 300_000);

  it('a full disk: per-file failures, non-zero exit, a summary, no partial outputs, no temp files', async () => {
    const mnt = mountTmpfs('2m');
    const small = path.join(work, 'in-disk');
    // rustc-wasi outputs are ~50 KB: 60 of them do not fit in 2 MiB.
    makeInputs(small, 60, ['rustc-wasi']);
    const before = hashDir(small);
    if (mnt === null) {
      // mount failed: only acceptable when not root; emulate with an unwritable output path.
      expect(process.getuid?.(), 'mount -t tmpfs failed although we are root').not.toBe(0);
      await expectUnwritable(small, before, 60);
      return;
    }
    const out = path.join(mnt, 'out');
    const r = await runCli(['transform', small, '--out-dir', out, '-j', '2']);
    const c = checkOutputs(out);
    const failed = (r.stderr.match(/HA050/g) ?? []).length;
    console.log(
      `batch-faults full disk: exit ${r.code}, ${c.outputs} outputs, ${failed} HA050 reports, ${c.temps.length} temp files; summary: ${r.stderr.trim().split('\n').pop()}`,
    );
    expect(r.code).toBe(1);
    expect(failed).toBeGreaterThan(0);
    expect(c.outputs + failed).toBe(60);
    expect(r.stderr).toMatch(/ENOSPC|no space/i);
    expect(r.stderr.trim().split('\n').pop()).toMatch(/60 files: \d+ transformed, .*\d+ failed/);
    expect(c.bad).toEqual([]);
    expect(c.temps).toEqual([]);
    expect(hashDir(small)).toEqual(before);
  }, 120_000);

  it('a read-only output folder: inputs untouched, no outputs, every file reported, a summary', async () => {
    const mnt = mountTmpfs('4m');
    if (mnt === null) {
      const small = path.join(work, 'in-ro');
      makeInputs(small, 14, SOURCES.slice(0, 7));
      expect(process.getuid?.(), 'mount -t tmpfs failed although we are root').not.toBe(0);
      await expectUnwritable(small, hashDir(small), 14);
      return;
    }
    const out = path.join(mnt, 'out');
    mkdirSync(out);
    execFileSync('mount', ['-o', 'remount,ro', mnt], { stdio: 'pipe' });
    const small = path.join(work, 'in-ro');
    makeInputs(small, 14, SOURCES.slice(0, 7));
    const before = hashDir(small);
    const r = await runCli(['transform', small, '--out-dir', out, '-j', '2']);
    const c = checkOutputs(out);
    const summary = r.stderr.trim().split('\n').pop() ?? '';
    console.log(`batch-faults read-only: exit ${r.code}, ${c.outputs} outputs; summary: ${summary}`);
    expect(r.code).toBe(1);
    expect(c.outputs).toBe(0);
    expect(c.temps).toEqual([]);
    expect((r.stderr.match(/HA050/g) ?? []).length).toBe(14);
    expect(r.stderr).toMatch(/EROFS|read-only/i);
    expect(summary).toMatch(/14 files: 0 transformed, .*14 failed/);
    expect(hashDir(small)).toEqual(before);
    // An output folder still to be created on the read-only file system: EROFS, not ENOENT
    // (node's recursive mkdir reports ENOENT there).
    const deeper = await runCli(['transform', small, '--out-dir', path.join(out, 'new', 'dir'), '-j', '2']);
    expect(deeper.code).toBe(1);
    expect((deeper.stderr.match(/HA050/g) ?? []).length).toBe(14);
    expect(deeper.stderr).toMatch(/EROFS/);
    expect(deeper.stderr).not.toMatch(/ENOENT/);
  }, 120_000);
});
