/**
 * @fileoverview Reading the JS glue a toolchain wrote next to a module: Emscripten's, to map
 * (possibly minified) wasm export names back to the C symbols they stand for and to learn the import
 * module names the glue provides; wasm-bindgen's (`NAME_bg.js`, or `NAME.js` of `--target web` and
 * `nodejs`), to learn which `__wbindgen_export_N` of a stripped build is its malloc, realloc and free
 * (see readBindgenGlue below).
 *
 * Emscripten shapes recognised (whitespace, comments and quotes vary; minified or not):
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
 * ends at the end of its line: it can hide a mapping on that line, never cost more time. wasm-bindgen
 * glue is read from the same tokens with one bracket-matching pass and two more passes, each token
 * looked at a bounded number of times.
 */

import { roleOfName } from './conventions.js';
import { ErrorCodes, HostAllocError } from './errors.js';
import type { AllocRole } from './types.js';

export interface GlueInfo {
  /** Which toolchain's glue this is. */
  kind: 'emscripten' | 'wasm-bindgen';
  /** wasm export name -> allocator role, for the family members Emscripten glue names (wasm-bindgen: empty). */
  exports: Map<string, AllocRole>;
  /**
   * wasm-bindgen glue: export name -> the allocation export it is, by wasm-bindgen's calling
   * convention (`__wbindgen_export_1` -> `__wbindgen_malloc`; the named forms map to themselves).
   * These wrap the allocator rather than being it (see src/transform/passes/wasm-bindgen.ts).
   * Emscripten: empty.
   */
  bindgen: Map<string, BindgenAllocExport>;
  /**
   * C symbol (without the leading underscore) -> wasm export name, for every export the glue maps;
   * for wasm-bindgen glue, every export it references, under its own name.
   */
  symbols: Map<string, string>;
  /** Import module names Emscripten glue's import object provides (wasm-bindgen: empty). */
  importModules: string[];
}

/** Largest glue accepted, in UTF-16 code units (Emscripten glue is well under 1 MiB; sql.js's debug glue is 0.2 MiB). */
export const MAX_GLUE_LENGTH = 16 * 1024 * 1024;

/** Identifier, string literal (its value, escapes kept as written), number literal (as written) or one punctuation character. */
interface Token {
  kind: 'id' | 'str' | 'num' | 'punct';
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
  if (prev.kind === 'str' || prev.kind === 'num') return false;
  if (prev.kind === 'id') return REGEX_AFTER.has(prev.text);
  return prev.text !== ')' && prev.text !== ']' && prev.text !== '/re/';
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
      const start = i;
      while (i < n && isIdPart(src.charCodeAt(i))) i++;
      tokens.push({ kind: 'num', text: src.slice(start, i) });
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
  // `alias =`: closure keeps a second name of the export in the chain (`_malloc=Ih=c.xf`).
  const alias = seq(
    ident((s) => s.length <= 3),
    punct('='),
  );
  for (const a of seq(opt(moduleChain), opt(alias), opt(lazyWrapper), exportsObject)(t, at)) {
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

// ---- wasm-bindgen glue ----------------------------------------------------------------------------

/**
 * The allocation exports of wasm-bindgen, by the name they have in a build that keeps its names.
 * Their calling convention (wasm-bindgen 0.2.87 and later; earlier glue omits the align):
 *
 *   __wbindgen_malloc(size, align) -> ptr
 *   __wbindgen_realloc(ptr, old_size, new_size, align) -> ptr
 *   __wbindgen_free(ptr, size, align)
 */
export type BindgenAllocExport = '__wbindgen_malloc' | '__wbindgen_free' | '__wbindgen_realloc';

const BINDGEN_ALLOC_EXPORTS: readonly BindgenAllocExport[] = [
  '__wbindgen_malloc',
  '__wbindgen_free',
  '__wbindgen_realloc',
];

/** The variable wasm-bindgen's glue keeps the instance's exports in (every target). */
const BINDGEN_EXPORTS_OBJECT = 'wasm';

/**
 * Brackets of `t`, in one pass: for each opening token the index of its closing one (or -1), and for
 * every token the innermost group it sits in (-1 at top level) and how many of that group's commas
 * precede it (its argument index). A closing bracket that does not match the innermost open group
 * (a literal the scanner misjudged) is ignored.
 */
function bracketsOf(t: readonly Token[]): { close: Int32Array; parent: Int32Array; argIndex: Int32Array } {
  const close = new Int32Array(t.length).fill(-1);
  const parent = new Int32Array(t.length).fill(-1);
  const argIndex = new Int32Array(t.length);
  const open: number[] = [];
  const commas: number[] = [];
  const PAIRS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (let i = 0; i < t.length; i++) {
    const tok = t[i]!;
    const top = open.length - 1;
    if (tok.kind === 'punct' && PAIRS[tok.text] !== undefined && top >= 0) {
      if (t[open[top]!]!.text === PAIRS[tok.text]) {
        close[open[top]!] = i;
        open.pop();
        commas.pop();
      }
    }
    const inner = open.length - 1;
    parent[i] = inner >= 0 ? open[inner]! : -1;
    argIndex[i] = inner >= 0 ? commas[inner]! : 0;
    if (tok.kind !== 'punct') continue;
    if (tok.text === '(' || tok.text === '[' || tok.text === '{') {
      open.push(i);
      commas.push(0);
    } else if (tok.text === ',' && inner >= 0) {
      commas[inner]!++;
    }
  }
  return { close, parent, argIndex };
}

/** The top-level arguments of the call whose `(` is at `openAt`, as [start, end) token ranges. */
function argumentsOf(t: readonly Token[], close: Int32Array, openAt: number): [number, number][] {
  const end = close[openAt]!;
  const args: [number, number][] = [];
  if (end < 0 || end === openAt + 1) return args;
  let start = openAt + 1;
  for (let i = start; i < end; i++) {
    const c = close[i]!;
    if (c > i)
      i = c; // skip a nested group
    else if (t[i]!.kind === 'punct' && t[i]!.text === ',') {
      args.push([start, i]);
      start = i + 1;
    }
  }
  args.push([start, end]);
  return args;
}

const isNumber = (t: readonly Token[], [s, e]: [number, number]): boolean =>
  e === s + 1 && t[s]!.kind === 'num';
/** `X * K` (anything, then `*` and the number literal `k`). */
const endsTimes = (t: readonly Token[], [s, e]: [number, number], k: string): boolean =>
  e - s >= 3 &&
  t[e - 2]!.text === '*' &&
  t[e - 2]!.kind === 'punct' &&
  t[e - 1]!.kind === 'num' &&
  t[e - 1]!.text === k;
/** A variable, `x[0]` or `x.y`: how the glue names a pointer or length it got back from wasm. */
const isOperand = (t: readonly Token[], [s, e]: [number, number]): boolean =>
  t[s]?.kind === 'id' &&
  (e === s + 1 ||
    (e === s + 4 && t[s + 1]!.text === '[' && t[s + 2]!.kind === 'num' && t[s + 3]!.text === ']') ||
    (e === s + 3 && t[s + 1]!.text === '.' && t[s + 2]!.kind === 'id'));

/**
 * A call of an allocation callback inside a helper (`passStringToWasm0(arg, malloc, realloc)`):
 * `malloc(size[, align])` or `realloc(ptr, old, new[, align])`, the align a number literal.
 */
function callbackCallRole(t: readonly Token[], args: [number, number][]): 'malloc' | 'realloc' | undefined {
  const last = args[args.length - 1];
  if (args.length === 1 || (args.length === 2 && isNumber(t, last!))) return 'malloc';
  if (args.length === 3 || (args.length === 4 && isNumber(t, last!))) return 'realloc';
  return undefined;
}

/**
 * A direct call `wasm.E(…)` shaped like wasm-bindgen's frees: `(ptr, len * K, K)` (vectors) or
 * `(ptr, len, K)` (strings and deferred frees). Before the align argument (wasm-bindgen 0.2.87) a
 * free was `(ptr, len)`, like many other calls; such glue names its exports `__wbindgen_free`.
 */
function isFreeCall(t: readonly Token[], args: [number, number][]): boolean {
  if (args.length !== 3 || isNumber(t, args[0]!)) return false;
  const align = args[2]!;
  if (!isNumber(t, align)) return false;
  const k = t[align[0]]!.text;
  return endsTimes(t, args[1]!, k) || isOperand(t, args[1]!);
}

type BindgenUse = 'malloc' | 'realloc' | 'free' | 'other';
const BINDGEN_ROLE: Record<'malloc' | 'realloc' | 'free', BindgenAllocExport> = {
  malloc: '__wbindgen_malloc',
  realloc: '__wbindgen_realloc',
  free: '__wbindgen_free',
};

/**
 * Read wasm-bindgen glue (`NAME_bg.js`, or `NAME.js` of `--target web`/`nodejs`), or undefined when
 * `t` does not reference a `wasm.__wbindgen_*`/`wasm.__wbg_*` export. Stripped builds export the
 * allocation functions as `__wbindgen_export_N`, and only the glue says which is which:
 *
 *   function passStringToWasm0(arg, malloc, realloc) { … malloc(len, 1) … realloc(ptr, len, n, 1) … }
 *   const ptr0 = passStringToWasm0(text, wasm.__wbindgen_export_1, wasm.__wbindgen_export_2);  // malloc, realloc
 *   wasm.__wbindgen_export_3(r0, r1 * 4, 4);                                                   // free
 *
 * An export passed to a helper takes the role of how the helper calls that parameter (every call
 * alike); an export called directly is free when every direct call is shaped like a free. An export
 * also used any other way (`wasm.__wbindgen_export_2.get(i)`: a table), or with mixed evidence, or a
 * role that two exports would take, gives nothing. The named forms take their role from the name.
 * Linear: one bracket pass, then two passes over the tokens, each looking at a bounded window or at
 * a call's top-level arguments (each group's arguments are read at most once per pass).
 */
function readBindgenGlue(
  t: readonly Token[],
): { bindgen: Map<string, BindgenAllocExport>; symbols: Map<string, string> } | undefined {
  const isWasmRef = (i: number): boolean =>
    t[i]?.kind === 'id' &&
    t[i]!.text === BINDGEN_EXPORTS_OBJECT &&
    t[i + 1]?.kind === 'punct' &&
    t[i + 1]!.text === '.' &&
    t[i + 2]?.kind === 'id' &&
    !(t[i - 1]?.kind === 'punct' && t[i - 1]!.text === '.');
  let marked = false;
  for (let i = 0; i < t.length && !marked; i++)
    marked = isWasmRef(i) && /^__(wbindgen|wbg)_/.test(t[i + 2]!.text);
  if (!marked) return undefined;
  const { close, parent, argIndex } = bracketsOf(t);
  const isPunct = (i: number, ch: string): boolean => t[i]?.kind === 'punct' && t[i]!.text === ch;
  /** A call `name(` of a plain function (not a method, not a declaration) at `i`. */
  const isPlainCall = (i: number): boolean =>
    t[i]?.kind === 'id' &&
    isPunct(i + 1, '(') &&
    close[i + 1]! > 0 &&
    !isPunct(i - 1, '.') &&
    t[i - 1]?.text !== 'function';

  // Pass 1: named function declarations, and how each calls its parameters (innermost only).
  const helpers = new Map<string, (BindgenUse | undefined)[] | null>();
  const scopes: { name: string; params: Map<string, number>; end: number }[] = [];
  for (let i = 0; i < t.length; i++) {
    while (scopes.length > 0 && i >= scopes[scopes.length - 1]!.end) scopes.pop();
    const tok = t[i]!;
    if (tok.kind === 'id' && tok.text === 'function' && t[i + 1]?.kind === 'id' && isPunct(i + 2, '(')) {
      const name = t[i + 1]!.text;
      const params = new Map<string, number>();
      let j = i + 3;
      while (t[j]?.kind === 'id' && (isPunct(j + 1, ',') || isPunct(j + 1, ')'))) {
        params.set(t[j]!.text, params.size);
        j += isPunct(j + 1, ',') ? 2 : 1;
      }
      if (!isPunct(j, ')') || !isPunct(j + 1, '{') || close[j + 1]! < 0) continue;
      // Two declarations of one name: which one a call reaches is not known.
      helpers.set(name, helpers.has(name) ? null : []);
      scopes.push({ name, params, end: close[j + 1]! });
      i = j + 1;
      continue;
    }
    const scope = scopes[scopes.length - 1];
    if (scope === undefined || !isPlainCall(i)) continue;
    const k = scope.params.get(tok.text);
    const uses = helpers.get(scope.name);
    if (k === undefined || !uses) continue;
    const role = callbackCallRole(t, argumentsOf(t, close, i + 1));
    // undefined (no call yet) -> role; a different role or an unknown shape -> 'other'.
    uses[k] = uses[k] === undefined || uses[k] === role ? (role ?? 'other') : 'other';
  }

  // Pass 2: every `wasm.E`, and what each use says of E.
  const evidence = new Map<string, Set<BindgenUse>>();
  const symbols = new Map<string, string>();
  for (let i = 0; i < t.length; i++) {
    if (!isWasmRef(i)) continue;
    const name = t[i + 2]!.text;
    symbols.set(name, name);
    let use: BindgenUse = 'other';
    if (isPunct(i + 3, '(') && close[i + 3]! > 0) {
      if (isFreeCall(t, argumentsOf(t, close, i + 3))) use = 'free';
    } else if ((isPunct(i - 1, '(') || isPunct(i - 1, ',')) && (isPunct(i + 3, ',') || isPunct(i + 3, ')'))) {
      // A whole argument of a call to a helper: the role the helper gives that parameter.
      const open = parent[i]!;
      const helper =
        open > 0 && isPunct(open, '(') && isPlainCall(open - 1) ? helpers.get(t[open - 1]!.text) : undefined;
      const role = helper?.[argIndex[i]!];
      if (role !== undefined) use = role;
    }
    const set = evidence.get(name) ?? new Set<BindgenUse>();
    evidence.set(name, set.add(use));
  }

  const bindgen = new Map<string, BindgenAllocExport>();
  const named = new Set<BindgenAllocExport>();
  for (const name of symbols.keys()) {
    const w = BINDGEN_ALLOC_EXPORTS.find((n) => n === name);
    if (w) {
      bindgen.set(name, w);
      named.add(w);
    }
  }
  const byRole = new Map<BindgenAllocExport, string[]>();
  for (const [name, uses] of evidence) {
    if (bindgen.has(name) || uses.size !== 1) continue;
    const use = [...uses][0]!;
    if (use === 'other') continue;
    const w = BINDGEN_ROLE[use];
    if (named.has(w)) continue;
    byRole.set(w, [...(byRole.get(w) ?? []), name]);
  }
  for (const [w, names] of byRole) if (names.length === 1) bindgen.set(names[0]!, w);
  return { bindgen, symbols };
}

/**
 * Read Emscripten or wasm-bindgen glue. HA031 when it is empty or is neither (Emscripten glue that
 * maps no exports, JavaScript that references no `wasm.__wbindgen_*` export), HA032 when it is
 * longer than {@link MAX_GLUE_LENGTH}. Time is linear in the length of the text.
 */
export function readGlue(source: string): GlueInfo {
  if (typeof source !== 'string' || source.length === 0) {
    throw new HostAllocError(
      ErrorCodes.BAD_GLUE,
      'the glue is empty: pass the .js file emcc (or wasm-bindgen) wrote next to the .wasm',
    );
  }
  if (source.length > MAX_GLUE_LENGTH) {
    throw new HostAllocError(
      ErrorCodes.LIMIT_EXCEEDED,
      `the glue is ${source.length} characters long, more than the ${MAX_GLUE_LENGTH} accepted: ` +
        'Emscripten and wasm-bindgen glue are far smaller; pass the .js file emcc (or wasm-bindgen) wrote next to the .wasm',
      { details: { limit: 'glueLength', value: source.length, max: MAX_GLUE_LENGTH } },
    );
  }
  const t = tokenize(source);
  const bindgen = readBindgenGlue(t);
  if (bindgen) return { kind: 'wasm-bindgen', exports: new Map(), importModules: [], ...bindgen };
  return readEmscriptenGlue(t);
}

/** The Emscripten part of {@link readGlue}, on its tokens. */
function readEmscriptenGlue(t: readonly Token[]): GlueInfo {
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
      'the glue maps no wasm exports to C symbols and references no wasm-bindgen export: is this the Emscripten JS output (or the wasm-bindgen NAME_bg.js) that goes with the .wasm?',
    );
  }
  const exports = new Map<string, AllocRole>();
  for (const [sym, exp] of symbols) {
    const role = roleOfName(sym);
    if (role) exports.set(exp, role);
  }
  return { kind: 'emscripten', exports, bindgen: new Map(), symbols, importModules: [...importModules] };
}

/**
 * Which glue `source` is, or undefined when it is neither Emscripten glue (it maps at least one
 * export) nor wasm-bindgen glue (it references a `wasm.__wbindgen_*`/`wasm.__wbg_*` export). For
 * `--glue auto`, which must ignore other JavaScript next to a module.
 */
export function glueKind(source: string): GlueInfo['kind'] | undefined {
  try {
    return readGlue(source).kind;
  } catch {
    return undefined;
  }
}

/** Whether `source` is Emscripten glue (see {@link glueKind}). */
export function isEmscriptenGlue(source: string): boolean {
  return glueKind(source) === 'emscripten';
}
