/**
 * @fileoverview Human-readable output: error blocks, per-file result lines, summaries and the
 * inspect table. Pure functions returning strings; the commands decide where they go.
 */

import type { FamilyMember, Hazard, InspectReport, Layout, TransformReport, VerifyReport } from '../types.js';
import type { ErrorInfo } from './errors.js';

/**
 * Characters that must not reach a terminal raw: C0 controls (escape sequences start with ESC,
 * a newline would forge a line), DEL, C1 controls, and bidirectional overrides that reorder text.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every control character written as an escape (`\x1b`, `\n`, `\u202e`), for human
 * output: names from a module's name section and file names are attacker-controlled. (`--json`
 * output is escaped by JSON.stringify.)
 */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

const e = escapeControls;

/** `error[HA001]: <context>: <message>` plus one `  caused by: …` line per cause. */
export function formatError(error: ErrorInfo, context?: string): string {
  const head = error.code === undefined ? 'error' : `error[${error.code}]`;
  const lines = [`${head}: ${context === undefined ? '' : `${e(context)}: `}${e(error.message)}`];
  for (const cause of error.causes) lines.push(`  caused by: ${e(cause)}`);
  // An unexpected error is a bug: WASM_HOSTALLOC_BACKTRACE=1 shows where it came from.
  if (error.stack !== undefined && process.env['WASM_HOSTALLOC_BACKTRACE']) lines.push(error.stack);
  return lines.join('\n');
}

/** `warning: a.wasm: heap base 65552 is estimated (…)`: one line per warning of a transform. */
export function formatWarnings(warnings: readonly string[], context: string): string[] {
  return warnings.map((w) => `warning: ${context}: ${w}`);
}

/**
 * 12345 -> "12,345" (counts and byte sizes: integers). Grouped by hand: the first
 * `toLocaleString` of a process loads ICU's locale data, 20 ms at the end of every CLI run.
 */
export function num(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n));
  let out = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let i = out.length; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
}

/** A number with its hex form, for addresses: "66560 (0x10400)". */
export function addr(n: number): string {
  return `${n} (0x${n.toString(16)})`;
}

function plural(n: number, word: string, words = `${word}s`): string {
  return `${num(n)} ${n === 1 ? word : words}`;
}

/** One line per transformed file. */
export function formatTransformLine(input: string, output: string | null, report: TransformReport): string {
  const saved = report.inputSize - report.outputSize;
  const delta = saved >= 0 ? `${num(saved)} bytes saved` : `${num(-saved)} bytes added`;
  const target = output === null ? '(dry run)' : `-> ${e(output)}`;
  if (report.status === 'already-compliant') return `already compliant  ${e(input)} ${target}`;
  if (report.status === 'adopted')
    return `adopted  ${e(input)} ${target} (built against the ABI: marker and layout exports added)`;
  return (
    `transformed  ${e(input)} ${target} (${num(report.inputSize)} -> ${num(report.outputSize)} bytes, ` +
    `${delta}, ${plural(report.functionsRemoved, 'function')} removed)`
  );
}

export interface TransformSummary {
  files: number;
  transformed: number;
  alreadyCompliant: number;
  refused: number;
  failed: number;
  /** Sum of inputSize - outputSize over written (or, with --dry-run, would-be) outputs. */
  bytesSaved: number;
}

export function formatTransformSummary(s: TransformSummary): string {
  return (
    `${plural(s.files, 'file')}: ${num(s.transformed)} transformed, ${num(s.alreadyCompliant)} already compliant, ` +
    `${num(s.refused)} refused, ${num(s.failed)} failed; ` +
    (s.bytesSaved >= 0 ? `${num(s.bytesSaved)} bytes saved` : `${num(-s.bytesSaved)} bytes added`)
  );
}

export interface VerifySummary {
  files: number;
  compliant: number;
  notCompliant: number;
  failed: number;
}

export function formatVerifySummary(s: VerifySummary): string {
  return `${plural(s.files, 'file')}: ${num(s.compliant)} compliant, ${num(s.notCompliant)} not compliant, ${num(s.failed)} failed`;
}

/** `a.wasm: ok (ABI 2, heap base 66560[, estimated])` or `a.wasm: not compliant` + one line per problem. */
export function formatVerify(input: string, report: VerifyReport): string {
  if (report.compliant) {
    const facts = [
      report.abiVersion === null ? null : `ABI ${report.abiVersion}`,
      report.heapBase === null ? null : `heap base ${report.heapBase}`,
      // A heap base the transform could only estimate (or compute) stays visibly so.
      report.heapBaseConfidence === null || report.heapBaseConfidence === 'exact'
        ? null
        : report.heapBaseConfidence,
    ].filter((f) => f !== null);
    return `${e(input)}: ok${facts.length > 0 ? ` (${facts.join(', ')})` : ''}`;
  }
  const lines = [`${e(input)}: not compliant`];
  for (const p of report.problems) lines.push(`  [${e(p.code)}] ${e(p.message)}`);
  return lines.join('\n');
}

// ---- inspect -------------------------------------------------------------------------------------

/** Rows of [label, value]; a value may span several lines (continuations are indented). */
type Row = [string, string];

function table(rows: readonly Row[]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  const out: string[] = [];
  for (const [k, v] of rows) {
    const [first = '', ...rest] = v.split('\n');
    out.push(`${k.padEnd(width)}  ${first}`.trimEnd());
    for (const line of rest) out.push(`${' '.repeat(width)}  ${line}`.trimEnd());
  }
  return out.join('\n');
}

/** Columns aligned on the widest cell; the first row is the header. */
function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, c] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  return rows
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function memoryLine(layout: Layout): string {
  const m = layout.memory;
  const parts = [
    `${m.is64 ? 'memory64' : 'memory32'}, ${plural(m.initialPages, 'page')} initial`,
    m.maximumPages === null ? 'no maximum' : `maximum ${plural(m.maximumPages, 'page')}`,
  ];
  if (m.shared) parts.push('shared');
  if (m.imported !== null) parts.push(`imported from ${e(m.imported.module)}.${e(m.imported.name)}`);
  if (m.exportedAs.length > 0) parts.push(`exported as ${m.exportedAs.map((x) => `"${e(x)}"`).join(', ')}`);
  return parts.join(', ');
}

function segmentsValue(layout: Layout): string {
  const segs = layout.dataSegments;
  if (segs.length === 0) return 'none';
  const passive = segs.filter((s) => s.passive).length;
  const head = `${segs.length} (${segs.length - passive} active, ${passive} passive)`;
  const shown = segs.slice(0, 8).map((s) => {
    const where = s.passive
      ? 'passive'
      : s.offset === null
        ? 'offset not constant'
        : `[${s.offset}, ${s.offset + s.size})`;
    return `#${s.index}  ${where}  ${plural(s.size, 'byte')}`;
  });
  if (segs.length > shown.length) shown.push(`... ${segs.length - shown.length} more`);
  return [head, ...shown].join('\n');
}

function familyValue(family: readonly FamilyMember[]): string {
  if (family.length === 0) return 'none found';
  const rows = [['role', 'function', 'exports', 'identified by']];
  for (const m of family) {
    rows.push([
      m.role,
      m.name === null ? `$${m.index}` : `$${e(m.name)}`,
      m.exports.length === 0 ? '-' : m.exports.map(e).join(', '),
      m.identifiedBy,
    ]);
  }
  return columns(rows);
}

function hazardsValue(hazards: readonly Hazard[]): string {
  if (hazards.length === 0) return 'none';
  return hazards
    .map(
      (h) =>
        `${h.kind}: ${e(h.message)}${h.functions.length > 0 ? ` (${h.functions.map(e).join(', ')})` : ''}`,
    )
    .join('\n');
}

const HOST_RELEVANT =
  /^(host_|__heap_base$|__heap_end$|__data_end$|__hostalloc|__stack_pointer$|__stack_(low|high)$)/;

function listValue(items: readonly string[], total: number): string {
  if (total === 0) return 'none';
  const more = total - items.length;
  return (items.length === 0 ? [] : [items.join(', ')])
    .concat(more > 0 ? [`(+${more} more; --json lists all)`] : [])
    .join('\n');
}

/** The inspect table. */
export function formatInspect(input: string, r: InspectReport): string {
  const l = r.layout;
  const familyExports = new Set(r.family.flatMap((m) => m.exports));
  const imports = r.imports
    .filter((i) => i.kind === 'memory' || HOST_RELEVANT.test(i.name))
    .map((i) => `${e(i.module)}.${e(i.name)} (${i.kind})`);
  const exports = r.exports
    .filter((x) => x.kind === 'memory' || HOST_RELEVANT.test(x.name) || familyExports.has(x.name))
    .map((x) => `${e(x.name)} (${x.kind})`);
  const rows: Row[] = [
    ['file', `${e(input)} (${plural(r.size, 'byte')})`],
    ['memory', memoryLine(l)],
    ['data segments', segmentsValue(l)],
    ['data start', l.dataStart === null ? 'no active data' : addr(l.dataStart)],
    [
      '__data_end',
      l.dataEndExport.value !== null
        ? `${addr(l.dataEndExport.value)}, ${l.dataEndExport.confidence}: ${l.dataEndExport.source}`
        : `unknown (data segments end at ${addr(l.dataEnd)}; bss has no segment)`,
    ],
    [
      'stack pointer',
      l.stackPointer === null
        ? 'not found'
        : `global ${l.stackPointer.global}${l.stackPointer.name === null ? '' : ` $${e(l.stackPointer.name)}`}, initial ${addr(l.stackPointer.initial)}`,
    ],
    [
      'stack',
      l.stack === null
        ? 'unknown'
        : `[${l.stack.low}, ${l.stack.high}) ${plural(l.stack.high - l.stack.low, 'byte')}`,
    ],
    ['layout', l.kind],
    ['heap base', `${addr(l.heapBase.value)}, ${l.heapBase.confidence}: ${e(l.heapBase.source)}`],
    ['allocator', familyValue(r.family)],
    ['memory.grow', r.memoryGrowSites.length === 0 ? 'none' : r.memoryGrowSites.map(e).join(', ')],
    ['imports', listValue(imports, r.imports.length)],
    ['exports', listValue(exports, r.exports.length)],
    ['hazards', hazardsValue(r.hazards)],
    ['compliant', r.compliant ? `yes${r.abiVersion === null ? '' : ` (ABI ${r.abiVersion})`}` : 'no'],
  ];
  return table(rows);
}
