/**
 * @fileoverview A TLSF (two-level segregated fit) allocator over an abstract address range, with all
 * of its metadata outside the range it manages.
 *
 * Design
 * ------
 * - The range is `[base, end)`, `base` aligned up to 16 (and never 0, so 0 can mean "no memory"),
 *   `end` aligned down to 16. It is tiled by blocks; every block's offset and size are multiples of
 *   16 (the granule), so every pointer handed out is 16-byte aligned. The smallest block is 16 bytes.
 * - No byte of the range is used for bookkeeping (zero in-band overhead). Each block has a *slot* in a
 *   set of parallel typed arrays: offset, size, physical prev/next slot, free-list prev/next slot,
 *   size class and state (free/used). Slots are recycled through a free-slot chain; the arrays double
 *   when they run out. Live allocations are found from their pointer through an open-addressing hash
 *   table (an Int32Array of slots, Fibonacci hashing, load <= 1/2), so a free costs O(1) whatever the
 *   order of frees. Nothing is allocated per call in the steady state.
 * - Every array an operation may need to grow is grown *before* the operation changes anything: when
 *   the host cannot allocate (RangeError from a typed-array constructor), the call throws with the
 *   allocator exactly as it was.
 * - Size classes: sizes below 512 bytes map linearly to 32 classes of 16 bytes (first level 0);
 *   a size in `[2^k, 2^(k+1))`, k >= 9, maps to first level `k - 8` and one of 32 second-level classes
 *   of width `2^(k-5)` (at most 1/32 = 3.1% internal slack from class rounding, none for small sizes).
 *   45 first levels cover sizes up to 2^53 (memory64). A two-word first-level bitmap plus one 32-bit
 *   second-level bitmap per first level find a non-empty class in O(1) with `Math.clz32`.
 * - malloc first looks at up to 8 blocks of the request's own class (some may hold it: closer to best
 *   fit, less fragmentation), then rounds the request up to the next class boundary ("good fit"), so
 *   the head of any class at or above it fits: O(1). When nothing is found there, the last block of the range (the "wilderness",
 *   which growth extends) is tried as well, so growing by exactly the missing bytes is always enough.
 * - free coalesces immediately with both physical neighbours: no two free blocks are ever adjacent,
 *   and freeing everything leaves one free block spanning the whole range.
 * - Misuse (free of a pointer not handed out, double free, interior pointer…) throws a
 *   {@link HostAllocatorError} before any state changes. Classifying the bad pointer is bounded: a page
 *   index (one Int32 per 16 KiB of range: the lowest block starting in that page) leads to the block
 *   that covers the pointer after at most the blocks of one page, never a walk of the whole heap.
 */

import { HostAllocatorErrorCodes as C, HostAllocatorError } from './errors.js';

const GRANULE = 16;
const MIN_BLOCK = 16;
const SL_LOG2 = 5;
const SL_COUNT = 1 << SL_LOG2;
/** Sizes below this map linearly to first level 0. */
const SMALL_LIMIT = SL_COUNT * GRANULE; // 512
/** First levels: sizes < 2^53 have k <= 52, so fl = k - 8 <= 44. */
const FL_COUNT = 45;
const CLASS_COUNT = FL_COUNT * SL_COUNT;
const NONE = -1;
const ST_SPARE = 0;
const ST_FREE = 1;
const ST_USED = 2;
const TWO32 = 4294967296;
/** Free blocks of a request's own class looked at before the next class up (bounded best fit). */
const FIT_SCAN = 8;
/** Pages of the block-start index: 16 KiB, coarser for ranges beyond IDX_MAX pages (4 MiB of index). */
const IDX_SHIFT = 14;
const IDX_MAX = 1 << 20;
/** Fibonacci hashing multiplier: 2^32 / golden ratio. */
const FIB = -1640531535; // 0x9e3779b1 as an int32
/** Largest size (bytes) this allocator reasons about: 2^53 - 16. */
export const TLSF_MAX_SIZE = 2 ** 53 - GRANULE;

/** Rounds a request up to a block size (multiple of 16, at least 16); Infinity when too large. */
function blockSize(size: number): number {
  if (size <= MIN_BLOCK) return MIN_BLOCK;
  if (size <= 0x7fffffe0) return (size + 15) & -16;
  if (size > TLSF_MAX_SIZE) return Number.POSITIVE_INFINITY;
  return Math.ceil(size / GRANULE) * GRANULE;
}

/** floor(log2(size)) for 1 <= size < 2^53. */
function log2(size: number): number {
  return size < TWO32 ? 31 - Math.clz32(size) : 63 - Math.clz32(Math.floor(size / TWO32));
}

/** The class (fl * 32 + sl) a block of `size` bytes is filed under. */
function classOf(size: number): number {
  if (size < SMALL_LIMIT) return size >>> 4;
  const k = log2(size);
  const sl =
    size < TWO32 ? (size >>> (k - SL_LOG2)) - SL_COUNT : Math.floor(size / pow2(k - SL_LOG2)) - SL_COUNT;
  return ((k - 8) << SL_LOG2) | sl;
}

/** The lowest class all of whose blocks hold `size` bytes (size rounded up to a class boundary). */
function searchClass(size: number): number {
  if (size < SMALL_LIMIT) return size >>> 4;
  if (size < 0x80000000) {
    const k = 31 - Math.clz32(size);
    const r = size + (1 << (k - SL_LOG2)) - 1;
    const k2 = 31 - Math.clz32(r);
    return ((k2 - 8) << SL_LOG2) | ((r >>> (k2 - SL_LOG2)) - SL_COUNT);
  }
  // Beyond 2^31 (memory64 only, rare): exact float arithmetic, powers of two by multiplication.
  const k = log2(size);
  return classOf(size + pow2(k - SL_LOG2) - 1);
}

/** 2^e for 0 <= e < 64, from a table (no Math.pow on any path). */
const POW2 = new Float64Array(64).map((_, e) => {
  let x = 1;
  for (let i = 0; i < e; i++) x *= 2;
  return x;
});
function pow2(e: number): number {
  return POW2[e]!;
}

/** Index of the lowest set bit of a non-zero 32-bit word. */
function ffs(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Bytes from `o` up to the next address `a` with `a - origin` a multiple of `align`. */
function alignGap(o: number, align: number, origin: number): number {
  return Math.ceil((o - origin) / align) * align + origin - o;
}

export function hex(n: number): string {
  return '0x' + n.toString(16);
}

/**
 * The error for a pointer into free heap space (block `o`, `z` bytes): a double free for free/realloc,
 * a use after free for usableSize (nothing is being freed there).
 */
export function freeSpaceError(
  p: number,
  op: string,
  o: number,
  z: number,
  details: Record<string, unknown>,
): HostAllocatorError {
  if (op === 'usableSize') {
    return new HostAllocatorError(
      C.USE_AFTER_FREE,
      `${op}(${hex(p)}): use after free: ${p === o ? 'the block' : 'the memory'} at ${hex(p)} is free ` +
        '(freed earlier, or never allocated); only a live allocation has a usable size',
      details,
    );
  }
  return new HostAllocatorError(
    C.DOUBLE_FREE,
    p === o
      ? `${op}(${hex(p)}): double free: the block at ${hex(p)} is already free`
      : `${op}(${hex(p)}): pointer lies in free heap space (free block ${hex(o)}, ${z} bytes): ` +
          'a double free of a block that has since merged with a free neighbour, or a stray pointer',
    details,
  );
}

/** Snapshot of a {@link Tlsf}'s accounting. */
export interface TlsfStats {
  /** Bytes in live blocks (usable sizes: requests rounded up to 16, plus split leftovers < 16). */
  inUse: number;
  /** Highest `inUse` seen. */
  peak: number;
  /** Bytes in free blocks (`end - base - inUse`). */
  free: number;
  /** Live allocations. */
  blocks: number;
  /** Free blocks (never two adjacent). */
  freeBlocks: number;
  /** First managed address. */
  base: number;
  /** End of the managed range. */
  end: number;
}

/** One block, as listed by {@link Tlsf.blocks}. */
export interface TlsfBlock {
  offset: number;
  size: number;
  free: boolean;
}

/**
 * The allocator proper. Pointers are plain numbers (addresses in the managed range); 0 means failure.
 * It never grows by itself: when `malloc` returns 0 the owner may extend the range with
 * {@link Tlsf.addSpace} (by {@link Tlsf.growthNeeded} bytes at least) and retry.
 */
export class Tlsf {
  /** First managed address (aligned to 16, never 0). */
  readonly base: number;
  /** End of the managed range (aligned down to 16). */
  end: number;
  /** Bytes in live blocks. */
  inUse = 0;
  /** Highest `inUse` seen. */
  peak = 0;
  /** Free blocks in the free lists. */
  freeBlocks = 0;
  /** Highest end of any block ever handed out: memory at and above it was never given to a caller. */
  highWater: number;

  private off: Float64Array;
  private size: Float64Array;
  private prevPhys: Int32Array;
  private nextPhys: Int32Array;
  private prevFree: Int32Array;
  private nextFree: Int32Array;
  private cls: Uint16Array;
  private state: Uint8Array;
  private capacity = 0;
  private spare = NONE;
  private first = NONE;
  private last = NONE;
  private flLo = 0;
  private flHi = 0;
  private readonly slBitmap = new Int32Array(FL_COUNT);
  private readonly heads = new Int32Array(CLASS_COUNT).fill(NONE);
  /** Pointer -> slot of live allocations: open addressing (linear probing) over slot indices. */
  private table = new Int32Array(64).fill(NONE);
  private tableMask = 63;
  /** 32 - log2(table size): the hash keeps the top bits of the product. */
  private tableShift = 26;
  private liveCount = 0;
  /** Per page of the range: the slot of the lowest block starting in it, or NONE. */
  private firstStart = new Int32Array(0);
  /** Page size of {@link firstStart}: 2^14 bytes, doubled while the index would exceed IDX_MAX. */
  private idxPage = 1 << IDX_SHIFT;
  private idxShift = IDX_SHIFT;

  /** Manages `[base, end)`; `base` is aligned up to 16 (minimum 16), `end` down to 16. */
  constructor(base: number, end: number) {
    if (!(base >= 0) || !(end >= 0) || !Number.isFinite(base) || !Number.isFinite(end)) {
      throw new RangeError(`Tlsf: bad range [${base}, ${end})`);
    }
    this.base = Math.max(GRANULE, Math.ceil(base / GRANULE) * GRANULE);
    this.end = this.base;
    this.highWater = this.base;
    this.off = new Float64Array(0);
    this.size = new Float64Array(0);
    this.prevPhys = new Int32Array(0);
    this.nextPhys = new Int32Array(0);
    this.prevFree = new Int32Array(0);
    this.nextFree = new Int32Array(0);
    this.cls = new Uint16Array(0);
    this.state = new Uint8Array(0);
    this.reserve(64);
    this.addSpace(end);
  }

  // ---------------------------------------------------------------- public operations

  /** Allocates `size` bytes (16-aligned, at least 16); returns 0 when no free block fits. */
  malloc(size: number): number {
    this.prepare();
    const n = blockSize(size);
    const idx = searchClass(Math.min(n, TLSF_MAX_SIZE));
    // Closer to best fit than plain good fit: a few blocks of n's own class may already hold n.
    let s = n >= SMALL_LIMIT ? this.fitInClass(classOf(n), n) : NONE;
    if (s === NONE) {
      s = this.findFree(idx);
      if (s !== NONE && n >= SMALL_LIMIT) s = this.fitInClass(this.cls[s]!, n);
    }
    if (s === NONE) {
      s = this.last;
      if (s === NONE || this.state[s] !== ST_FREE || this.size[s]! < n) return 0;
    }
    this.unlinkFree(s);
    this.carve(s, n);
    return this.take(s);
  }

  /**
   * Allocates `size` bytes at an address `p` such that `p - origin` is a multiple of `align` (a power
   * of two; anything else returns 0). `origin` (default 0: plain alignment) must be a multiple of 16.
   * The leading slack goes back to the free pool as a block of its own.
   */
  alignedAlloc(align: number, size: number, origin = 0): number {
    if (!(align > 0) || align > TLSF_MAX_SIZE || pow2(log2(align)) !== align) return 0;
    if (align <= GRANULE) return this.malloc(size);
    this.prepare();
    const n = blockSize(size);
    if (n + align > TLSF_MAX_SIZE) return 0;
    // First try the head of the exact class (a hole left by an equal aligned block fits with no gap).
    let s = this.findFree(searchClass(n));
    if (s !== NONE && this.size[s]! < alignGap(this.off[s]!, align, origin) + n) s = NONE;
    // Any gap is a multiple of 16 and at most align - 16; a non-zero gap is a valid block.
    if (s === NONE) s = this.findFree(searchClass(n + align - GRANULE));
    if (s === NONE) {
      s = this.last;
      if (s === NONE || this.state[s] !== ST_FREE) return 0;
      if (this.size[s]! < alignGap(this.off[s]!, align, origin) + n) return 0;
    }
    this.unlinkFree(s);
    const o = this.off[s]!;
    const gap = alignGap(o, align, origin);
    if (gap > 0) {
      // The physical predecessor of a free block is never free: the gap becomes a free block alone.
      const g = this.newSlot();
      const pv = this.prevPhys[s]!;
      this.off[g] = o;
      this.size[g] = gap;
      this.prevPhys[g] = pv;
      this.nextPhys[g] = s;
      if (pv !== NONE) this.nextPhys[pv] = g;
      else this.first = g;
      this.prevPhys[s] = g;
      const k = this.pageOf(o);
      if (this.firstStart[k] === s) this.firstStart[k] = g;
      this.off[s] = o + gap;
      this.size[s] = this.size[s]! - gap;
      this.noteStart(s);
      this.linkFree(g);
    }
    this.carve(s, n);
    return this.take(s);
  }

  /** Frees a live allocation. 0 is a no-op. Throws {@link HostAllocatorError} (state unchanged) on misuse. */
  free(p: number): void {
    if (p === 0) return;
    const at = this.find(p);
    if (at === NONE) throw this.badPointer(p, 'free');
    const s = this.table[at]!;
    this.remove(at);
    this.inUse -= this.size[s]!;
    this.release(s);
  }

  /** Usable size of a live allocation (its block size). Throws on pointers not handed out. */
  usableSize(p: number): number {
    return this.sizeOf(p, 'usableSize');
  }

  /** Usable size of a live allocation; a bad pointer throws the error `op` (e.g. 'realloc') gets. */
  sizeOf(p: number, op: string): number {
    const at = this.find(p);
    if (at === NONE) throw this.badPointer(p, op);
    return this.size[this.table[at]!]!;
  }

  /** True when `p` is the start of a live allocation. */
  isLive(p: number): boolean {
    return this.find(p) !== NONE;
  }

  /**
   * Resizes a live allocation without moving it: shrinks by splitting off the tail, or grows into a
   * free physical successor. Returns false (nothing changed) when it cannot; throws on a bad pointer.
   */
  resizeInPlace(p: number, size: number): boolean {
    if (this.find(p) === NONE) throw this.badPointer(p, 'realloc');
    this.prepare(); // may rehash: look the bucket up again after it
    const s = this.table[this.find(p)]!;
    const n = blockSize(size);
    const cur = this.size[s]!;
    if (n <= cur) {
      if (cur - n >= MIN_BLOCK) {
        // Split off the tail and release it (it merges with a free successor).
        const r = this.newSlot();
        const nx = this.nextPhys[s]!;
        this.off[r] = p + n;
        this.size[r] = cur - n;
        this.prevPhys[r] = s;
        this.nextPhys[r] = nx;
        this.state[r] = ST_USED;
        if (nx !== NONE) this.prevPhys[nx] = r;
        else this.last = r;
        this.nextPhys[s] = r;
        this.size[s] = n;
        this.noteStart(r);
        this.inUse -= cur - n;
        this.release(r);
      }
      return true;
    }
    const nx = this.nextPhys[s]!;
    if (nx === NONE || this.state[nx] !== ST_FREE || cur + this.size[nx]! < n) return false;
    this.unlinkFree(nx);
    this.absorbNext(s, nx);
    this.carve(s, n);
    const grown = this.size[s]! - cur;
    this.inUse += grown;
    if (this.inUse > this.peak) this.peak = this.inUse;
    const e = p + this.size[s]!;
    if (e > this.highWater) this.highWater = e;
    return true;
  }

  /**
   * Extends the range to `newEnd` (aligned down to 16). The new space merges with a free block at
   * the old end. A `newEnd` at or below the current end is ignored.
   */
  addSpace(newEnd: number): void {
    const e = Math.floor(newEnd / GRANULE) * GRANULE;
    if (!(e > this.end)) return;
    // Everything that may need to grow, before anything changes.
    let shift = this.idxShift;
    let page = this.idxPage;
    while (Math.ceil((e - this.base) / page) > IDX_MAX) {
      shift++;
      page *= 2;
    }
    const pages = Math.ceil((e - this.base) / page);
    if (shift !== this.idxShift) {
      // Coarser pages (ranges beyond 16 GiB, abstract memory64 tests): rebuild from the block list.
      const idx = new Int32Array(pages).fill(NONE);
      this.idxShift = shift;
      this.idxPage = page;
      for (let b = this.last; b !== NONE; b = this.prevPhys[b]!) idx[this.pageOf(this.off[b]!)] = b;
      this.firstStart = idx;
    } else if (pages > this.firstStart.length) {
      const idx = new Int32Array(Math.min(IDX_MAX, Math.max(pages, this.firstStart.length * 2))).fill(NONE);
      idx.set(this.firstStart);
      this.firstStart = idx;
    }
    this.prepare();
    const s = this.newSlot();
    this.off[s] = this.end;
    this.size[s] = e - this.end;
    this.prevPhys[s] = this.last;
    this.nextPhys[s] = NONE;
    this.state[s] = ST_USED;
    if (this.last !== NONE) this.nextPhys[this.last] = s;
    else this.first = s;
    this.last = s;
    this.end = e;
    this.noteStart(s);
    this.release(s);
  }

  /**
   * Bytes the range must grow by (at least) so that `alignedAlloc(align, size)` (or `malloc` when
   * align <= 16) succeeds from the wilderness block. Infinity when impossible.
   */
  growthNeeded(size: number, align = GRANULE, origin = 0): number {
    const n = blockSize(size);
    if (!Number.isFinite(n)) return n;
    const l = this.last;
    let start = this.end;
    let have = 0;
    if (l !== NONE && this.state[l] === ST_FREE) {
      start = this.off[l]!;
      have = this.size[l]!;
    }
    const gap = align > GRANULE ? alignGap(start, align, origin) : 0;
    return Math.max(0, gap + n - have);
  }

  /** Accounting snapshot. */
  stats(): TlsfStats {
    return {
      inUse: this.inUse,
      peak: this.peak,
      free: this.end - this.base - this.inUse,
      blocks: this.liveCount,
      freeBlocks: this.freeBlocks,
      base: this.base,
      end: this.end,
    };
  }

  /** All blocks in address order (O(n); for tests and diagnostics). */
  blocks(): TlsfBlock[] {
    const out: TlsfBlock[] = [];
    for (let s = this.first; s !== NONE; s = this.nextPhys[s]!) {
      out.push({ offset: this.off[s]!, size: this.size[s]!, free: this.state[s] === ST_FREE });
    }
    return out;
  }

  /**
   * Checks every structural invariant (tiling, no adjacent free blocks, free lists and bitmaps agree,
   * accounting); throws an Error describing the first violation. O(n): for tests.
   */
  check(): void {
    let at = this.base;
    let prev = NONE;
    let inUse = 0;
    let freeCount = 0;
    let usedCount = 0;
    for (let s = this.first; s !== NONE; s = this.nextPhys[s]!) {
      const o = this.off[s]!;
      const z = this.size[s]!;
      if (o !== at) throw new Error(`block ${hex(o)} expected at ${hex(at)}`);
      if (z < MIN_BLOCK || z % GRANULE !== 0) throw new Error(`block ${hex(o)} has bad size ${z}`);
      if (this.prevPhys[s] !== prev) throw new Error(`block ${hex(o)} has a bad prev link`);
      const st = this.state[s];
      if (st === ST_FREE) {
        freeCount++;
        if (prev !== NONE && this.state[prev] === ST_FREE)
          throw new Error(`adjacent free blocks at ${hex(o)}`);
        if (this.cls[s] !== classOf(z)) throw new Error(`free block ${hex(o)} filed in the wrong class`);
      } else if (st === ST_USED) {
        usedCount++;
        inUse += z;
        if (this.find(o) === NONE || this.table[this.find(o)] !== s)
          throw new Error(`used block ${hex(o)} missing from the pointer map`);
      } else {
        throw new Error(`spare slot ${s} linked at ${hex(o)}`);
      }
      at = o + z;
      prev = s;
    }
    if (at !== this.end) throw new Error(`blocks end at ${hex(at)}, range ends at ${hex(this.end)}`);
    if (prev !== this.last) throw new Error('bad last block');
    if (usedCount !== this.liveCount) throw new Error('pointer map has stale entries');
    if (inUse !== this.inUse) throw new Error(`inUse ${this.inUse} but blocks add up to ${inUse}`);
    let listed = 0;
    for (let idx = 0; idx < CLASS_COUNT; idx++) {
      const fl = idx >>> SL_LOG2;
      const bit = (this.slBitmap[fl]! >>> (idx & 31)) & 1;
      const h = this.heads[idx]!;
      if ((h !== NONE) !== (bit === 1)) throw new Error(`class ${idx}: bitmap disagrees with list`);
      let p = NONE;
      for (let s = h; s !== NONE; s = this.nextFree[s]!) {
        if (this.state[s] !== ST_FREE || this.cls[s] !== idx || this.prevFree[s] !== p) {
          throw new Error(`class ${idx}: corrupt free list`);
        }
        listed++;
        p = s;
      }
    }
    for (let fl = 0; fl < FL_COUNT; fl++) {
      const flBit = fl < 32 ? (this.flLo >>> fl) & 1 : (this.flHi >>> (fl - 32)) & 1;
      if ((this.slBitmap[fl] !== 0) !== (flBit === 1)) throw new Error(`first level ${fl}: bitmap disagrees`);
    }
    if (listed !== freeCount || listed !== this.freeBlocks) throw new Error('free-list count mismatch');
    const want = new Int32Array(this.firstStart.length).fill(NONE);
    for (let s = this.last; s !== NONE; s = this.prevPhys[s]!) want[this.pageOf(this.off[s]!)] = s;
    for (let k = 0; k < want.length; k++) {
      if (want[k] !== this.firstStart[k]) throw new Error(`block-start index wrong for page ${k}`);
    }
  }

  /** Bytes of host memory this allocator's metadata takes (typed arrays). */
  metadataBytes(): number {
    return (
      this.capacity * (8 + 8 + 4 * 4 + 2 + 1) +
      this.table.byteLength +
      this.firstStart.byteLength +
      45 * 4 +
      1440 * 4
    );
  }

  // ---------------------------------------------------------------- internals

  /** Marks a carved block used and returns its pointer. */
  private take(s: number): number {
    const p = this.off[s]!;
    const z = this.size[s]!;
    this.state[s] = ST_USED;
    this.insert(p, s);
    this.inUse += z;
    if (this.inUse > this.peak) this.peak = this.inUse;
    if (p + z > this.highWater) this.highWater = p + z;
    return p;
  }

  /**
   * Home bucket of pointer `p`: Fibonacci hashing of its granule number (the top bits of the product),
   * which spreads consecutive pointers over the whole table: no long probe runs whatever the order of
   * allocations and frees. (The previous hash kept neighbours in neighbouring buckets; freeing oldest
   * first then shifted one giant run per free: 100,000 frees took 35 s.)
   */
  private hash(p: number): number {
    const g = p < TWO32 ? p >>> 4 : ((p / GRANULE) >>> 0) ^ Math.floor(p / TWO32 / GRANULE);
    return Math.imul(g, FIB) >>> this.tableShift;
  }

  /** Bucket holding live pointer `p`, or NONE. */
  private find(p: number): number {
    const mask = this.tableMask;
    const tab = this.table;
    let i = this.hash(p);
    for (;;) {
      const s = tab[i]!;
      if (s === NONE) return NONE;
      if (this.off[s] === p) return i;
      i = (i + 1) & mask;
    }
  }

  /** Room for one more live pointer was made by {@link prepare}. */
  private insert(p: number, s: number): void {
    this.liveCount++;
    const mask = this.tableMask;
    const tab = this.table;
    let i = this.hash(p);
    while (tab[i] !== NONE) i = (i + 1) & mask;
    tab[i] = s;
  }

  /** Empties bucket `i`, shifting later members of its probe run back (no tombstones). */
  private remove(i: number): void {
    const mask = this.tableMask;
    const tab = this.table;
    this.liveCount--;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const s = tab[j]!;
      if (s === NONE) break;
      const home = this.hash(this.off[s]!);
      // Move s back to i unless its home lies cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        tab[i] = s;
        i = j;
      }
    }
    tab[i] = NONE;
  }

  private rehash(cap: number): void {
    const old = this.table;
    const tab = new Int32Array(cap).fill(NONE); // may throw: nothing has changed yet
    this.table = tab;
    this.tableMask = cap - 1;
    this.tableShift = 32 - log2(cap);
    for (let k = 0; k < old.length; k++) {
      const s = old[k]!;
      if (s === NONE) continue;
      let i = this.hash(this.off[s]!);
      while (tab[i] !== NONE) i = (i + 1) & this.tableMask;
      tab[i] = s;
    }
  }

  /**
   * Grows, before an operation changes anything, every array it may need: two spare slots (an
   * aligned gap and a split tail) and room in the pointer table for one more live block. Throws
   * RangeError (state unchanged) when the host cannot allocate.
   */
  private prepare(): void {
    if (this.spare === NONE || this.nextFree[this.spare] === NONE) this.reserve(this.capacity * 2);
    if ((this.liveCount + 1) * 2 > this.tableMask) this.rehash((this.tableMask + 1) * 2);
  }

  /** Page of the block-start index holding address `o` (in range). */
  private pageOf(o: number): number {
    const d = o - this.base;
    return d < 0x80000000 ? d >> this.idxShift : Math.floor(d / this.idxPage);
  }

  /** Records that block `s` now starts at `off[s]`. */
  private noteStart(s: number): void {
    const k = this.pageOf(this.off[s]!);
    const e = this.firstStart[k]!;
    if (e === NONE || this.off[e]! > this.off[s]!) this.firstStart[k] = s;
  }

  /** Block `s` stops existing as a block of its own (merged into its predecessor); `nn` follows it. */
  private noteGone(s: number, nn: number): void {
    const k = this.pageOf(this.off[s]!);
    if (this.firstStart[k] === s) {
      this.firstStart[k] = nn !== NONE && this.pageOf(this.off[nn]!) === k ? nn : NONE;
    }
  }

  /** The block covering address `p` (base <= p < end): O(blocks of one page + empty pages before). */
  private locate(p: number): number {
    let k = this.pageOf(p);
    let s = this.firstStart[k]!;
    while (s === NONE || this.off[s]! > p) {
      k--;
      s = this.firstStart[k]!;
    }
    while (this.off[s]! + this.size[s]! <= p) s = this.nextPhys[s]!;
    return s;
  }

  /** Splits block `s` (not in a free list) to `n` bytes; the tail (>= 16 bytes) becomes free. */
  private carve(s: number, n: number): void {
    const z = this.size[s]!;
    if (z - n < MIN_BLOCK) return;
    const r = this.newSlot();
    const nx = this.nextPhys[s]!;
    this.off[r] = this.off[s]! + n;
    this.size[r] = z - n;
    this.prevPhys[r] = s;
    this.nextPhys[r] = nx;
    if (nx !== NONE) this.prevPhys[nx] = r;
    else this.last = r;
    this.nextPhys[s] = r;
    this.size[s] = n;
    this.noteStart(r);
    this.linkFree(r);
  }

  /** Merges the physical successor `nx` (already unlinked) into `s`. */
  private absorbNext(s: number, nx: number): void {
    this.size[s] = this.size[s]! + this.size[nx]!;
    const nn = this.nextPhys[nx]!;
    this.noteGone(nx, nn);
    this.nextPhys[s] = nn;
    if (nn !== NONE) this.prevPhys[nn] = s;
    else this.last = s;
    this.dropSlot(nx);
  }

  /** Returns block `s` (not in a free list) to the pool, coalescing with free neighbours. */
  private release(s: number): void {
    const nx = this.nextPhys[s]!;
    if (nx !== NONE && this.state[nx] === ST_FREE) {
      this.unlinkFree(nx);
      this.absorbNext(s, nx);
    }
    const pv = this.prevPhys[s]!;
    if (pv !== NONE && this.state[pv] === ST_FREE) {
      this.unlinkFree(pv);
      this.absorbNext(pv, s);
      this.linkFree(pv);
    } else {
      this.linkFree(s);
    }
  }

  /** The smallest of the first FIT_SCAN free blocks of class `idx` that holds `n` bytes, or NONE. */
  private fitInClass(idx: number, n: number): number {
    let s = this.heads[idx]!;
    let best = NONE;
    for (let k = 0; k < FIT_SCAN && s !== NONE; k++) {
      const z = this.size[s]!;
      if (z >= n && (best === NONE || z < this.size[best]!)) best = s;
      s = this.nextFree[s]!;
    }
    return best;
  }

  private findFree(idx: number): number {
    let fl = idx >>> SL_LOG2;
    if (fl >= FL_COUNT) return NONE;
    let sl = this.slBitmap[fl]! & (-1 << (idx & 31));
    if (sl === 0) {
      fl++;
      let m = 0;
      if (fl < 32) {
        m = this.flLo & (-1 << fl);
        if (m !== 0) fl = ffs(m);
        else fl = 32;
      }
      if (m === 0) {
        m = fl - 32 < 32 ? this.flHi & (-1 << (fl - 32)) : 0;
        if (m === 0) return NONE;
        fl = 32 + ffs(m);
      }
      sl = this.slBitmap[fl]!;
    }
    return this.heads[(fl << SL_LOG2) | ffs(sl)]!;
  }

  private linkFree(s: number): void {
    const idx = classOf(this.size[s]!);
    const h = this.heads[idx]!;
    this.cls[s] = idx;
    this.state[s] = ST_FREE;
    this.prevFree[s] = NONE;
    this.nextFree[s] = h;
    if (h !== NONE) {
      this.prevFree[h] = s;
    } else {
      const fl = idx >>> SL_LOG2;
      this.slBitmap[fl] = this.slBitmap[fl]! | (1 << (idx & 31));
      if (fl < 32) this.flLo |= 1 << fl;
      else this.flHi |= 1 << (fl - 32);
    }
    this.heads[idx] = s;
    this.freeBlocks++;
  }

  private unlinkFree(s: number): void {
    const p = this.prevFree[s]!;
    const n = this.nextFree[s]!;
    if (n !== NONE) this.prevFree[n] = p;
    if (p !== NONE) {
      this.nextFree[p] = n;
    } else {
      const idx = this.cls[s]!;
      this.heads[idx] = n;
      if (n === NONE) {
        const fl = idx >>> SL_LOG2;
        const m = this.slBitmap[fl]! & ~(1 << (idx & 31));
        this.slBitmap[fl] = m;
        if (m === 0) {
          if (fl < 32) this.flLo &= ~(1 << fl);
          else this.flHi &= ~(1 << (fl - 32));
        }
      }
    }
    this.state[s] = ST_USED; // transient: the caller carves/takes or re-links it
    this.freeBlocks--;
  }

  private newSlot(): number {
    if (this.spare === NONE) this.reserve(this.capacity * 2);
    const s = this.spare;
    this.spare = this.nextFree[s]!;
    return s;
  }

  private dropSlot(s: number): void {
    this.state[s] = ST_SPARE;
    this.nextFree[s] = this.spare;
    this.spare = s;
  }

  /** Grows the slot arrays to `cap` slots and chains the new ones as spare. */
  private reserve(cap: number): void {
    const old = this.capacity;
    // Allocate everything first (any of these may throw RangeError), then switch over.
    const off = new Float64Array(cap);
    const size = new Float64Array(cap);
    const prevPhys = new Int32Array(cap);
    const nextPhys = new Int32Array(cap);
    const prevFree = new Int32Array(cap);
    const nextFree = new Int32Array(cap);
    const cls = new Uint16Array(cap);
    const state = new Uint8Array(cap);
    off.set(this.off);
    size.set(this.size);
    prevPhys.set(this.prevPhys);
    nextPhys.set(this.nextPhys);
    prevFree.set(this.prevFree);
    nextFree.set(this.nextFree);
    cls.set(this.cls);
    state.set(this.state);
    this.off = off;
    this.size = size;
    this.prevPhys = prevPhys;
    this.nextPhys = nextPhys;
    this.prevFree = prevFree;
    this.nextFree = nextFree;
    this.cls = cls;
    this.state = state;
    for (let s = cap - 1; s >= old; s--) {
      this.nextFree[s] = this.spare;
      this.spare = s;
    }
    this.capacity = cap;
  }

  /** Builds the error for a pointer that is not a live allocation (slow path; no state change). */
  private badPointer(p: number, op: string): HostAllocatorError {
    const details: Record<string, unknown> = { pointer: p, op };
    if (!Number.isInteger(p) || p < 0) {
      return new HostAllocatorError(C.INVALID_POINTER, `${op}(${p}): not a valid pointer`, details);
    }
    if (p < this.base) {
      return new HostAllocatorError(
        C.BELOW_HEAP_BASE,
        `${op}(${hex(p)}): pointer is below the heap base ${hex(this.base)}: it was not allocated by this heap`,
        details,
      );
    }
    if (p >= this.end) {
      return new HostAllocatorError(
        C.BEYOND_HEAP_END,
        `${op}(${hex(p)}): pointer is beyond the end of the heap ${hex(this.end)}: it was not allocated by this heap`,
        details,
      );
    }
    const s = this.locate(p);
    const o = this.off[s]!;
    const z = this.size[s]!;
    details['block'] = o;
    details['blockSize'] = z;
    if (this.state[s] === ST_FREE) return freeSpaceError(p, op, o, z, details);
    return new HostAllocatorError(
      C.INVALID_POINTER,
      `${op}(${hex(p)}): not the start of an allocation: it points ${p - o} bytes into the block at ${hex(o)}`,
      details,
    );
  }
}
