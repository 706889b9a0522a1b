import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHostAllocator, type HostAllocator, HostAllocatorError } from '../../src/host/index.js';
import { W } from './wasm-builder.js';

const PAGE = 65536;

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof HostAllocatorError) return e.code;
    throw e;
  }
  return undefined;
}

/** Allocator state, without the error counter (which a refused call is meant to change). */
function snapshot(heap: HostAllocator): string {
  const { errors: _errors, ...rest } = heap.stats();
  return JSON.stringify([heap.allocator!.snapshot(), rest]);
}

type Op =
  | { k: 'malloc'; size: number }
  | { k: 'calloc'; n: number; size: number }
  | { k: 'realloc'; i: number; size: number }
  | { k: 'aligned'; exp: number; size: number; odd: boolean }
  | { k: 'free'; i: number }
  | { k: 'interior'; i: number }
  | { k: 'double'; i: number }
  | { k: 'wild'; where: 'below' | 'beyond' | 'misaligned' };

const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.nat(300) },
  { weight: 3, arbitrary: fc.nat(5000) },
  { weight: 1, arbitrary: fc.integer({ min: 20_000, max: 200_000 }) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('malloc' as const), size: sizeArb }) },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('calloc' as const), n: fc.nat(40), size: fc.nat(200) }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('realloc' as const), i: fc.nat(), size: sizeArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('aligned' as const),
      exp: fc.integer({ min: 0, max: 14 }),
      size: fc.nat(3000),
      odd: fc.boolean(),
    }),
  },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('free' as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('interior' as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('double' as const), i: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('wild' as const),
      where: fc.constantFrom('below' as const, 'beyond' as const, 'misaligned' as const),
    }),
  },
);

interface Live {
  size: number;
  fill: number;
  align: number;
}

describe('host allocator over a real WebAssembly.Memory (property-based)', () => {
  it('matches a reference model through long random operation sequences', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9000 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(opArb, { minLength: 50, maxLength: 400, size: 'max' }),
        (heapBase, maxPages, ops) => {
          const memory = new W.Memory({ initial: 1, maximum: maxPages });
          let grows = 0;
          // memory + heapBase given: no attach() needed (lazy attach on first call).
          const heap = createHostAllocator({ memory, heapBase, onGrow: () => grows++ });
          const live = new Map<number, Live>();
          const freed: number[] = [];
          let nextFill = 1;
          let mallocs = 0;
          let frees = 0;
          const u8 = () => new Uint8Array(memory.buffer);
          const aligned16 = Math.ceil(heapBase / 16) * 16;

          const fill = (p: number, size: number): number => {
            const f = (nextFill++ % 251) + 1;
            u8().fill(f, p, p + size);
            return f;
          };
          const verify = (p: number, l: Live, upTo = l.size) => {
            const bytes = u8().subarray(p, p + Math.min(upTo, l.size));
            for (let j = 0; j < bytes.length; j++) {
              if (bytes[j] !== l.fill)
                throw new Error(`block ${p}: byte ${j} is ${bytes[j]}, want ${l.fill}`);
            }
          };
          const pick = (i: number): number | undefined => {
            const keys = [...live.keys()];
            return keys.length === 0 ? undefined : keys[i % keys.length];
          };
          const failed = (size: number, align: number) => {
            // A failure is only allowed when growing enough would pass the memory's maximum.
            const need = heap.allocator!.growthNeeded(size, align);
            expect(memory.buffer.byteLength + Math.ceil(need / PAGE) * PAGE).toBeGreaterThan(maxPages * PAGE);
          };
          const born = (p: number, size: number, align: number): void => {
            expect(p % Math.max(16, align)).toBe(0);
            expect(live.has(p)).toBe(false);
            expect(heap.usableSize(p)).toBeGreaterThanOrEqual(Math.max(size, 1));
            live.set(p, { size, fill: fill(p, size), align });
            const at = freed.indexOf(p);
            if (at >= 0) freed.splice(at, 1);
          };
          const died = (p: number): void => {
            live.delete(p);
            freed.push(p);
          };
          const expectThrowUnchanged = (f: () => unknown, codes: string[]) => {
            const before = snapshot(heap);
            const code = codeOf(f);
            expect(codes).toContain(code);
            expect(snapshot(heap)).toBe(before);
          };

          for (const o of ops) {
            switch (o.k) {
              case 'malloc': {
                const p = heap.malloc(o.size);
                if (p === 0) failed(o.size, 16);
                else {
                  mallocs++;
                  born(p, o.size, 16);
                }
                break;
              }
              case 'calloc': {
                const p = heap.calloc(o.n, o.size);
                if (p === 0) failed(o.n * o.size, 16);
                else {
                  mallocs++;
                  const bytes = u8().subarray(p, p + heap.usableSize(p));
                  expect(bytes.every((b) => b === 0)).toBe(true);
                  born(p, o.n * o.size, 16);
                }
                break;
              }
              case 'realloc': {
                const p = pick(o.i);
                if (p === undefined) {
                  const q = heap.realloc(0, o.size);
                  if (q !== 0) {
                    mallocs++;
                    born(q, o.size, 16);
                  }
                  break;
                }
                const l = live.get(p)!;
                verify(p, l);
                const q = heap.realloc(p, o.size);
                if (o.size === 0) {
                  expect(q).toBe(0);
                  frees++;
                  died(p);
                } else if (q === 0) {
                  failed(o.size, 16);
                  verify(p, l); // old block intact
                } else {
                  expect(q % 16).toBe(0);
                  verify(q, l, o.size); // contents preserved up to the smaller size
                  live.delete(p);
                  if (q !== p) freed.push(p);
                  born(q, o.size, 16);
                }
                break;
              }
              case 'aligned': {
                const align = o.odd ? 2 ** o.exp * 3 : 2 ** o.exp;
                const p = heap.alignedAlloc(align, o.size);
                if (o.odd) expect(p).toBe(0);
                else if (p === 0) failed(o.size, align);
                else {
                  mallocs++;
                  born(p, o.size, align);
                }
                break;
              }
              case 'free': {
                const p = pick(o.i);
                if (p === undefined) break;
                verify(p, live.get(p)!);
                heap.free(p);
                frees++;
                died(p);
                break;
              }
              case 'interior': {
                const p = pick(o.i);
                if (p === undefined) break;
                const off = 16 * (1 + (o.i % Math.max(1, heap.usableSize(p) / 16 - 1)));
                if (off >= heap.usableSize(p)) break;
                expectThrowUnchanged(() => heap.free(p + off), ['HA102']);
                expectThrowUnchanged(() => heap.realloc(p + off, 10), ['HA102']);
                expectThrowUnchanged(() => heap.usableSize(p + 1), ['HA102']);
                break;
              }
              case 'double': {
                if (freed.length === 0) break;
                const p = freed[o.i % freed.length]!;
                // A pointer freed earlier now lies in free space (HA103) or inside a newer block (HA102).
                const inside = [...live.keys()].some((q) => q < p && p < q + heap.usableSize(q));
                expectThrowUnchanged(() => heap.free(p), [inside ? 'HA102' : 'HA103']);
                break;
              }
              case 'wild': {
                if (o.where === 'below') expectThrowUnchanged(() => heap.free(aligned16 - 8), ['HA104']);
                else if (o.where === 'beyond') {
                  expectThrowUnchanged(() => heap.free(memory.buffer.byteLength + 16), ['HA105']);
                } else expectThrowUnchanged(() => heap.free(aligned16 + 7), ['HA102', 'HA103']);
                break;
              }
            }
            // Invariants after every step.
            heap.allocator!.check();
            const end = memory.buffer.byteLength;
            expect(end).toBeLessThanOrEqual(maxPages * PAGE);
            const sorted = [...live.keys()].sort((a, b) => a - b);
            let prevEnd = aligned16;
            let inUse = 0;
            for (const p of sorted) {
              const usable = heap.usableSize(p);
              expect(p).toBeGreaterThanOrEqual(prevEnd);
              prevEnd = p + usable;
              inUse += usable;
            }
            expect(prevEnd).toBeLessThanOrEqual(end);
            const s = heap.stats();
            expect(s.inUse).toBe(inUse);
            expect(s.blocks).toBe(live.size);
            expect(s.mallocs).toBe(mallocs);
            expect(s.frees).toBe(frees);
            expect(s.heapBase).toBe(aligned16);
            expect(s.heapEnd).toBe(end);
            expect(s.free).toBe(end - aligned16 - inUse);
            expect(s.grows).toBe(grows);
            expect(s.inBandOverhead).toBe(0);
          }
          for (const [p, l] of live) verify(p, l);
          for (const p of [...live.keys()]) heap.free(p);
          const s = heap.stats();
          expect(s.inUse).toBe(0);
          expect(s.blocks).toBe(0);
          heap.allocator!.check();
          // What is left taken from the TLSF: the cached empty spans (at most one per size class).
          const used = heap.tlsf!.blocks().filter((b) => !b.free);
          expect(used.every((b) => b.size === 16384 && (b.offset - aligned16) % 16384 === 0)).toBe(true);
          expect(used.length).toBe(s.spans);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('grows by exactly the missing pages, then returns 0 at the maximum', () => {
    const memory = new W.Memory({ initial: 1, maximum: 3 });
    const deltas: number[] = [];
    const heap = createHostAllocator({
      memory,
      heapBase: 1024,
      grow: (m, d) => {
        deltas.push(d);
        try {
          m.grow(d);
          return true;
        } catch {
          return false;
        }
      },
    });
    // Needs 1 page more (the new space merges with the free tail).
    const p = heap.malloc(100_000);
    expect(p).not.toBe(0);
    expect(deltas).toEqual([1]);
    expect(memory.buffer.byteLength).toBe(2 * PAGE);
    const q = heap.malloc(60_000); // one more page: the last one allowed
    expect(q).not.toBe(0);
    expect(memory.buffer.byteLength).toBe(3 * PAGE);
    deltas.length = 0;
    expect(heap.malloc(200_000)).toBe(0);
    expect(deltas.every((d) => d > 0)).toBe(true);
    expect(memory.buffer.byteLength).toBe(3 * PAGE);
    expect(heap.stats().grows).toBe(2);
    heap.free(q);
    heap.free(p);
    expect(heap.stats().freeBlocks).toBe(1);
  });

  it('grows by what is needed, rounded to pages: the memory size follows the heap', () => {
    const memory = new W.Memory({ initial: 1 });
    const deltas: number[] = [];
    const heap = createHostAllocator({
      memory,
      heapBase: 0,
      grow: (m, d) => {
        deltas.push(d);
        m.grow(d);
        return true;
      },
    });
    heap.malloc(70_000);
    expect(deltas).toEqual([1]); // 70,000 - 65,520 free bytes: one page
    heap.malloc(3_000_000);
    // The free tail left after the first block, plus the missing bytes rounded up to pages.
    const tail = 2 * PAGE - 16 - 70_000 - 16;
    expect(deltas[1]).toBe(Math.ceil((3_000_000 - tail) / PAGE));
    // Small blocks take one 16 KiB span at a time: 10,000 blocks of 32 bytes are 20 spans (512 slots
    // each); the memory grows by those 320 KiB plus at most one span of alignment slack, in pages.
    const before = memory.buffer.byteLength;
    for (let i = 0; i < 10_000; i++) heap.malloc(32);
    expect(heap.stats().spans).toBe(20);
    expect(memory.buffer.byteLength - before).toBeLessThanOrEqual(Math.ceil((21 * 16384) / PAGE) * PAGE);
  });

  it('adopts growth made by someone else (e.g. the module) on the next miss', () => {
    const memory = new W.Memory({ initial: 1, maximum: 4 });
    const heap = createHostAllocator({ memory, heapBase: 64, grow: () => false });
    memory.grow(1);
    const p = heap.malloc(100_000);
    expect(p).not.toBe(0);
    expect(heap.stats().heapEnd).toBe(2 * PAGE);
    expect(heap.stats().grows).toBe(0);
  });

  it('calloc zeroes reused memory and checks n*size overflow', () => {
    const memory = new W.Memory({ initial: 1, maximum: 2 });
    const heap = createHostAllocator({ memory, heapBase: 1024 });
    for (const size of [256, 5008]) {
      const a = heap.malloc(size);
      new Uint8Array(memory.buffer).fill(0xaa, a, a + size);
      heap.free(a);
      const b = heap.calloc(size / 16, 16);
      expect(b).toBe(a);
      expect(new Uint8Array(memory.buffer, b, size).every((x) => x === 0)).toBe(true);
      heap.free(b);
    }
    expect(heap.calloc(2 ** 20, 2 ** 20)).toBe(0);
    expect(heap.calloc(0x10000, 0x10001)).toBe(0);
  });

  it('realloc: null -> malloc, size 0 -> free and 0, in place shrink/grow, failure keeps the block', () => {
    const memory = new W.Memory({ initial: 1, maximum: 1 });
    const heap = createHostAllocator({ memory, heapBase: 1024 });
    const s = heap.realloc(0, 100);
    expect(s).not.toBe(0);
    expect(heap.realloc(s, 97)).toBe(s); // same class (112)
    expect(heap.realloc(s, 60)).toBe(s); // fits, uses more than half the slot: stays
    const s2 = heap.realloc(s, 20); // would waste most of the slot: moves to the 32-byte class
    expect(s2).not.toBe(s);
    expect(heap.usableSize(s2)).toBe(32);
    heap.free(s2);
    const a = heap.realloc(0, 3000);
    expect(a).not.toBe(0);
    expect(heap.realloc(a, 2500)).toBe(a); // large blocks shrink in place
    expect(heap.realloc(a, 4000)).toBe(a); // next block is free: grows in place
    const b = heap.malloc(5000);
    new Uint8Array(memory.buffer).fill(7, a, a + 4000);
    const c = heap.realloc(a, 8000); // must move
    expect(c).not.toBe(a);
    expect(new Uint8Array(memory.buffer, c, 4000).every((x) => x === 7)).toBe(true);
    expect(heap.realloc(c, 1_000_000)).toBe(0); // beyond the maximum: old block intact
    expect(heap.usableSize(c)).toBe(8000);
    expect(heap.realloc(c, 0)).toBe(0);
    expect(codeOf(() => heap.free(c))).toBe('HA103');
    heap.free(b);
    expect(heap.stats()).toMatchObject({ inUse: 0, blocks: 0, freeBlocks: 1 });
    heap.allocator!.check();
  });

  it('sizes beyond the address space return 0; bad JS arguments throw HA109', () => {
    const memory = new W.Memory({ initial: 1 });
    const heap = createHostAllocator({ memory, heapBase: 1024 });
    expect(heap.malloc(2 ** 32)).toBe(0);
    expect(heap.malloc(2 ** 40)).toBe(0);
    expect(heap.alignedAlloc(2 ** 32, 16)).toBe(0);
    expect(heap.malloc(2n ** 60n)).toBe(0n);
    expect(codeOf(() => heap.malloc(-1))).toBe('HA109');
    expect(codeOf(() => heap.malloc(1.5))).toBe('HA109');
    expect(heap.stats().blocks).toBe(0);
  });

  it('malloc(0) returns unique non-null 16-byte blocks; alignedAlloc rejects non powers of two', () => {
    const memory = new W.Memory({ initial: 1 });
    const heap = createHostAllocator({ memory, heapBase: 1024 });
    const ps = Array.from({ length: 10 }, () => heap.malloc(0));
    expect(new Set(ps).size).toBe(10);
    expect(ps.every((p) => p !== 0 && heap.usableSize(p) === 16)).toBe(true);
    // Granule 8 (Emscripten's alignment): one 8-byte slot.
    const h8 = createHostAllocator({ memory: new W.Memory({ initial: 1 }), heapBase: 1024, granule: 8 });
    const qs = Array.from({ length: 10 }, () => h8.malloc(0));
    expect(new Set(qs).size).toBe(10);
    expect(qs.every((p) => p !== 0 && p % 8 === 0 && h8.usableSize(p) === 8)).toBe(true);
    expect(heap.alignedAlloc(24, 8)).toBe(0);
    expect(heap.alignedAlloc(0, 8)).toBe(0);
    expect(heap.alignedAlloc(4096, 8) % 4096).toBe(0);
  });

  it('works over a shared memory (single-threaded)', () => {
    const memory = new W.Memory({ initial: 1, maximum: 4, shared: true });
    const heap = createHostAllocator({ memory, heapBase: 1024 });
    const a = heap.calloc(1, 100_000);
    expect(a).not.toBe(0);
    expect(heap.stats().grows).toBe(1);
    heap.free(a);
    expect(heap.stats().freeBlocks).toBe(1);
  });

  it('throws HA101 before it knows its memory', () => {
    const heap = createHostAllocator();
    for (const f of [
      () => heap.malloc(1),
      () => heap.free(16),
      () => heap.stats(),
      () => heap.imports.host_malloc(4),
      () => heap.imports.host_free(16),
    ]) {
      const code = codeOf(f);
      expect(code).toBe('HA101');
    }
    try {
      heap.malloc(1);
    } catch (e) {
      expect((e as Error).message).toMatch(/call heap\.attach\(instance\) after instantiation/);
    }
    expect(heap.attached).toBe(false);
  });
});
