/**
 * @fileoverview A generator of random but valid modules with an allocator-shaped malloc/free (and
 * sometimes calloc/realloc): random memory layouts (data-stack-heap, stack-first, no stack), random
 * data segments (active and passive), tables and element segments holding the allocator, a start
 * function, name sections, exported or hidden layout globals, imported or defined memory, shared
 * memories and memory64. Bytes are encoded directly (no binaryen): fast, and binaryen's parser is
 * then exercised on input it did not write itself. Every module must pass WebAssembly.validate
 * (with --experimental-wasm-memory64 for the memory64 ones); the campaign counts any that does not
 * as a generator bug.
 */

import { name, type Rng, section, sleb, uleb, vec } from './bytes.js';

const I32 = 0x7f;
const I64 = 0x7e;
const FUNCREF = 0x70;

export interface GeneratedModule {
  bytes: Uint8Array;
  /** What the generator put in (for reports). */
  shape: {
    memory64: boolean;
    shared: boolean;
    importedMemory: boolean;
    layout: 'data-stack-heap' | 'stack-data-heap' | 'data-heap';
    grows: boolean;
    residue: boolean;
    functions: number;
    dataSegments: number;
    table: boolean;
    start: boolean;
    names: boolean;
  };
}

interface Fn {
  type: number;
  locals: number[];
  body: number[];
  name: string;
}

export function generateModule(rng: Rng): GeneratedModule {
  const memory64 = rng.chance(0.12);
  const shared = !memory64 && rng.chance(0.08);
  const importedMemory = rng.chance(0.1);
  const P = memory64 ? I64 : I32;
  const pconst = (v: number | bigint): number[] => (memory64 ? [0x42, ...sleb(v)] : [0x41, ...sleb(v)]);
  const op = memory64
    ? { add: 0x7c, and: 0x83, mul: 0x7e, gt_u: 0x56, store: 0x37, eqz: 0x50 }
    : { add: 0x6a, and: 0x71, mul: 0x6c, gt_u: 0x4b, store: 0x36, eqz: 0x45 };
  const memarg = (align: number, offset: number) => [...uleb(align), ...uleb(offset)];

  // ---- layout
  const layout = rng.pick(['data-stack-heap', 'stack-data-heap', 'data-heap'] as const);
  const stackSize = rng.pick([4096, 65536, 16 * 1024, 5 * 65536]);
  const nData = rng.pick([0, 1, 1, 2, 3, 5, 8, rng.range(10, 64)]);
  let dataStart = layout === 'stack-data-heap' ? stackSize : rng.pick([1, 8, 1024, 4096]);
  const segments: { offset: number; bytes: Uint8Array; passive: boolean }[] = [];
  let cursor = dataStart;
  for (let i = 0; i < nData; i++) {
    const len = rng.pick([0, 1, 4, rng.range(1, 64), rng.range(64, 2048)]);
    cursor += rng.pick([0, 0, 1, 16, rng.range(0, 512)]);
    segments.push({ offset: cursor, bytes: rng.bytes(len), passive: rng.chance(0.1) });
    cursor += len;
  }
  if (nData === 0) dataStart = cursor;
  const dataEnd = cursor;
  const stackTop =
    layout === 'data-stack-heap'
      ? ((dataEnd + 15) & ~15) + stackSize
      : layout === 'stack-data-heap'
        ? stackSize
        : 0;
  const heapBase = Math.max(((dataEnd + 15) & ~15) + (layout === 'data-stack-heap' ? stackSize : 0), 16);
  const minPages = Math.max(1, Math.ceil((heapBase + 1) / 65536));
  let initial = rng.pick([minPages, minPages, minPages + 1, minPages + rng.range(0, 300)]);
  if (!memory64 && rng.chance(0.03)) initial = 65536;
  if (memory64 && rng.chance(0.05)) initial = rng.pick([65537, 262144]);
  let max: number | null = rng.chance(0.5) || shared ? initial + rng.pick([0, 1, 16, 1000]) : null;
  if (max !== null && !memory64) max = Math.min(max, 65536);
  if (max !== null && memory64) max = Math.min(max, 262144); // V8's implementation limit
  const memFlags = (max !== null ? 1 : 0) | (shared ? 2 : 0) | (memory64 ? 4 : 0);
  const memType = [memFlags, ...uleb(initial), ...(max !== null ? uleb(max) : [])];

  // ---- types
  const types: number[][] = [
    [0x60, ...vec([[P]]), ...vec([[P]])], // 0 malloc (P)->P
    [0x60, ...vec([[P]]), ...vec([])], // 1 free (P)->()
    [0x60, ...vec([[P], [P]]), ...vec([[P]])], // 2 calloc/realloc (P,P)->P
    [0x60, ...vec([]), ...vec([])], // 3 ()->()
    [0x60, ...vec([[I32]]), ...vec([[I32]])], // 4 user (i32)->i32
  ];

  // ---- imports
  const imports: number[][] = [];
  const importNames: string[] = [];
  if (rng.chance(0.3)) {
    imports.push([
      ...name('env'),
      ...name(rng.pick(['abort', 'log', 'emscripten_notify_memory_growth'])),
      0x00,
      ...uleb(3),
    ]);
    importNames.push('imported');
  }
  const numImportedFuncs = imports.length;
  if (importedMemory) imports.push([...name('env'), ...name('memory'), 0x02, ...memType]);

  // ---- globals: 0 = heap pointer, 1 = free list, 2 = stack pointer?, then exported layout globals
  const globals: number[][] = [];
  const gHp = globals.push([P, 1, ...pconst(heapBase), 0x0b]) - 1;
  const gFl = globals.push([P, 1, ...pconst(0), 0x0b]) - 1;
  let gSp = -1;
  if (layout !== 'data-heap') gSp = globals.push([I32, 1, 0x41, ...sleb(stackTop | 0), 0x0b]) - 1;
  const exportedGlobals: [string, number][] = [];
  if (rng.chance(0.6)) {
    const mutable = rng.chance(0.05) ? 1 : 0;
    const value = rng.chance(0.1) ? rng.pick([0, 7, dataStart, heapBase - 16, 2 ** 31 - 1]) : heapBase;
    exportedGlobals.push(['__heap_base', globals.push([P, mutable, ...pconst(value), 0x0b]) - 1]);
  }
  if (rng.chance(0.4))
    exportedGlobals.push(['__data_end', globals.push([P, 0, ...pconst(dataEnd), 0x0b]) - 1]);
  if (gSp >= 0 && rng.chance(0.3)) exportedGlobals.push(['__stack_pointer', gSp]);

  // ---- functions
  const fns: Fn[] = [];
  const grows = rng.chance(0.4);
  const malloc: Fn = { type: 0, locals: [P], name: 'malloc', body: [] };
  malloc.body = [
    0x23,
    ...uleb(gHp),
    0x21,
    1,
    0x23,
    ...uleb(gHp),
    0x20,
    0,
    op.add,
    ...pconst(15),
    op.add,
    ...pconst(-16),
    op.and,
    0x24,
    ...uleb(gHp),
    ...(grows
      ? [
          0x23,
          ...uleb(gHp),
          0x3f,
          0x00,
          ...pconst(65536),
          op.mul,
          op.gt_u,
          0x04,
          0x40,
          ...pconst(1),
          0x40,
          0x00,
          0x1a,
          0x0b,
        ]
      : []),
    0x20,
    1,
    0x0b,
  ];
  fns.push(malloc);
  const freeKind = rng.int(3);
  const free: Fn = { type: 1, locals: [], name: 'free', body: [] };
  free.body =
    freeKind === 0
      ? [0x0b]
      : freeKind === 1
        ? [
            0x20,
            0,
            0x23,
            ...uleb(gFl),
            op.store,
            ...memarg(memory64 ? 3 : 2, 0),
            0x20,
            0,
            0x24,
            ...uleb(gFl),
            0x0b,
          ]
        : [0x20, 0, op.eqz, 0x04, 0x40, 0x0f, 0x0b, 0x20, 0, 0x24, ...uleb(gFl), 0x0b];
  fns.push(free);
  const mallocIdx = numImportedFuncs + 0;
  const freeIdx = numImportedFuncs + 1;
  const hasCalloc = rng.chance(0.4);
  const hasRealloc = rng.chance(0.4);
  if (hasCalloc) {
    fns.push({
      type: 2,
      locals: [P],
      name: 'calloc',
      body: [
        0x20,
        0,
        0x20,
        1,
        op.mul,
        0x10,
        ...uleb(mallocIdx),
        0x21,
        2,
        0x20,
        2,
        0x41,
        0,
        0x20,
        0,
        0x20,
        1,
        op.mul,
        0xfc,
        11,
        0x00,
        0x20,
        2,
        0x0b,
      ],
    });
  }
  if (hasRealloc) {
    fns.push({
      type: 2,
      locals: [P],
      name: 'realloc',
      body: [
        0x20,
        1,
        0x10,
        ...uleb(mallocIdx),
        0x21,
        2,
        0x20,
        2,
        0x20,
        0,
        0x20,
        1,
        0xfc,
        10,
        0x00,
        0x00,
        0x20,
        0,
        0x10,
        ...uleb(freeIdx),
        0x20,
        2,
        0x0b,
      ],
    });
  }
  const table = rng.chance(0.3);
  const residue = rng.chance(0.1);
  const nUser = rng.range(0, 6);
  for (let u = 0; u < nUser; u++) {
    const size = rng.pick([0, 1, 16, rng.range(1, 100000)]);
    const body: number[] = [...pconst(size), 0x10, ...uleb(mallocIdx), 0x21, 1];
    body.push(0x20, 1, 0x20, 0, 0x36, ...memarg(2, rng.pick([0, 4, 8])));
    if (residue && u === 0) body.push(0x23, ...uleb(gHp), ...pconst(1), op.add, 0x24, ...uleb(gHp));
    if (gSp >= 0 && rng.chance(0.3))
      body.push(0x23, ...uleb(gSp), 0x41, ...sleb(16), 0x6b, 0x24, ...uleb(gSp));
    body.push(0x20, 1, 0x28, ...memarg(2, 0));
    if (table && rng.chance(0.5)) body.push(0x20, 1, 0x41, 1, 0x11, 1, 0x00);
    else if (rng.chance(0.7)) body.push(0x20, 1, 0x10, ...uleb(freeIdx));
    body.push(0x0b);
    fns.push({ type: 4, locals: [P], name: `user${u}`, body });
  }
  const start = rng.chance(0.15);
  let startIdx = -1;
  if (start) {
    startIdx = numImportedFuncs + fns.length;
    fns.push({
      type: 3,
      locals: [],
      name: rng.pick(['__wasm_call_ctors', 'init', '_start_hook']),
      body: rng.chance(0.5) ? [...pconst(32), 0x10, ...uleb(mallocIdx), 0x1a, 0x0b] : [0x0b],
    });
  }

  // ---- exports
  const exports: number[][] = [];
  const exportNames = new Set<string>();
  const exp = (n: string, kind: number, idx: number) => {
    if (exportNames.has(n)) return;
    exportNames.add(n);
    exports.push([...name(n), kind, ...uleb(idx)]);
  };
  if (rng.chance(0.93)) exp('memory', 0x02, 0);
  const hiddenAlloc = rng.chance(0.08);
  if (!hiddenAlloc) {
    exp(
      rng.chance(0.9) ? 'malloc' : rng.pick(['dlmalloc', 'emscripten_builtin_malloc', 'a']),
      0x00,
      mallocIdx,
    );
    exp(rng.chance(0.9) ? 'free' : rng.pick(['dlfree', 'emscripten_builtin_free', 'b']), 0x00, freeIdx);
  }
  if (rng.chance(0.1)) exp('aligned_alloc', 0x00, mallocIdx); // wrong signature on purpose
  fns.forEach((f, i) => {
    if (f.name === 'calloc' || f.name === 'realloc') {
      if (rng.chance(0.7)) exp(f.name, 0x00, numImportedFuncs + i);
    } else if (f.name.startsWith('user')) exp(f.name, 0x00, numImportedFuncs + i);
  });
  for (const [n, g] of exportedGlobals) exp(n, 0x03, g);
  if (table && rng.chance(0.5)) exp('__indirect_function_table', 0x01, 0);

  // ---- assemble
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  out.push(...section(1, vec(types)));
  if (imports.length) out.push(...section(2, vec(imports)));
  out.push(...section(3, vec(fns.map((f) => uleb(f.type)))));
  if (table) out.push(...section(4, vec([[FUNCREF, 0x00, ...uleb(4)]])));
  if (!importedMemory) out.push(...section(5, vec([memType])));
  out.push(...section(6, vec(globals)));
  out.push(...section(7, vec(exports)));
  if (start) out.push(...section(8, uleb(startIdx)));
  if (table) {
    const elems = [mallocIdx, freeIdx, ...(fns.length > 2 ? [numImportedFuncs + rng.int(fns.length)] : [])];
    out.push(...section(9, vec([[0x00, 0x41, 0x00, 0x0b, ...vec(elems.map((e) => uleb(e)))]])));
  }
  const passiveCount = segments.filter((s) => s.passive).length;
  if (passiveCount > 0 && rng.chance(0.5)) out.push(...section(12, uleb(segments.length)));
  out.push(
    ...section(
      10,
      vec(
        fns.map((f) => {
          const locals = f.locals.length ? vec([[...uleb(f.locals.length), f.locals[0]!]]) : vec([]);
          const body = [...locals, ...f.body];
          return [...uleb(body.length), ...body];
        }),
      ),
    ),
  );
  if (segments.length) {
    out.push(
      ...section(
        11,
        vec(
          segments.map((s) =>
            s.passive
              ? [0x01, ...uleb(s.bytes.length), ...s.bytes]
              : [0x00, ...pconst(s.offset), 0x0b, ...uleb(s.bytes.length), ...s.bytes],
          ),
        ),
      ),
    );
  }
  const names = rng.chance(0.6);
  if (names) {
    const entries: number[][] = [];
    importNames.forEach((n, i) => {
      entries.push([...uleb(i), ...name(n)]);
    });
    fns.forEach((f, i) => {
      const n = rng.chance(0.05) ? rng.pick(['sbrk', 'dlmalloc', 'malloc', 'free', 'x']) : f.name;
      entries.push([...uleb(numImportedFuncs + i), ...name(n)]);
    });
    const sub1 = vec(entries);
    const payload = [...name('name'), 1, ...uleb(sub1.length), ...sub1];
    if (gSp >= 0 && rng.chance(0.5)) {
      const sub7 = vec([[...uleb(gSp), ...name('__stack_pointer')]]);
      payload.push(7, ...uleb(sub7.length), ...sub7);
    }
    out.push(...section(0, payload));
  }
  return {
    bytes: Uint8Array.from(out),
    shape: {
      memory64,
      shared,
      importedMemory,
      layout,
      grows,
      residue,
      functions: numImportedFuncs + fns.length,
      dataSegments: segments.length,
      table,
      start,
      names,
    },
  };
}
