/**
 * @fileoverview The documentation cannot rot: every command shown in a ```sh block of README.md,
 * CONTRIBUTING.md and docs/*.md is run, and must exit 0 or the status the doc states (`# exit 1`).
 * Blocks that cannot run here carry a `<!-- doc-test: skip (reason) -->` marker (syntax:
 * test/docs/markdown.ts). A skipped block is never counted as a passing test: it is registered as a
 * skipped one (vitest lists it with its reason), and a test checks that the marker has a reason.
 *
 * Two suites share this file:
 *   - `npm test` runs every block without a marker. Blocks marked `skip (needs emcc, …)` build
 *     with a toolchain; they are listed as skipped.
 *   - `npm run test:recipes` (DOC_TEST_TOOLCHAINS=1) runs only the `needs …` blocks, each when all
 *     the commands it names are installed (the others are listed as skipped): the toolchain
 *     recipes of docs/faq.md and docs/toolchains.md, built for real. It needs the toolchains, npm
 *     test never does; the committed outputs of those recipes are tested by test/docs/recipes.test.ts.
 *
 * How commands run: each doc file gets a sandbox directory (the working directory of its commands)
 * holding symlinks to the repository's fixtures/, examples/, docs/, and the placeholder inputs the
 * docs use (app.wasm + app.js, lib.wasm, build/, plugins/: copies of fixtures). `wasm-hostalloc`
 * and `npx wasm-hostalloc` run the compiled CLI of this checkout (`npx` of the package's own bin,
 * without npm's start-up cost; one test runs the real `npx` in the repository); `/tmp/` in a command
 * becomes `<sandbox>/tmp/`, so runs never collide and nothing is written into the repository.
 * `npm install && ` / `npm ci && ` before a command are dropped: the suite runs after them.
 */

import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt, ROOT } from './cli/helpers.js';
import { type Block, readBlocks } from './docs/markdown.js';

const DOC_FILES = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
].filter((f) => existsSync(path.join(ROOT, f)));

/** `npm run test:recipes`: run the blocks that need a toolchain, and only those. */
const TOOLCHAINS = process.env['DOC_TEST_TOOLCHAINS'] === '1';

/** Placeholder inputs of the docs' examples, copied from fixtures. */
const PLACEHOLDERS: Record<string, string> = {
  'app.wasm': 'emcc-dlmalloc-O2-names.wasm',
  'app.js': 'emcc-O3-glue.cjs',
  'lib.wasm': 'emcc-dlmalloc-O2-names.wasm',
  'build/a/x.wasm': 'emcc-O3-glue.wasm',
  'build/a/x.js': 'emcc-O3-glue.cjs',
  'build/b/y.wasm': 'clang-wasi-c-heapbase.wasm',
  'plugins/one/p.wasm': 'rustc-unknown.wasm',
  'plugins/two/q.wasm': 'emcc-dlmalloc-Oz.wasm',
};

/** `<root>/work` is the commands' working directory, `<root>/tmp` stands for /tmp. */
function makeSandbox(): { root: string; work: string; tmp: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'wasm-hostalloc-docs-'));
  const work = path.join(root, 'work');
  const tmp = path.join(root, 'tmp');
  mkdirSync(work);
  mkdirSync(tmp);
  for (const d of ['fixtures', 'examples', 'docs']) symlinkSync(path.join(ROOT, d), path.join(work, d));
  for (const [to, from] of Object.entries(PLACEHOLDERS)) {
    mkdirSync(path.dirname(path.join(work, to)), { recursive: true });
    copyFileSync(path.join(ROOT, 'fixtures/wasm', from), path.join(work, to));
  }
  mkdirSync(path.join(root, 'bin'));
  writeFileSync(path.join(root, 'bin/wasm-hostalloc'), `#!/bin/sh\nexec node '${CLI}' "$@"\n`, {
    mode: 0o755,
  });
  return { root, work, tmp };
}

const PRELUDE = `exec 2>&1
npx() { if [ "$1" = wasm-hostalloc ]; then shift; wasm-hostalloc "$@"; else command npx "$@"; fi; }
`;

interface Run {
  status: number | null;
  output: string;
}

function runCommand(sb: { root: string; work: string; tmp: string }, text: string): Promise<Run> {
  const cmd = text.replace(/^\s*npm (?:install|ci) && /, '').replaceAll('/tmp/', `${sb.tmp}/`);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', PRELUDE + cmd], {
      cwd: sb.work,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        PATH: `${sb.root}/bin:${process.env['PATH']}`,
        CI: '1',
        NO_COLOR: '1',
        NODE_NO_WARNINGS: '1',
      },
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output: output.replaceAll(`${sb.tmp}/`, '/tmp/') });
    });
  });
}

function needs(reason: string): string[] | null {
  const m = /^needs\s+(.+)$/.exec(reason);
  return m ? m[1]!.split(/[\s,]+/).filter((t) => /^[\w./+-]+$/.test(t)) : null;
}

function hasCommand(cmd: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${cmd}`]).status === 0;
}

const where = (b: Block, line = b.line) => `${b.file}:${line}`;

beforeAll(() => ensureBuilt());

describe('doc blocks are well formed', () => {
  it('covers README.md, CONTRIBUTING.md and docs/*.md', () => {
    expect(DOC_FILES).toEqual(expect.arrayContaining(['README.md', 'docs/abi.md', 'docs/cli.md']));
  });

  for (const file of DOC_FILES) {
    it(`${file}: shell commands are only in \`\`\`sh blocks, markers are used where they apply`, () => {
      const blocks = readBlocks(ROOT, file);
      for (const [i, b] of blocks.entries()) {
        expect(
          ['bash', 'shell', 'console', 'shell-session', 'zsh'],
          `${where(b)}: use \`\`\`sh`,
        ).not.toContain(b.lang);
        if (b.marker?.kind === 'output') {
          expect(blocks[i - 1]?.lang, `${where(b)}: an output block follows a sh block`).toBe('sh');
        }
        if (b.marker?.kind === 'skip') {
          expect(b.lang, `${where(b)}: skip markers are for sh blocks`).toBe('sh');
          expect(b.marker.reason.length, `${where(b)}: a skip needs a reason`).toBeGreaterThan(3);
        }
      }
    });
  }
});

describe('doc blocks that mirror files', () => {
  for (const file of DOC_FILES) {
    for (const b of readBlocks(ROOT, file)) {
      const marker = b.marker;
      if (marker?.kind !== 'file') continue;
      it(`${where(b)} is ${marker.path}`, () => {
        const actual = readFileSync(path.join(ROOT, marker.path), 'utf8').trimEnd();
        expect(b.body.trimEnd()).toBe(actual);
      });
    }
  }
});

/**
 * One test per doc file, all files at once (each command is a child process, mostly waiting for
 * binaryen.js to load); within a file, blocks and commands run in order in the file's sandbox.
 */
describe('doc commands', () => {
  const sandboxes: string[] = [];
  afterAll(() => {
    for (const sb of sandboxes) rmSync(sb, { recursive: true, force: true });
  });

  for (const file of DOC_FILES) {
    const blocks = readBlocks(ROOT, file);
    const runnable: Block[] = [];
    for (const b of blocks) {
      if (b.lang !== 'sh') continue;
      const skip = b.marker?.kind === 'skip' ? b.marker.reason : null;
      const tools = skip ? needs(skip) : null;
      const missing = tools?.filter((t) => !hasCommand(t)) ?? [];
      if (TOOLCHAINS ? tools && missing.length === 0 : !skip) {
        runnable.push(b);
      } else if (TOOLCHAINS ? tools : skip) {
        // Listed, never counted as passing.
        const why = TOOLCHAINS ? `not installed: ${missing.join(', ')}` : skip;
        it.skip(`${where(b)} not run (${why})`, () => {});
      }
    }
    if (runnable.length === 0) continue;
    it.concurrent(`${file}: ${runnable.length} sh blocks run as documented`, async () => {
      const sb = makeSandbox();
      sandboxes.push(sb.root);
      for (const b of runnable) {
        const next = blocks[blocks.indexOf(b) + 1];
        const expected = next?.marker?.kind === 'output' ? next.body : null;
        let output = '';
        for (const c of b.commands) {
          const r = await runCommand(sb, c.text);
          output += r.output;
          expect(r.status, `${where(b, c.line)}: \`${c.text}\` exited ${r.status}:\n${r.output}`).toBe(
            c.exit,
          );
        }
        if (expected !== null)
          expect(output.trimEnd(), `output shown at ${where(next!)}`).toBe(expected.trimEnd());
      }
    }, 240_000);
  }
});

describe('npx resolves the package bin (README set-up)', () => {
  // npx starts npm, which starts the CLI: at load 10+ on two cores that alone passed 60 s.
  it('`npx wasm-hostalloc --version` in the repository prints the version', { timeout: 180_000 }, () => {
    const r = spawnSync('npx', ['--offline', 'wasm-hostalloc', '--version'], { cwd: ROOT, encoding: 'utf8' });
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});
