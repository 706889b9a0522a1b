/*
 * hostalloc — a host-side heap allocator for WebAssembly linear memory.
 *
 * Part of wasm-hostalloc. A module transformed by wasm-hostalloc imports
 *
 *   env.host_malloc(i32 size) -> i32        env.host_free(i32 ptr)
 *   env.host_calloc(i32 n, i32 size) -> i32 env.host_realloc(i32 ptr, i32 size) -> i32
 *   env.host_aligned_alloc(i32 align, i32 size) -> i32
 *   env.host_usable_size(i32 ptr) -> i32
 *
 * and exports `memory`, `__heap_base` (immutable i32 global), `__data_end` and
 * `__hostalloc_abi` (immutable i32 global, currently 2; hosts accept 1 and 2). The host owns the range
 * [__heap_base, end of memory) and serves those imports with this allocator.
 *
 * Properties
 *   - Two tiers, one design with the JS host (src/host):
 *       small sizes (<= 2048 bytes after rounding) come from size-class slabs: spans of
 *       16 KiB, each holding equal slots of one class, with a free bitmap per span;
 *       larger sizes, aligned_alloc with align > 16, and the spans themselves come from
 *       a TLSF (two-level segregated fit) with immediate coalescing.
 *   - Size classes: multiples of the granule g (8 or 16, per heap) up to 128, then four
 *     per doubling: 160 192 224 256, 320 384 448 512, 640 768 896 1024, 1280 1536 1792
 *     2048. usable_size of a small block is its slot size.
 *   - All metadata lives in host memory (span descriptors and bitmaps, a page map with
 *     one uint32 per 16 KiB of heap, TLSF block descriptors, an offset hash of live
 *     large blocks). Zero header bytes inside linear memory: the guest cannot corrupt
 *     the allocator by writing out of bounds of a block. Host metadata is 0.03 to 0.045
 *     bytes per byte of heap filled with small blocks (measured; hostalloc_stats
 *     reports it), so a plugin's memory limit bounds the host's cost.
 *   - Every block is aligned to the granule; with g = 16, to 16 (max_align_t on wasm32).
 *     Large blocks are 16-aligned; aligned_alloc supports any power-of-two alignment.
 *   - Works on offsets, never raw pointers, so the linear memory base may move
 *     after every growth (as it does in Wasmtime, wasm2c, V8 ...).
 *   - Memory grows by what a request needs, rounded up to whole pages.
 *   - Invalid, interior, out-of-heap pointers and double frees are detected,
 *     reported through the error callback and an error code, and leave the
 *     allocator state untouched. Pointers are bounds-checked against the heap end,
 *     which never exceeds the memory size last read through ops->size.
 *   - calloc always zeroes (memset of the usable size), whatever the memory held.
 *   - C11, no dependencies, no GNU extensions required (compiler builtins are used
 *     when available). Drop hostalloc.h and hostalloc.c into any build.
 *
 * Threading: a hostalloc_t is not synchronised. Use one allocator per instance
 * (per linear memory) and call it from the thread running that instance, or add
 * your own lock. Shared memories (threads proposal) are not supported.
 *
 * Complexity: every operation is O(1) (calloc plus zeroing, realloc plus copying).
 * Small blocks: a class lookup, the first non-empty bitmap word from a hint (at most
 * 32 words), ctz; free is a page-map lookup, a multiply-shift for the slot index and a
 * bit test (which also rejects interior pointers and double frees). Large blocks: TLSF
 * bitmaps and an offset hash (O(1) expected). Only the error path that classifies a
 * bad pointer into a large-block page (interior / double free / invalid) walks the
 * block list, O(number of large blocks and spans); embedders normally trap on it.
 *
 * Lazy attach. Some engines run code that calls host_malloc during instantiation,
 * before the embedder can see the instance's memory (WAMR runs `_initialize` there;
 * Emscripten's environ constructor calls malloc). Create the heap first with
 * HOSTALLOC_LAZY_ATTACH and ops whose ctx the embedder fills in later:
 *
 *   hostalloc_config cfg = {0};
 *   cfg.ops = (hostalloc_memory_ops){&my_ctx, my_base, my_size, my_grow, 0};
 *   cfg.heap_base = heap_base;            // known from the module (__heap_base)
 *   cfg.flags = HOSTALLOC_LAZY_ATTACH;
 *   hostalloc_t *heap;
 *   int rc = hostalloc_create2(&cfg, &heap);   // does not call base/size/grow
 *   // ... register the imports with `heap`, instantiate. my_base/my_size must find
 *   // the memory when they are called: only from inside a host_* import or
 *   // hostalloc_attach, when the memory exists (WAMR: from the exec env's module
 *   // instance; or set my_ctx.memory right after the engine created it).
 *
 * base/size/grow are first called by the first allocating call (or hostalloc_attach).
 * A heap base beyond the memory is then reported by that call (it returns 0 with
 * hostalloc_last_error() == HOSTALLOC_E_HEAP_BEYOND_MEMORY) and by hostalloc_attach.
 */
#ifndef HOSTALLOC_H
#define HOSTALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HOSTALLOC_VERSION_MAJOR 0
#define HOSTALLOC_VERSION_MINOR 2
#define HOSTALLOC_VERSION_PATCH 0

/** The wasm-hostalloc import ABI this allocator serves (value of `__hostalloc_abi`). */
#define HOSTALLOC_ABI_VERSION 2

/** WebAssembly page size in bytes (the default of hostalloc_config.page_size). */
#define HOSTALLOC_PAGE_SIZE 65536u

/** Alignment of every block with the default granule, and of every large block. */
#define HOSTALLOC_ALIGNMENT 16u

/** Largest size served by the slabs; larger requests go to the TLSF. */
#define HOSTALLOC_SMALL_MAX 2048u

/** Slab span size in bytes (spans are aligned to it relative to the heap start). */
#define HOSTALLOC_SPAN_SIZE 16384u

/* ---- Error codes (returned by hostalloc_free / hostalloc_last_error). ---- */

/** Success. */
#define HOSTALLOC_OK 0
/** The pointer is not inside the heap, is misaligned, or is not the start of any block. */
#define HOSTALLOC_E_INVALID_POINTER (-1)
/** The pointer lies inside free memory: it was already freed (or never allocated). */
#define HOSTALLOC_E_DOUBLE_FREE (-2)
/** The pointer lies inside a live block but is not its start. */
#define HOSTALLOC_E_INTERIOR_POINTER (-3)
/** The pointer is below the heap base (data, stack) or beyond the end of the heap. */
#define HOSTALLOC_E_OUT_OF_HEAP (-4)
/** Linear memory is exhausted: growth failed or would exceed max_size. */
#define HOSTALLOC_E_OUT_OF_MEMORY (-5)
/** aligned_alloc: the alignment is not a power of two (or 0). */
#define HOSTALLOC_E_INVALID_ALIGNMENT (-6)
/** calloc: n * size overflows; or a size too large for the address space. */
#define HOSTALLOC_E_OVERFLOW (-7)
/** The host's own malloc failed while allocating metadata. State is unchanged. */
#define HOSTALLOC_E_HOST_OOM (-8)
/** hostalloc_check found an internal inconsistency (a bug). */
#define HOSTALLOC_E_CORRUPT (-9)
/* Reasons hostalloc_create2 (and hostalloc_attach) fail: */
/** create2: `cfg` or `out` is NULL, or ops.base / ops.size is NULL. */
#define HOSTALLOC_E_BAD_ARGUMENT (-10)
/** The heap base is beyond the current memory size, or beyond ops.max_size. */
#define HOSTALLOC_E_HEAP_BEYOND_MEMORY (-11)
/** create2: the heap base is not a multiple of the granule (hostalloc_create rounds it up). */
#define HOSTALLOC_E_MISALIGNED_HEAP_BASE (-12)
/** create2: the granule is not 0, 8 or 16. */
#define HOSTALLOC_E_BAD_GRANULE (-13)
/** create2: the page size is not a power of two between 1 and 2^32 (0 means 65536). */
#define HOSTALLOC_E_BAD_PAGE_SIZE (-14)

/**
 * Engine-neutral access to one linear memory. All callbacks receive `ctx`.
 * The allocator never caches `base()`: it calls it again before every access,
 * because the base may move after `grow`.
 */
typedef struct hostalloc_memory_ops {
  /** Opaque pointer passed to the callbacks. */
  void *ctx;
  /** Current base address of linear memory (may move after grow). */
  uint8_t *(*base)(void *ctx);
  /** Current size of linear memory in bytes (normally a multiple of the page size). */
  uint64_t (*size)(void *ctx);
  /**
   * Grow linear memory by `delta_pages` pages of the heap's page size (64 KiB unless
   * hostalloc_config.page_size says otherwise). Returns 0 on success, non-zero on
   * failure. May be NULL: the heap then never grows.
   */
  int (*grow)(void *ctx, uint64_t delta_pages);
  /** Maximum memory size in bytes the heap may grow to; 0 means 4 GiB (wasm32). */
  uint64_t max_size;
} hostalloc_memory_ops;

/**
 * Error callback, called for pointer errors (HOSTALLOC_E_INVALID_POINTER,
 * _DOUBLE_FREE, _INTERIOR_POINTER, _OUT_OF_HEAP) before the failing call returns.
 * `op` is the operation ("free", "realloc", "usable_size"), `ptr` the offending
 * offset. Out-of-memory and bad arguments are not reported here; they only set
 * hostalloc_last_error(). The callback must not call back into the same allocator.
 * A typical embedder records the error and traps the guest when the import returns.
 */
typedef void (*hostalloc_error_fn)(void *error_ctx, int code, const char *op, uint64_t ptr);

/** Opaque allocator. */
typedef struct hostalloc hostalloc_t;

/** hostalloc_config.flags: do not call ops.base/size/grow before the first use. */
#define HOSTALLOC_LAZY_ATTACH 1u

/** Everything hostalloc_create2 needs. Zero-initialise, then set what you need. */
typedef struct hostalloc_config {
  /** Memory callbacks (copied). base and size are required. */
  hostalloc_memory_ops ops;
  /** First heap byte (the module's __heap_base): a multiple of the granule. 0 gives 16. */
  uint64_t heap_base;
  /**
   * Page size in bytes, the unit of ops.grow: a power of two from 1 to 2^32, for the
   * custom-page-sizes proposal and engines that count memory in other units. 0 = 65536.
   */
  uint64_t page_size;
  /**
   * Size-class granule and alignment of small blocks: 16 (the default, for wasi-libc
   * and Rust modules, which need 16-byte alignment) or 8 (Emscripten's dlmalloc aligns
   * to 8). 0 = 16. aligned_alloc(16, n) is 16-aligned with either.
   */
  uint32_t granule;
  /** HOSTALLOC_LAZY_ATTACH or 0. */
  uint32_t flags;
  /** Error callback for pointer errors, may be NULL. */
  hostalloc_error_fn on_error;
  /** Passed to on_error. */
  void *error_ctx;
} hostalloc_config;

/** Statistics; all sizes in bytes. */
typedef struct hostalloc_stats {
  uint64_t heap_start;        /**< first heap byte (heap_base rounded up to 16, at least 16) */
  uint64_t heap_end;          /**< end of the managed heap (= memory size when last seen) */
  uint64_t heap_size;         /**< heap_end - heap_start */
  uint64_t in_use_bytes;      /**< sum of live block sizes (usable sizes) */
  uint64_t peak_in_use_bytes; /**< maximum of in_use_bytes over time */
  uint64_t requested_bytes;   /**< requested sizes of live large blocks + slot sizes of live small ones */
  uint64_t free_bytes;        /**< heap_size - in_use_bytes (free slots and span tails included) */
  uint64_t largest_free_block; /**< size of the largest free TLSF block (exact) */
  uint64_t used_blocks;       /**< number of live blocks (small and large) */
  uint64_t free_blocks;       /**< number of free TLSF blocks */
  uint64_t grow_count;        /**< successful calls to ops->grow */
  uint64_t grown_bytes;       /**< bytes added to memory by this allocator */
  uint64_t malloc_count;      /**< successful allocations (malloc, calloc, aligned_alloc, moving realloc) */
  uint64_t free_count;        /**< successful frees (including realloc to 0 and moving realloc) */
  uint64_t failed_count;      /**< allocations that returned 0 */
  uint64_t error_count;       /**< pointer errors reported through the callback */
  uint64_t inband_overhead_bytes; /**< bytes of metadata inside linear memory: always 0 */
  uint64_t host_metadata_bytes;   /**< bytes of host memory used for metadata (allocated capacity) */
  uint64_t spans;             /**< slab spans (16 KiB each) carved from the TLSF */
  uint64_t empty_spans;       /**< of which empty, kept for reuse (at most one per class) */
  uint64_t small_blocks;      /**< live small blocks (in slab slots) */
  uint64_t high_water;        /**< highest end offset of any block ever carved (heap footprint) */
  uint64_t memory_size;       /**< memory size in bytes when last read through ops->size */
} hostalloc_stats_t;

/**
 * Create an allocator managing [heap_base, end of memory) of one linear memory.
 * On success stores it in *out and returns HOSTALLOC_OK; otherwise stores NULL (when
 * `out` is not NULL) and returns the reason:
 *   HOSTALLOC_E_BAD_ARGUMENT          cfg or out NULL, ops.base or ops.size NULL
 *   HOSTALLOC_E_BAD_GRANULE           granule not 0, 8 or 16
 *   HOSTALLOC_E_BAD_PAGE_SIZE         page_size not a power of two in [1, 2^32] (or 0)
 *   HOSTALLOC_E_MISALIGNED_HEAP_BASE  heap_base not a multiple of the granule
 *   HOSTALLOC_E_HEAP_BEYOND_MEMORY    heap_base beyond ops.max_size, or (unless
 *                                     HOSTALLOC_LAZY_ATTACH) beyond ops.size()
 *   HOSTALLOC_E_HOST_OOM              the host's malloc failed
 * The heap starts at heap_base rounded up to 16 (at least 16, so that no allocation
 * is ever at offset 0, the failure value). It may be empty at first (heap_base ==
 * memory size); it grows on demand through ops.grow. Without HOSTALLOC_LAZY_ATTACH,
 * ops.size is called once here; with it, no callback is called before first use.
 */
int hostalloc_create2(const hostalloc_config *cfg, hostalloc_t **out);

/**
 * hostalloc_create2 with granule 16, 64 KiB pages, no lazy attach, and `heap_base`
 * rounded up to 16 first. Returns NULL on any failure (see hostalloc_create2 for the
 * reasons; call it directly to know which).
 */
hostalloc_t *hostalloc_create(const hostalloc_memory_ops *ops, uint64_t heap_base,
                              hostalloc_error_fn on_error, void *error_ctx);

/**
 * Attach now: read the memory size and take [heap start, memory size) into the heap.
 * Done implicitly by the first allocating call; call it to learn early whether the heap
 * base fits (HOSTALLOC_E_HEAP_BEYOND_MEMORY) or the host is out of memory. Idempotent:
 * returns HOSTALLOC_OK once attached.
 */
int hostalloc_attach(hostalloc_t *a);

/**
 * Return the cached empty spans (one per class at most) to the large-block heap, where
 * they coalesce with their free neighbours. Only needed to give memory back to large
 * allocations, or to see a fully coalesced heap in tests.
 */
void hostalloc_trim(hostalloc_t *a);

/** Free all host metadata. Linear memory is not touched. NULL is a no-op. */
void hostalloc_destroy(hostalloc_t *a);

/**
 * Allocate `size` bytes, aligned to the granule (16 by default). Returns the offset in
 * linear memory, or 0 on failure (last error HOSTALLOC_E_OUT_OF_MEMORY or _HOST_OOM,
 * or an attach error). malloc(0) returns a unique minimum-size block. Contents are
 * unspecified (not zeroed).
 */
uint64_t hostalloc_malloc(hostalloc_t *a, uint64_t size);

/**
 * Free the block at `ptr`. free(0) is a no-op returning HOSTALLOC_OK. Returns
 * HOSTALLOC_OK or a pointer error (HOSTALLOC_E_INVALID_POINTER, _DOUBLE_FREE,
 * _INTERIOR_POINTER, _OUT_OF_HEAP); errors are reported through the callback and
 * change nothing. A freed large block is coalesced immediately with free neighbours; a
 * freed slot returns to its span's bitmap (an empty span goes back to the large heap,
 * except one kept per class).
 */
int hostalloc_free(hostalloc_t *a, uint64_t ptr);

/**
 * Allocate n * size zeroed bytes. Returns 0 if n * size overflows (last error
 * HOSTALLOC_E_OVERFLOW) or on out-of-memory. The whole usable size is zeroed.
 */
uint64_t hostalloc_calloc(hostalloc_t *a, uint64_t n, uint64_t size);

/**
 * Resize the block at `ptr` to `size` bytes, preserving min(old, new) bytes.
 *  - ptr == 0: same as malloc(size).
 *  - size == 0: frees ptr and returns 0.
 *  - a small block stays in place while the new size has the same class (a smaller
 *    class moves it, unless that fails); a large block shrinks in place and grows in
 *    place into a free physical successor (growing linear memory when the block is at
 *    the end of the heap); otherwise the block moves.
 *  - on failure returns 0 and the original block is left intact.
 *  - an invalid ptr is reported like free() and 0 is returned.
 */
uint64_t hostalloc_realloc(hostalloc_t *a, uint64_t ptr, uint64_t size);

/**
 * Allocate `size` bytes aligned to `align`, which must be a power of two (alignments
 * up to 16 are served by the slabs or the TLSF like malloc, and are at least
 * 16-aligned when align is 16; larger ones by the TLSF). Returns 0 with last error HOSTALLOC_E_INVALID_ALIGNMENT if
 * `align` is 0 or not a power of two, or on out-of-memory. The block is freed with
 * hostalloc_free like any other.
 */
uint64_t hostalloc_aligned_alloc(hostalloc_t *a, uint64_t align, uint64_t size);

/**
 * Usable size of the live block at `ptr` (>= the requested size: the slot size of a
 * small block, a multiple of 16 for a large one).
 * Returns 0 for ptr == 0; for an invalid pointer returns 0 and reports the error.
 */
uint64_t hostalloc_usable_size(hostalloc_t *a, uint64_t ptr);

/**
 * Fill `out` with statistics. Never calls the memory callbacks. O(1) apart from
 * largest_free_block, which scans the single highest non-empty TLSF free list, and
 * empty_spans (a look at each of the at most 32 classes).
 */
void hostalloc_stats(const hostalloc_t *a, hostalloc_stats_t *out);

/** The error code of the last failing call (HOSTALLOC_OK after a successful call). */
int hostalloc_last_error(const hostalloc_t *a);

/** A static English description of an error code. Never NULL. */
const char *hostalloc_strerror(int code);

/**
 * Verify every internal invariant (contiguous block list covering the heap, no two
 * adjacent free blocks, free lists and bitmaps consistent, hash table consistent,
 * spans, their bitmaps, class lists and the page map consistent, statistics
 * consistent). O(n). Returns HOSTALLOC_OK or HOSTALLOC_E_CORRUPT. For
 * tests and debugging.
 */
int hostalloc_check(const hostalloc_t *a);

#ifdef __cplusplus
}
#endif

#endif /* HOSTALLOC_H */
