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
 * `__hostalloc_abi` (immutable i32 global, currently 1). The host owns the range
 * [__heap_base, end of memory) and serves those imports with this allocator.
 *
 * Properties
 *   - TLSF (two-level segregated fit): O(1) malloc and free, immediate coalescing.
 *   - All metadata lives in host memory (block descriptors, an offset -> block hash
 *     table, segregated free lists). Zero header bytes inside linear memory: the
 *     guest cannot corrupt the allocator by writing out of bounds of a block.
 *   - Every block is 16-byte aligned (max_align_t on wasm32); aligned_alloc supports
 *     any power-of-two alignment.
 *   - Works on offsets, never raw pointers, so the linear memory base may move
 *     after every growth (as it does in Wasmtime, wasm2c, V8 ...).
 *   - Invalid, interior, out-of-heap pointers and double frees are detected,
 *     reported through the error callback and an error code, and leave the
 *     allocator state untouched.
 *   - C11, no dependencies, no GNU extensions required (compiler builtins are used
 *     when available). Drop hostalloc.h and hostalloc.c into any build.
 *
 * Threading: a hostalloc_t is not synchronised. Use one allocator per instance
 * (per linear memory) and call it from the thread running that instance, or add
 * your own lock. Shared memories (threads proposal) are not supported.
 *
 * Complexity: malloc, free, calloc (plus zeroing), realloc (plus copying),
 * aligned_alloc and usable_size are O(1) expected (hash lookup). Only the error
 * path that classifies a bad pointer (interior / double free / invalid) walks
 * the block list, O(number of blocks); embedders normally trap on that error.
 */
#ifndef HOSTALLOC_H
#define HOSTALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HOSTALLOC_VERSION_MAJOR 0
#define HOSTALLOC_VERSION_MINOR 1
#define HOSTALLOC_VERSION_PATCH 0

/** The wasm-hostalloc import ABI this allocator serves (value of `__hostalloc_abi`). */
#define HOSTALLOC_ABI_VERSION 2

/** WebAssembly page size in bytes. */
#define HOSTALLOC_PAGE_SIZE 65536u

/** Alignment (and size granule) of every block returned by hostalloc_malloc. */
#define HOSTALLOC_ALIGNMENT 16u

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
/** hostalloc_check found an internal inconsistency (a bug), or bad create arguments. */
#define HOSTALLOC_E_CORRUPT (-9)

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
  /** Current size of linear memory in bytes (a multiple of HOSTALLOC_PAGE_SIZE). */
  uint64_t (*size)(void *ctx);
  /**
   * Grow linear memory by `delta_pages` 64 KiB pages. Returns 0 on success, non-zero
   * on failure. May be NULL: the heap then never grows. New pages must read as zero.
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

/** Statistics; all sizes in bytes. */
typedef struct hostalloc_stats {
  uint64_t heap_start;        /**< first heap byte (heap_base rounded up to 16, at least 16) */
  uint64_t heap_end;          /**< end of the managed heap (= memory size when last seen) */
  uint64_t heap_size;         /**< heap_end - heap_start */
  uint64_t in_use_bytes;      /**< sum of live block sizes (usable sizes) */
  uint64_t peak_in_use_bytes; /**< maximum of in_use_bytes over time */
  uint64_t requested_bytes;   /**< sum of sizes requested for live blocks */
  uint64_t free_bytes;        /**< sum of free block sizes (= heap_size - in_use_bytes) */
  uint64_t largest_free_block; /**< size of the largest free block (exact) */
  uint64_t used_blocks;       /**< number of live blocks */
  uint64_t free_blocks;       /**< number of free blocks */
  uint64_t grow_count;        /**< successful calls to ops->grow */
  uint64_t grown_bytes;       /**< bytes added to memory by this allocator */
  uint64_t malloc_count;      /**< successful allocations (malloc, calloc, aligned_alloc, moving realloc) */
  uint64_t free_count;        /**< successful frees (including realloc to 0 and moving realloc) */
  uint64_t failed_count;      /**< allocations that returned 0 */
  uint64_t error_count;       /**< pointer errors reported through the callback */
  uint64_t inband_overhead_bytes; /**< bytes of metadata inside linear memory: always 0 */
  uint64_t host_metadata_bytes;   /**< bytes of host memory used for metadata */
} hostalloc_stats_t;

/**
 * Create an allocator managing [heap_base, ops->size(ctx)) of one linear memory.
 * `ops` is copied. `heap_base` is rounded up to 16 (and to at least 16, so that no
 * allocation is ever at offset 0, the failure value). The heap may be empty at
 * first (heap_base == memory size); it grows on demand through ops->grow.
 * `on_error` may be NULL. Returns NULL if arguments are invalid (NULL ops/base/size,
 * heap_base beyond the memory size or max_size) or on host out-of-memory.
 */
hostalloc_t *hostalloc_create(const hostalloc_memory_ops *ops, uint64_t heap_base,
                              hostalloc_error_fn on_error, void *error_ctx);

/** Free all host metadata. Linear memory is not touched. NULL is a no-op. */
void hostalloc_destroy(hostalloc_t *a);

/**
 * Allocate `size` bytes, 16-byte aligned. Returns the offset in linear memory, or 0
 * on failure (last error HOSTALLOC_E_OUT_OF_MEMORY or _HOST_OOM). malloc(0) returns
 * a unique minimum-size block. Contents are unspecified (not zeroed).
 */
uint64_t hostalloc_malloc(hostalloc_t *a, uint64_t size);

/**
 * Free the block at `ptr`. free(0) is a no-op returning HOSTALLOC_OK. Returns
 * HOSTALLOC_OK or a pointer error (HOSTALLOC_E_INVALID_POINTER, _DOUBLE_FREE,
 * _INTERIOR_POINTER, _OUT_OF_HEAP); errors are reported through the callback and
 * change nothing. The freed block is coalesced immediately with free neighbours.
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
 *  - shrinks in place; grows in place into a free physical successor (growing
 *    linear memory when the block is at the end of the heap); otherwise moves.
 *  - on failure returns 0 and the original block is left intact.
 *  - an invalid ptr is reported like free() and 0 is returned.
 */
uint64_t hostalloc_realloc(hostalloc_t *a, uint64_t ptr, uint64_t size);

/**
 * Allocate `size` bytes aligned to `align`, which must be a power of two (alignments
 * below 16 give 16). Returns 0 with last error HOSTALLOC_E_INVALID_ALIGNMENT if
 * `align` is 0 or not a power of two, or on out-of-memory. The block is freed with
 * hostalloc_free like any other.
 */
uint64_t hostalloc_aligned_alloc(hostalloc_t *a, uint64_t align, uint64_t size);

/**
 * Usable size of the live block at `ptr` (>= the requested size, a multiple of 16).
 * Returns 0 for ptr == 0; for an invalid pointer returns 0 and reports the error.
 */
uint64_t hostalloc_usable_size(hostalloc_t *a, uint64_t ptr);

/**
 * Fill `out` with statistics. O(1) apart from largest_free_block, which scans the
 * single highest non-empty TLSF free list.
 */
void hostalloc_stats(const hostalloc_t *a, hostalloc_stats_t *out);

/** The error code of the last failing call (HOSTALLOC_OK after a successful call). */
int hostalloc_last_error(const hostalloc_t *a);

/** A static English description of an error code. Never NULL. */
const char *hostalloc_strerror(int code);

/**
 * Verify every internal invariant (contiguous block list covering the heap, no two
 * adjacent free blocks, free lists and bitmaps consistent, hash table consistent,
 * statistics consistent). O(n). Returns HOSTALLOC_OK or HOSTALLOC_E_CORRUPT. For
 * tests and debugging.
 */
int hostalloc_check(const hostalloc_t *a);

#ifdef __cplusplus
}
#endif

#endif /* HOSTALLOC_H */
