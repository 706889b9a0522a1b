/**
 * @fileoverview Reading Emscripten's JS glue to map (possibly minified) wasm export names back to
 * the C symbols they stand for, and to learn the import module names the glue provides.
 *
 * Shapes recognised (whitespace, comments and quotes vary; minified or not):
 *   4.x:  _malloc = Module["_malloc"] = wasmExports["Ia"];      _malloc = wasmExports.Ia
 *   3.x:  var _malloc = Module["_malloc"] = function() {
 *           return (_malloc = Module["_malloc"] = Module["asm"]["f"]).apply(null, arguments) };
 *         var _malloc = Module["_malloc"] = asm["f"];
 *   3.x closure:  a._malloc = function() { return (a._malloc = a.asm.f).apply(null, arguments) };
 *   debug builds: var _malloc = createExportWrapper("malloc");   (the export is not minified)
 *   1.38-era:  var _malloc = Module["_malloc"] = function() {
 *                return Module["asm"]["malloc"].apply(null, arguments) };
 * Import modules: `var info = { "a": asmLibraryArg }` (3.x), `var imports = { "env": wasmImports,
 * "wasi_snapshot_preview1": wasmImports }` (4.x), minified `{a: wasmImports}`.
 *
 * Glue may come from an untrusted upload, so reading it must stay linear: the text is split once
 * into tokens by a scanner that never looks back (identifiers, string literals, one-character
 * punctuation; comments, template and regular-expression literals skipped, the latter told from
 * a division by the token before it), and each shape above is a fixed-length token sequence tried
 * at each candidate token. (Regular expressions with repeated optional parts backtracked
 * exponentially here: a 181-byte crafted glue hung the CLI.) A literal the scanner misjudges
 * ends at the end of its line: it can hide a mapping on that line, never cost more time.
 */

import { roleOfName } from './conventions.js';
import { ErrorCodes, HostAllocError } from './errors.js';
import type { AllocRole } from './types.js';

export interface GlueInfo {
  /** wasm export name -> allocator role, for the family members the glue names. */
  exports: Map<string, AllocRole>;
  /** C symbol (without the leading underscore) -> wasm export name, for every export the glue maps. */
  symbols: Map<string, string>;
  /** Import module names the glue's import object provides. */
  importModules: string[];
}

/** Largest glue accepted, in UTF-16 code units (Emscripten glue is well under 1 MiB; sql.js's debug glue is 0.2 MiB). */
export const MAX_GLUE_LENGTH = 16 * 1024 * 1024;

/** Identifier, string literal (its value, escapes kept as written) or one punctuation character. */
interface Token {
  kind: 'id' | 'str' | 'punct';
  text: string;
}

function isIdStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36;
}

function isIdPart(c: number): boolean {
  return isIdStart(c) || (c >= 48 && c <= 57);
}

/** Keywords after which `/` starts a regular expression rather than a division. */
const REGEX_AFTER = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
]);

/** The usual rule: `/` divides after a value (identifier, literal, `)` or `]`), else starts a regex. */
function regexAllowed(prev: Token | undefined): boolean {
  if (prev === undefined) return true;
  if (prev.kind === 'str') return false;
  if (prev.kind === 'id') return REGEX_AFTER.has(prev.text);
  return prev.text !== ')' && prev.text !== ']' && prev.text !== '0' && prev.text !== '/re/';
}

/** Split `src` into tokens in one forward pass (every loop advances `i`). */
export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const n = src.length;
  let i = 0;
  while (i < n) {
    const c = src.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12) {
      i++;
    } else if (c === 47 && src.charCodeAt(i + 1) === 47) {
      const end = src.indexOf('\n', i + 2);
      i = end < 0 ? n : end + 1;
    } else if (c === 47 && src.charCodeAt(i + 1) === 42) {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === 47 && regexAllowed(tokens[tokens.length - 1])) {
      // A regular-expression literal: to the closing `/` outside a character class (or the line's end).
      let inClass = false;
      for (i++; i < n; i++) {
        const d = src.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 10) break;
        else if (d === 91) inClass = true;
        else if (d === 93) inClass = false;
        else if (d === 47 && !inClass) break;
      }
      i++;
      while (i < n && isIdPart(src.charCodeAt(i))) i++;
      tokens.push({ kind: 'punct', text: '/re/' });
    } else if (isIdStart(c)) {
      const start = i;
      while (i < n && isIdPart(src.charCodeAt(i))) i++;
      tokens.push({ kind: 'id', text: src.slice(start, i) });
    } else if (c === 34 || c === 39 || c === 96) {
      // "…", '…' (end at the closing quote or the end of the line) and `…` (skipped whole).
      const start = ++i;
      while (i < n) {
        const d = src.charCodeAt(i);
        if (d === 92) i += 2;
        else if (d === c) break;
        else if (c !== 96 && d === 10) break;
        else i++;
      }
      if (c !== 96) tokens.push({ kind: 'str', text: src.slice(start, Math.min(i, n)) });
      i++;
    } else if (c >= 48 && c <= 57) {
      while (i < n && isIdPart(src.charCodeAt(i))) i++;
      tokens.push({ kind: 'punct', text: '0' });
    } else {
      tokens.push({ kind: 'punct', text: src[i]! });
      i++;
    }
  }
  return tokens;
}

/**
 * A matcher over tokens: given a start position, the positions where a match can end. Sequences
 * are of fixed length, so each has at most a handful of end positions and matching at one token
 * costs a constant.
 */
type Matcher = (t: readonly Token[], at: number) => number[];

const punct =
  (ch: string): Matcher =>
  (t, at) =>
    t[at]?.kind === 'punct' && t[at]!.text === ch ? [at + 1] : [];
const ident =
  (test: (name: string) => boolean): Matcher =>
  (t, at) =>
    t[at]?.kind === 'id' && test(t[at]!.text) ? [at + 1] : [];
const word = (name: string): Matcher => ident((s) => s === name);
const string =
  (test: (value: string) => boolean): Matcher =>
  (t, at) =>
    t[at]?.kind === 'str' && test(t[at]!.text) ? [at + 1] : [];
const seq =
  (...parts: Matcher[]): Matcher =>
  (t, at) => {
    let ends = [at];
    for (const p of parts) ends = [...new Set(ends.flatMap((e) => p(t, e)))];
    return ends;
  };
const alt =
  (...parts: Matcher[]): Matcher =>
  (t, at) => [...new Set(parts.flatMap((p) => p(t, at)))];
const opt = (m: Matcher): Matcher => alt(m, (_t, at) => [at]);

const isExportName = (s: string) => /^[\w$]+$/.test(s);
const isSymbol = (s: string) => s.length > 1 && s.startsWith('_');
/** `Module["_x"] =` (or `Module._x =`) in an assignment chain. */
const moduleChain = seq(
  word('Module'),
  alt(seq(punct('['), string(isSymbol), punct(']')), seq(punct('.'), ident(isSymbol))),
  punct('='),
);
/** A closure-minified Module object: one or two letters. */
const minified = ident((s) => s.length <= 2);
/**
 * The object the exports are read from: wasmExports, asm, Module["asm"], Module.asm, a minified
 * Module's `.asm` (closure-minified 3.x glue: `a.asm`), or a minified 1–2 letter name.
 */
const exportsObject = alt(
  seq(minified, punct('.'), word('asm')),
  ident((s) => s === 'wasmExports' || s === 'asm' || s.length <= 2),
  seq(
    word('Module'),
    alt(
      seq(
        punct('['),
        string((s) => s === 'asm'),
        punct(']'),
      ),
      seq(punct('.'), word('asm')),
    ),
  ),
);
/**
 * `function() { return (` with an optional inner `_x = Module["_x"] =` chain (3.x lazy wrappers), or
 * `a._x =` in closure-minified glue (`a._malloc=function(){return(a._malloc=a.asm.f).apply(…)}`).
 */
const lazyWrapper = seq(
  word('function'),
  punct('('),
  punct(')'),
  punct('{'),
  word('return'),
  opt(punct('(')),
  opt(seq(opt(seq(minified, punct('.'))), ident(isSymbol), punct('='), opt(moduleChain))),
);

/** After `_sym =`: the export name the assignment reads, or undefined. */
function exportAfterAssign(t: readonly Token[], at: number): string | undefined {
  for (const a of seq(opt(moduleChain), opt(lazyWrapper), exportsObject)(t, at)) {
    const open = t[a];
    const name = t[a + 1];
    if (open?.kind !== 'punct' || name === undefined) continue;
    if (open.text === '[' && name.kind === 'str' && isExportName(name.text) && t[a + 2]?.text === ']')
      return name.text;
    if (open.text === '.' && name.kind === 'id') return name.text;
  }
  return undefined;
}

/** After `_sym =`: `[Module["_sym"] =] createExportWrapper("name"`, the name, or undefined. */
function wrapperAfterAssign(t: readonly Token[], at: number): string | undefined {
  for (const a of seq(opt(moduleChain), word('createExportWrapper'), punct('('))(t, at)) {
    const name = t[a];
    if (name?.kind === 'str' && isExportName(name.text)) return name.text;
  }
  return undefined;
}

const IMPORT_VALUES = new Set(['asmLibraryArg', 'wasmImports', 'env']);

/** `{ key: asmLibraryArg|wasmImports|info.env|env, … }` starting at `{` (index `at`): its keys, or []. */
function importObjectKeys(t: readonly Token[], at: number): { keys: string[]; end: number } {
  const keys: string[] = [];
  let i = at + 1;
  for (;;) {
    const key = t[i];
    if (key?.kind !== 'id' && key?.kind !== 'str') break;
    if (t[i + 1]?.text !== ':' || t[i + 1]?.kind !== 'punct') break;
    const v = t[i + 2];
    if (v?.kind !== 'id') break;
    if (v.text === 'info' && t[i + 3]?.text === '.' && t[i + 4]?.text === 'env') i += 5;
    else if (IMPORT_VALUES.has(v.text)) i += 3;
    else break;
    if (!isExportName(key.text)) break;
    keys.push(key.text);
    if (t[i]?.kind === 'punct' && t[i]!.text === ',') i++;
  }
  const close = t[i];
  return close?.kind === 'punct' && close.text === '}' && keys.length > 0
    ? { keys, end: i }
    : { keys: [], end: i };
}

/**
 * Read Emscripten glue. HA031 when it is empty or maps no exports (not Emscripten output), HA032
 * when it is longer than {@link MAX_GLUE_LENGTH}. Time is linear in the length of the text.
 */
export function readGlue(source: string): GlueInfo {
  if (typeof source !== 'string' || source.length === 0) {
    throw new HostAllocError(
      ErrorCodes.BAD_GLUE,
      'the glue is empty: pass the .js file emcc wrote next to the .wasm',
    );
  }
  if (source.length > MAX_GLUE_LENGTH) {
    throw new HostAllocError(
      ErrorCodes.LIMIT_EXCEEDED,
      `the glue is ${source.length} characters long, more than the ${MAX_GLUE_LENGTH} accepted: ` +
        'Emscripten glue is far smaller; pass the .js file emcc wrote next to the .wasm',
      { details: { limit: 'glueLength', value: source.length, max: MAX_GLUE_LENGTH } },
    );
  }
  const t = tokenize(source);
  const symbols = new Map<string, string>();
  const wrapped = new Map<string, string>();
  const importModules = new Set<string>();
  for (let i = 0; i < t.length; i++) {
    const tok = t[i]!;
    if (tok.kind === 'punct' && tok.text === '{') {
      const { keys, end } = importObjectKeys(t, i);
      for (const k of keys) importModules.add(k);
      // The keys scanned cannot start another import object: skip them (keeps the pass linear).
      if (keys.length > 0) i = end - 1;
      continue;
    }
    if (tok.kind !== 'id' || !isSymbol(tok.text)) continue;
    const eq = t[i + 1];
    if (eq?.kind !== 'punct' || eq.text !== '=' || t[i + 2]?.text === '=') continue;
    const sym = tok.text.slice(1);
    const exp = exportAfterAssign(t, i + 2);
    if (exp !== undefined) {
      if (!symbols.has(sym)) symbols.set(sym, exp);
      continue;
    }
    const w = wrapperAfterAssign(t, i + 2);
    if (w !== undefined && !wrapped.has(sym)) wrapped.set(sym, w);
  }
  for (const [sym, exp] of wrapped) if (!symbols.has(sym)) symbols.set(sym, exp);
  if (symbols.size === 0) {
    throw new HostAllocError(
      ErrorCodes.BAD_GLUE,
      'the glue maps no wasm exports to C symbols: is this the Emscripten JS output that goes with the .wasm?',
    );
  }
  const exports = new Map<string, AllocRole>();
  for (const [sym, exp] of symbols) {
    const role = roleOfName(sym);
    if (role) exports.set(exp, role);
  }
  return { exports, symbols, importModules: [...importModules] };
}

/**
 * Whether `source` looks like Emscripten glue at all (for `--glue auto`, which must ignore other JS
 * next to a module, such as wasm-bindgen's `NAME_bg.js`): true when it maps at least one export.
 */
export function isEmscriptenGlue(source: string): boolean {
  try {
    readGlue(source);
    return true;
  } catch {
    return false;
  }
}
