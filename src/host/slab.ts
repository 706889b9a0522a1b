/**
 * @fileoverview The host heap: size-class slabs for small blocks in front of a TLSF (`./tlsf.ts`) for
 * everything else, with all metadata in JS typed arrays and none in the managed range.
 *
 * Layout of the heap `[base, end)` (base = heap base aligned up to 16):
 *
 * ```
 * base                                                                         end
 * |<- span 16 KiB ->|<- large block ->|<- span ->|  free  |<- span ->|   free   |
 * | 24 24 24 24 ... |                 |2048|2048 |        |  96 96 ..|          |
 *   page map:  [ 3 ][ 0 ][ 0 ]...       [ 7 ]                [ 1 ]
 * ```
 *
 * - Sizes up to 2048 bytes (after rounding) and alignments up to 16 are served from *spans*: 16 KiB
 *   blocks the TLSF hands out at offsets that are multiples of 16 KiB from `base`, each cut into slots
 *   of one size class. Classes: multiples of the granule g (8 or 16) up to 128, then four per
 *   doubling: 160, 192, 224, 256, 320 … 1792, 2048. The class of a size comes from a table indexed by
 *   `(size + g - 1) / g` up to 128, from `Math.clz32` above.
 * - A page map (Uint32Array, one entry per 16 KiB of heap) gives the span id of a page (0: not a span,
 *   the pointer belongs to the TLSF). Per span: class, free-slot count, a word hint and a free bitmap
 *   (1 = free; `Math.clz32` finds the lowest set bit), and links in its class's list of spans with
 *   free slots. `free` divides the offset in the span by the slot size: an offset that is not a slot
 *   start is an interior pointer (HA102), a slot whose bit is already set a double free (HA103). Both
 *   are O(1) and change nothing.
 * - One empty span is kept per class; other spans that become empty go back to the TLSF.
 * - Larger sizes, and alignments above 16, go to the TLSF (16-byte granule, O(1) malloc and free).
 *
 * Host metadata: per span 2 bits per minimum-size slot (64 words for g = 8) plus ~40 bytes, per 16 KiB
 * page 8 bytes: about 0.02 bytes per byte of small-block heap (measured by the benchmark).
 */

import { HostAllocatorErrorCodes as C, HostAllocatorError } from './errors.js';
import { freeSpaceError, hex, Tlsf } from './tlsf.js';

/** Span size: 16 KiB. */
export const SPAN_SHIFT = 14;
export const SPAN = 1 << SPAN_SHIFT;
/** Largest size served by the slabs. */
export const SMALL_MAX = 2048;
/** Sizes above 128 map to four classes per doubling. */
const LINEAR_MAX = 128;
const GEO_CLASSES = 16;
const TWO32 = 4294967296;
const INV_TWO32 = 1 / TWO32;
/** Indexes of SlabHeap's counters. */
const USED = 0;
const PEAK = 1;
const LIVE = 2;
const LARGE = 3;

/**
 * Runs an allocation; a RangeError (the host could not grow a bookkeeping array, which the TLSF does
 * before changing anything) becomes 0, i.e. out of memory, with the state unchanged.
 */
function oomToZero(f: () => number): number {
  try {
    return f();
  } catch (e) {
    if (e instanceof RangeError) return 0;
    throw e;
  }
}

/** Snapshot of a {@link SlabHeap}'s accounting. */
export interface SlabHeapStats {
  /** Bytes in live allocations (usable sizes: slot sizes, TLSF block sizes). */
  inUse: number;
  /** Highest `inUse` seen (sampled at every allocation). */
  peak: number;
  /** Live allocations. */
  blocks: number;
  /** Free blocks of the TLSF (never two adjacent). */
  freeBlocks: number;
  /** Spans (16 KiB each) currently taken from the TLSF, including the cached empty ones. */
  spans: number;
  /** Bytes of host memory taken by the metadata (typed arrays) of the slabs and the TLSF. */
  metadataBytes: number;
  /** First managed address. */
  base: number;
  /** End of the managed range. */
  end: number;
}

/**
 * Slab front-end + TLSF. Pointers are numbers; 0 means failure. Like {@link Tlsf}, it never grows by
 * itself: when an allocation returns 0, the owner extends the range with {@link SlabHeap.addSpace}
 * (by {@link SlabHeap.growthNeeded} bytes at least) and retries.
 */
export class SlabHeap {
  /** The allocator behind the slabs (large blocks and the spans themselves). */
  readonly tlsf: Tlsf;
  /** First managed address (aligned to 16). */
  readonly base: number;
  /** Granule of small classes: 8 or 16. */
  readonly granule: number;

  private readonly gShift: number;
  /** Words of free bitmap per span: SPAN / granule / 32. */
  private readonly words: number;
  private readonly classCount: number;
  /** Class of sizes 0..128 by `(size + g - 1) >> gShift`. */
  private readonly lut: Uint8Array;
  /** Slot size and slot count of each class. */
  private readonly slotSize: Uint32Array;
  private readonly slotCount: Uint32Array;
  /** Per class: first span with free slots (0 = none), and the cached empty span (0 = none). */
  private readonly partial: Int32Array;
  private readonly empty: Int32Array;

  // Per span id (id 0 unused).
  private spanOff = new Float64Array(0);
  private spanCls = new Uint8Array(0);
  private spanFree = new Uint16Array(0);
  private spanHint = new Uint8Array(0);
  private spanNext = new Int32Array(0);
  private spanPrev = new Int32Array(0);
  private bits = new Int32Array(0);
  private spanCap = 0;
  /** Recycled span ids, chained through spanNext. */
  private spareSpan = 0;
  private spanTop = 1;
  private spanCount = 0;
  /** Page (16 KiB of heap) -> span id, 0 when the page is not a span. */
  private pageMap = new Uint32Array(0);

  /**
   * Counters, in a typed array so that a store never boxes a number, whatever its value: [USED] bytes
   * in live allocations (slots and TLSF blocks that are not spans), [PEAK] its highest value, [LIVE]
   * live slab blocks, [LARGE] the part of USED in TLSF blocks as of the last {@link recount}.
   */
  private readonly acct = new Float64Array(4);
  /**
   * Operation counters kept for the owner (the host's stats): [0] successful allocations, [1] frees,
   * [2] refused calls. In a typed array so that updating them never allocates.
   */
  readonly ops = new Float64Array(3);

  /** ceil(2^32 / slot size) per class: slot index = floor(offset * recip / 2^32), exact below 2^14. */
  private readonly recip: Float64Array;

  /** Manages `[base, end)` with small classes of `granule` (8 or 16) bytes. */
  constructor(base: number, end: number, granule = 16) {
    if (granule !== 8 && granule !== 16) {
      throw new HostAllocatorError(C.BAD_GRANULE, `granule must be 8 or 16, got ${String(granule)}`);
    }
    this.tlsf = new Tlsf(base, end);
    this.base = this.tlsf.base;
    this.granule = granule;
    this.gShift = granule === 8 ? 3 : 4;
    this.words = SPAN / granule / 32;
    const linear = LINEAR_MAX / granule;
    this.classCount = linear + GEO_CLASSES;
    this.slotSize = new Uint32Array(this.classCount);
    this.slotCount = new Uint32Array(this.classCount);
    for (let c = 0; c < linear; c++) this.slotSize[c] = (c + 1) * granule;
    for (let i = 0; i < GEO_CLASSES; i++) {
      const k = 7 + (i >> 2);
      this.slotSize[linear + i] = (1 << k) + ((i & 3) + 1) * (1 << (k - 2));
    }
    this.recip = new Float64Array(this.classCount);
    for (let c = 0; c < this.classCount; c++) {
      this.slotCount[c] = Math.floor(SPAN / this.slotSize[c]!);
      this.recip[c] = Math.ceil(TWO32 / this.slotSize[c]!);
    }
    this.lut = new Uint8Array(linear + 1);
    for (let i = 1; i <= linear; i++) this.lut[i] = i - 1;
    this.partial = new Int32Array(this.classCount);
    this.empty = new Int32Array(this.classCount);
    this.reserveSpans(16);
    this.growPageMap();
  }

  /** End of the managed range. */
  get end(): number {
    return this.tlsf.end;
  }

  /** The class of a small size (n <= SMALL_MAX). */
  classOf(n: number): number {
    if (n <= LINEAR_MAX) return this.lut[(n + this.granule - 1) >> this.gShift]!;
    const k = 31 - Math.clz32(n - 1); // n in (2^k, 2^(k+1)], k >= 7
    return (LINEAR_MAX >> this.gShift) + ((k - 7) << 2) + ((n - 1 - (1 << k)) >> (k - 2));
  }

  /** Slot size of class `c`. */
  classSize(c: number): number {
    return this.slotSize[c]!;
  }

  // ---------------------------------------------------------------- public operations

  /** Allocates `size` bytes (granule-aligned; 16-aligned above 2048); 0 when no space is left. */
  malloc(size: number): number {
    if (size <= SMALL_MAX) return this.mallocSmall(size);
    return this.mallocLarge(size);
  }

  /**
   * The TLSF path of malloc, in a function of its own: a closure in `malloc` itself would make V8
   * allocate a context on every call, small sizes included (measured: 48 bytes of garbage per pair).
   */
  private mallocLarge(size: number): number {
    const p = oomToZero(() => this.tlsf.malloc(size));
    if (p !== 0) this.recount();
    return p;
  }

  /** Allocates `size` bytes at a multiple of `align` (power of two; others give 0). */
  alignedAlloc(align: number, size: number): number {
    if (align <= this.granule && align > 0 && (align & (align - 1)) === 0) return this.malloc(size);
    if (align <= 16 && align > 0 && (align & (align - 1)) === 0) {
      // Classes whose slot size is a multiple of 16 have 16-aligned slots (span offsets are too).
      if (size <= SMALL_MAX) return this.mallocSmall(size <= 16 ? 16 : size + 15 - ((size + 15) % 16));
      return this.malloc(size);
    }
    const p = oomToZero(() => this.tlsf.alignedAlloc(align, size));
    if (p !== 0) this.recount();
    return p;
  }

  /** Frees a live allocation; 0 is a no-op. Throws {@link HostAllocatorError} (nothing changed) on misuse. */
  free(p: number): void {
    const d0 = p - this.base;
    const s = d0 >= 0 && d0 < 0x80000000 ? (this.pageMap[d0 >> SPAN_SHIFT] ?? 0) : this.spanAt(p);
    if (s === 0) {
      this.freeLarge(p);
      return;
    }
    const c = this.spanCls[s]!;
    const z = this.slotSize[c]!;
    const d = p - this.spanOff[s]!;
    const slot = (d * this.recip[c]! * INV_TWO32) | 0;
    const wi = s * this.words + (slot >> 5);
    const m = 1 << (slot & 31);
    const w = this.bits[wi]!;
    if (slot * z !== d || (w & m) !== 0 || slot >= this.slotCount[c]!) throw this.badSlot(p, 'free', s);
    this.bits[wi] = w | m;
    const hw = slot >> 5;
    if (hw < this.spanHint[s]!) this.spanHint[s] = hw;
    const a = this.acct;
    a[USED] = a[USED]! - z;
    a[LIVE] = a[LIVE]! - 1;
    const f = this.spanFree[s]! + 1;
    this.spanFree[s] = f;
    if (f === 1) this.pushPartial(c, s);
    else if (f === this.slotCount[c]) this.emptied(c, s);
  }

  /** The TLSF path of free (kept out of `free` so that the slab path stays small for the JIT). */
  private freeLarge(p: number): void {
    this.tlsf.free(p);
    this.recount();
  }

  /** Usable size of a live allocation. Throws on anything else. */
  usableSize(p: number): number {
    return this.sizeOf(p, 'usableSize');
  }

  /** Usable size of a live allocation; a bad pointer throws the error `op` (e.g. 'realloc') gets. */
  sizeOf(p: number, op: string): number {
    const s = this.spanAt(p);
    if (s === 0) return this.tlsf.sizeOf(p, op);
    return this.checkSlot(p, s, op);
  }

  /** True when `p` is the start of a live allocation. */
  isLive(p: number): boolean {
    try {
      this.usableSize(p);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Resizes a live allocation without moving it when that is right: a slab block stays when the new
   * size has its class, or fits in it using at least half of it; a TLSF block above SMALL_MAX shrinks
   * or grows in place when it can.
   * Returns false (nothing changed) otherwise; throws on a bad pointer.
   */
  resizeInPlace(p: number, size: number): boolean {
    const s = this.spanAt(p);
    if (s === 0) {
      if (size <= SMALL_MAX) {
        this.tlsf.sizeOf(p, 'realloc'); // validates p
        return false; // moves to a slab: smaller footprint
      }
      this.tlsf.sizeOf(p, 'realloc'); // validates p (throws) outside the out-of-memory guard
      const ok = oomToZero(() => (this.tlsf.resizeInPlace(p, size) ? 1 : 0)) === 1;
      if (ok) this.recount();
      return ok;
    }
    const z = this.checkSlot(p, s, 'realloc');
    return size <= z && (2 * size >= z || this.classOf(size) === this.spanCls[s]);
  }

  /** Extends the range to `newEnd` (see {@link Tlsf.addSpace}); grows the page map first. */
  addSpace(newEnd: number): void {
    if (!(Math.floor(newEnd / 16) * 16 > this.tlsf.end)) return;
    this.growPageMap(newEnd);
    this.tlsf.addSpace(newEnd);
  }

  /** Bytes the range must grow by so that `alignedAlloc(align, size)` (or malloc) succeeds. */
  growthNeeded(size: number, align = 16): number {
    if (size <= SMALL_MAX && align <= 16) return this.tlsf.growthNeeded(SPAN, SPAN, this.base);
    return this.tlsf.growthNeeded(size, align);
  }

  /** Accounting snapshot. */
  stats(): SlabHeapStats {
    const t = this.tlsf.stats();
    return {
      inUse: this.acct[USED]!,
      peak: this.acct[PEAK]!,
      blocks: t.blocks - this.spanCount + this.acct[LIVE]!,
      freeBlocks: t.freeBlocks,
      spans: this.spanCount,
      metadataBytes: this.metadataBytes(),
      base: t.base,
      end: t.end,
    };
  }

  /** Bytes of host memory the metadata takes. */
  metadataBytes(): number {
    return (
      this.spanCap * (8 + 1 + 2 + 1 + 4 + 4 + this.words * 4) +
      this.pageMap.byteLength +
      this.classCount * 16 +
      this.tlsf.metadataBytes()
    );
  }

  /**
   * Checks every invariant of the slabs and of the TLSF; throws an Error naming the first violation.
   * O(heap): for tests.
   */
  check(): void {
    this.tlsf.check();
    let live = 0;
    let used = 0;
    let spans = 0;
    const seen = new Set<number>();
    for (let k = 0; k < this.pageMap.length; k++) {
      const s = this.pageMap[k]!;
      if (s === 0) continue;
      spans++;
      seen.add(s);
      const o = this.spanOff[s]!;
      if (o !== this.base + k * SPAN) throw new Error(`page ${k}: span ${s} is at ${hex(o)}`);
      if (this.tlsf.usableSize(o) !== SPAN) throw new Error(`span ${s} is not a 16 KiB TLSF block`);
      const c = this.spanCls[s]!;
      const n = this.slotCount[c]!;
      let free = 0;
      let firstWord = -1;
      for (let i = 0; i < this.words; i++) {
        const w = this.bits[s * this.words + i]!;
        for (let b = 0; b < 32; b++) {
          if (((w >>> b) & 1) === 0) continue;
          if (i * 32 + b >= n) throw new Error(`span ${s}: free bit beyond the last slot`);
          free++;
          if (firstWord < 0) firstWord = i;
        }
      }
      if (free !== this.spanFree[s]) throw new Error(`span ${s}: free count ${this.spanFree[s]} != ${free}`);
      if (firstWord >= 0 && firstWord < this.spanHint[s]!)
        throw new Error(`span ${s}: hint past a free slot`);
      live += n - free;
      used += (n - free) * this.slotSize[c]!;
      let listed = false;
      for (let x = this.partial[c]!; x !== 0; x = this.spanNext[x]!) if (x === s) listed = true;
      if (listed !== free > 0) throw new Error(`span ${s}: in the partial list iff it has free slots`);
      if (free === n && this.empty[c] !== s) throw new Error(`span ${s}: empty but not the cached one`);
    }
    for (let c = 0; c < this.classCount; c++) {
      const e = this.empty[c]!;
      if (e !== 0 && (!seen.has(e) || this.spanFree[e] !== this.slotCount[c])) {
        throw new Error(`class ${c}: cached span ${e} is not an empty span of the class`);
      }
      let prev = 0;
      for (let x = this.partial[c]!; x !== 0; x = this.spanNext[x]!) {
        if (this.spanCls[x] !== c || this.spanPrev[x] !== prev || !seen.has(x)) {
          throw new Error(`class ${c}: corrupt partial list`);
        }
        prev = x;
      }
    }
    if (spans !== this.spanCount) throw new Error(`span count ${this.spanCount} != ${spans}`);
    const large = this.tlsf.inUse - this.spanCount * SPAN;
    if (live !== this.acct[LIVE] || used + large !== this.acct[USED])
      throw new Error('small-block accounting is off');
  }

  // ---------------------------------------------------------------- internals

  /** Recomputes `used` after a TLSF operation on a large block (spans are not in use themselves). */
  private recount(): void {
    const a = this.acct;
    const small = a[USED]! - a[LARGE]!;
    a[LARGE] = this.tlsf.inUse - this.spanCount * SPAN;
    a[USED] = small + a[LARGE]!;
    if (a[USED]! > a[PEAK]!) a[PEAK] = a[USED]!;
  }

  /**
   * malloc for n <= SMALL_MAX (callers check): the hot path, called directly by the host's imports so
   * that the JIT sees only slab code there, whatever other heaps in the process did before.
   */
  mallocSmall(n: number): number {
    const c =
      n <= LINEAR_MAX
        ? this.lut[(n + this.granule - 1) >> this.gShift]!
        : (LINEAR_MAX >> this.gShift) +
          ((31 - Math.clz32(n - 1) - 7) << 2) +
          ((n - 1) >> (29 - Math.clz32(n - 1))) -
          4;
    let s = this.partial[c]!;
    if (s === 0) {
      s = this.newSpan(c);
      if (s === 0) return 0;
    }
    const bits = this.bits;
    const wb = s * this.words;
    let w = this.spanHint[s]!;
    let x = bits[wb + w]!;
    while (x === 0) x = bits[wb + ++w]!;
    this.spanHint[s] = w;
    bits[wb + w] = x & (x - 1);
    const slot = (w << 5) | (31 - Math.clz32(x & -x));
    const f = this.spanFree[s]! - 1;
    this.spanFree[s] = f;
    if (f === 0) {
      // Full: it leaves the list (it is the head).
      const nx = this.spanNext[s]!;
      this.partial[c] = nx;
      if (nx !== 0) this.spanPrev[nx] = 0;
      this.spanNext[s] = 0;
    }
    if (this.empty[c] === s) this.empty[c] = 0;
    const z = this.slotSize[c]!;
    const a = this.acct;
    const u = a[USED]! + z;
    a[USED] = u;
    a[LIVE] = a[LIVE]! + 1;
    if (u > a[PEAK]!) a[PEAK] = u;
    return this.spanOff[s]! + slot * z;
  }

  /** Takes a 16 KiB span from the TLSF for class `c` and puts it in the partial list; 0 when none. */
  private newSpan(c: number): number {
    if (this.spareSpan === 0 && this.spanTop >= this.spanCap) {
      try {
        this.reserveSpans(this.spanCap * 2);
      } catch (e) {
        if (e instanceof RangeError) return 0;
        throw e;
      }
    }
    const o = oomToZero(() => this.tlsf.alignedAlloc(SPAN, SPAN, this.base));
    if (o === 0) return 0;
    let s = this.spareSpan;
    if (s !== 0) this.spareSpan = this.spanNext[s]!;
    else s = this.spanTop++;
    this.spanCount++;
    this.spanOff[s] = o;
    this.spanCls[s] = c;
    const n = this.slotCount[c]!;
    this.spanFree[s] = n;
    this.spanHint[s] = 0;
    const wb = s * this.words;
    const full = n >> 5;
    this.bits.fill(-1, wb, wb + full);
    this.bits.fill(0, wb + full, wb + this.words);
    if ((n & 31) !== 0) this.bits[wb + full] = (1 << (n & 31)) - 1;
    this.pageMap[this.pageOf(o)] = s;
    this.spanPrev[s] = 0;
    this.spanNext[s] = 0;
    this.pushPartial(c, s);
    this.empty[c] = s;
    return s;
  }

  private pushPartial(c: number, s: number): void {
    const h = this.partial[c]!;
    this.spanPrev[s] = 0;
    this.spanNext[s] = h;
    if (h !== 0) this.spanPrev[h] = s;
    this.partial[c] = s;
  }

  /** Span `s` of class `c` just became empty: cache it, or give it back to the TLSF. */
  private emptied(c: number, s: number): void {
    if (this.empty[c] === 0) {
      this.empty[c] = s;
      return;
    }
    const pv = this.spanPrev[s]!;
    const nx = this.spanNext[s]!;
    if (pv !== 0) this.spanNext[pv] = nx;
    else this.partial[c] = nx;
    if (nx !== 0) this.spanPrev[nx] = pv;
    const o = this.spanOff[s]!;
    this.pageMap[this.pageOf(o)] = 0;
    this.spanNext[s] = this.spareSpan;
    this.spareSpan = s;
    this.spanCount--;
    this.tlsf.free(o);
  }

  /** Span id of the page holding `p` (0: not a span, or outside the heap: the TLSF decides). */
  private spanAt(p: number): number {
    const d = p - this.base;
    if (d >= 0 && d < 0x80000000) return this.pageMap[d >> SPAN_SHIFT] ?? 0;
    if (!(d >= 0) || !Number.isInteger(p)) return 0;
    return this.pageMap[Math.floor(d / SPAN)] ?? 0;
  }

  private pageOf(o: number): number {
    return Math.floor((o - this.base) / SPAN);
  }

  /** Validates a slab pointer; returns its slot size. */
  private checkSlot(p: number, s: number, op: string): number {
    const c = this.spanCls[s]!;
    const z = this.slotSize[c]!;
    const d = p - this.spanOff[s]!;
    const slot = (d * this.recip[c]! * INV_TWO32) | 0;
    if (
      slot * z !== d ||
      slot >= this.slotCount[c]! ||
      (this.bits[s * this.words + (slot >> 5)]! & (1 << (slot & 31))) !== 0
    ) {
      throw this.badSlot(p, op, s);
    }
    return z;
  }

  /**
   * The error for a slab pointer that is not a live slot start, classified like the TLSF does: in a
   * free slot or the unused tail of the span, free space (HA103; HA111 for usableSize); inside a live
   * slot, an interior pointer (HA102). O(1).
   */
  private badSlot(p: number, op: string, s: number): HostAllocatorError {
    const c = this.spanCls[s]!;
    const z = this.slotSize[c]!;
    const n = this.slotCount[c]!;
    const slot = Math.floor((p - this.spanOff[s]!) / z);
    const o = this.spanOff[s]! + slot * z;
    const details = { pointer: p, op, block: o, blockSize: z };
    if (slot >= n) {
      const tail = this.spanOff[s]! + n * z;
      return freeSpaceError(p, op, tail, this.spanOff[s]! + SPAN - tail, {
        ...details,
        blockSize: SPAN - n * z,
      });
    }
    if ((this.bits[s * this.words + (slot >> 5)]! & (1 << (slot & 31))) !== 0) {
      return freeSpaceError(p, op, o, z, details);
    }
    return new HostAllocatorError(
      C.INVALID_POINTER,
      `${op}(${hex(p)}): not the start of an allocation: it points ${p - o} bytes into the ${z}-byte block at ${hex(o)}`,
      details,
    );
  }

  /**
   * A string that changes whenever the allocator's state does (blocks, slab bitmaps, accounting): for
   * tests that check an operation changed nothing. O(heap).
   */
  snapshot(): string {
    const spans: unknown[] = [];
    for (let k = 0; k < this.pageMap.length; k++) {
      const s = this.pageMap[k]!;
      if (s !== 0) {
        const w = Array.from(this.bits.subarray(s * this.words, (s + 1) * this.words));
        spans.push([k, this.spanCls[s], this.spanFree[s], this.spanHint[s], w.join(',')]);
      }
    }
    const st = this.stats();
    return JSON.stringify([this.tlsf.blocks(), spans, Array.from(this.partial), Array.from(this.empty), st]);
  }

  /** Grows the page map to cover `[base, end)` (before the range grows: a throw changes nothing). */
  private growPageMap(end = this.tlsf.end): void {
    const pages = Math.ceil((end - this.base) / SPAN);
    if (pages <= this.pageMap.length) return;
    const m = new Uint32Array(Math.max(pages, Math.min(this.pageMap.length * 2, pages + 4096)));
    m.set(this.pageMap);
    this.pageMap = m;
  }

  private reserveSpans(cap: number): void {
    const off = new Float64Array(cap);
    const cls = new Uint8Array(cap);
    const free = new Uint16Array(cap);
    const hint = new Uint8Array(cap);
    const next = new Int32Array(cap);
    const prev = new Int32Array(cap);
    const bits = new Int32Array(cap * this.words);
    off.set(this.spanOff);
    cls.set(this.spanCls);
    free.set(this.spanFree);
    hint.set(this.spanHint);
    next.set(this.spanNext);
    prev.set(this.spanPrev);
    bits.set(this.bits);
    this.spanOff = off;
    this.spanCls = cls;
    this.spanFree = free;
    this.spanHint = hint;
    this.spanNext = next;
    this.spanPrev = prev;
    this.bits = bits;
    this.spanCap = cap;
  }
}
