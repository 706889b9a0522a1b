import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HostAllocatorError, Tlsf } from '../../src/host/index.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof HostAllocatorError) return e.code;
    throw e;
  }
  return undefined;
}

describe('Tlsf (pure allocator over an abstract range)', () => {
  it('aligns the base to 16, never uses 0, and starts as one free block', () => {
    const t = new Tlsf(1001, 10_000);
    expect(t.base).toBe(1008);
    expect(t.end).toBe(10_000);
    expect(t.blocks()).toEqual([{ offset: 1008, size: 10_000 - 1008, free: true }]);
    expect(new Tlsf(0, 1024).base).toBe(16);
    t.check();
  });

  it('hands out 16-aligned, non-overlapping blocks; malloc(0) is unique and non-null', () => {
    const t = new Tlsf(1000, 1 << 20);
    const a = t.malloc(0);
    const b = t.malloc(0);
    const c = t.malloc(1);
    const d = t.malloc(17);
    expect(new Set([a, b, c, d]).size).toBe(4);
    for (const p of [a, b, c, d]) {
      expect(p).toBeGreaterThan(0);
      expect(p % 16).toBe(0);
    }
    expect(t.usableSize(a)).toBe(16);
    expect(t.usableSize(d)).toBe(32);
    t.check();
  });

  it('coalesces immediately with both neighbours', () => {
    const t = new Tlsf(16, 4096 + 16);
    const a = t.malloc(100);
    const b = t.malloc(100);
    const c = t.malloc(100);
    t.free(a);
    t.free(c); // merges with the tail
    expect(t.stats().freeBlocks).toBe(2);
    t.free(b); // merges with both
    expect(t.blocks()).toEqual([{ offset: 16, size: 4096, free: true }]);
    t.check();
  });

  it('returns 0 when full, and addSpace merges with a free block at the old end', () => {
    const t = new Tlsf(16, 16 + 1024);
    const a = t.malloc(512);
    expect(t.malloc(1024)).toBe(0);
    expect(t.growthNeeded(1024)).toBe(1024 - 512);
    t.addSpace(16 + 1024 + 512);
    expect(t.blocks()).toEqual([
      { offset: 16, size: 512, free: false },
      { offset: 528, size: 1024, free: true },
    ]);
    expect(t.malloc(1024)).toBe(528);
    t.free(a);
    t.check();
  });

  it('alignedAlloc honours powers of two and returns the slack; rejects others', () => {
    const t = new Tlsf(16, 1 << 20);
    t.malloc(16);
    for (const align of [32, 64, 4096, 65536]) {
      const p = t.alignedAlloc(align, 40);
      expect(p % align).toBe(0);
      t.check();
    }
    expect(t.alignedAlloc(48, 16)).toBe(0);
    expect(t.alignedAlloc(0, 16)).toBe(0);
    expect(t.alignedAlloc(8, 16) % 16).toBe(0);
  });

  it('resizes in place: shrink splits off the tail, grow absorbs a free successor', () => {
    const t = new Tlsf(16, 1 << 16);
    const a = t.malloc(1000);
    const b = t.malloc(64);
    t.free(b);
    expect(t.resizeInPlace(a, 2000)).toBe(true);
    expect(t.usableSize(a)).toBe(2000);
    expect(t.resizeInPlace(a, 100)).toBe(true);
    expect(t.usableSize(a)).toBe(112);
    const c = t.malloc(1 << 15);
    t.malloc(16);
    expect(t.resizeInPlace(c, 1 << 16)).toBe(false);
    t.check();
  });

  it('classifies bad pointers without changing state', () => {
    const t = new Tlsf(1024, 1 << 16);
    const a = t.malloc(64);
    const b = t.malloc(64);
    t.malloc(64);
    t.free(b);
    const before = JSON.stringify([t.blocks(), t.stats()]);
    expect(codeOf(() => t.free(a + 16))).toBe('HA102');
    expect(codeOf(() => t.free(a + 3))).toBe('HA102');
    expect(codeOf(() => t.free(b))).toBe('HA103');
    expect(codeOf(() => t.free(8))).toBe('HA104');
    expect(codeOf(() => t.free(1 << 20))).toBe('HA105');
    expect(codeOf(() => t.free(-16))).toBe('HA102');
    expect(codeOf(() => t.usableSize(b))).toBe('HA111'); // use after free, not a double free
    expect(codeOf(() => t.resizeInPlace(a + 16, 8))).toBe('HA102');
    expect(JSON.stringify([t.blocks(), t.stats()])).toBe(before);
    t.free(0);
    t.check();
  });

  it('handles memory64-sized ranges (sizes beyond 2^32)', () => {
    const t = new Tlsf(16, 2 ** 40);
    const a = t.malloc(2 ** 35 + 5);
    expect(a).toBe(16);
    expect(t.usableSize(a)).toBe(2 ** 35 + 16);
    const b = t.alignedAlloc(2 ** 33, 100);
    expect(b % 2 ** 33).toBe(0);
    t.check();
    t.free(a);
    t.free(b);
    expect(t.blocks()).toHaveLength(1);
    expect(t.malloc(2 ** 41)).toBe(0);
    t.check();
  });

  it('property: random malloc/free/alignedAlloc/resize/addSpace keep every invariant', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('malloc' as const), size: fc.oneof(fc.nat(600), fc.nat(20_000)) }),
      fc.record({ k: fc.constant('free' as const), i: fc.nat() }),
      fc.record({
        k: fc.constant('aligned' as const),
        exp: fc.integer({ min: 0, max: 13 }),
        size: fc.nat(3000),
      }),
      fc.record({ k: fc.constant('resize' as const), i: fc.nat(), size: fc.nat(5000) }),
      fc.record({ k: fc.constant('grow' as const), by: fc.integer({ min: 1, max: 40_000 }) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }),
        fc.array(op, { minLength: 20, maxLength: 300, size: 'max' }),
        (base, ops) => {
          const t = new Tlsf(base, base + 30_000);
          const live = new Map<number, number>(); // ptr -> minimum size
          const order: number[] = [];
          for (const o of ops) {
            if (o.k === 'malloc' || o.k === 'aligned') {
              const align = o.k === 'aligned' ? 2 ** o.exp : 16;
              const p = o.k === 'aligned' ? t.alignedAlloc(align, o.size) : t.malloc(o.size);
              if (p === 0) {
                expect(t.growthNeeded(o.size, align)).toBeGreaterThan(0);
              } else {
                expect(p % Math.max(16, align)).toBe(0);
                expect(t.usableSize(p)).toBeGreaterThanOrEqual(Math.max(o.size, 1));
                live.set(p, o.size);
                order.push(p);
              }
            } else if (o.k === 'free' && order.length > 0) {
              const p = order.splice(o.i % order.length, 1)[0]!;
              live.delete(p);
              t.free(p);
            } else if (o.k === 'resize' && order.length > 0) {
              const p = order[o.i % order.length]!;
              if (t.resizeInPlace(p, o.size)) {
                expect(t.usableSize(p)).toBeGreaterThanOrEqual(o.size);
                live.set(p, o.size);
              }
            } else if (o.k === 'grow') {
              t.addSpace(t.end + o.by);
            }
            t.check();
          }
          // No overlap, inside the range.
          const sorted = [...live.keys()].sort((a, b) => a - b);
          let prevEnd = t.base;
          for (const p of sorted) {
            expect(p).toBeGreaterThanOrEqual(prevEnd);
            prevEnd = p + t.usableSize(p);
          }
          expect(prevEnd).toBeLessThanOrEqual(t.end);
          for (const p of sorted) t.free(p);
          t.check();
          expect(t.blocks()).toEqual(
            t.end > t.base ? [{ offset: t.base, size: t.end - t.base, free: true }] : [],
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});
