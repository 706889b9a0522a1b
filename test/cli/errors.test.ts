/**
 * @fileoverview Every error the CLI can report, by code: exit status, `error[HA0xx]:` line (golden)
 * and no output left behind. Library messages are pinned by goldens too: re-bless them with
 * `BLESS=1 npx vitest run test/cli` when a message is reworded on purpose.
 */

import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assemble,
  ensureBuilt,
  expectGolden,
  goldenText,
  listFiles,
  moduleWat,
  removeTempDirs,
  runCli,
  tempDir,
} from './helpers.js';

afterAll(removeTempDirs);

let dir: string;

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir();
  const good = await assemble(moduleWat(7));
  writeFileSync(path.join(dir, 'a.wasm'), good);
  writeFileSync(path.join(dir, 'b.wasm'), good);
  writeFileSync(path.join(dir, 'notwasm.wasm'), 'this is not a WebAssembly module\n');
  writeFileSync(path.join(dir, 'truncated.wasm'), good.subarray(0, Math.floor(good.length / 2)));
  // A component: the magic number, then version 0x0d with layer 1.
  writeFileSync(path.join(dir, 'component.wasm'), new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]));
  writeFileSync(path.join(dir, 'bad-config.json'), JSON.stringify({ importModule: 'env', outputDir: 'x' }));
});

interface Case {
  name: string;
  args: string[];
  exit: number;
  /** The code in `error[...]`, or null for a usage error without a code. */
  code: string | null;
}

const CASES: Case[] = [
  { name: 'not-wasm', args: ['transform', 'notwasm.wasm'], exit: 1, code: 'HA001' },
  { name: 'truncated', args: ['transform', 'truncated.wasm'], exit: 1, code: 'HA002' },
  { name: 'component', args: ['transform', 'component.wasm'], exit: 1, code: 'HA003' },
  { name: 'inspect-not-wasm', args: ['inspect', 'notwasm.wasm'], exit: 1, code: 'HA001' },
  { name: 'verify-not-wasm', args: ['verify', 'notwasm.wasm'], exit: 1, code: 'HA001' },
  { name: 'missing-input', args: ['transform', 'missing.wasm'], exit: 1, code: 'HA050' },
  { name: 'inspect-missing-input', args: ['inspect', 'missing.wasm'], exit: 1, code: 'HA050' },
  { name: 'no-glob-match', args: ['verify', 'nothing/*.wasm'], exit: 1, code: 'HA050' },
  { name: 'missing-glue', args: ['transform', 'a.wasm', '--glue', 'missing.js'], exit: 1, code: 'HA031' },
  { name: 'bad-alloc-role', args: ['transform', 'a.wasm', '--alloc', 'mallocc=foo'], exit: 2, code: 'HA030' },
  { name: 'bad-alloc-shape', args: ['transform', 'a.wasm', '--alloc', 'malloc'], exit: 2, code: 'HA030' },
  {
    name: 'inspect-bad-alloc-role',
    args: ['inspect', 'a.wasm', '--alloc', 'new=foo'],
    exit: 2,
    code: 'HA030',
  },
  {
    name: 'output-two-inputs',
    args: ['transform', 'a.wasm', 'b.wasm', '-o', 'out.wasm'],
    exit: 2,
    code: 'HA030',
  },
  { name: 'output-directory-input', args: ['transform', '.', '-o', 'out.wasm'], exit: 2, code: 'HA030' },
  { name: 'no-destination', args: ['transform', 'a.wasm', 'b.wasm'], exit: 2, code: 'HA030' },
  {
    name: 'conflicting-modes',
    args: ['transform', 'a.wasm', '--in-place', '--dry-run'],
    exit: 2,
    code: 'HA030',
  },
  { name: 'bad-jobs', args: ['transform', 'a.wasm', '--dry-run', '--jobs', '0'], exit: 2, code: 'HA030' },
  { name: 'unknown-flag', args: ['transform', 'a.wasm', '--bogus'], exit: 2, code: null },
  { name: 'missing-positional', args: ['inspect'], exit: 2, code: null },
  {
    name: 'unknown-config-key',
    args: ['a.wasm', '--dry-run', '--config', 'bad-config.json'],
    exit: 2,
    code: 'HA030',
  },
];

describe('errors', () => {
  for (const c of CASES) {
    it(`${c.name}: exit ${c.exit}, ${c.code ?? 'usage error'}`, async () => {
      const before = listFiles(dir);
      const r = await runCli(c.args, { cwd: dir });
      expect(r.code).toBe(c.exit);
      expect(r.stderr).toMatch(c.code === null ? /^error: / : new RegExp(`^error\\[${c.code}\\]: `, 'm'));
      expectGolden(`error-${c.name}`, goldenText(r, dir));
      expect(listFiles(dir)).toEqual(before);
    });
  }

  it('a name --alloc gives that does not exist fails the file (library HA030), exit 1', async () => {
    const r = await runCli(
      ['transform', 'a.wasm', '--dry-run', '--json', '--alloc', 'malloc=no_such_export'],
      {
        cwd: dir,
      },
    );
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as { files: { status: string; error?: { code: string } }[] };
    expect(json.files[0]?.status).toBe('failed');
    expect(json.files[0]?.error?.code).toBe('HA030');
  });

  it('--json reports per-file errors with their code', async () => {
    const r = await runCli(
      ['transform', 'notwasm.wasm', 'truncated.wasm', 'component.wasm', '--dry-run', '--json'],
      {
        cwd: dir,
      },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const json = JSON.parse(r.stdout) as {
      files: { input: string; status: string; output: null; error: { code: string } }[];
      summary: { failed: number; files: number };
    };
    expect(json.files.map((f) => [f.input, f.status, f.error.code])).toEqual([
      ['notwasm.wasm', 'failed', 'HA001'],
      ['truncated.wasm', 'failed', 'HA002'],
      ['component.wasm', 'failed', 'HA003'],
    ]);
    expect(json.summary).toMatchObject({ files: 3, failed: 3 });
  });

  it('leaves no <name>.hostalloc.wasm for a failed single input', () => {
    expect(existsSync(path.join(dir, 'notwasm.hostalloc.wasm'))).toBe(false);
  });
});
