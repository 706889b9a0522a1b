/**
 * @fileoverview A tiny WebAssembly binary assembler for the host-allocator tests: builds modules
 * that import `env.host_*`, so the tests need no toolchain (no wat2wasm, no emcc).
 */

import { WA } from '../../src/wasm-api.js';
import { section as encodeSection, name, sleb, uleb, vec } from '../harness/encode.js';

/** The runtime WebAssembly object (typed once, in src/wasm-api.ts). */
export const W = WA;

export const I32 = 0x7f;
export const I64 = 0x7e;

/** Opcodes used by the test modules. */
export const op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  call: 0x10,
  drop: 0x1a,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i32Store: 0x36,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32WrapI64: 0xa7,
  i64ExtendI32U: 0xad,
  void: 0x40,
} as const;

/** A section, or nothing when its body is empty. */
function section(id: number, body: number[]): number[] {
  return body.length === 0 ? [] : encodeSection(id, body);
}

export interface FuncType {
  params: number[];
  results: number[];
}

export interface MemoryType {
  min: number;
  max?: number;
  shared?: boolean;
  /** A memory64 memory (limits flag 0x04; i64 addresses). */
  memory64?: boolean;
}

export type ImportSpec =
  | { module: string; name: string; kind: 'func'; type: number }
  | { module: string; name: string; kind: 'memory'; memory: MemoryType };

export interface ModuleSpec {
  types: FuncType[];
  imports?: ImportSpec[];
  /** Defined functions: type index, extra locals (types), body (without the final `end`). */
  funcs?: { type: number; locals?: number[]; body: number[] }[];
  memory?: MemoryType;
  /** Immutable globals with a constant initializer. */
  globals?: { type: number; value: number | bigint }[];
  exports?: { name: string; kind: 'func' | 'memory' | 'global'; index: number }[];
}

function limits(m: MemoryType): number[] {
  const flags = (m.max !== undefined ? 1 : 0) | (m.shared ? 2 : 0) | (m.memory64 ? 4 : 0);
  return [flags, ...uleb(m.min), ...(m.max !== undefined ? uleb(m.max) : [])];
}

/** Assembles a module. */
export function assemble(spec: ModuleSpec): Uint8Array {
  const types = vec(
    spec.types.map((t) => [0x60, ...vec(t.params.map((p) => [p])), ...vec(t.results.map((r) => [r]))]),
  );
  const imports = vec(
    (spec.imports ?? []).map((i) =>
      i.kind === 'func'
        ? [...name(i.module), ...name(i.name), 0x00, ...uleb(i.type)]
        : [...name(i.module), ...name(i.name), 0x02, ...limits(i.memory)],
    ),
  );
  const funcs = spec.funcs ?? [];
  const funcSec = vec(funcs.map((f) => uleb(f.type)));
  const memSec = spec.memory ? vec([limits(spec.memory)]) : [];
  const globals = vec(
    (spec.globals ?? []).map((g) => [
      g.type,
      0x00,
      g.type === I64 ? op.i64Const : op.i32Const,
      ...sleb(g.value),
      op.end,
    ]),
  );
  const kinds = { func: 0, memory: 2, global: 3 } as const;
  const exports = vec((spec.exports ?? []).map((e) => [...name(e.name), kinds[e.kind], ...uleb(e.index)]));
  const code = vec(
    funcs.map((f) => {
      const locals = vec((f.locals ?? []).map((t) => [1, t]));
      const body = [...locals, ...f.body, op.end];
      return [...uleb(body.length), ...body];
    }),
  );
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, spec.types.length ? types : []),
    ...section(2, spec.imports?.length ? imports : []),
    ...section(3, funcs.length ? funcSec : []),
    ...section(5, memSec),
    ...section(6, spec.globals?.length ? globals : []),
    ...section(7, spec.exports?.length ? exports : []),
    ...section(10, funcs.length ? code : []),
  ]);
}

export interface PluginOptions {
  /** i64 pointers and sizes (BigInt at the JS boundary); __heap_base becomes an i64 global. */
  wide?: boolean;
  /** A real memory64 module: implies `wide`, and the memory itself takes i64 addresses. */
  memory64?: boolean;
  /** Import the memory as env.memory instead of defining and exporting it. */
  importMemory?: boolean;
  /** Value of the exported __hostalloc_abi global; omitted when undefined. */
  abi?: number;
  heapBase?: number;
  memory?: MemoryType;
  /** Don't export __heap_base. */
  noHeapBase?: boolean;
  /** Import namespace of host_malloc/host_free (default 'env'). */
  importModule?: string;
}

/**
 * A minimal "converted plugin": imports env.host_malloc / env.host_free, exports memory, __heap_base,
 * (optionally) __hostalloc_abi, and functions:
 * - `alloc_write(size) -> ptr`: host_malloc(size), stores the i32 0x12345678 at ptr, returns ptr;
 * - `release(ptr)`: host_free(ptr);
 * - `load(ptr) -> i32` (i32 pointer in both variants);
 * - `churn(n)`: n times host_free(host_malloc(32)).
 */
export function plugin(o: PluginOptions = {}): Uint8Array {
  if (o.memory64) o = { ...o, wide: true };
  const P = o.wide ? I64 : I32;
  const mem: MemoryType = { ...(o.memory ?? { min: 1, max: 16 }), memory64: o.memory64 ?? false };
  const imports: ImportSpec[] = [
    { module: o.importModule ?? 'env', name: 'host_malloc', kind: 'func', type: 0 },
    { module: o.importModule ?? 'env', name: 'host_free', kind: 'func', type: 1 },
  ];
  if (o.importMemory) imports.push({ module: 'env', name: 'memory', kind: 'memory', memory: mem });
  // The store's address: an i64 pointer is wrapped for a 32-bit memory, used as is for memory64.
  const addr = o.wide && !o.memory64 ? [op.i32WrapI64] : [];
  const loadAddr = o.memory64 ? [op.i64ExtendI32U] : [];
  const globals: { type: number; value: number | bigint }[] = [];
  const exports: ModuleSpec['exports'] = [
    { name: 'alloc_write', kind: 'func', index: 2 },
    { name: 'release', kind: 'func', index: 3 },
    { name: 'load', kind: 'func', index: 4 },
    { name: 'churn', kind: 'func', index: 5 },
  ];
  if (!o.importMemory) exports.push({ name: 'memory', kind: 'memory', index: 0 });
  if (!o.noHeapBase) {
    exports.push({ name: '__heap_base', kind: 'global', index: globals.length });
    globals.push({ type: P, value: o.wide ? BigInt(o.heapBase ?? 1024) : (o.heapBase ?? 1024) });
  }
  if (o.abi !== undefined) {
    exports.push({ name: '__hostalloc_abi', kind: 'global', index: globals.length });
    globals.push({ type: I32, value: o.abi });
  }
  const sizeConst = o.wide ? [op.i64Const, ...sleb(32)] : [op.i32Const, ...sleb(32)];
  return assemble({
    types: [
      { params: [P], results: [P] }, // 0: malloc
      { params: [P], results: [] }, // 1: free
      { params: [I32], results: [I32] }, // 2: load
      { params: [I32], results: [] }, // 3: churn
    ],
    imports,
    funcs: [
      {
        type: 0,
        locals: [P],
        body: [
          op.localGet,
          0,
          op.call,
          0,
          op.localTee,
          1,
          ...addr,
          op.i32Const,
          ...sleb(0x12345678),
          op.i32Store,
          2,
          0,
          op.localGet,
          1,
        ],
      },
      { type: 1, body: [op.localGet, 0, op.call, 1] },
      { type: 2, body: [op.localGet, 0, ...loadAddr, op.i32Load, 2, 0] },
      {
        type: 3,
        body: [
          op.block,
          op.void,
          op.loop,
          op.void,
          op.localGet,
          0,
          op.i32Eqz,
          op.brIf,
          1,
          ...sizeConst,
          op.call,
          0,
          op.call,
          1,
          op.localGet,
          0,
          op.i32Const,
          1,
          op.i32Sub,
          op.localSet,
          0,
          op.br,
          0,
          op.end,
          op.end,
        ],
      },
    ],
    ...(o.importMemory ? {} : { memory: mem }),
    globals,
    exports,
  });
}
