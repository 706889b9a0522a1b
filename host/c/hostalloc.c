/*
 * hostalloc.c — allocator for WebAssembly linear memory with all metadata in host memory:
 * size-class slabs for small blocks in front of a TLSF for the rest. See hostalloc.h for the
 * interface and guarantees.
 *
 * Data structures (all in host memory):
 *   - spans[]: slab span descriptors, 1-based (0 = none). A span is a 16 KiB TLSF block,
 *     aligned to 16 KiB relative to heap_start, cut into equal slots of one size class.
 *     Per span: class, slot size, reciprocal of the slot size, slot count, free count,
 *     a free bitmap (1 = free) with a word hint (no free slot in the words below it), and
 *     links in its class's list of spans that have free slots.
 *   - pmap[]: the page map, one uint32 per 16 KiB of heap: (off - heap_start) >> 14 ->
 *     span index, 0 when that 16 KiB is not a span (then the offset belongs to the TLSF).
 *   - per class: head of the list of spans with free slots, and the one empty span kept
 *     for reuse (it stays in the list; other spans that become empty go back to the TLSF).
 *   - blocks[]: TLSF block descriptors {offset, size, requested size, flags, physical
 *     prev/next, free-list prev/next}, addressed by 32-bit index. The blocks tile the heap
 *     [heap_start, heap_end) exactly, in a doubly linked physical list, so coalescing with
 *     neighbours is O(1). Spans are live TLSF blocks flagged F_SPAN.
 *   - an open-addressing hash table offset -> block index of the LIVE large blocks (not
 *     the spans), for O(1) lookup of the pointer passed to free/realloc/usable_size.
 *   - TLSF segregated free lists: first level = floor(log2(size)), second level = 16
 *     linear subdivisions, with two levels of bitmaps for O(1) good-fit search. Sizes below
 *     256 bytes use 16 exact classes of 16 bytes.
 * Invariants: TLSF sizes and offsets are multiples of 16; no two physically adjacent
 * blocks are both free; the sum of block sizes equals heap_end - heap_start; pmap is
 * non-zero exactly on the pages of live spans. Host memory for up to RESERVE new
 * descriptors and hash slots, one span descriptor and the page map of the grown heap is
 * reserved before any state changes, so a failing host malloc never leaves a half-done
 * operation behind.
 */
#include "hostalloc.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- constants */

#define ALIGN_LOG2 4
#define ALIGN ((uint64_t)1 << ALIGN_LOG2)
#define MIN_BLOCK ALIGN
#define SL_LOG2 4
#define SL_COUNT (1u << SL_LOG2)
#define FL_SHIFT (SL_LOG2 + ALIGN_LOG2)
#define SMALL_BLOCK ((uint64_t)1 << FL_SHIFT)
/* Largest heap we ever manage: 2^48 bytes (far above wasm32's 4 GiB). */
#define MAX_HEAP_LOG2 48
#define FL_COUNT (MAX_HEAP_LOG2 - FL_SHIFT + 2)
#define NIL UINT32_MAX
#define RESERVE 4u
#define F_FREE 1u
#define F_SPAN 2u
#define WASM32_MAX ((uint64_t)1 << 32)

#define SPAN_SHIFT 14
#define SPAN ((uint64_t)1 << SPAN_SHIFT)
#define SMALL_MAX HOSTALLOC_SMALL_MAX
#define LIN_MAX 128u                          /* classes are multiples of g up to here */
#define MAX_CLASSES (16 + 16)                 /* 16 linear classes at g=8, 16 geometric */
#define SPAN_WORDS (SPAN / 8 / 64)            /* bitmap words for 8-byte slots: 32 */

/* ---------------------------------------------------------------- types */

typedef struct block {
  uint64_t off;
  uint64_t size;
  uint64_t req; /* requested size (live blocks) */
  uint32_t prev_phys, next_phys;
  uint32_t prev_free, next_free; /* also: pool free chain (next_free) */
  uint32_t flags;
  uint8_t fl, sl; /* free-list class while free */
} block_t;

typedef struct slot {
  uint64_t key;
  uint32_t idx; /* NIL = empty */
} slot_t;

typedef struct span {
  uint64_t off;    /* first byte of the span */
  uint32_t size;   /* slot size */
  uint32_t recip;  /* floor(2^32 / size) + 1: slot index = (rel * recip) >> 32, exact below 2^18 */
  uint32_t nslots, nfree;
  uint32_t hint;   /* every bitmap word below it is zero */
  uint32_t cls;
  uint32_t prev, next; /* class list of spans with free slots; next: free chain of descriptors */
  uint32_t block;      /* TLSF block index */
  uint32_t pad_;
  uint64_t bits[SPAN_WORDS]; /* 1 = free slot */
} span_t;

struct hostalloc {
  /* hot: the slab paths */
  uint64_t heap_start, heap_end;
  uint32_t *pmap;
  span_t *spans;
  uint32_t gshift;
  uint32_t lin_classes;
  uint64_t in_use, peak, requested;
  uint64_t malloc_count, free_count;
  uint64_t large_in_use; /* in_use of large blocks; the rest is in slab slots */
  int last_error;
  uint32_t cls_head[MAX_CLASSES];
  uint32_t cls_empty[MAX_CLASSES];
  uint32_t cls_size[MAX_CLASSES];
  uint8_t lut[LIN_MAX / 8 + 1]; /* (size + g - 1) >> gshift -> class, sizes <= 128 */

  hostalloc_memory_ops ops;
  hostalloc_error_fn on_error;
  void *error_ctx;
  uint64_t max_size, page_size, memory_size, high_water;
  uint32_t granule, nclasses;
  int attached;

  uint64_t pmap_cap; /* entries */
  uint32_t spans_cap, spans_used, span_free, nspans;

  block_t *blocks;
  uint32_t blocks_cap, blocks_used; /* blocks_used = high-water mark of indices */
  uint32_t pool_free;               /* chain of released descriptors */
  uint32_t pool_free_count;
  uint32_t first, last; /* physical list */

  slot_t *slots;
  uint64_t slots_cap, slots_count; /* cap: power of two */
  uint64_t last_slot;              /* slot of the last lookup_live hit, or UINT64_MAX */

  uint64_t fl_bitmap;
  uint32_t sl_bitmap[FL_COUNT];
  uint32_t heads[FL_COUNT][SL_COUNT];

  uint64_t n_blocks, n_free;
  uint64_t grow_count, grown_bytes, failed_count, error_count;
};

/* ---------------------------------------------------------------- bit helpers */

static int fls64(uint64_t x) { /* index of the highest set bit; x != 0 */
#if defined(__GNUC__) || defined(__clang__)
  return 63 - __builtin_clzll(x);
#else
  int r = 0;
  while (x >>= 1) r++;
  return r;
#endif
}

static int ffs64(uint64_t x) { /* index of the lowest set bit; x != 0 */
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_ctzll(x);
#else
  int r = 0;
  while (!(x & 1)) {
    x >>= 1;
    r++;
  }
  return r;
#endif
}

static int fls32(uint32_t x) { /* x != 0 */
#if defined(__GNUC__) || defined(__clang__)
  return 31 - __builtin_clz(x);
#else
  return fls64(x);
#endif
}

static unsigned popcount64(uint64_t x) {
  unsigned n = 0;
  while (x) {
    x &= x - 1;
    n++;
  }
  return n;
}

#if defined(__GNUC__) || defined(__clang__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NOINLINE __attribute__((noinline))
#define INLINE inline __attribute__((always_inline))
#else
#define INLINE inline
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#define NOINLINE
#endif

static void mapping_insert(uint64_t size, int *fl, int *sl) {
  if (size < SMALL_BLOCK) {
    *fl = 0;
    *sl = (int)(size >> ALIGN_LOG2);
  } else {
    int f = fls64(size);
    *sl = (int)((size >> (f - SL_LOG2)) ^ SL_COUNT);
    *fl = f - (FL_SHIFT - 1);
  }
}

/* Round up to the start of the next class so that any block in the found list fits. */
static void mapping_search(uint64_t size, int *fl, int *sl) {
  if (size >= SMALL_BLOCK) size += ((uint64_t)1 << (fls64(size) - SL_LOG2)) - 1;
  mapping_insert(size, fl, sl);
}

/* ---------------------------------------------------------------- errors */

const char *hostalloc_strerror(int code) {
  switch (code) {
    case HOSTALLOC_OK: return "success";
    case HOSTALLOC_E_INVALID_POINTER: return "invalid pointer: not the start of an allocated block";
    case HOSTALLOC_E_DOUBLE_FREE: return "double free: pointer is in free memory";
    case HOSTALLOC_E_INTERIOR_POINTER: return "interior pointer: inside a live block but not its start";
    case HOSTALLOC_E_OUT_OF_HEAP: return "pointer outside the heap (below heap base or beyond its end)";
    case HOSTALLOC_E_OUT_OF_MEMORY: return "out of linear memory";
    case HOSTALLOC_E_INVALID_ALIGNMENT: return "alignment is not a power of two";
    case HOSTALLOC_E_OVERFLOW: return "size overflow";
    case HOSTALLOC_E_HOST_OOM: return "host out of memory for allocator metadata";
    case HOSTALLOC_E_CORRUPT: return "allocator state inconsistent";
    case HOSTALLOC_E_BAD_ARGUMENT: return "bad argument: NULL config, output, or memory callback";
    case HOSTALLOC_E_HEAP_BEYOND_MEMORY: return "heap base beyond the memory size or its maximum";
    case HOSTALLOC_E_MISALIGNED_HEAP_BASE: return "heap base is not a multiple of the granule";
    case HOSTALLOC_E_BAD_GRANULE: return "granule must be 8 or 16";
    case HOSTALLOC_E_BAD_PAGE_SIZE: return "page size must be a power of two between 1 and 2^32";
    default: return "unknown error";
  }
}

static void report(hostalloc_t *a, int code, const char *op, uint64_t ptr) {
  a->last_error = code;
  a->error_count++;
  if (a->on_error) a->on_error(a->error_ctx, code, op, ptr);
}

static uint64_t fail(hostalloc_t *a, int code) {
  a->last_error = code;
  a->failed_count++;
  return 0;
}

/* ---------------------------------------------------------------- hash table */

static uint64_t hash_of(uint64_t key) {
  uint64_t h = (key >> ALIGN_LOG2) * UINT64_C(0x9E3779B97F4A7C15);
  return h ^ (h >> 29);
}

/* Slot index holding `key`, or UINT64_MAX. */
static uint64_t hash_find(const hostalloc_t *a, uint64_t key) {
  if (!a->slots_cap) return UINT64_MAX;
  uint64_t mask = a->slots_cap - 1, i = hash_of(key) & mask;
  for (;;) {
    const slot_t *s = &a->slots[i];
    if (s->idx == NIL) return UINT64_MAX;
    if (s->key == key) return i;
    i = (i + 1) & mask;
  }
}

static uint32_t hash_get(const hostalloc_t *a, uint64_t key) {
  uint64_t i = hash_find(a, key);
  return i == UINT64_MAX ? NIL : a->slots[i].idx;
}

static void hash_put_raw(slot_t *slots, uint64_t cap, uint64_t key, uint32_t idx) {
  uint64_t mask = cap - 1, i = hash_of(key) & mask;
  while (slots[i].idx != NIL) {
    if (slots[i].key == key) break;
    i = (i + 1) & mask;
  }
  slots[i].key = key;
  slots[i].idx = idx;
}

static void hash_put(hostalloc_t *a, uint64_t key, uint32_t idx) {
  hash_put_raw(a->slots, a->slots_cap, key, idx);
  a->slots_count++;
}

/* Deletion with backward shift (no tombstones). */
static void hash_del_at(hostalloc_t *a, uint64_t i) {
  uint64_t mask = a->slots_cap - 1;
  a->slots_count--;
  for (;;) {
    uint64_t j = i;
    a->slots[i].idx = NIL;
    for (;;) {
      j = (j + 1) & mask;
      if (a->slots[j].idx == NIL) return;
      uint64_t home = hash_of(a->slots[j].key) & mask;
      /* Move slot j to i if its home is not cyclically in (i, j]. */
      if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) break;
    }
    a->slots[i] = a->slots[j];
    i = j;
  }
}

static void hash_del(hostalloc_t *a, uint64_t key) {
  uint64_t i = hash_find(a, key);
  if (i != UINT64_MAX) hash_del_at(a, i);
}

static int hash_grow(hostalloc_t *a, uint64_t cap) {
  slot_t *n = (slot_t *)malloc((size_t)cap * sizeof(slot_t));
  if (!n) return 0;
  for (uint64_t i = 0; i < cap; i++) n[i].idx = NIL;
  for (uint64_t i = 0; i < a->slots_cap; i++)
    if (a->slots[i].idx != NIL) hash_put_raw(n, cap, a->slots[i].key, a->slots[i].idx);
  free(a->slots);
  a->slots = n;
  a->slots_cap = cap;
  return 1;
}

/* ---------------------------------------------------------------- descriptor pool */

/* Make room for `n` more blocks (descriptors + hash slots at load <= 1/2). */
static int reserve_slow(hostalloc_t *a, uint32_t n) {
  if (a->pool_free_count + (a->blocks_cap - a->blocks_used) < n) {
    uint64_t cap = (uint64_t)a->blocks_cap * 2;
    if (cap < 64) cap = 64;
    if (cap >= NIL) return 0;
    block_t *nb = (block_t *)realloc(a->blocks, (size_t)cap * sizeof(block_t));
    if (!nb) return 0;
    a->blocks = nb;
    a->blocks_cap = (uint32_t)cap;
  }
  if ((a->slots_count + n) * 2 > a->slots_cap) {
    uint64_t cap = a->slots_cap ? a->slots_cap : 64;
    while ((a->slots_count + n) * 2 > cap) cap *= 2;
    if (!hash_grow(a, cap)) return 0;
  }
  return 1;
}

static int reserve(hostalloc_t *a, uint32_t n) {
  if (a->pool_free_count + (a->blocks_cap - a->blocks_used) >= n && (a->slots_count + n) * 2 <= a->slots_cap)
    return 1;
  return reserve_slow(a, n);
}

static uint32_t pool_take(hostalloc_t *a) { /* after reserve() */
  uint32_t i;
  if (a->pool_free != NIL) {
    i = a->pool_free;
    a->pool_free = a->blocks[i].next_free;
    a->pool_free_count--;
  } else {
    i = a->blocks_used++;
  }
  a->n_blocks++;
  return i;
}

static void pool_release(hostalloc_t *a, uint32_t i) {
  a->blocks[i].next_free = a->pool_free;
  a->blocks[i].flags = 0;
  a->blocks[i].size = 0;
  a->pool_free = i;
  a->pool_free_count++;
  a->n_blocks--;
}

/* Page map entries for a heap ending at `end`; grows pmap (zero-filled) to cover them. */
static int pmap_reserve(hostalloc_t *a, uint64_t end) {
  uint64_t need = end > a->heap_start ? (end - a->heap_start + SPAN - 1) >> SPAN_SHIFT : 0;
  if (need <= a->pmap_cap) return 1;
  uint64_t cap = a->pmap_cap ? a->pmap_cap : 16;
  while (cap < need) cap *= 2;
  if (cap > SIZE_MAX / sizeof(uint32_t)) return 0;
  uint32_t *n = (uint32_t *)realloc(a->pmap, (size_t)cap * sizeof(uint32_t));
  if (!n) return 0;
  memset(n + a->pmap_cap, 0, (size_t)(cap - a->pmap_cap) * sizeof(uint32_t));
  a->pmap = n;
  a->pmap_cap = cap;
  return 1;
}

/* ---------------------------------------------------------------- free lists */

static void insert_free(hostalloc_t *a, uint32_t i) {
  block_t *b = &a->blocks[i];
  int fl, sl;
  mapping_insert(b->size, &fl, &sl);
  b->fl = (uint8_t)fl;
  b->sl = (uint8_t)sl;
  uint32_t h = a->heads[fl][sl];
  b->flags |= F_FREE;
  b->prev_free = NIL;
  b->next_free = h;
  if (h != NIL) a->blocks[h].prev_free = i;
  a->heads[fl][sl] = i;
  a->fl_bitmap |= (uint64_t)1 << fl;
  a->sl_bitmap[fl] |= 1u << sl;
  a->n_free++;
}

static void remove_free(hostalloc_t *a, uint32_t i) {
  block_t *b = &a->blocks[i];
  int fl = b->fl, sl = b->sl;
  if (b->prev_free != NIL) a->blocks[b->prev_free].next_free = b->next_free;
  else a->heads[fl][sl] = b->next_free;
  if (b->next_free != NIL) a->blocks[b->next_free].prev_free = b->prev_free;
  if (a->heads[fl][sl] == NIL) {
    a->sl_bitmap[fl] &= ~(1u << sl);
    if (!a->sl_bitmap[fl]) a->fl_bitmap &= ~((uint64_t)1 << fl);
  }
  b->flags &= ~F_FREE;
  b->prev_free = b->next_free = NIL;
  a->n_free--;
}

static uint32_t find_free(hostalloc_t *a, uint64_t size) {
  int fl, sl;
  mapping_search(size, &fl, &sl);
  if (fl >= FL_COUNT) return NIL;
  uint32_t sl_map = a->sl_bitmap[fl] & (~0u << sl);
  if (!sl_map) {
    uint64_t fl_map = (fl + 1 < 64) ? (a->fl_bitmap & (~(uint64_t)0 << (fl + 1))) : 0;
    if (!fl_map) return NIL;
    fl = ffs64(fl_map);
    sl_map = a->sl_bitmap[fl];
  }
  sl = ffs64(sl_map);
  return a->heads[fl][sl];
}

/* ---------------------------------------------------------------- block surgery */

/* A new free block [off, off + size) linked between physical neighbours prev and next (NIL
 * at either end of the heap) and put in its free list. Requires reserve(1). */
static uint32_t insert_block(hostalloc_t *a, uint64_t off, uint64_t size, uint32_t prev, uint32_t next) {
  uint32_t r = pool_take(a);
  block_t *rb = &a->blocks[r];
  rb->off = off;
  rb->size = size;
  rb->req = 0;
  rb->flags = 0;
  rb->prev_phys = prev;
  rb->next_phys = next;
  if (prev != NIL) a->blocks[prev].next_phys = r;
  else a->first = r;
  if (next != NIL) a->blocks[next].prev_phys = r;
  else a->last = r;
  insert_free(a, r);
  return r;
}

/* Split block i (not in any free list) so that it keeps `size` bytes; the rest
 * becomes a new free block, merged with a free successor. Requires reserve(1). */
static void split_tail(hostalloc_t *a, uint32_t i, uint64_t size) {
  block_t *b = &a->blocks[i];
  if (b->size - size < MIN_BLOCK) return;
  uint32_t next = b->next_phys;
  uint64_t rest = b->size - size;
  if (next != NIL && (a->blocks[next].flags & F_FREE)) {
    /* Grow the free successor downwards. */
    block_t *n = &a->blocks[next];
    remove_free(a, next);
    n->off -= rest;
    n->size += rest;
    b->size = size;
    insert_free(a, next);
    return;
  }
  uint64_t off = b->off + size;
  b->size = size;
  insert_block(a, off, rest, i, next);
}

/* Split the front `gap` bytes of free block i off as a free block of their own. The block
 * before a free block is never free, so the gap needs no merging. Requires reserve(1). */
static void split_front(hostalloc_t *a, uint32_t i, uint64_t gap) {
  remove_free(a, i);
  uint64_t off = a->blocks[i].off;
  a->blocks[i].off += gap;
  a->blocks[i].size -= gap;
  insert_block(a, off, gap, a->blocks[i].prev_phys, i);
  insert_free(a, i);
}

/* Remove block j (physically right after i) and give its bytes to i. */
static void absorb_next(hostalloc_t *a, uint32_t i, uint32_t j) {
  block_t *b = &a->blocks[i], *n = &a->blocks[j];
  b->size += n->size;
  b->next_phys = n->next_phys;
  if (n->next_phys != NIL) a->blocks[n->next_phys].prev_phys = i;
  else a->last = i;
  pool_release(a, j);
}

/* Mark a live block (large block or span) free and coalesce it with free neighbours. */
static void free_block(hostalloc_t *a, uint32_t i) {
  block_t *b = &a->blocks[i];
  if (b->flags & F_SPAN) {
    b->flags &= ~F_SPAN;
  } else {
    if (a->last_slot < a->slots_cap && a->slots[a->last_slot].idx == i && a->slots[a->last_slot].key == b->off)
      hash_del_at(a, a->last_slot);
    else
      hash_del(a, b->off);
    a->in_use -= b->size;
    a->large_in_use -= b->size;
    a->requested -= b->req;
  }
  a->last_slot = UINT64_MAX;
  b->req = 0;
  uint32_t p = b->prev_phys, n = b->next_phys;
  if (n != NIL && (a->blocks[n].flags & F_FREE)) {
    remove_free(a, n);
    absorb_next(a, i, n);
  }
  if (p != NIL && (a->blocks[p].flags & F_FREE)) {
    remove_free(a, p);
    absorb_next(a, p, i);
    i = p;
  }
  insert_free(a, i);
}

static void note_peak(hostalloc_t *a) {
  if (a->in_use > a->peak) a->peak = a->in_use;
}

/* Take free block i for an allocation of `size` (block size) bytes: a large block, or a
 * span when `span` is set (not hashed, not counted in in_use). Requires reserve(RESERVE). */
static void use_block(hostalloc_t *a, uint32_t i, uint64_t size, uint64_t req, int span) {
  remove_free(a, i);
  split_tail(a, i, size);
  block_t *b = &a->blocks[i];
  uint64_t end = b->off + b->size;
  if (end > a->high_water) a->high_water = end;
  if (span) {
    b->flags |= F_SPAN;
    b->req = 0;
    return;
  }
  hash_put(a, b->off, i);
  b->req = req;
  a->in_use += b->size;
  a->large_in_use += b->size;
  a->requested += req;
  note_peak(a);
}

/* Append [heap_end, new_end) to the heap. Requires reserve(1) and pmap_reserve(new_end). */
static void add_region(hostalloc_t *a, uint64_t new_end) {
  if (new_end <= a->heap_end) return;
  uint64_t len = (new_end - a->heap_end) & ~(ALIGN - 1);
  if (len == 0) return;
  uint32_t l = a->last;
  if (l != NIL && (a->blocks[l].flags & F_FREE)) {
    remove_free(a, l);
    a->blocks[l].size += len;
    insert_free(a, l);
  } else {
    insert_block(a, a->heap_end, len, l, NIL);
  }
  a->heap_end += len;
}

/* Current memory size through ops->size, clamped to max_size. */
static uint64_t mem_size(hostalloc_t *a) {
  uint64_t cur = a->ops.size(a->ops.ctx);
  a->memory_size = cur;
  return cur > a->max_size ? a->max_size : cur;
}

/* Take memory grown by others since we last looked into the heap. Requires reserve(1). */
static int take_memory(hostalloc_t *a) {
  uint64_t cur = mem_size(a);
  if (cur <= a->heap_end) return HOSTALLOC_OK;
  if (!pmap_reserve(a, cur)) return HOSTALLOC_E_HOST_OOM;
  add_region(a, cur);
  return HOSTALLOC_OK;
}

/* First contact with the memory (lazy attach). Requires reserve(1). */
static int attach(hostalloc_t *a) {
  uint64_t cur = a->ops.size(a->ops.ctx);
  if (a->heap_start > cur) return HOSTALLOC_E_HEAP_BEYOND_MEMORY;
  /* a memory already larger than max_size: the heap may use all of it */
  if (cur > a->max_size) a->max_size = cur & ~(a->page_size - 1);
  a->attached = 1;
  return take_memory(a);
}

static uint64_t tail_free(const hostalloc_t *a) {
  uint32_t l = a->last;
  return (l != NIL && (a->blocks[l].flags & F_FREE)) ? a->blocks[l].size : 0;
}

/* Make the last block free with at least `need` bytes, growing memory by what is missing
 * (rounded up to whole pages). Memory grown by others since we last looked is taken into
 * the heap too. Requires reserve(1). Returns HOSTALLOC_OK or an error code. */
static int heap_extend(hostalloc_t *a, uint64_t need) {
  int rc = take_memory(a);
  if (rc != HOSTALLOC_OK) return rc;
  uint64_t have = tail_free(a);
  if (have >= need) return HOSTALLOC_OK;
  if (!a->ops.grow) return HOSTALLOC_E_OUT_OF_MEMORY;
  uint64_t missing = need - have;
  if (missing > a->max_size || a->heap_end > a->max_size - missing) return HOSTALLOC_E_OUT_OF_MEMORY;
  uint64_t target = a->heap_end + missing; /* 16-aligned; the memory ends at or above heap_end */
  uint64_t cur = a->memory_size;
  uint64_t pages = (target - cur + a->page_size - 1) / a->page_size;
  if (target <= cur || cur + pages * a->page_size > a->max_size) return HOSTALLOC_E_OUT_OF_MEMORY;
  if (!pmap_reserve(a, cur + pages * a->page_size)) return HOSTALLOC_E_HOST_OOM;
  if (a->ops.grow(a->ops.ctx, pages) != 0) return HOSTALLOC_E_OUT_OF_MEMORY;
  uint64_t now = mem_size(a);
  a->grow_count++;
  if (now > cur) a->grown_bytes += now - cur;
  if (!pmap_reserve(a, now)) return HOSTALLOC_E_HOST_OOM;
  add_region(a, now);
  return tail_free(a) >= need ? HOSTALLOC_OK : HOSTALLOC_E_OUT_OF_MEMORY;
}

/* Block size for a request, or 0 if impossible. */
static uint64_t adjust(const hostalloc_t *a, uint64_t size) {
  if (size > a->max_size) return 0;
  uint64_t s = (size + ALIGN - 1) & ~(ALIGN - 1);
  return s ? s : MIN_BLOCK;
}

/* Bytes from `off` up to the next multiple of `align` counted from `rel`. */
static uint64_t align_gap(uint64_t off, uint64_t align, uint64_t rel) {
  return (align - ((off - rel) & (align - 1))) & (align - 1);
}

/* A free block that can hold `bs` bytes at an offset aligned to `align` relative to `rel`
 * (align 16: any free block of bs bytes), growing memory by exactly what is missing.
 * Requires reserve(RESERVE). Returns NIL with *code set on failure. */
static uint32_t get_free(hostalloc_t *a, uint64_t bs, uint64_t align, uint64_t rel, int *code) {
  uint32_t i = find_free(a, align > ALIGN ? bs + align - ALIGN : bs);
  if (i != NIL) return i;
  if (!a->attached) {
    int rc = attach(a);
    if (rc != HOSTALLOC_OK) {
      *code = rc;
      return NIL;
    }
    i = find_free(a, align > ALIGN ? bs + align - ALIGN : bs);
    if (i != NIL) return i;
  }
  /* Grow at the tail: the block there (free, or a new one at heap_end) must hold the gap. */
  uint64_t t = a->heap_end - tail_free(a);
  int rc = heap_extend(a, align_gap(t, align, rel) + bs);
  if (rc != HOSTALLOC_OK) {
    /* memory grown by others may have made room elsewhere */
    i = find_free(a, align > ALIGN ? bs + align - ALIGN : bs);
    if (i == NIL) *code = rc;
    return i;
  }
  return a->last;
}

/* Allocate a large block of `bs` bytes (16-multiple) aligned to `align` relative to `rel`.
 * Returns the block index or NIL with *code set. */
static uint32_t tlsf_alloc(hostalloc_t *a, uint64_t bs, uint64_t req, uint64_t align, uint64_t rel, int span,
                           int *code) {
  uint32_t i = get_free(a, bs, align, rel, code);
  if (i == NIL) return NIL;
  uint64_t gap = align_gap(a->blocks[i].off, align, rel);
  if (gap) split_front(a, i, gap);
  use_block(a, i, bs, req, span);
  return i;
}

/* ---------------------------------------------------------------- slabs */

static INLINE unsigned size_class(const hostalloc_t *a, uint64_t size) { /* size <= SMALL_MAX */
  if (size <= LIN_MAX) return a->lut[(size + ((uint64_t)1 << a->gshift) - 1) >> a->gshift];
  uint32_t s1 = (uint32_t)size - 1;
  int f = fls32(s1); /* 7..10 */
  return a->lin_classes + ((unsigned)(f - 7) << 2) + ((s1 >> (f - 2)) & 3u);
}

static void list_push(hostalloc_t *a, uint32_t c, uint32_t si) {
  span_t *s = &a->spans[si];
  uint32_t h = a->cls_head[c];
  s->prev = 0;
  s->next = h;
  if (h) a->spans[h].prev = si;
  a->cls_head[c] = si;
}

static void list_remove(hostalloc_t *a, uint32_t c, uint32_t si) {
  span_t *s = &a->spans[si];
  if (s->prev) a->spans[s->prev].next = s->next;
  else a->cls_head[c] = s->next;
  if (s->next) a->spans[s->next].prev = s->prev;
  s->prev = s->next = 0;
}

/* Make room for one more span descriptor. */
static int span_reserve(hostalloc_t *a) {
  if (a->span_free || a->spans_used < a->spans_cap) return 1;
  uint64_t cap = a->spans_cap ? (uint64_t)a->spans_cap * 2 : 8;
  if (cap >= NIL) return 0;
  span_t *n = (span_t *)realloc(a->spans, (size_t)cap * sizeof(span_t));
  if (!n) return 0;
  if (!a->spans_cap) n[0] = (span_t){0}; /* index 0: "no span" */
  a->spans = n;
  a->spans_cap = (uint32_t)cap;
  if (!a->spans_used) a->spans_used = 1;
  return 1;
}

/* Carve a new span for class c from the TLSF and put it in the class list. */
NOINLINE static uint32_t span_new(hostalloc_t *a, uint32_t c, int *code) {
  if (!span_reserve(a) || !reserve(a, RESERVE)) {
    *code = HOSTALLOC_E_HOST_OOM;
    return 0;
  }
  /* the page map covers the whole heap (pmap_reserve at every growth), so any span fits */
  uint32_t bi = tlsf_alloc(a, SPAN, 0, SPAN, a->heap_start, 1, code);
  if (bi == NIL) return 0;
  uint32_t si;
  if (a->span_free) {
    si = a->span_free;
    a->span_free = a->spans[si].next;
  } else {
    si = a->spans_used++;
  }
  span_t *s = &a->spans[si];
  uint32_t size = a->cls_size[c];
  s->off = a->blocks[bi].off;
  s->size = size;
  s->recip = (uint32_t)(((uint64_t)1 << 32) / size + 1);
  s->nslots = (uint32_t)(SPAN / size);
  s->nfree = s->nslots;
  s->hint = 0;
  s->cls = c;
  s->block = bi;
  s->pad_ = 0;
  uint32_t full = s->nslots >> 6, rest = s->nslots & 63;
  for (uint32_t w = 0; w < SPAN_WORDS; w++)
    s->bits[w] = w < full ? ~(uint64_t)0 : (w == full && rest ? ((uint64_t)1 << rest) - 1 : 0);
  /* End marker: the bit of slot nslots (when it exists) reads as free, so that a pointer at
   * the first byte after the last slot is never taken for a live slot. Slot allocation takes
   * the lowest set bit and stops at nfree == 0, so it never reaches the marker. */
  if (s->nslots < SPAN_WORDS * 64) s->bits[s->nslots >> 6] |= (uint64_t)1 << (s->nslots & 63);
  a->pmap[(s->off - a->heap_start) >> SPAN_SHIFT] = si;
  a->nspans++;
  list_push(a, c, si);
  return si;
}

/* Give an empty span back to the TLSF. */
static void span_release(hostalloc_t *a, uint32_t si) {
  span_t *s = &a->spans[si];
  list_remove(a, s->cls, si);
  a->pmap[(s->off - a->heap_start) >> SPAN_SHIFT] = 0;
  free_block(a, s->block);
  s->size = 0;
  s->next = a->span_free;
  a->span_free = si;
  a->nspans--;
}

/* Class c has no span with a free slot: carve one, then allocate from it. */
NOINLINE static uint64_t small_refill(hostalloc_t *a, uint32_t c);

/* Span si changed state in an allocation: it was the class's kept empty span, or it is now
 * full (out of the class list). Returns `off`. */
NOINLINE static uint64_t small_malloc_slow(hostalloc_t *a, span_t *s, uint32_t si, uint64_t off) {
  if (s->nfree + 1 == s->nslots) a->cls_empty[s->cls] = 0; /* the kept empty span is in use again */
  if (s->nfree == 0) list_remove(a, s->cls, si);
  return off;
}

static INLINE uint64_t small_malloc(hostalloc_t *a, uint32_t c) {
  uint32_t si = a->cls_head[c];
  if (UNLIKELY(!si)) return small_refill(a, c);
  span_t *s = &a->spans[si];
  uint32_t w = s->hint;
  uint64_t m;
  while (!(m = s->bits[w])) w++; /* ends: the span has a free slot below the end marker */
  s->bits[w] = m & (m - 1);
  s->hint = w;
  uint32_t idx = (w << 6) + (uint32_t)ffs64(m);
  uint32_t nf = s->nfree--;
  a->in_use += s->size;
  if (a->in_use > a->peak) a->peak = a->in_use;
  a->malloc_count++;
  a->last_error = HOSTALLOC_OK;
  uint64_t off = s->off + (uint64_t)idx * s->size;
  if (UNLIKELY(nf == s->nslots || nf == 1)) return small_malloc_slow(a, s, si, off);
  return off;
}

NOINLINE static uint64_t small_refill(hostalloc_t *a, uint32_t c) {
  int code = HOSTALLOC_E_OUT_OF_MEMORY;
  if (!span_new(a, c, &code)) return fail(a, code);
  return small_malloc(a, c);
}

/* Error classification of `ptr` inside span si that is not a live slot start. */
static int span_bad_ptr(const span_t *s, uint64_t ptr) {
  uint32_t r = (uint32_t)(ptr - s->off);
  uint32_t idx = (uint32_t)(((uint64_t)r * s->recip) >> 32);
  if (idx >= s->nslots) return (ptr & (ALIGN - 1)) ? HOSTALLOC_E_INVALID_POINTER : HOSTALLOC_E_DOUBLE_FREE;
  int is_free = (int)((s->bits[idx >> 6] >> (idx & 63)) & 1);
  if (!is_free) return HOSTALLOC_E_INTERIOR_POINTER;
  if (idx * s->size == r) return HOSTALLOC_E_DOUBLE_FREE;
  return (ptr & (ALIGN - 1)) ? HOSTALLOC_E_INVALID_POINTER : HOSTALLOC_E_DOUBLE_FREE;
}

/* The slot index of the live small block starting at ptr (inside span s), or -1 when ptr is
 * not the start of a live slot (span_bad_ptr then says which error). */
static INLINE int64_t span_slot(const span_t *s, uint64_t ptr) {
  uint32_t r = (uint32_t)(ptr - s->off);
  uint32_t idx = (uint32_t)(((uint64_t)r * s->recip) >> 32);
  if (UNLIKELY(idx * s->size != r || idx >= s->nslots)) return -1;
  if (UNLIKELY((s->bits[idx >> 6] >> (idx & 63)) & 1)) return -1;
  return idx;
}

/* A slot was freed in span si that was full (back into its class list) or is now empty
 * (kept as the class's empty span, or given back to the TLSF). Returns HOSTALLOC_OK. */
NOINLINE static int small_free_slow(hostalloc_t *a, span_t *s, uint32_t si) {
  uint32_t c = s->cls;
  if (s->nfree == 1) list_push(a, c, si);
  if (s->nfree == s->nslots) {
    if (!a->cls_empty[c]) a->cls_empty[c] = si; /* keep one empty span per class */
    else span_release(a, si);
  }
  return HOSTALLOC_OK;
}

/* Free slot idx of span si (a live slot). */
static INLINE int small_free(hostalloc_t *a, uint32_t si, uint32_t idx) {
  span_t *s = &a->spans[si];
  uint32_t w = idx >> 6;
  s->bits[w] |= (uint64_t)1 << (idx & 63);
  if (w < s->hint) s->hint = w;
  a->in_use -= s->size;
  a->free_count++;
  a->last_error = HOSTALLOC_OK;
  uint32_t nf = ++s->nfree;
  if (UNLIKELY(nf == 1 || nf == s->nslots)) return small_free_slow(a, s, si);
  return HOSTALLOC_OK;
}

/* ---------------------------------------------------------------- pointer lookup */

/* Where a pointer points: a live small slot (span index, slot), a live large block, or an
 * error (reported here). */
typedef struct where {
  uint32_t span;  /* != 0: small block in this span, slot `slot` */
  uint32_t slot;
  uint32_t block; /* != NIL: large block */
  int code;
} where_t;

NOINLINE static where_t locate(hostalloc_t *a, uint64_t ptr, const char *op) {
  where_t w = {0, 0, NIL, HOSTALLOC_OK};
  int c;
  if (ptr < a->heap_start || ptr >= a->heap_end) {
    c = HOSTALLOC_E_OUT_OF_HEAP;
  } else {
    uint32_t si = a->pmap[(ptr - a->heap_start) >> SPAN_SHIFT];
    if (si) {
      const span_t *s = &a->spans[si];
      int64_t idx = span_slot(s, ptr);
      if (idx >= 0) {
        w.span = si;
        w.slot = (uint32_t)idx;
        return w;
      }
      c = span_bad_ptr(s, ptr);
    } else {
      uint64_t slot = hash_find(a, ptr);
      if (slot != UINT64_MAX) {
        a->last_slot = slot; /* lets free_block delete without probing again */
        w.block = a->slots[slot].idx;
        return w;
      }
      /* Error path: classify by finding the containing block. O(n). */
      c = HOSTALLOC_E_INVALID_POINTER;
      for (uint32_t j = a->first; j != NIL; j = a->blocks[j].next_phys) {
        const block_t *b = &a->blocks[j];
        if (ptr >= b->off && ptr < b->off + b->size) {
          if (!(b->flags & F_FREE)) c = HOSTALLOC_E_INTERIOR_POINTER;
          else if ((ptr & (ALIGN - 1)) == 0) c = HOSTALLOC_E_DOUBLE_FREE;
          break;
        }
      }
    }
  }
  report(a, c, op, ptr);
  w.code = c;
  return w;
}

/* ---------------------------------------------------------------- public API */

int hostalloc_create2(const hostalloc_config *cfg, hostalloc_t **out) {
  if (out) *out = NULL;
  if (!cfg || !out || !cfg->ops.base || !cfg->ops.size) return HOSTALLOC_E_BAD_ARGUMENT;
  uint32_t g = cfg->granule ? cfg->granule : 16;
  if (g != 8 && g != 16) return HOSTALLOC_E_BAD_GRANULE;
  uint64_t ps = cfg->page_size ? cfg->page_size : HOSTALLOC_PAGE_SIZE;
  if ((ps & (ps - 1)) || ps > WASM32_MAX) return HOSTALLOC_E_BAD_PAGE_SIZE;
  uint64_t heap_base = cfg->heap_base;
  if (heap_base & (g - 1)) return HOSTALLOC_E_MISALIGNED_HEAP_BASE;
  uint64_t max = cfg->ops.max_size ? cfg->ops.max_size : WASM32_MAX;
  if (max > ((uint64_t)1 << MAX_HEAP_LOG2)) max = (uint64_t)1 << MAX_HEAP_LOG2;
  max &= ~(ps - 1);
  if (heap_base > max) return HOSTALLOC_E_HEAP_BEYOND_MEMORY;
  uint64_t start = (heap_base + ALIGN - 1) & ~(ALIGN - 1);
  if (start < ALIGN) start = ALIGN;
  if (start > max) return HOSTALLOC_E_HEAP_BEYOND_MEMORY;

  hostalloc_t *a = (hostalloc_t *)calloc(1, sizeof(*a));
  if (!a) return HOSTALLOC_E_HOST_OOM;
  a->ops = cfg->ops;
  a->on_error = cfg->on_error;
  a->error_ctx = cfg->error_ctx;
  a->max_size = max;
  a->page_size = ps;
  a->granule = g;
  a->gshift = g == 8 ? 3 : 4;
  a->heap_start = a->heap_end = start;
  a->pool_free = NIL;
  a->first = a->last = NIL;
  a->last_slot = UINT64_MAX;
  for (int f = 0; f < FL_COUNT; f++)
    for (unsigned s = 0; s < SL_COUNT; s++) a->heads[f][s] = NIL;
  /* classes: g, 2g, ..., 128, then 160 192 224 256, ..., 1792 2048 */
  uint32_t n = 0;
  for (uint32_t sz = g; sz <= LIN_MAX; sz += g) a->cls_size[n++] = sz;
  a->lin_classes = n;
  for (uint32_t base = LIN_MAX; base < SMALL_MAX; base *= 2)
    for (uint32_t k = 1; k <= 4; k++) a->cls_size[n++] = base + k * (base / 4);
  a->nclasses = n;
  for (uint32_t i = 0; i <= LIN_MAX >> a->gshift; i++) a->lut[i] = (uint8_t)(i ? i - 1 : 0);
  if (!reserve(a, RESERVE)) {
    hostalloc_destroy(a);
    return HOSTALLOC_E_HOST_OOM;
  }
  if (!(cfg->flags & HOSTALLOC_LAZY_ATTACH)) {
    int rc = attach(a);
    if (rc != HOSTALLOC_OK) {
      hostalloc_destroy(a);
      return rc;
    }
  }
  *out = a;
  return HOSTALLOC_OK;
}

hostalloc_t *hostalloc_create(const hostalloc_memory_ops *ops, uint64_t heap_base,
                              hostalloc_error_fn on_error, void *error_ctx) {
  if (!ops || heap_base > UINT64_MAX - ALIGN) return NULL;
  hostalloc_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.ops = *ops;
  cfg.heap_base = (heap_base + ALIGN - 1) & ~(ALIGN - 1);
  cfg.on_error = on_error;
  cfg.error_ctx = error_ctx;
  hostalloc_t *a = NULL;
  return hostalloc_create2(&cfg, &a) == HOSTALLOC_OK ? a : NULL;
}

int hostalloc_attach(hostalloc_t *a) {
  if (a->attached) return HOSTALLOC_OK;
  if (!reserve(a, RESERVE)) return HOSTALLOC_E_HOST_OOM;
  return attach(a);
}

void hostalloc_destroy(hostalloc_t *a) {
  if (!a) return;
  free(a->blocks);
  free(a->slots);
  free(a->spans);
  free(a->pmap);
  free(a);
}

void hostalloc_trim(hostalloc_t *a) {
  for (uint32_t c = 0; c < a->nclasses; c++) {
    uint32_t si = a->cls_empty[c];
    if (!si) continue;
    a->cls_empty[c] = 0;
    span_release(a, si);
  }
}

NOINLINE static uint64_t large_malloc(hostalloc_t *a, uint64_t size, uint64_t align) {
  uint64_t bs = adjust(a, size);
  if (!bs || align > a->max_size || bs > a->max_size - align) return fail(a, HOSTALLOC_E_OUT_OF_MEMORY);
  if (!reserve(a, RESERVE)) return fail(a, HOSTALLOC_E_HOST_OOM);
  int code = HOSTALLOC_E_OUT_OF_MEMORY;
  uint32_t i = tlsf_alloc(a, bs, size, align, 0, 0, &code);
  if (i == NIL) return fail(a, code);
  a->malloc_count++;
  a->last_error = HOSTALLOC_OK;
  return a->blocks[i].off;
}

uint64_t hostalloc_malloc(hostalloc_t *a, uint64_t size) {
  if (LIKELY(size <= SMALL_MAX)) return small_malloc(a, size_class(a, size));
  return large_malloc(a, size, ALIGN);
}

NOINLINE static int free_slow(hostalloc_t *a, uint64_t ptr) {
  if (ptr == 0) {
    a->last_error = HOSTALLOC_OK;
    return HOSTALLOC_OK;
  }
  where_t w = locate(a, ptr, "free");
  if (w.code != HOSTALLOC_OK) return w.code;
  if (w.span) return small_free(a, w.span, w.slot);
  free_block(a, w.block);
  a->free_count++;
  a->last_error = HOSTALLOC_OK;
  return HOSTALLOC_OK;
}

int hostalloc_free(hostalloc_t *a, uint64_t ptr) {
  uint64_t rel = ptr - a->heap_start;
  if (LIKELY(rel < a->heap_end - a->heap_start)) {
    uint32_t si = a->pmap[rel >> SPAN_SHIFT];
    if (LIKELY(si)) {
      span_t *s = &a->spans[si];
      uint32_t r = (uint32_t)rel & (uint32_t)(SPAN - 1); /* spans are SPAN-aligned from heap_start */
      uint32_t idx = (uint32_t)(((uint64_t)r * s->recip) >> 32);
      /* a slot start whose bit is clear (live); the end marker bit rejects idx == nslots */
      if (LIKELY(idx * s->size == r && !((s->bits[idx >> 6] >> (idx & 63)) & 1))) return small_free(a, si, idx);
    }
  }
  return free_slow(a, ptr);
}

static uint64_t usable_of(const hostalloc_t *a, where_t w) {
  return w.span ? a->spans[w.span].size : a->blocks[w.block].size;
}

uint64_t hostalloc_calloc(hostalloc_t *a, uint64_t n, uint64_t size) {
  if (size != 0 && n > UINT64_MAX / size) return fail(a, HOSTALLOC_E_OVERFLOW);
  uint64_t total = n * size;
  if (total > a->max_size) return fail(a, HOSTALLOC_E_OVERFLOW);
  uint64_t p = hostalloc_malloc(a, total);
  if (!p) return 0;
  uint64_t u;
  if (total <= SMALL_MAX) {
    u = a->cls_size[size_class(a, total)];
  } else {
    u = a->blocks[hash_get(a, p)].size;
  }
  memset(a->ops.base(a->ops.ctx) + p, 0, (size_t)u);
  return p;
}

uint64_t hostalloc_aligned_alloc(hostalloc_t *a, uint64_t align, uint64_t size) {
  if (align == 0 || (align & (align - 1))) return fail(a, HOSTALLOC_E_INVALID_ALIGNMENT);
  if (align <= a->granule) return hostalloc_malloc(a, size);
  if (align <= ALIGN) { /* granule 8, align 16: a class whose slots are multiples of 16 */
    if (size <= SMALL_MAX) {
      uint64_t s16 = size ? (size + ALIGN - 1) & ~(ALIGN - 1) : ALIGN;
      return small_malloc(a, size_class(a, s16));
    }
    return large_malloc(a, size, ALIGN);
  }
  return large_malloc(a, size, align);
}

/* Move the live block at ptr (usable size old) to a new block of `size` bytes. */
static uint64_t realloc_move(hostalloc_t *a, uint64_t ptr, where_t w, uint64_t old, uint64_t size) {
  uint64_t np = hostalloc_malloc(a, size);
  if (!np) return 0; /* the old block is untouched */
  uint8_t *base = a->ops.base(a->ops.ctx);
  memmove(base + np, base + ptr, (size_t)(old < size ? old : size));
  /* the old block's location is unchanged by the malloc (blocks never move) */
  if (w.span) {
    small_free(a, w.span, w.slot);
  } else {
    free_block(a, w.block);
    a->free_count++;
  }
  a->last_error = HOSTALLOC_OK;
  return np;
}

uint64_t hostalloc_realloc(hostalloc_t *a, uint64_t ptr, uint64_t size) {
  if (ptr == 0) return hostalloc_malloc(a, size);
  where_t w = locate(a, ptr, "realloc");
  if (w.code != HOSTALLOC_OK) {
    a->failed_count++;
    return 0;
  }
  if (size == 0) {
    if (w.span) {
      small_free(a, w.span, w.slot);
    } else {
      free_block(a, w.block);
      a->free_count++;
    }
    a->last_error = HOSTALLOC_OK;
    return 0;
  }
  if (w.span) {
    span_t *s = &a->spans[w.span];
    uint64_t old = s->size;
    if (size <= SMALL_MAX) {
      uint32_t c = size_class(a, size);
      if (c == s->cls) {
        a->last_error = HOSTALLOC_OK;
        return ptr;
      }
      if (c < s->cls) { /* smaller class: move to free memory, or stay on failure */
        uint64_t np = realloc_move(a, ptr, w, old, size);
        if (!np) a->last_error = HOSTALLOC_OK;
        return np ? np : ptr;
      }
    }
    return realloc_move(a, ptr, w, old, size);
  }
  uint32_t i = w.block;
  uint64_t bs = adjust(a, size);
  if (!bs) return fail(a, HOSTALLOC_E_OUT_OF_MEMORY);
  if (!reserve(a, RESERVE)) return fail(a, HOSTALLOC_E_HOST_OOM);
  block_t *b = &a->blocks[i];
  uint64_t old = b->size;
  if (bs <= old) { /* shrink in place */
    a->requested = a->requested - b->req + size;
    b->req = size;
    split_tail(a, i, bs);
    a->in_use -= old - a->blocks[i].size;
    a->large_in_use -= old - a->blocks[i].size;
    a->last_error = HOSTALLOC_OK;
    return ptr;
  }
  /* grow in place into the free successor, growing memory at the end of the heap */
  uint32_t n = b->next_phys;
  int n_free = n != NIL && (a->blocks[n].flags & F_FREE);
  int can = n_free && old + a->blocks[n].size >= bs;
  if (!can && (n == NIL || (n_free && n == a->last)))
    can = heap_extend(a, bs - old) == HOSTALLOC_OK && a->blocks[i].next_phys != NIL &&
          old + a->blocks[a->blocks[i].next_phys].size >= bs;
  if (can) {
    n = a->blocks[i].next_phys;
    remove_free(a, n);
    absorb_next(a, i, n);
    split_tail(a, i, bs);
    b = &a->blocks[i];
    uint64_t end = b->off + b->size;
    if (end > a->high_water) a->high_water = end;
    a->requested = a->requested - b->req + size;
    b->req = size;
    a->in_use += b->size - old;
    a->large_in_use += b->size - old;
    note_peak(a);
    a->last_error = HOSTALLOC_OK;
    return ptr;
  }
  return realloc_move(a, ptr, w, old, size);
}

uint64_t hostalloc_usable_size(hostalloc_t *a, uint64_t ptr) {
  if (ptr == 0) return 0;
  where_t w = locate(a, ptr, "usable_size");
  if (w.code != HOSTALLOC_OK) return 0;
  a->last_error = HOSTALLOC_OK;
  return usable_of(a, w);
}

int hostalloc_last_error(const hostalloc_t *a) { return a->last_error; }

void hostalloc_stats(const hostalloc_t *a, hostalloc_stats_t *out) {
  memset(out, 0, sizeof(*out));
  out->heap_start = a->heap_start;
  out->heap_end = a->heap_end;
  out->heap_size = a->heap_end - a->heap_start;
  out->in_use_bytes = a->in_use;
  out->peak_in_use_bytes = a->peak;
  out->requested_bytes = a->requested;
  out->free_bytes = out->heap_size - a->in_use;
  if (a->fl_bitmap) {
    int fl = fls64(a->fl_bitmap);
    int sl = fls64(a->sl_bitmap[fl]);
    for (uint32_t i = a->heads[fl][sl]; i != NIL; i = a->blocks[i].next_free)
      if (a->blocks[i].size > out->largest_free_block) out->largest_free_block = a->blocks[i].size;
  }
  uint64_t large_live = a->n_blocks - a->n_free - a->nspans;
  uint64_t small_live = a->malloc_count - a->free_count - large_live;
  out->requested_bytes = a->requested + (a->in_use - a->large_in_use);
  out->used_blocks = large_live + small_live;
  out->free_blocks = a->n_free;
  out->grow_count = a->grow_count;
  out->grown_bytes = a->grown_bytes;
  out->malloc_count = a->malloc_count;
  out->free_count = a->free_count;
  out->failed_count = a->failed_count;
  out->error_count = a->error_count;
  out->inband_overhead_bytes = 0;
  out->host_metadata_bytes = sizeof(*a) + (uint64_t)a->blocks_cap * sizeof(block_t) +
                             a->slots_cap * sizeof(slot_t) + (uint64_t)a->spans_cap * sizeof(span_t) +
                             a->pmap_cap * sizeof(uint32_t);
  out->spans = a->nspans;
  for (uint32_t c = 0; c < a->nclasses; c++) out->empty_spans += a->cls_empty[c] != 0;
  out->small_blocks = small_live;
  out->high_water = a->high_water;
  out->memory_size = a->memory_size;
}

int hostalloc_check(const hostalloc_t *a) {
#define CHECK(c) \
  do {           \
    if (!(c)) return HOSTALLOC_E_CORRUPT; \
  } while (0)
  uint64_t pos = a->heap_start, used = 0, req = 0, nb = 0, nf = 0, nspan_blocks = 0;
  uint32_t prev = NIL;
  for (uint32_t i = a->first; i != NIL; i = a->blocks[i].next_phys) {
    const block_t *b = &a->blocks[i];
    CHECK(i < a->blocks_used);
    CHECK(b->off == pos && b->size >= MIN_BLOCK && (b->size & (ALIGN - 1)) == 0);
    CHECK(b->prev_phys == prev);
    CHECK(hash_get(a, b->off) == ((b->flags & (F_FREE | F_SPAN)) ? NIL : i));
    CHECK((b->flags & (F_FREE | F_SPAN)) != (F_FREE | F_SPAN));
    if (b->flags & F_FREE) {
      CHECK(prev == NIL || !(a->blocks[prev].flags & F_FREE));
      nf++;
    } else if (b->flags & F_SPAN) {
      CHECK(b->size == SPAN && ((b->off - a->heap_start) & (SPAN - 1)) == 0);
      uint32_t si = a->pmap[(b->off - a->heap_start) >> SPAN_SHIFT];
      CHECK(si && si < a->spans_used && a->spans[si].block == i && a->spans[si].off == b->off);
      nspan_blocks++;
    } else {
      used += b->size;
      req += b->req;
      CHECK(b->req <= b->size);
    }
    CHECK(b->off + b->size <= a->high_water || (b->flags & F_FREE));
    nb++;
    pos += b->size;
    prev = i;
    CHECK(nb <= a->blocks_used);
  }
  CHECK(prev == a->last);
  CHECK(pos == a->heap_end);
  CHECK(nspan_blocks == a->nspans);
  /* spans: bitmaps, counts, class lists, empty cache, page map */
  uint64_t live_slots = 0, npages = 0;
  for (uint64_t p = 0; a->heap_end > a->heap_start && p < (a->heap_end - a->heap_start + SPAN - 1) >> SPAN_SHIFT;
       p++) {
    uint32_t si = a->pmap[p];
    if (!si) continue;
    npages++;
    CHECK(si < a->spans_used);
    const span_t *s = &a->spans[si];
    CHECK(s->size && s->off == a->heap_start + (p << SPAN_SHIFT));
    CHECK(s->cls < a->nclasses && s->size == a->cls_size[s->cls] && s->nslots == SPAN / s->size);
    CHECK(a->blocks[s->block].flags & F_SPAN);
    unsigned cnt = 0;
    for (uint32_t w = 0; w < SPAN_WORDS; w++) {
      cnt += popcount64(s->bits[w]);
      if (w < s->hint) CHECK(s->bits[w] == 0);
    }
    for (uint32_t bit = s->nslots; bit < SPAN_WORDS * 64; bit++) /* end marker, then zeros */
      CHECK(((s->bits[bit >> 6] >> (bit & 63)) & 1) == (bit == s->nslots));
    if (s->nslots < SPAN_WORDS * 64) cnt--;
    CHECK(cnt == s->nfree && s->nfree <= s->nslots);
    live_slots += s->nslots - s->nfree;
    used += (uint64_t)(s->nslots - s->nfree) * s->size;

    int in_list = 0;
    for (uint32_t j = a->cls_head[s->cls], k = 0; j; j = a->spans[j].next, k++) {
      CHECK(k <= a->nspans);
      if (j == si) in_list = 1;
    }
    CHECK(in_list == (s->nfree > 0));
    if (s->nfree == s->nslots) CHECK(a->cls_empty[s->cls] == si);
  }
  CHECK(npages == a->nspans);
  for (uint32_t c = 0; c < a->nclasses; c++) {
    uint32_t si = a->cls_empty[c];
    if (si) CHECK(si < a->spans_used && a->spans[si].size && a->spans[si].cls == c &&
                  a->spans[si].nfree == a->spans[si].nslots &&
                  a->pmap[(a->spans[si].off - a->heap_start) >> SPAN_SHIFT] == si);
    uint32_t p = 0;
    for (uint32_t j = a->cls_head[c], k = 0; j; p = j, j = a->spans[j].next, k++) {
      CHECK(k <= a->nspans && j < a->spans_used && a->spans[j].cls == c && a->spans[j].prev == p);
      CHECK(a->spans[j].nfree > 0);
    }
  }
  CHECK(live_slots == a->malloc_count - a->free_count - (nb - nf - a->nspans));
  CHECK(nb == a->n_blocks && nf == a->n_free && used == a->in_use && req == a->requested);
  CHECK(a->large_in_use <= a->in_use);
  CHECK(a->slots_count == nb - nf - a->nspans && a->in_use <= a->peak);
  uint64_t nf2 = 0;
  for (int fl = 0; fl < FL_COUNT; fl++) {
    CHECK(((a->fl_bitmap >> fl) & 1) == (a->sl_bitmap[fl] != 0));
    for (unsigned sl = 0; sl < SL_COUNT; sl++) {
      CHECK(((a->sl_bitmap[fl] >> sl) & 1) == (a->heads[fl][sl] != NIL));
      uint32_t p = NIL;
      for (uint32_t i = a->heads[fl][sl]; i != NIL; i = a->blocks[i].next_free) {
        const block_t *b = &a->blocks[i];
        int f, s;
        CHECK(b->flags & F_FREE);
        CHECK(b->prev_free == p);
        mapping_insert(b->size, &f, &s);
        CHECK(f == fl && (unsigned)s == sl);
        p = i;
        nf2++;
        CHECK(nf2 <= nf);
      }
    }
  }
  CHECK(nf2 == nf);
  return HOSTALLOC_OK;
#undef CHECK
}
