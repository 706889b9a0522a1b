/**
 * @fileoverview How binaryen.js is imported (module.ts's loadBinaryen uses this).
 *
 * binaryen.js 132 is 0.2 MB of Emscripten glue around one 14.6 MB template literal holding the wasm
 * binary, decoded by a call `x6(`\0asm…`)`. Two costs come from that file as it is:
 *  - every call the wasm makes inside a C++ `try` goes through an `invoke_*` function of the glue,
 *    which looks the callee up in a JavaScript array caching table entries. The entries used lie at
 *    indices up to ~14 000, so V8 keeps that array as a dictionary; readBinary alone makes millions
 *    of such lookups, and they took ~14% of a 500-module batch's CPU. The array is `[]` in the
 *    source; the copy imported here creates it as long as the table (fast elements).
 *  - parsing and decoding the literal costs ~0.25 s of CPU per thread; a thread given binaryen's
 *    compiled module (a batch worker: the main thread compiles it) does not need it.
 * So binaryen.js is imported as a light copy: its glue with the literal emptied and the cache
 * created at the table's size, from a data: URL (`import.meta.url` replaced by the file's URL). The
 * glue then asks `WebAssembly.instantiate` for an empty binary, and a wrapper installed during the
 * import instantiates binaryen's module instead: the one given, or one compiled from the literal,
 * which V8 evaluates on its own. When the file does not have that shape (another binaryen.js), or
 * this is not Node, binaryen.js is imported as it is.
 */

import type { WasmImports, WasmModule } from '../wasm-api.js';

/** The call that decodes the embedded binary: `(`, the literal's backtick, then `\0asm` escaped. */
const BINARY_START = '(`\\0asm';
/** The glue's table-entry cache and its lookup, as binaryen.js 132 has them. */
const CACHE_DECLARATION = /([,;{ ])([A-Za-z_$][\w$]*)=\[\],/g;
const BACKTICK = 0x60;
const BACKSLASH = 0x5c;
const CLOSE_PAREN = 0x29;

export interface LightSource {
  /** The glue: binaryen.js with the binary's literal emptied and the table cache pre-sized. */
  glue: string;
  /** The binary's template literal, backticks included (a JavaScript expression). */
  literal(): string;
  /** The literal's source between its backticks. */
  body(): Uint8Array;
}

/**
 * Splits binaryen.js (`source`, its bytes; `url`, its URL) into the light glue and the binary's
 * literal, or undefined when the source does not have the expected shape.
 */
export function lightSource(source: Uint8Array, url: string): LightSource | undefined {
  const buf = Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  const start = buf.indexOf(BINARY_START);
  if (start < 0 || buf.indexOf(BINARY_START, start + 1) >= 0) return undefined;
  const open = start + 1;
  /** Whether the character at `at` is escaped: preceded by an odd run of backslashes. */
  const escaped = (at: number): boolean => {
    let slashes = 0;
    while (buf[at - 1 - slashes] === BACKSLASH) slashes++;
    return slashes % 2 === 1;
  };
  // The closing backtick is the first one not escaped.
  let end = open;
  do {
    end = buf.indexOf(BACKTICK, end + 1);
    if (end < 0) return undefined;
  } while (escaped(end));
  // The literal must be the call's only argument, and hold no substitution.
  if (buf[end + 1] !== CLOSE_PAREN) return undefined;
  for (let at = buf.indexOf('${', open); at >= 0 && at < end; at = buf.indexOf('${', at + 1)) {
    if (!escaped(at)) return undefined;
  }
  const text = `${buf.toString('latin1', 0, open + 1)}${buf.toString('latin1', end)}`;
  let glue = text.replaceAll('import.meta.url', JSON.stringify(url));
  if (glue.includes('import.meta')) return undefined;
  // The glue must ask WebAssembly.instantiate, and nothing else, for its module (the wrapper answers).
  const asks = glue.match(
    /WebAssembly\.(instantiate|instantiateStreaming|compile|compileStreaming|Module)\b/g,
  );
  if (asks?.length !== 1 || asks[0] !== 'WebAssembly.instantiate') return undefined;
  glue = presizeTableCache(glue) ?? glue;
  // Stack traces name the file rather than the data: URL, the whole glue (line numbers past the
  // literal differ from the file's).
  glue += `\n//# sourceURL=${url}\n`;
  return {
    glue,
    literal: () => buf.toString('latin1', open, end + 1),
    body: () => buf.subarray(open + 1, end),
  };
}

/**
 * The glue with its table-entry cache created at the table's length, or undefined when the cache is
 * not found: `l=r=>{var G=JA[r];return G||(JA[r]=G=K6.get(r)),G}` with `JA=[]` declared once and
 * `K6=<exports>.<name>,` assigned once (binaryen.js 132's minified names; found by shape here).
 */
export function presizeTableCache(glue: string): string | undefined {
  const lookup =
    /=([A-Za-z_$][\w$]*)=>\{var ([A-Za-z_$][\w$]*)=([A-Za-z_$][\w$]*)\[\1\];return \2\|\|\(\3\[\1\]=\2=([A-Za-z_$][\w$]*)\.get\(\1\)\),\2\}/.exec(
      glue,
    );
  if (lookup === null) return undefined;
  const cache = lookup[3]!;
  const table = lookup[4]!;
  const declarations = [...glue.matchAll(CACHE_DECLARATION)].filter((m) => m[2] === cache);
  const assignment = new RegExp(
    `([,;{ ])${escapeRegExp(table)}=([A-Za-z_$][\\w$]*\\.[A-Za-z_$][\\w$]*),`,
    'g',
  );
  const assignments = [...glue.matchAll(assignment)];
  if (declarations.length !== 1 || assignments.length !== 1) return undefined;
  const at = assignments[0]!;
  const end = at.index + at[0].length;
  return `${glue.slice(0, end)}${cache}=Array(${table}.length).fill(null),${glue.slice(end)}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[$]/g, '\\$&');
}

/** The byte each single-letter control escape stands for (`\n` -> 10 …), by the letter's code. */
const CONTROL_ESCAPES: Record<number, number> = { 98: 8, 102: 12, 110: 10, 114: 13, 116: 9, 118: 11 };

/**
 * The bytes a template literal's source `body` (ASCII, between the backticks) stands for, or
 * undefined when it holds anything but the escapes binaryen.js 132 uses (`\xHH`, `\0`, `\b`, `\f`,
 * `\n`, `\r`, `\t`, `\v`, `\\`, `\``, `\$`, `\'`, `\"`, a line continuation) and raw ASCII without
 * carriage returns: then {@link binaryFromLiteral} has V8 evaluate it. 2.5 times as fast as V8's
 * scanner on binaryen's 14.6 MB literal.
 */
export function decodeLiteralBody(body: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(body.length);
  const n = body.length;
  let o = 0;
  let i = 0;
  while (i < n) {
    const b = body[i]!;
    if (b !== BACKSLASH) {
      if (b >= 0x80 || b === 0x0d || b === BACKTICK || (b === 0x24 && body[i + 1] === 0x7b)) return undefined;
      out[o++] = b;
      i++;
      continue;
    }
    const e = body[i + 1];
    i += 2;
    switch (e) {
      case 0x78: {
        // \xHH
        const hi = hexValue(body[i]);
        const lo = hexValue(body[i + 1]);
        if (hi < 0 || lo < 0) return undefined;
        out[o++] = (hi << 4) | lo;
        i += 2;
        break;
      }
      case 0x30: {
        // \0, not followed by a digit
        const next = body[i];
        if (next !== undefined && next >= 0x30 && next <= 0x39) return undefined;
        out[o++] = 0;
        break;
      }
      case 0x62: // \b \f \n \r \t \v
      case 0x66:
      case 0x6e:
      case 0x72:
      case 0x74:
      case 0x76:
        out[o++] = CONTROL_ESCAPES[e]!;
        break;
      case BACKSLASH:
      case BACKTICK:
      case 0x24: // $
      case 0x27: // '
      case 0x22: // "
        out[o++] = e;
        break;
      case 0x0a: // a line continuation
        break;
      default:
        return undefined;
    }
  }
  return out.subarray(0, o);
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/** The bytes of the binary's literal, decoded as binaryen.js decodes them. */
export async function binaryFromLiteral(literal: string): Promise<Uint8Array> {
  const { runInThisContext } = await import('node:vm');
  const text = runInThisContext(literal) as string;
  // binaryen.js's decoder maps each character c to (~c >> 8) & c: c itself below 256.
  if (!/[^\u0000-\u00ff]/.test(text)) return Buffer.from(text, 'latin1');
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    bytes[i] = (~c >> 8) & c;
  }
  return bytes;
}

/** binaryen's compiled wasm, handed from one thread to another. */
export interface CompiledBinaryen {
  module: WasmModule;
  /** The light copy's data: URL, when the compiling thread made one. */
  lightUrl?: string;
}

/**
 * `module`: binaryen's compiled wasm from another thread, instantiated instead of compiling the
 * binary; with it, `lightUrl`: the light copy that thread made ({@link compileBinaryen}), imported
 * instead of reading and splitting binaryen.js again.
 */
export interface ImportOptions extends Partial<CompiledBinaryen> {
  /** Receives binaryen's compiled module as soon as it exists. */
  onModule?: (m: WasmModule) => void;
}

export interface Imported {
  namespace: unknown;
  /** Whether the light copy was imported (else binaryen.js as it is). */
  light: boolean;
  /** Whether it instantiated the module given in the options. */
  given: boolean;
}

type Instantiate = (source: unknown, imports?: WasmImports) => Promise<unknown>;
interface WebAssemblyApi {
  instantiate: Instantiate;
  compile(bytes: Uint8Array): Promise<WasmModule>;
}

/** Imports binaryen.js: the light copy when possible, else the file as it is. */
export async function importBinaryen(options: ImportOptions = {}): Promise<Imported> {
  const wasm = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
  const original = wasm.instantiate;
  const given = options.module !== undefined;
  // The module to instantiate (without one binaryen.js compiles its binary itself, below) and the
  // light copy's URL: made here unless the thread that compiled the module gave it.
  let { module, lightUrl } = given ? options : ((await compileBinaryen()) ?? {});
  if (module !== undefined && lightUrl === undefined)
    lightUrl = (await lightCopy().catch(() => undefined))?.url;
  if (module !== undefined) options.onModule?.(module);
  if (lightUrl !== undefined && module !== undefined) {
    const m = module;
    // Only the glue's request is answered with binaryen's module: an empty binary is no module.
    wasm.instantiate = async (source, imports) => {
      const empty = (ArrayBuffer.isView(source) || source instanceof ArrayBuffer) && source.byteLength === 0;
      if (!empty) return original.call(wasm, source, imports);
      return { module: m, instance: await original.call(wasm, m, imports) };
    };
    try {
      return { namespace: await import(lightUrl), light: true, given };
    } catch {
      // Not importable after all: binaryen.js as it is, below.
    } finally {
      wasm.instantiate = original;
    }
  }
  // binaryen.js as it is. In a thread of its own (a batch worker: a module given, or one to report),
  // the module at hand is instantiated instead of compiling the binary again; elsewhere
  // WebAssembly.instantiate is left alone, as other code may call it meanwhile.
  if (!given && options.onModule === undefined)
    return { namespace: await import('binaryen'), light: false, given };
  wasm.instantiate = async (source, imports) => {
    const bytes = ArrayBuffer.isView(source) || source instanceof ArrayBuffer;
    if (bytes && module !== undefined) {
      return { module, instance: await original.call(wasm, module, imports) };
    }
    const result = (await original.call(wasm, source, imports)) as { module?: WasmModule };
    if (bytes && result.module !== undefined) options.onModule?.(result.module);
    return result;
  };
  try {
    return { namespace: await import('binaryen'), light: false, given };
  } finally {
    wasm.instantiate = original;
  }
}

/**
 * binaryen's compiled wasm and the light copy's URL, for threads that import binaryen.js later
 * ({@link ImportOptions}) or this one: a batch's main thread compiles it while its first workers
 * start, without importing it. Undefined when binaryen.js does not have the light copy's shape, its
 * binary does not compile, or this is not Node.
 */
export async function compileBinaryen(): Promise<CompiledBinaryen | undefined> {
  const light = await lightCopy().catch(() => undefined);
  if (light === undefined) return undefined;
  const wasm = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
  try {
    const binary = decodeLiteralBody(light.body()) ?? (await binaryFromLiteral(light.literal()));
    return { module: await wasm.compile(binary), lightUrl: light.url };
  } catch {
    return undefined;
  }
}

/** The light copy of the installed binaryen.js: its data: URL and the binary's literal. */
async function lightCopy(): Promise<({ url: string } & Omit<LightSource, 'glue'>) | undefined> {
  if (typeof process === 'undefined' || process.versions?.node === undefined) return undefined;
  const [{ readFile }, { createRequire }, { fileURLToPath, pathToFileURL }] = await Promise.all([
    import('node:fs/promises'),
    import('node:module'),
    import('node:url'),
  ]);
  // Resolved like `import('binaryen')` (through any resolve hooks), where Node has import.meta.resolve.
  const file =
    typeof import.meta.resolve === 'function'
      ? fileURLToPath(import.meta.resolve('binaryen'))
      : createRequire(import.meta.url).resolve('binaryen');
  const source = lightSource(await readFile(file), pathToFileURL(file).href);
  if (source === undefined) return undefined;
  return {
    url: `data:text/javascript;base64,${Buffer.from(source.glue, 'latin1').toString('base64')}`,
    literal: source.literal,
    body: source.body,
  };
}
