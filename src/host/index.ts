/**
 * @fileoverview The JS host allocator: serves the `env.host_*` imports of modules converted by
 * wasm-hostalloc, managing the heap `[__heap_base, end of memory)` with size-class slabs for small
 * blocks in front of a TLSF allocator (see `./slab.ts`, `./tlsf.ts`), all metadata in JS typed arrays:
 * zero header bytes in linear memory.
 *
 * ```ts
 * import { createHostAllocator } from 'wasm-hostalloc/host';
 * const heap = createHostAllocator();
 * const { instance } = await WebAssembly.instantiate(bytes, { env: { ...heap.imports } });
 * heap.attach(instance);
 * ```
 * or, in one step, `const { instance, heap } = await instantiate(bytes, otherImports)`.
 *
 * Semantics (C's, glibc's behaviour class):
 * - every pointer is aligned to the heap's granule (16 by default; 8 when the module exports
 *   `__hostalloc_align` = 8 or `options.granule` is 8) and blocks above 2048 bytes to 16;
 *   `malloc(0)` returns a unique, non-null block of one granule;
 * - failure returns 0 (NULL): heap exhausted, memory maximum reached, size beyond the address space
 *   (2^32 for wasm32, 2^53 for memory64), `calloc` overflow, non-power-of-two alignment;
 * - `realloc(0, n)` is `malloc(n)`; `realloc(p, 0)` frees `p` and returns 0; a failed `realloc`
 *   leaves the old block intact;
 * - `calloc` always clears its block (the plugin may have written anywhere in its memory);
 * - `free(0)` is a no-op; freeing (or reallocating, or asking the usable size of) anything that is
 *   not a live allocation throws {@link HostAllocatorError} without changing the heap, after counting
 *   it (`stats().errors`) and calling `options.onError`. From wasm, the throw traps the calling
 *   export: the error object propagates out of it. A plugin built with wasm exception handling may
 *   catch it and call again: classifying a bad pointer is O(1) for small blocks and bounded for large
 *   ones, never a walk of the heap.
 *
 * Growth: when no free block fits, the memory grows (through `options.grow`, e.g. Emscripten's
 * resize) by exactly the missing bytes rounded up to pages, so the memory size follows the heap; then
 * returns 0 when that fails (maximum reached). Growth made by anyone else (the module's own
 * `memory.grow`) is adopted on the next miss.
 *
 * Shared memories (SharedArrayBuffer) work, single-threaded: the allocator state lives in one JS
 * realm, so only one agent (thread) may call into a given heap.
 */

import { HOST_IMPORTS } from '../conventions.js';
import { ABI_MIN_VERSION, ABI_VERSION } from '../types.js';
import type { WasmImports, WasmInstance, WasmMemory, WasmModule } from '../wasm-api.js';
import { WA } from '../wasm-api.js';
import { HostAllocatorErrorCodes as C, HostAllocatorError, isHostAllocatorError } from './errors.js';
import { SlabHeap, SMALL_MAX } from './slab.js';
import type { Tlsf } from './tlsf.js';

export type { WasmGlobal, WasmImports, WasmInstance, WasmMemory, WasmModule } from '../wasm-api.js';
export type { WithHostAllocatorResult } from './bindgen.js';
export { hostImports, withHostAllocator } from './bindgen.js';
export type { EmscriptenHook, ModuleSource } from './emscripten.js';
export { emscripten } from './emscripten.js';
export type { HostAllocatorErrorCode } from './errors.js';
export { HostAllocatorError, HostAllocatorErrorCodes, isHostAllocatorError } from './errors.js';
export type { GlueGrowImport, GlueHostOptions, HostallocSection } from './glue.js';
export { readHostallocSection } from './glue.js';
export type { SlabHeapStats } from './slab.js';
export { SlabHeap, SMALL_MAX, SPAN } from './slab.js';
export type { TlsfBlock, TlsfStats } from './tlsf.js';
export { TLSF_MAX_SIZE, Tlsf } from './tlsf.js';

const PAGE = 65536;
/** wasm32 memories hold at most 2^16 pages (4 GiB). */
const MAX_PAGES_32 = 65536;
const LIMIT_32 = 2 ** 32;
const LIMIT_64 = 2 ** 53;

/** Options of {@link createHostAllocator}. */
export interface HostAllocatorOptions {
  /**
   * Grows `memory` by `deltaPages` pages; returns false when it cannot (maximum reached). Lets a host
   * route growth through its own code, e.g. Emscripten's `resize`. Default: `memory.grow(delta)`,
   * false on RangeError.
   */
  grow?: (memory: WasmMemory, deltaPages: number) => boolean;
  /** Called after every growth (by this heap), e.g. to refresh typed-array views of the memory. */
  onGrow?: (memory: WasmMemory) => void;
  /** The memory, when the host creates it (imported memory). Takes precedence over an exported one. */
  memory?: WasmMemory;
  /**
   * The heap base, when the module does not export `__heap_base` or to override it. A bigint marks a
   * memory64 heap. With `memory` and `heapBase` both given, `attach` may be skipped: the heap attaches
   * itself on first use.
   */
  heapBase?: number | bigint;
  /**
   * Alignment (bytes) of small blocks: 8 or 16. Default: the module's exported `__hostalloc_align`
   * global when it has one (wasm-hostalloc records the replaced allocator's alignment there), else 16.
   * 8 suits Emscripten's dlmalloc (8-byte aligned) and saves memory for small blocks; wasi-libc and
   * Rust need 16. Blocks above 2048 bytes are always 16-aligned.
   */
  granule?: 8 | 16;
  /**
   * Called with every HostAllocatorError the heap raises for a call it refuses (invalid, interior,
   * double or out-of-heap pointers), just before the throw. For logging or to stop a misbehaving
   * plugin (e.g. terminate its worker after a few); errors thrown by the callback propagate instead.
   */
  onError?: (error: HostAllocatorError) => void;
}

/** Accounting snapshot, see {@link HostAllocator.stats}. */
export interface HostAllocatorStats {
  /**
   * Bytes in live allocations, counted as usable sizes (small requests rounded up to their size
   * class, larger ones to 16 bytes).
   */
  inUse: number;
  /** Highest `inUse` seen. */
  peak: number;
  /** Bytes in free blocks of the managed heap (`heapEnd - heapBase - inUse`). */
  free: number;
  /** Live allocations (`mallocs - frees`). */
  blocks: number;
  /** Free blocks of the TLSF (large blocks and spans); never two adjacent. */
  freeBlocks: number;
  /** Times this heap grew the memory. */
  grows: number;
  /** First managed address: `__heap_base` aligned up to 16. */
  heapBase: number;
  /** End of the managed heap (the memory's byte length when last looked at). */
  heapEnd: number;
  /** Bytes of allocator metadata inside linear memory: always 0. */
  inBandOverhead: 0;
  /** Successful allocations: malloc, calloc, alignedAlloc, and realloc of a null pointer. */
  mallocs: number;
  /** Successful frees of non-null pointers, including realloc(p, 0). A moving realloc counts as neither. */
  frees: number;
  /** Calls refused with a HostAllocatorError about a pointer (HA102-HA105, HA111). */
  errors: number;
  /** Alignment of small blocks: 8 or 16. */
  granule: number;
  /** 16 KiB slab spans taken from the heap (including one cached empty span per size class at most). */
  spans: number;
  /** Bytes of host (JS) memory the allocator's metadata takes: typed arrays, not linear memory. */
  hostMetadataBytes: number;
}

/** A function that returns a pointer or size: a bigint for bigint (memory64) arguments. */
export interface PtrFn1 {
  (a: number): number;
  (a: bigint): bigint;
}
/** Two-argument form of {@link PtrFn1}; the type of the first argument decides the result's. */
export interface PtrFn2 {
  (a: number, b: number): number;
  (a: bigint, b: bigint): bigint;
}

/**
 * The functions a converted module imports (by default from `env`). Each is polymorphic: wasm32
 * modules pass and receive numbers (i32, read as unsigned), memory64 modules bigints (i64). Number
 * results are returned as int32 values, as wasm reads them (an address at or above 2^31 comes back
 * negative when called from JS: `>>> 0` it); int32 results stay small integers in V8, so the hot
 * path allocates nothing.
 */
export interface HostAllocatorImports {
  /** `host_malloc(size) -> ptr` */
  host_malloc: PtrFn1;
  /** `host_free(ptr)` */
  host_free: (ptr: number | bigint) => void;
  /** `host_calloc(count, size) -> ptr` */
  host_calloc: PtrFn2;
  /** `host_realloc(ptr, size) -> ptr` */
  host_realloc: PtrFn2;
  /** `host_aligned_alloc(align, size) -> ptr` */
  host_aligned_alloc: PtrFn2;
  /** `host_usable_size(ptr) -> size` */
  host_usable_size: PtrFn1;
}

/** The host allocator of one module instance. Methods take numbers or bigints (result type follows). */
export interface HostAllocator {
  /** Spread into the import object of the module (`{ env: { ...heap.imports } }`). */
  readonly imports: HostAllocatorImports;
  /**
   * Binds the heap to an instance: finds the exported `memory` (unless `options.memory` was given) and
   * `__heap_base` (unless `options.heapBase` was given), and checks `__hostalloc_abi` when exported.
   * Idempotent for the same memory. Returns the heap.
   */
  attach(instance: WasmInstance): HostAllocator;
  /** True once the heap knows its memory. */
  readonly attached: boolean;
  /** The memory, once attached. */
  readonly memory: WasmMemory | null;
  /**
   * Allocates `size` bytes, aligned to the granule (16 by default, 8 for small blocks with granule
   * 8); `malloc(0)` gives a unique block of one granule. 0 on failure.
   */
  malloc: PtrFn1;
  /** Frees `ptr` (0: no-op). Throws HA102/HA103/HA104/HA105 for pointers that are not live allocations. */
  free(ptr: number | bigint): void;
  /** Allocates `count * size` zeroed bytes; 0 on overflow or failure. */
  calloc: PtrFn2;
  /**
   * Resizes `ptr` to `size` bytes, preserving contents: in place when possible, else moves.
   * `realloc(0, n)` = `malloc(n)`; `realloc(p, 0)` frees p and returns 0. On failure returns 0 and
   * leaves the old block intact.
   */
  realloc: PtrFn2;
  /**
   * Allocates `size` bytes aligned to `align`, any power of two. Returns 0 for a non-power-of-two
   * alignment (as C's aligned_alloc may) or on failure. `size` need not be a multiple of `align`.
   */
  alignedAlloc: PtrFn2;
  /** Usable size of a live allocation (>= the size asked for). Throws for other pointers. */
  usableSize: PtrFn1;
  /** Accounting snapshot. */
  stats(): HostAllocatorStats;
  /** The TLSF behind the slabs (large blocks and spans), for diagnostics and tests (null before attach). */
  readonly tlsf: Tlsf | null;
  /** The whole allocator (slabs + TLSF), for diagnostics and tests: `check()`. Null before attach. */
  readonly allocator: SlabHeap | null;
}

function notAttached(): HostAllocatorError {
  return new HostAllocatorError(
    C.NOT_ATTACHED,
    'the host allocator does not know its memory yet: call heap.attach(instance) after instantiation ' +
      '(or pass both options.memory and options.heapBase to createHostAllocator, or use instantiate())',
  );
}

function badArg(what: string, v: unknown): HostAllocatorError {
  return new HostAllocatorError(
    C.BAD_ARGUMENT,
    `${what} must be a non-negative integer (number or bigint), got ${String(v)}`,
  );
}

/** Unsigned value of an i64 argument as a number (values above 2^53 lose precision, harmlessly). */
function u64(v: bigint): number {
  return Number(BigInt.asUintN(64, v));
}

/** True for a power of two (any size up to 2^53). */
function isPow2(x: number): boolean {
  return x < 0x80000000 ? (x & (x - 1)) === 0 : Number.isInteger(Math.log2(x));
}

function checkGranule(g: number, what: string): 8 | 16 {
  if (g !== 8 && g !== 16) {
    throw new HostAllocatorError(
      C.BAD_GRANULE,
      `${what} is ${String(g)}: the small-block granule must be 8 or 16`,
    );
  }
  return g;
}

function defaultGrow(memory: WasmMemory, delta: number): boolean {
  try {
    memory.grow(delta);
    return true;
  } catch (e) {
    if (e instanceof RangeError) return false;
    if (e instanceof TypeError) {
      // memory64 memories may take a bigint delta.
      try {
        (memory.grow as unknown as (d: bigint) => number)(BigInt(delta));
        return true;
      } catch (e2) {
        if (e2 instanceof RangeError || e2 instanceof TypeError) return false;
        throw e2;
      }
    }
    throw e;
  }
}

/** Maximum pages of `memory` when the engine exposes it (type reflection), else undefined. */
function maximumPages(memory: WasmMemory): number | undefined {
  const type = (memory as unknown as { type?: () => { maximum?: number | bigint } }).type;
  if (typeof type !== 'function') return undefined;
  try {
    const m = type.call(memory).maximum;
    return m === undefined ? undefined : Number(m);
  } catch {
    return undefined;
  }
}

/** Creates a host allocator. See {@link HostAllocatorOptions} and {@link HostAllocator}. */
export function createHostAllocator(options: HostAllocatorOptions = {}): HostAllocator {
  const growFn = options.grow ?? defaultGrow;
  const onGrow = options.onGrow;
  const onError = options.onError;
  if (options.granule !== undefined) checkGranule(options.granule, 'options.granule');
  let t: SlabHeap | null = null;
  let memory: WasmMemory | null = null;
  let is64 = false;
  let limit = LIMIT_32;
  let maxPages: number | undefined;
  let grows = 0;
  /** Counters before attach (none: every counted call needs the heap); then the heap's `ops`. */
  let u8: Uint8Array | null = null;

  /** Counts a refusal and tells options.onError; returns the error to throw. */
  function refused(e: unknown): unknown {
    if (isHostAllocatorError(e)) {
      t!.ops[2]!++;
      if (onError !== undefined) onError(e);
    }
    return e;
  }

  function init(mem: WasmMemory, heapBase: number | bigint, granule = 16): void {
    const hb = typeof heapBase === 'bigint' ? Number(BigInt.asUintN(64, heapBase)) : heapBase >>> 0;
    if (
      typeof heapBase === 'number' &&
      (!Number.isInteger(heapBase) || heapBase < 0 || heapBase >= LIMIT_32)
    ) {
      throw new HostAllocatorError(C.NO_HEAP_BASE, `heap base ${heapBase} is not a valid address`);
    }
    memory = mem;
    is64 = typeof heapBase === 'bigint';
    limit = is64 ? LIMIT_64 : LIMIT_32;
    maxPages = maximumPages(mem);
    const len = mem.buffer.byteLength;
    t = new SlabHeap(hb, Math.max(hb, len), granule);
  }

  /** Attaches from options.memory + options.heapBase when both were given (lazy attach). */
  function lazy(): void {
    if (t === null && options.memory !== undefined && options.heapBase !== undefined) {
      init(options.memory, options.heapBase, options.granule);
    }
  }

  function ensure(): SlabHeap {
    lazy();
    if (t === null) throw notAttached();
    return t;
  }

  function view(): Uint8Array {
    const buf = memory!.buffer;
    if (u8 === null || u8.buffer !== buf) u8 = new Uint8Array(buf);
    return u8;
  }

  /** Adopts growth made by someone else. False when the host cannot grow its own bookkeeping. */
  function sync(h: SlabHeap): boolean {
    const len = memory!.buffer.byteLength;
    if (len > h.end) {
      try {
        h.addSpace(len);
      } catch (e) {
        if (e instanceof RangeError) return false; // nothing changed; retried on the next miss
        throw e;
      }
    }
    return true;
  }

  /** Grows the memory so that a request of `size` bytes at `align` fits. False when it cannot. */
  function growFor(h: SlabHeap, size: number, align: number): boolean {
    if (!sync(h)) return false;
    const need = h.growthNeeded(size, align);
    if (need === 0) return true;
    if (!Number.isFinite(need)) return false;
    const mem = memory!;
    const curBytes = mem.buffer.byteLength;
    const curPages = Math.floor(curBytes / PAGE);
    const minPages = Math.ceil((h.end + need - curBytes) / PAGE);
    let cap = is64 ? Math.floor(LIMIT_64 / PAGE) : MAX_PAGES_32;
    if (maxPages !== undefined) cap = Math.min(cap, maxPages);
    if (curPages + minPages > cap || h.end + need > limit) return false;
    if (!growFn(mem, minPages)) return false;
    const len = mem.buffer.byteLength;
    if (len <= h.end) return false;
    grows++;
    if (!sync(h)) return false;
    if (onGrow !== undefined) onGrow(mem);
    return true;
  }

  // ------------------------------------------------------------ core operations (validated numbers)

  function doMalloc(size: number): number {
    const h = t ?? ensure();
    let p = size <= SMALL_MAX ? h.mallocSmall(size) : h.malloc(size);
    if (p === 0) {
      if (size > limit) return 0;
      if (!growFor(h, size, 16)) return 0;
      p = h.malloc(size);
      if (p === 0) return 0;
    }
    h.ops[0]!++;
    return p;
  }

  function doFree(p: number): void {
    if (p === 0) return;
    const h = t ?? ensure();
    try {
      h.free(p);
    } catch (e) {
      throw refused(e);
    }
    h.ops[1]!++;
  }

  function doAligned(align: number, size: number): number {
    const h = t ?? ensure();
    if (!(align > 0) || align >= limit || !isPow2(align)) return 0;
    let p = h.alignedAlloc(align, size);
    if (p === 0) {
      if (size > limit) return 0;
      if (!growFor(h, size, align)) return 0;
      p = h.alignedAlloc(align, size);
      if (p === 0) return 0;
    }
    h.ops[0]!++;
    return p;
  }

  function doCalloc(count: number, size: number): number {
    const total = count * size;
    if (total > limit) return 0;
    const p = doMalloc(total);
    // Always cleared: memory never handed out is not known to be zero (the plugin may have written
    // there, or grown the memory and used it itself), and reused blocks hold old contents.
    if (p !== 0) view().fill(0, p, p + t!.usableSize(p));
    return p;
  }

  function doRealloc(p: number, size: number): number {
    if (p === 0) return doMalloc(size);
    const h = t ?? ensure();
    let old: number;
    try {
      if (size === 0) {
        h.free(p);
        h.ops[1]!++;
        return 0;
      }
      if (size > limit) {
        h.sizeOf(p, 'realloc'); // validates p
        return 0;
      }
      if (h.resizeInPlace(p, size)) return p;
      old = h.sizeOf(p, 'realloc');
    } catch (e) {
      throw refused(e);
    }
    const q = doMalloc(size);
    if (q === 0) return size <= old ? p : 0; // a shrink that cannot move stays where it is
    h.ops[0]!--; // a moving realloc is neither a malloc nor a free
    view().copyWithin(q, p, p + Math.min(old, size));
    h.free(p);
    return q;
  }

  /** malloc_usable_size(NULL) is 0 in C (and in the C host): not an error. */
  function doUsable(p: number): number {
    if (p === 0) return 0;
    const h = t ?? ensure();
    try {
      return h.usableSize(p);
    } catch (e) {
      throw refused(e);
    }
  }

  // ------------------------------------------------------------ argument conversion

  /** Size/count/alignment from JS: number or bigint, non-negative integer. */
  function sizeArg(v: unknown, what: string): number {
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= 0) return v;
    } else if (typeof v === 'bigint') {
      if (v >= 0n) return v > BigInt(LIMIT_64) ? Number.POSITIVE_INFINITY : Number(v);
    }
    throw badArg(what, v);
  }

  /** Pointer from JS: validated by the allocator (non-integers are invalid pointers). */
  function ptrArg(v: unknown): number {
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return v < 0n ? -1 : Number(v);
    return Number.NaN;
  }

  const imports: HostAllocatorImports = {
    host_malloc: ((size: number | bigint) => {
      if (typeof size !== 'number') return BigInt(doMalloc(u64(size)));
      // The small-block fast path, inline here: with several heaps in a process these closures share
      // their JIT feedback, and a short path keeps them fast (measured: 1.06x -> 1.2x dlmalloc).
      const n = size >>> 0;
      const h = t;
      if (h !== null && n <= SMALL_MAX) {
        const p = h.mallocSmall(n);
        if (p !== 0) {
          h.ops[0]!++;
          return p | 0;
        }
      }
      return doMalloc(n) | 0;
    }) as PtrFn1,
    host_free: (ptr: number | bigint) => {
      if (typeof ptr !== 'number') return doFree(u64(ptr));
      const p = ptr >>> 0;
      const h = t;
      if (h === null || p === 0) return doFree(p);
      try {
        h.free(p);
      } catch (e) {
        throw refused(e);
      }
      h.ops[1]!++;
    },
    host_calloc: ((n: number | bigint, size: number | bigint) =>
      typeof n === 'number'
        ? doCalloc(n >>> 0, (size as number) >>> 0) | 0
        : BigInt(doCalloc(u64(n), u64(size as bigint)))) as PtrFn2,
    host_realloc: ((ptr: number | bigint, size: number | bigint) =>
      typeof ptr === 'number'
        ? doRealloc(ptr >>> 0, (size as number) >>> 0) | 0
        : BigInt(doRealloc(u64(ptr), u64(size as bigint)))) as PtrFn2,
    host_aligned_alloc: ((align: number | bigint, size: number | bigint) =>
      typeof align === 'number'
        ? doAligned(align >>> 0, (size as number) >>> 0) | 0
        : BigInt(doAligned(u64(align), u64(size as bigint)))) as PtrFn2,
    host_usable_size: ((ptr: number | bigint) =>
      typeof ptr === 'number' ? doUsable(ptr >>> 0) | 0 : BigInt(doUsable(u64(ptr)))) as PtrFn1,
  };

  const heap: HostAllocator = {
    imports,
    attach(instance: WasmInstance): HostAllocator {
      const ex = instance.exports;
      let mem = options.memory;
      if (mem === undefined) {
        const m = ex['memory'];
        if (m instanceof WA.Memory) {
          mem = m;
        } else {
          const all = Object.values(ex).filter((v): v is WasmMemory => v instanceof WA.Memory);
          if (all.length === 1) mem = all[0];
        }
      }
      if (mem === undefined) {
        throw new HostAllocatorError(
          C.NO_MEMORY,
          'attach: the instance exports no `memory`; pass the memory as options.memory (imported memory)',
        );
      }
      const abi = ex['__hostalloc_abi'];
      if (abi !== undefined) {
        const v = abi instanceof WA.Global ? Number(abi.value) : Number.NaN;
        if (!(v >= ABI_MIN_VERSION && v <= ABI_VERSION)) {
          throw new HostAllocatorError(
            C.BAD_ABI_VERSION,
            `attach: the module speaks host-allocator ABI version ${String(v)}, this host speaks ${ABI_VERSION}: ` +
              'upgrade wasm-hostalloc or convert the module with a matching version',
            { abiVersion: v },
          );
        }
      }
      let granule = options.granule;
      if (granule === undefined) {
        const g = ex['__hostalloc_align'];
        if (g instanceof WA.Global) granule = checkGranule(Number(g.value), "the module's __hostalloc_align");
      }
      let hb = options.heapBase;
      if (hb === undefined) {
        const g = ex['__heap_base'];
        if (g instanceof WA.Global) hb = g.value as number | bigint;
      }
      if (hb === undefined || (typeof hb !== 'number' && typeof hb !== 'bigint')) {
        throw new HostAllocatorError(
          C.NO_HEAP_BASE,
          'attach: the instance exports no `__heap_base` global; convert it with wasm-hostalloc or pass options.heapBase',
        );
      }
      if (t !== null) {
        if (memory === mem) return heap;
        throw new HostAllocatorError(
          C.ALREADY_ATTACHED,
          'attach: this heap is already attached to another memory; create one heap per instance',
        );
      }
      init(mem, hb, granule);
      return heap;
    },
    get attached() {
      lazy();
      return t !== null;
    },
    get memory() {
      lazy();
      return memory;
    },
    get tlsf() {
      lazy();
      return t === null ? null : t.tlsf;
    },
    get allocator() {
      lazy();
      return t;
    },
    malloc: ((size: number | bigint) => {
      const n = sizeArg(size, 'malloc size');
      const p = doMalloc(n);
      return typeof size === 'bigint' ? BigInt(p) : p;
    }) as PtrFn1,
    free(ptr: number | bigint): void {
      doFree(ptrArg(ptr));
    },
    calloc: ((count: number | bigint, size: number | bigint) => {
      const p = doCalloc(sizeArg(count, 'calloc count'), sizeArg(size, 'calloc size'));
      return typeof count === 'bigint' ? BigInt(p) : p;
    }) as PtrFn2,
    realloc: ((ptr: number | bigint, size: number | bigint) => {
      const p = doRealloc(ptrArg(ptr), sizeArg(size, 'realloc size'));
      return typeof ptr === 'bigint' ? BigInt(p) : p;
    }) as PtrFn2,
    alignedAlloc: ((align: number | bigint, size: number | bigint) => {
      const p = doAligned(sizeArg(align, 'alignment'), sizeArg(size, 'aligned_alloc size'));
      return typeof align === 'bigint' ? BigInt(p) : p;
    }) as PtrFn2,
    usableSize: ((ptr: number | bigint) => {
      const n = doUsable(ptrArg(ptr));
      return typeof ptr === 'bigint' ? BigInt(n) : n;
    }) as PtrFn1,
    stats(): HostAllocatorStats {
      const h = ensure();
      const s = h.stats();
      return {
        inUse: s.inUse,
        peak: s.peak,
        free: s.end - s.base - s.inUse,
        blocks: s.blocks,
        freeBlocks: s.freeBlocks,
        grows,
        heapBase: s.base,
        heapEnd: s.end,
        inBandOverhead: 0,
        mallocs: h.ops[0]!,
        frees: h.ops[1]!,
        errors: h.ops[2]!,
        granule: h.granule,
        spans: s.spans,
        hostMetadataBytes: s.metadataBytes,
      };
    },
  };
  return heap;
}

/** Result of {@link instantiate}. */
export interface InstantiateResult {
  instance: WasmInstance;
  module: WasmModule;
  heap: HostAllocator;
}

/**
 * Compiles (unless given a Module), instantiates and attaches in one step. The heap's imports are
 * merged into the import namespace(s) the module imports `host_*` functions from (read from
 * `WebAssembly.Module.imports`; `env` when it imports none); entries already in `otherImports` win.
 * When the module imports a memory that `otherImports` lacks and `options.memory` is given, that
 * memory is supplied. `otherImports` is not mutated.
 */
export async function instantiate(
  source: ArrayBufferView | ArrayBuffer | WasmModule,
  otherImports: WasmImports = {},
  options: HostAllocatorOptions = {},
): Promise<InstantiateResult> {
  const module =
    source instanceof WA.Module ? source : await WA.compile(source as ArrayBufferView | ArrayBuffer);
  const heap = createHostAllocator(options);
  const imports: WasmImports = {};
  for (const [ns, entries] of Object.entries(otherImports)) imports[ns] = { ...entries };
  const names = new Set<string>(HOST_IMPORTS);
  const hostImports = heap.imports as unknown as Record<string, unknown>;
  let merged = false;
  for (const imp of WA.Module.imports(module)) {
    let ns = imports[imp.module];
    if (ns === undefined) {
      ns = {};
      imports[imp.module] = ns;
    }
    if (imp.kind === 'function' && names.has(imp.name)) {
      merged = true;
      if (!(imp.name in ns)) ns[imp.name] = hostImports[imp.name]!;
    } else if (imp.kind === 'memory' && options.memory !== undefined && !(imp.name in ns)) {
      ns[imp.name] = options.memory;
    }
  }
  if (!merged) imports['env'] = { ...hostImports, ...imports['env'] };
  const instance = await WA.instantiate(module, imports);
  heap.attach(instance);
  return { instance, module, heap };
}
