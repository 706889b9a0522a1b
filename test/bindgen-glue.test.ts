/**
 * wasm-bindgen glue given with a stripped wasm-bindgen module (issue #15): `@dqbd/tiktoken` (pinned
 * devDependency, Rust + wasm-bindgen, names stripped) exports its allocation functions as
 * `__wbindgen_export_1` (malloc), `_2` (realloc) and `_3` (free), which only its `tiktoken_bg.js`
 * tells apart. Without the glue the transform cannot find the allocator (HA010); with it, the
 * allocator is found behind those exports the way the named `__wbindgen_malloc`… lead to it, and the
 * converted `lite` build tokenizes a fixed corpus through the package's own JS API exactly like the
 * original, on the JS host heap.
 *
 * Loading is the package's documented one for hand-instantiated wasm (`tiktoken/lite/init`:
 * `init((imports) => instantiate(wasm, imports))`); the converted module gets the host allocator
 * through `hostImports` (src/host/bindgen.ts), the wasm-bindgen bundler-target way. The CLI's
 * `--glue auto` finds `tiktoken_bg.js` beside `tiktoken_bg.wasm` and gives the same output.
 */

import { copyFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostAllocator, hostImports, instantiate } from '../src/host/index.js';
import { readGlue, type TransformResult, transform, verify } from '../src/index.js';
import { ensureBuilt, removeTempDirs, runCli, tempDir } from './cli/helpers.js';
import { NODE_MODULES } from './corpus/load.js';
import { expectRefusal } from './errors.js';
import { type Imports, WA, type WasmInstance } from './harness/wasm.js';
import { watToWasm } from './passes/wat.js';

const require = createRequire(import.meta.url);
const LITE = join(NODE_MODULES, '@dqbd', 'tiktoken', 'lite');
const wasmBytes = (): Uint8Array => new Uint8Array(readFileSync(join(LITE, 'tiktoken_bg.wasm')));
const glueText = (): string => readFileSync(join(LITE, 'tiktoken_bg.js'), 'utf8');
let convertedOnce: Promise<TransformResult> | undefined;
/** The lite build transformed with its glue (once for the file: it takes seconds). */
const convertedLite = (): Promise<TransformResult> =>
  (convertedOnce ??= transform(wasmBytes(), { glue: glueText() }));

interface Encoding {
  encode(text: string, allowed?: unknown, disallowed?: unknown): Uint32Array;
  encode_ordinary(text: string): Uint32Array;
  decode(tokens: Uint32Array): Uint8Array;
  decode_single_token_bytes(token: number): Uint8Array;
  readonly name: string | undefined;
  free(): void;
}
interface Lite {
  init(callback: (imports: Imports) => Promise<unknown> | unknown): Promise<unknown>;
  Tiktoken: new (bpeRanks: string, specialTokens: Record<string, number>, patStr: string) => Encoding;
}

/** ASCII, accented and CJK text (non-ASCII goes through the glue's realloc path), emoji, a special token. */
const CORPUS = [
  'hello world',
  'The quick brown fox jumps over the lazy dog. '.repeat(40),
  'Ünïcödé façade, naïve café — “quotes” … and ÆØÅ æøå',
  '日本語のテキストを分割します。中文文本也一样。한국어 텍스트',
  'emoji 🦀🚀✨ mixed with code: fn main() { println!("{}", 1 + 2); }',
  'special <|endoftext|> token inside',
  '',
  `${'a'.repeat(3000)} ${'tokens '.repeat(500)}`,
];

/**
 * Loads `tiktoken/lite/init` afresh (its `init` runs once per module instance), instantiates
 * `bytes` through it (with a host heap merged into the imports when `heap` is wanted) and tokenizes
 * the corpus with the gpt2 ranks.
 */
async function tokenize(
  bytes: Uint8Array,
  withHeap: boolean,
): Promise<{ out: unknown; heap?: HostAllocator }> {
  for (const f of ['init.cjs', 'tiktoken_bg.cjs']) delete require.cache[require.resolve(join(LITE, f))];
  const lite = require(join(LITE, 'init.cjs')) as Lite;
  let heap: HostAllocator | undefined;
  await lite.init((imports) => {
    const module = new WA.Module(bytes);
    if (!withHeap) return new WA.Instance(module, imports);
    const host = hostImports(module, imports);
    heap = host.heap;
    const instance: WasmInstance = new WA.Instance(module, host.imports);
    host.attach(instance);
    return instance;
  });
  const gpt2 = require(join(NODE_MODULES, '@dqbd', 'tiktoken', 'encoders', 'gpt2.json')) as {
    bpe_ranks: string;
    special_tokens: Record<string, number>;
    pat_str: string;
  };
  const enc = new lite.Tiktoken(gpt2.bpe_ranks, gpt2.special_tokens, gpt2.pat_str);
  const decoder = new TextDecoder();
  const out = CORPUS.map((text) => {
    const tokens = enc.encode(text, 'all');
    const ordinary = enc.encode_ordinary(text);
    return {
      tokens: [...tokens],
      ordinary: ordinary.length,
      roundTrip: decoder.decode(enc.decode(tokens)) === text,
      first: tokens.length > 0 ? [...enc.decode_single_token_bytes(tokens[0]!)] : [],
    };
  });
  // Disallowed special tokens make the Rust side return an error object (allocated, then freed).
  let refused = '';
  try {
    enc.encode('<|endoftext|>', [], 'all');
  } catch (e) {
    refused = String(e);
  }
  enc.free();
  return { out: { out, refused }, ...(heap ? { heap } : {}) };
}

describe('@dqbd/tiktoken (lite): allocator found through its wasm-bindgen glue', () => {
  let original: unknown;
  let converted: TransformResult;

  beforeAll(async () => {
    original = (await tokenize(wasmBytes(), false)).out;
    converted = await convertedLite();
  }, 300_000);

  it('the glue names the numbered exports: 1 malloc, 2 realloc, 3 free (0 is the exception store)', () => {
    const glue = readGlue(glueText());
    expect(glue.kind).toBe('wasm-bindgen');
    expect([...glue.bindgen].sort()).toEqual([
      ['__wbindgen_export_1', '__wbindgen_malloc'],
      ['__wbindgen_export_2', '__wbindgen_realloc'],
      ['__wbindgen_export_3', '__wbindgen_free'],
    ]);
    // The CommonJS build of the same glue reads the same.
    expect(readGlue(readFileSync(join(LITE, 'tiktoken_bg.cjs'), 'utf8')).bindgen).toEqual(glue.bindgen);
  });

  it('without the glue the allocator is not found (HA010)', async () => {
    await expectRefusal(transform(wasmBytes()), 'HA010', /could not find malloc and free/);
  }, 60_000);

  it('with the glue: members found behind the numbered exports, compliant, verified', async () => {
    const { report, bytes } = converted;
    expect(report.status).toBe('transformed');
    expect(report.compliant).toBe(true);
    expect(report.hazards).toEqual([]);
    const roles = report.replaced.map((r) => `${r.role}/${r.identifiedBy}`);
    // Behind export_1 (malloc(size, align), __rdl_alloc inlined): malloc, and memalign for large
    // alignments; behind export_3: Rust's dealloc; realloc by data flow once those are known.
    expect(roles.sort()).toEqual([
      'malloc/analysis',
      'memalign/analysis',
      'rust_dealloc/analysis',
      'rust_realloc/analysis',
    ]);
    expect((await verify(bytes)).problems).toEqual([]);
    // The wrappers stay (the glue calls them), now over the host imports.
    const exports = WA.Module.exports(new WA.Module(bytes)).map((e) => e.name);
    expect(exports).toEqual(
      expect.arrayContaining(['__wbindgen_export_1', '__wbindgen_export_2', '__wbindgen_export_3']),
    );
    const imports = WA.Module.imports(new WA.Module(bytes)).map((i) => `${i.module}.${i.name}`);
    expect(imports).toEqual(expect.arrayContaining(['env.host_malloc', 'env.host_free']));
  });

  it('the converted module tokenizes the corpus exactly like the original, on the host heap', async () => {
    const { out, heap } = await tokenize(converted.bytes, true);
    expect(out).toEqual(original);
    const stats = heap!.stats();
    expect(stats.mallocs).toBeGreaterThan(100);
    expect(stats.frees).toBeGreaterThan(100);
    expect(stats.errors).toBe(0);
    // The ranks (0.5 MB of text, parsed into a map) do not fit the 22 pages the module starts with.
    expect(stats.grows).toBeGreaterThan(0);
    // The original's tokens are real: the corpus round-trips and the special token is one token.
    const first = original as { out: { tokens: number[]; roundTrip: boolean }[]; refused: string };
    expect(first.out.every((o) => o.roundTrip)).toBe(true);
    expect(first.out[0]!.tokens).toEqual([31373, 995]);
    expect(first.out[5]!.tokens).toContain(50256);
    expect(first.refused).toMatch(/special token/i);
  }, 60_000);
});

describe('CLI: --glue auto on a wasm-bindgen module', () => {
  afterAll(removeTempDirs);

  it('picks NAME_bg.js beside NAME_bg.wasm: tiktoken converts, byte for byte as with { glue }', async () => {
    ensureBuilt();
    const dir = tempDir();
    for (const f of ['tiktoken_bg.wasm', 'tiktoken_bg.js']) copyFileSync(join(LITE, f), join(dir, f));
    const r = await runCli(['transform', 'tiktoken_bg.wasm', '-o', 'out.wasm', '--glue', 'auto', '--json'], {
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(0);
    const files = (JSON.parse(r.stdout) as { files: { status: string }[] }).files;
    expect(files.map((f) => f.status)).toEqual(['transformed']);
    const viaLibrary = await convertedLite();
    expect(new Uint8Array(readFileSync(join(dir, 'out.wasm')))).toEqual(viaLibrary.bytes);
  }, 300_000);

  it('picks NAME.js beside NAME_bg.wasm (the one-file glue of --target web and nodejs)', async () => {
    ensureBuilt();
    const dir = tempDir();
    copyFileSync(join(LITE, 'tiktoken_bg.wasm'), join(dir, 'tiktoken_bg.wasm'));
    // --target web/nodejs put the glue functions in NAME.js; the bundler glue has the same ones.
    copyFileSync(join(LITE, 'tiktoken_bg.js'), join(dir, 'tiktoken.js'));
    const r = await runCli(['transform', 'tiktoken_bg.wasm', '-o', 'out.wasm', '--glue', 'auto', '--json'], {
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(0);
    const viaLibrary = await convertedLite();
    expect(new Uint8Array(readFileSync(join(dir, 'out.wasm')))).toEqual(viaLibrary.bytes);
  }, 300_000);
});

/**
 * The same path on a small module shaped like a stripped wasm-bindgen build: a bump allocator
 * (state at 1024) behind `__wbindgen_export_1` (malloc(size, align): 0 -> align, else alloc) and
 * `__wbindgen_export_3` (free(ptr, size, align): size 0 -> nothing), no names anywhere.
 */
const STRIPPED = `(module
  (memory (export "memory") 2)
  (data (i32.const 1024) "\\00\\10\\00\\00")
  (func $0 (param i32 i32) (result i32) (local i32)
    (local.set 2 (i32.and (i32.add (i32.load (i32.const 1024)) (i32.sub (local.get 1) (i32.const 1)))
                          (i32.sub (i32.const 0) (local.get 1))))
    (i32.store (i32.const 1024) (i32.add (local.get 2) (local.get 0)))
    (local.get 2))
  (func $1 (param i32 i32 i32)
    (if (i32.eq (i32.add (local.get 0) (local.get 1)) (i32.load (i32.const 1024)))
      (then (i32.store (i32.const 1024) (local.get 0)))))
  (func $2 (export "__wbindgen_export_1") (param i32 i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (local.get 1)) (else (call $0 (local.get 0) (local.get 1)))))
  (func $3 (export "__wbindgen_export_3") (param i32 i32 i32)
    (if (local.get 1) (then (call $1 (local.get 0) (local.get 1) (local.get 2)))))
  (func $4 (export "fill") (param i32) (result i32) (local i32 i32)
    (local.set 1 (call $2 (local.get 0) (i32.const 8)))
    (memory.fill (local.get 1) (i32.const 7) (local.get 0))
    (local.set 2 (i32.add (i32.load8_u (local.get 1)) (i32.and (local.get 1) (i32.const 7))))
    (call $3 (local.get 1) (local.get 0) (i32.const 8))
    (local.get 2)))`;

/** Its glue: export_1 passed as malloc to a helper, export_3 called as a free. */
const STRIPPED_GLUE = `let wasm;
function passArray8ToWasm0(arg, malloc) { const ptr = malloc(arg.length * 1, 1) >>> 0; return ptr; }
export function f(a) { const ptr0 = passArray8ToWasm0(a, wasm.__wbindgen_export_1); return wasm.fill(ptr0); }
export function g(r0, r1) { wasm.__wbindgen_export_3(r0, r1 * 1, 1); }`;

describe('wasm-bindgen pass with roles from glue, on a small stripped module', () => {
  const bytes = (): Uint8Array => watToWasm(STRIPPED);

  it('without glue nothing names the allocator (HA010); with it, alloc and dealloc are found and run on the host', async () => {
    await expectRefusal(transform(bytes()), 'HA010', /could not find malloc and free/);
    const { report, bytes: out } = await transform(bytes(), { glue: STRIPPED_GLUE });
    expect(report.replaced.map((r) => `${r.role}/${r.name ?? r.index}`).sort()).toEqual([
      'rust_alloc/0',
      'rust_dealloc/1',
    ]);
    expect((await verify(out)).problems).toEqual([]);
    const { instance, heap } = await instantiate(out);
    const fill = instance.exports['fill'] as (n: number) => number;
    expect([fill(5), fill(100), fill(3)]).toEqual([7, 7, 7]);
    expect(heap.stats().mallocs).toBe(3);
    expect(heap.stats().frees).toBe(3);
  });

  it('glue roles that do not fit the exports (swapped) find nothing (HA010)', async () => {
    // Swapped: export_3 (3 params, no result) as malloc, export_1 (2 params, a result) as free.
    const swapped = STRIPPED_GLUE.replaceAll('export_1', 'export_X')
      .replaceAll('export_3', 'export_1')
      .replaceAll('export_X', 'export_3');
    expect(Object.fromEntries(readGlue(swapped).bindgen)).toEqual({
      __wbindgen_export_3: '__wbindgen_malloc',
      __wbindgen_export_1: '__wbindgen_free',
    });
    await expectRefusal(transform(bytes(), { glue: swapped }), 'HA010', /could not find malloc and free/);
  });
});
