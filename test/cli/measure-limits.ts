/**
 * @fileoverview Measures the CLI's per-file limits on the largest hostile inputs of issue 19 (not a
 * test: it takes minutes). Builds, in a temporary directory,
 *   - million.wasm: 999,990 functions (9 MB), which took 208 s and 3.2 GB before the limits;
 *   - code100.wasm: 100 MB of code in 1,000 function bodies, which took 85-149 s and 2.3-2.5 GB;
 * then runs the compiled CLI on each with the default limits (60 s, 2048 MiB) and prints the
 * outcome, the wall time and the peak RSS of the whole process (GNU time). Run with
 *   npm run build && node --import tsx test/cli/measure-limits.ts [--time-limit S] [--memory-limit MIB]
 * Figures are in docs/reliability.md ("Command line on untrusted input").
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { concat, HEADER, name, section, uleb, vec } from '../fuzz/bytes.js';
import { hostileModule } from '../reliability/build.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

/** `functions` bodies of `bodyBytes` bytes each (`i32.const 1; drop` repeated), plus malloc/free. */
function bigCode(functions: number, bodyBytes: number): Uint8Array {
  const types = vec([
    [0x60, ...vec([[0x7f]]), ...vec([[0x7f]])],
    [0x60, ...vec([[0x7f]]), ...vec([])],
    [0x60, 0, 0],
  ]);
  const funcs = vec([[0], [1], ...Array.from({ length: functions }, () => [2])]);
  const body = (b: number[] | Uint8Array) => concat([uleb(b.length), b]);
  const malloc = body([0x00, 0x20, 0x00, 0x0b]);
  const free = body([0x00, 0x0b]);
  const ops = Math.floor((bodyBytes - 2) / 3);
  const big = new Uint8Array(2 + ops * 3);
  big[0] = 0x00;
  for (let i = 0; i < ops; i++) big.set([0x41, 0x01, 0x1a], 1 + i * 3);
  big[big.length - 1] = 0x0b;
  const bigBody = body(big);
  const code = concat([
    uleb(functions + 2),
    malloc,
    free,
    ...Array.from({ length: functions }, () => bigBody),
  ]);
  const exports = vec([
    [...name('memory'), 0x02, 0],
    [...name('malloc'), 0x00, 0],
    [...name('free'), 0x00, 1],
    [...name('__heap_base'), 0x03, 1],
  ]);
  // A stack pointer and __heap_base, both 65536 (i32.const 65536 = 41 80 80 04).
  const globals = vec([
    [0x7f, 1, 0x41, 0x80, 0x80, 0x04, 0x0b],
    [0x7f, 0, 0x41, 0x80, 0x80, 0x04, 0x0b],
  ]);
  return concat([
    HEADER,
    section(1, types),
    section(3, funcs),
    section(5, vec([[0, 2]])),
    section(6, globals),
    section(7, exports),
    concat([[10, ...uleb(code.length)], code]),
  ]);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'measure-limits-'));
const extra = process.argv.slice(2);
try {
  const cases: [string, Uint8Array][] = [
    ['million.wasm', hostileModule({ extraFunctions: 999_988 })],
    ['code100.wasm', bigCode(1_000, 100_000)],
  ];
  for (const [file, bytes] of cases) {
    writeFileSync(path.join(dir, file), bytes);
    const load = os.loadavg()[0]!.toFixed(1);
    const t0 = Date.now();
    const r = spawnSync(
      '/usr/bin/time',
      ['-f', 'peak %M KB', process.execPath, CLI, 'transform', file, '--dry-run', ...extra],
      { cwd: dir, encoding: 'utf8' },
    );
    const out = `${r.stdout}${r.stderr}`;
    const s = ((Date.now() - t0) / 1000).toFixed(1);
    const lines = out.trim().split('\n');
    console.log(
      `${file} (${bytes.length.toLocaleString('en-US')} bytes), load ${load}: ${s} s, ${lines.join(' | ')}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
