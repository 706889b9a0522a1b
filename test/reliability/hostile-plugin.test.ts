/**
 * Hostile plugins vs the JS host allocator: the call sequences a malicious (or buggy) plugin can make
 * through its env.host_* imports. Arguments arrive as a wasm32 module passes them: i32 values, i.e.
 * JS numbers that may be negative (0xffffffff arrives as -1); both spellings are tried.
 *
 * Properties:
 *  - every invalid operation is detected and reported as a HostAllocatorError with its code, or
 *    fails with 0 (NULL) where C says so (huge sizes, calloc overflow, bad alignment);
 *  - it never corrupts allocator metadata: afterwards `allocator.check()` (slabs and TLSF) passes and a long random valid
 *    sequence still satisfies no-overlap, 16-byte (or requested) alignment and in-heap bounds,
 *    checked against a model of live blocks, with every live block's contents intact;
 *  - the host never writes outside the heap: memory below __heap_base (data, stack) keeps its
 *    sentinel bytes, and the memory never grows beyond what the model explains;
 *  - a plugin that catches the trap (wasm exception handling) and keeps calling cannot make the host
 *    slow: each refusal is counted (`stats().errors`), reported to `onError`, and costs O(1).
 */

import { describe, expect, it } from 'vitest';
import { createHostAllocator, type HostAllocator, isHostAllocatorError } from '../../src/host/index.js';
import { WA } from '../../src/wasm-api.js';
import { Rng } from '../fuzz/bytes.js';
import type { WasmMemory } from '../harness/wasm.js';

const PAGE = 65536;
const HEAP_BASE = 3 * 1024 + 8; // deliberately unaligned: the heap rounds it up to 16
const SENTINEL = 0x5a;

interface Env {
  heap: HostAllocator;
  memory: WasmMemory;
  imp: HostAllocator['imports'];
}

function setup(initialPages = 2, maximumPages = 64): Env {
  const memory = new WA.Memory({
    initial: initialPages,
    maximum: maximumPages,
  });
  new Uint8Array(memory.buffer).fill(SENTINEL, 0, HEAP_BASE);
  const heap = createHostAllocator({ memory, heapBase: HEAP_BASE });
  return { heap, memory, imp: heap.imports };
}

/** The code of the HostAllocatorError `f` throws, or 'no error' / 'other: …'. */
function codeOf(f: () => unknown): string {
  try {
    f();
    return 'no error';
  } catch (e) {
    return isHostAllocatorError(e) ? e.code : `other: ${String(e)}`;
  }
}

/** Stats without the error counter, which every refused call increments on purpose. */
function state(env: Env): Omit<ReturnType<HostAllocator['stats']>, 'errors'> {
  const { errors: _errors, ...rest } = env.heap.stats();
  return rest;
}

/** Asserts the untouchable region below the heap still holds its sentinel bytes. */
function expectStaticUntouched(env: Env): void {
  const view = new Uint8Array(env.memory.buffer, 0, HEAP_BASE);
  const bad = view.findIndex((b) => b !== SENTINEL);
  expect(bad, `byte ${bad} below __heap_base was written by the host`).toBe(-1);
}

/** Model of live blocks: ptr -> { size, align, fill byte }. */
type Model = Map<number, { size: number; align: number; fill: number }>;

function checkModel(env: Env, model: Model): void {
  const mem = new Uint8Array(env.memory.buffer);
  const blocks = [...model.entries()].sort((a, b) => a[0] - b[0]);
  let prevEnd = 0;
  for (const [p, b] of blocks) {
    expect(p % Math.max(16, b.align), `block ${p} alignment`).toBe(0);
    expect(p, 'block starts in the heap').toBeGreaterThanOrEqual(HEAP_BASE);
    expect(p + b.size, 'block ends inside memory').toBeLessThanOrEqual(mem.length);
    expect(p, `block ${p} overlaps the previous one (ends ${prevEnd})`).toBeGreaterThanOrEqual(prevEnd);
    expect(env.heap.usableSize(p)).toBeGreaterThanOrEqual(b.size);
    prevEnd = p + Math.max(b.size, 1);
    for (let i = 0; i < b.size; i += 1 + (i >> 4)) {
      if (mem[p + i] !== b.fill)
        throw new Error(`contents of block ${p} (size ${b.size}) corrupted at +${i}`);
    }
  }
  env.heap.allocator!.check();
  expect(env.heap.stats().blocks).toBe(model.size);
  expectStaticUntouched(env);
}

function fillBlock(env: Env, p: number, size: number, fill: number): void {
  new Uint8Array(env.memory.buffer).fill(fill, p, p + size);
}

/** A long random valid sequence through the imports, checked against the model. */
function randomValidSequence(env: Env, model: Model, seed: number, steps: number, check = true): void {
  const rng = new Rng(seed);
  for (let s = 0; s < steps; s++) {
    const op = rng.int(10);
    const live = [...model.keys()];
    if (op < 3 || live.length === 0) {
      const size = rng.pick([0, 1, 15, 16, 17, rng.int(256), rng.int(4096), rng.int(70000)]);
      const p = env.imp.host_malloc(size) >>> 0;
      if (p === 0) continue;
      const fill = rng.int(256);
      fillBlock(env, p, size, fill);
      model.set(p, { size, align: 16, fill });
    } else if (op < 4) {
      const n = rng.int(64);
      const size = rng.int(64);
      const p = env.imp.host_calloc(n, size) >>> 0;
      if (p === 0) continue;
      const mem = new Uint8Array(env.memory.buffer);
      for (let i = 0; i < n * size; i++)
        if (mem[p + i] !== 0) throw new Error(`calloc block ${p} not zeroed at ${i}`);
      const fill = rng.int(256);
      fillBlock(env, p, n * size, fill);
      model.set(p, { size: n * size, align: 16, fill });
    } else if (op < 5) {
      const align = 2 ** rng.int(13);
      const size = rng.int(3000);
      const p = env.imp.host_aligned_alloc(align, size) >>> 0;
      if (p === 0) continue;
      const fill = rng.int(256);
      fillBlock(env, p, size, fill);
      model.set(p, { size, align, fill });
    } else if (op < 8) {
      const p = rng.pick(live);
      env.imp.host_free(p);
      model.delete(p);
    } else {
      const p = rng.pick(live);
      const old = model.get(p)!;
      const size = rng.int(9000);
      const q = env.imp.host_realloc(p, size) >>> 0;
      if (size === 0) {
        expect(q).toBe(0);
        model.delete(p);
        continue;
      }
      if (q === 0) continue; // failed: the old block is intact
      const mem = new Uint8Array(env.memory.buffer);
      const keep = Math.min(old.size, size);
      for (let i = 0; i < keep; i += 7)
        if (mem[q + i] !== old.fill) throw new Error(`realloc lost contents at ${i}`);
      model.delete(p);
      fillBlock(env, q, size, old.fill);
      model.set(q, { size, align: 16, fill: old.fill });
    }
    if (check && s % 500 === 499) checkModel(env, model);
  }
  if (check) checkModel(env, model);
}

describe('hostile plugin vs the JS host allocator', () => {
  it('invalid frees are reported with their code and change nothing', () => {
    const env = setup();
    const model: Model = new Map();
    const a = env.imp.host_malloc(100) >>> 0;
    const b = env.imp.host_malloc(100) >>> 0;
    fillBlock(env, a, 100, 1);
    fillBlock(env, b, 100, 2);
    model.set(a, { size: 100, align: 16, fill: 1 });
    model.set(b, { size: 100, align: 16, fill: 2 });
    const before = state(env);
    const errorsBefore = env.heap.stats().errors;
    const end = env.memory.buffer.byteLength;
    expect(codeOf(() => env.imp.host_free(a + 16))).toBe('HA102'); // interior
    expect(codeOf(() => env.imp.host_free(a + 1))).toBe('HA102'); // misaligned
    expect(codeOf(() => env.imp.host_free(8))).toBe('HA104'); // static data
    expect(codeOf(() => env.imp.host_free(HEAP_BASE - 8))).toBe('HA104'); // top of the stack
    expect(codeOf(() => env.imp.host_free(end))).toBe('HA105');
    expect(codeOf(() => env.imp.host_free(-16))).toBe('HA105'); // 0xfffffff0 as an i32
    expect(codeOf(() => env.imp.host_free(0x7ffffff0))).toBe('HA105');
    // Free space that was never allocated (beyond the two blocks, inside the heap).
    expect(['HA102', 'HA103']).toContain(codeOf(() => env.imp.host_free(b + 4096)));
    expect(state(env)).toEqual(before);
    expect(env.heap.stats().errors).toBe(errorsBefore + 8);
    checkModel(env, model);
    // Double free, also after the block merged with its free neighbour.
    env.imp.host_free(b);
    model.delete(b);
    expect(codeOf(() => env.imp.host_free(b))).toBe('HA103');
    env.imp.host_free(a);
    model.delete(a);
    expect(codeOf(() => env.imp.host_free(a))).toBe('HA103');
    expect(codeOf(() => env.imp.host_free(b))).toBe('HA103');
    expect(env.imp.host_free(0)).toBeUndefined(); // free(NULL) is a no-op
    checkModel(env, model);
    randomValidSequence(env, model, 1, 3000);
  });

  it('realloc and usable_size of freed, interior or foreign pointers are reported', () => {
    const env = setup();
    const model: Model = new Map();
    const a = env.imp.host_malloc(64) >>> 0;
    const b = env.imp.host_malloc(64) >>> 0;
    fillBlock(env, b, 64, 9);
    model.set(b, { size: 64, align: 16, fill: 9 });
    env.imp.host_free(a);
    expect(codeOf(() => env.imp.host_realloc(a, 10))).toBe('HA103');
    expect(codeOf(() => env.imp.host_realloc(a, 0))).toBe('HA103');
    expect(codeOf(() => env.imp.host_realloc(b + 16, 10))).toBe('HA102');
    expect(codeOf(() => env.imp.host_realloc(16, 10))).toBe('HA104');
    expect(codeOf(() => env.imp.host_realloc(-1, 10))).toBe('HA105');
    // usable_size of a freed block is a use after free, not a double free.
    expect(codeOf(() => env.imp.host_usable_size(a))).toBe('HA111');
    try {
      env.imp.host_usable_size(a);
    } catch (e) {
      expect((e as Error).message).toMatch(/use after free/);
      expect((e as Error).message).not.toMatch(/double free/);
    }
    expect(codeOf(() => env.imp.host_usable_size(b + 32))).toBe('HA102');
    expect(codeOf(() => env.imp.host_usable_size(4))).toBe('HA104');
    checkModel(env, model);
    randomValidSequence(env, model, 2, 3000);
  });

  it('huge sizes, calloc overflow and bad alignments fail with NULL and write nothing', () => {
    const env = setup(2, 8);
    const model: Model = new Map();
    const pages = env.memory.buffer.byteLength / PAGE;
    for (const size of [0xffffffff, -1, 0x80000000, -0x80000000, 0xfffffff0, 8 * PAGE + 1]) {
      expect(env.imp.host_malloc(size), `malloc(${size})`).toBe(0);
      expect(env.imp.host_aligned_alloc(16, size), `aligned_alloc(16, ${size})`).toBe(0);
      expect(env.imp.host_calloc(1, size), `calloc(1, ${size})`).toBe(0);
    }
    // n * size > 2^32 (but each fits in 32 bits), and n * size wrapping to something small.
    for (const [n, size] of [
      [0x10000, 0x10001],
      [0x10001, 0x10000],
      [-1, -1],
      [0x80000000, 2],
      [2, 0x80000000],
      [0x40000001, 4], // wraps to 4 in 32 bits
      [0xffffffff, 0xffffffff],
    ] as const) {
      expect(env.imp.host_calloc(n, size), `calloc(${n}, ${size})`).toBe(0);
    }
    for (const align of [0, 3, 5, 24, 48, 0x30000000, -1, 0x7fffffff]) {
      expect(env.imp.host_aligned_alloc(align, 16), `aligned_alloc(${align}, 16)`).toBe(0);
    }
    // A huge alignment is a power of two but cannot be satisfied.
    expect(env.imp.host_aligned_alloc(0x80000000, 16) >>> 0).toBe(0);
    const a = env.imp.host_malloc(32) >>> 0;
    fillBlock(env, a, 32, 7);
    model.set(a, { size: 32, align: 16, fill: 7 });
    expect(env.imp.host_realloc(a, 0xffffffff)).toBe(0); // fails, a intact
    expect(env.imp.host_realloc(a, -16)).toBe(0);
    checkModel(env, model);
    // Nothing of all that grew the memory beyond its maximum, nor wrote anywhere.
    expect(env.memory.buffer.byteLength / PAGE).toBeLessThanOrEqual(8);
    expect(env.memory.buffer.byteLength / PAGE).toBeGreaterThanOrEqual(pages);
    expect(env.heap.stats().blocks).toBe(1);
    randomValidSequence(env, model, 3, 3000);
  });

  it('calloc zeroing stays inside its block when the memory is nearly full', () => {
    const env = setup(1, 2);
    const model: Model = new Map();
    // Fill the heap with blocks and patterns, then calloc into the gaps.
    const rng = new Rng(4);
    for (let i = 0; i < 200; i++) {
      const size = rng.int(2000);
      const p = env.imp.host_malloc(size) >>> 0;
      if (p === 0) break;
      fillBlock(env, p, size, 0xc0 | (i & 0x3f));
      model.set(p, { size, align: 16, fill: 0xc0 | (i & 0x3f) });
    }
    for (const p of [...model.keys()].filter((_, i) => i % 3 === 0)) {
      env.imp.host_free(p);
      model.delete(p);
    }
    for (let i = 0; i < 200; i++) {
      const n = rng.int(40);
      const size = rng.int(80);
      const p = env.imp.host_calloc(n, size) >>> 0;
      if (p === 0) continue;
      fillBlock(env, p, n * size, 0x11);
      model.set(p, { size: n * size, align: 16, fill: 0x11 });
    }
    checkModel(env, model);
    expect(env.memory.buffer.byteLength).toBeLessThanOrEqual(2 * PAGE);
  });

  it('random interleavings of valid and hostile calls never corrupt the heap', () => {
    const env = setup(2, 256);
    const model: Model = new Map();
    const rng = new Rng(5);
    const freed: number[] = [];
    let detected = 0;
    for (let s = 0; s < 4000; s++) {
      // A freed pointer may be handed out again: then it is live and must leave `freed`.
      for (let i = freed.length - 1; i >= 0; i--) if (model.has(freed[i]!)) freed.splice(i, 1);
      const live = [...model.keys()];
      const kind = rng.int(12);
      if (kind < 6 || live.length === 0) {
        // A valid step.
        randomValidSequence(env, model, rng.u32(), 1, false);
        continue;
      }
      const hostile = [
        () => env.imp.host_free(rng.pick(freed.length ? freed : [HEAP_BASE + 4096])),
        () => env.imp.host_free(rng.pick(live) + rng.pick([1, 4, 8, 12])),
        () => env.imp.host_realloc(rng.pick(freed.length ? freed : [HEAP_BASE]), rng.int(100)),
        () => env.imp.host_free(rng.int(HEAP_BASE)),
        () => env.imp.host_free(env.memory.buffer.byteLength + rng.int(1 << 20)),
        () => env.imp.host_usable_size(rng.pick(live) + 8),
      ];
      const before = state(env);
      const code = codeOf(rng.pick(hostile));
      if (code !== 'no error') {
        expect(code, 'a hostile call either fails with a HostAllocatorError or was valid after all').toMatch(
          /^HA(10[2-5]|111)$/,
        );
        expect(state(env)).toEqual(before);
        detected++;
      }
      if (kind === 11 && live.length) {
        const p = rng.pick(live);
        env.imp.host_free(p);
        model.delete(p);
        freed.push(p);
      }
      if (s % 400 === 0) checkModel(env, model);
    }
    expect(detected).toBeGreaterThan(500);
    expect(env.heap.stats().errors).toBe(detected);
    checkModel(env, model);
    randomValidSequence(env, model, 6, 10_000);
  });
});
