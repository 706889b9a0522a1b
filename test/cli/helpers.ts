/**
 * @fileoverview Helpers for the CLI tests: build dist/ once (under a lock, test files run in
 * parallel), run the compiled CLI as a child process, compare goldens, make small modules.
 *
 * Goldens live in test/cli/goldens/*.txt and are compared exactly; regenerate them with
 * `BLESS=1 npx vitest run test/cli` and review the diff.
 */

import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { WA } from '../../src/wasm-api.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');
export const GOLDENS = path.join(ROOT, 'test/cli/goldens');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

function isStale(): boolean {
  if (!existsSync(CLI)) return true;
  const built = statSync(CLI).mtimeMs;
  return newestMtime(path.join(ROOT, 'src')) > built;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Run `npm run build` when dist/ is missing or older than src/ (once across parallel test files). */
export function ensureBuilt(): void {
  if (!isStale()) return;
  const lock = path.join(os.tmpdir(), 'wasm-hostalloc-cli-test-build.lock');
  for (let waited = 0; ; waited += 100) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (waited > 120_000) rmSync(lock, { recursive: true, force: true });
      sleep(100);
    }
  }
  try {
    if (!isStale()) return;
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment for the child: no CI/colour/progress surprises, no inherited config switches. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
  delete env['WASM_HOSTALLOC_TRACE_LOAD'];
  delete env['WASM_HOSTALLOC_BACKTRACE'];
  Object.assign(env, extra);
  return env;
}

/** Run the compiled CLI. */
export function runCli(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; nodeArgs?: readonly string[] } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: cliEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Compare `actual` with test/cli/goldens/<name>.txt, or write it when BLESS=1. */
export function expectGolden(name: string, actual: string): void {
  const file = path.join(GOLDENS, `${name}.txt`);
  if (process.env['BLESS']) {
    mkdirSync(GOLDENS, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  if (!existsSync(file)) throw new Error(`missing golden ${file}; run BLESS=1 npx vitest run test/cli`);
  expect(actual, `golden ${name}.txt (BLESS=1 npx vitest run test/cli to update)`).toBe(
    readFileSync(file, 'utf8'),
  );
}

/** A run's exit status, stdout and stderr as one golden text; `dir` (a temp dir) becomes `<tmp>`. */
export function goldenText(r: RunResult, dir?: string): string {
  const text = `exit: ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
  return dir === undefined ? text : text.split(realpathSync(dir)).join('<tmp>').split(dir).join('<tmp>');
}

const tempDirs: string[] = [];

/** A fresh temporary directory, removed by {@link removeTempDirs} (unless KEEP_TMP=1). */
export function tempDir(prefix = 'wasm-hostalloc-cli-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Remove every directory tempDir() made; call from afterAll. */
export function removeTempDirs(): void {
  if (process.env['KEEP_TMP']) return;
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** WebAssembly.validate. */
export function validWasm(bytes: Uint8Array): boolean {
  return WA.validate(bytes);
}

/**
 * A small module in the shape wasm-ld emits: a stack pointer, static data, a bump allocator that
 * calls memory.grow, exported malloc/free, and user code calling them. `dataBytes` pads the data
 * segment (bigger files make the batch slower, for the kill test). Imports nothing.
 */
export function moduleWat(tag: number, dataBytes = 0): string {
  const pad = 'x'.repeat(dataBytes);
  return `(module
  (global $__stack_pointer (mut i32) (i32.const ${1024 * 1024}))
  (global $heap_top (mut i32) (i32.const ${1024 * 1024}))
  (memory $0 17)
  (data (i32.const 1024) "module ${tag}\\00${pad}")
  (export "memory" (memory $0))
  (export "malloc" (func $malloc))
  (export "free" (func $free))
  (export "use" (func $use))
  (func $malloc (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap_top))
    (global.set $heap_top
      (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 15)) (i32.const -16)))
    (if (i32.gt_u (global.get $heap_top) (i32.shl (memory.size) (i32.const 16)))
      (then (drop (memory.grow
        (i32.sub (i32.add (i32.shr_u (global.get $heap_top) (i32.const 16)) (i32.const 1)) (memory.size))))))
    (local.get $p))
  (func $free (param $p i32))
  (func $use (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (call $malloc (local.get $n)))
    (i32.store (local.get $p) (i32.const ${tag}))
    (call $free (local.get $p))
    (local.get $p))
)`;
}

/** Assemble WAT with binaryen (loaded here, in the test process, not in the CLI under test). */
export async function assemble(wat: string): Promise<Uint8Array> {
  const { default: binaryen } = await import('binaryen');
  const m = binaryen.parseText(wat);
  try {
    if (!m.validate()) throw new Error('test module does not validate');
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/** Every file under `dir` (relative paths, sorted). */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}
