/**
 * @fileoverview Direct byte builders for hostile modules (no binaryen: 50,000 functions or a 100 MB
 * file take milliseconds this way). Every module has an allocator-shaped malloc/free pair exported
 * as `malloc`/`free`, a memory exported as `memory` and an exported `__heap_base`.
 */

import { concat, HEADER, name, section, sleb, uleb, vec } from '../fuzz/bytes.js';

export interface HostileShape {
  /** Initial pages (default 2). */
  pages?: number | bigint;
  /** Maximum pages (default none). */
  maxPages?: number | bigint;
  memory64?: boolean;
  /** Extra functions (each `(i32) -> i32`, returning its argument plus a constant). */
  extraFunctions?: number;
  /** Active data segments of 4 bytes each. */
  dataSegments?: number;
  /** A function whose body nests `block`s this deep. */
  nesting?: number;
  /** Bytes of one extra custom section. */
  customBytes?: number;
}

/** Builds the module. Returned as a Uint8Array (a Buffer for big custom sections). */
export function hostileModule(shape: HostileShape): Uint8Array {
  const is64 = shape.memory64 ?? false;
  const P = is64 ? 0x7e : 0x7f;
  const pconst = (v: number): number[] => (is64 ? [0x42, ...sleb(v)] : [0x41, ...sleb(v)]);
  const add = is64 ? 0x7c : 0x6a;
  const heapBase = Math.max(1 << 16, (1024 + 4 * (shape.dataSegments ?? 0) + 15) & ~15);
  const types = vec([
    [0x60, ...vec([[P]]), ...vec([[P]])],
    [0x60, ...vec([[P]]), ...vec([])],
    [0x60, ...vec([[0x7f]]), ...vec([[0x7f]])],
  ]);
  const extra = shape.extraFunctions ?? 0;
  const nested = shape.nesting !== undefined ? 1 : 0;
  const funcTypes: number[] = [0, 1];
  const fparts: Uint8Array[] = [];
  // function section: 2 + extra + nested entries
  const nFuncs = 2 + extra + nested;
  const funcSec = new Uint8Array(uleb(nFuncs).length + nFuncs);
  funcSec.set(uleb(nFuncs));
  let o = uleb(nFuncs).length;
  funcSec[o++] = 0;
  funcSec[o++] = 1;
  for (let i = 0; i < extra + nested; i++) funcSec[o++] = 2;
  void funcTypes;

  const mem = [
    (shape.maxPages !== undefined ? 1 : 0) | (is64 ? 4 : 0),
    ...uleb(shape.pages ?? 2),
    ...(shape.maxPages !== undefined ? uleb(shape.maxPages) : []),
  ];
  const globals = vec([
    [P, 1, ...pconst(heapBase), 0x0b],
    [P, 0, ...pconst(heapBase), 0x0b],
  ]);
  const exports = vec([
    [...name('memory'), 0x02, 0],
    [...name('malloc'), 0x00, 0],
    [...name('free'), 0x00, 1],
    [...name('__heap_base'), 0x03, 1],
    ...(nested ? [[...name('deep'), 0x00, ...uleb(2 + extra)]] : []),
  ]);
  // code
  const body = (b: number[]) => [...uleb(b.length), ...b];
  const malloc = body([...vec([[1, P]]), 0x23, 0, 0x21, 1, 0x23, 0, 0x20, 0, add, 0x24, 0, 0x20, 1, 0x0b]);
  const free = body([0x00, 0x0b]);
  const codeParts: (number[] | Uint8Array)[] = [uleb(nFuncs), malloc, free];
  const small = body([0x00, 0x20, 0, 0x41, 1, 0x6a, 0x0b]);
  for (let i = 0; i < extra; i++) codeParts.push(small);
  if (nested) {
    const n = shape.nesting!;
    const b = new Uint8Array(1 + 2 * n + 3 + n + 1);
    let q = 0;
    b[q++] = 0x00; // no locals
    for (let i = 0; i < n; i++) {
      b[q++] = 0x02; // block
      b[q++] = 0x40; // empty type
    }
    b[q++] = 0x20; // local.get 0 ... drop keeps the stack empty inside
    b[q++] = 0;
    b[q++] = 0x1a;
    for (let i = 0; i < n; i++) b[q++] = 0x0b;
    // function result: local.get 0 is needed; rewrite: final value
    const tail = [0x20, 0, 0x0b];
    const full = concat([b.subarray(0, q), tail]);
    codeParts.push(concat([uleb(full.length), full]));
  }
  fparts.push(concat(codeParts));
  const code = fparts[0]!;

  const nData = shape.dataSegments ?? 0;
  let dataSec: Uint8Array | undefined;
  if (nData > 0) {
    const parts: (number[] | Uint8Array)[] = [uleb(nData)];
    for (let i = 0; i < nData; i++) parts.push([0x00, ...pconst(1024 + i * 4), 0x0b, 4, 1, 2, 3, 4]);
    dataSec = concat(parts);
  }
  const sec = (id: number, payload: Uint8Array | number[]) =>
    concat([[id, ...uleb(payload.length)], payload]);
  const parts: (number[] | Uint8Array)[] = [
    HEADER,
    section(1, types),
    sec(3, funcSec),
    section(5, vec([mem])),
    section(6, globals),
    section(7, exports),
    sec(10, code),
  ];
  if (dataSec) parts.push(sec(11, dataSec));
  if (shape.customBytes) {
    const nm = name('hostile.blob');
    const payloadLen = nm.length + shape.customBytes;
    const head = [0, ...uleb(payloadLen), ...nm];
    const buf = Buffer.alloc(head.length + shape.customBytes, 0xab);
    buf.set(head, 0);
    parts.push(buf);
  }
  return concat(parts);
}
